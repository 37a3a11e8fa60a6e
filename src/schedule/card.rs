//! The GPUs the ledger plans with, and what a step's programs are told of the ones it
//! was given (`CUDA_VISIBLE_DEVICES`, `ROCR_VISIBLE_DEVICES` / `HIP_VISIBLE_DEVICES`).

use serde::Serialize;

/// One GPU as the scheduler sees it: who it is, and the VRAM a run may use on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Card {
    /// The machine's numbering (NVIDIA's cards first, then AMD's), as `system` shows it.
    pub index: usize,
    /// `nvidia` or `amd` (or `apple`: one unified-memory GPU, nothing to pin).
    pub vendor: String,
    pub name: String,
    pub uuid: Option<String>,
    /// What the ledger may reserve on it: its free VRAM (plus what Ollama would unload).
    pub vram_gb: f64,
}

impl Card {
    /// Whether `want` (a step's `resources.gpu`: an index or a UUID) names this card.
    pub fn is(&self, want: &str) -> bool {
        let want = want.trim();
        want == self.index.to_string() || self.uuid.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(want))
    }

    /// `GPU 1 (RTX 4090)`: how messages name it.
    pub fn label(&self) -> String {
        format!("GPU {} ({})", self.index, self.name)
    }
}

/// The environment that shows a program only `cards` of the machine's `all`: NVIDIA's
/// `CUDA_VISIBLE_DEVICES` by UUID (by NVIDIA index when NVML gave none); for AMD,
/// `ROCR_VISIBLE_DEVICES` by UUID (`GPU-<unique_id>`, by AMD index when the driver gave
/// none) and `HIP_VISIBLE_DEVICES` numbering what ROCr then shows (`0`, `0,1`: HIP
/// counts within ROCr's list, so its own number for the card would hide it).
pub fn visible_devices(cards: &[Card], all: &[Card]) -> Vec<(&'static str, String)> {
    let of = |vendor: &str| -> Vec<String> {
        let same: Vec<&Card> = all.iter().filter(|c| c.vendor == vendor).collect();
        cards
            .iter()
            .filter(|c| c.vendor == vendor)
            .map(|c| match (&c.uuid, vendor) {
                (Some(u), "amd") if !u.starts_with("GPU-") => format!("GPU-{u}"),
                (Some(u), _) => u.clone(),
                (None, _) => same.iter().position(|s| s.index == c.index).unwrap_or(c.index).to_string(),
            })
            .collect()
    };
    let mut env = Vec::new();
    let nvidia = of("nvidia");
    if !nvidia.is_empty() {
        env.push(("CUDA_VISIBLE_DEVICES", nvidia.join(",")));
    }
    let amd = of("amd");
    if !amd.is_empty() {
        let hip: Vec<String> = (0..amd.len()).map(|i| i.to_string()).collect();
        env.push(("ROCR_VISIBLE_DEVICES", amd.join(",")));
        env.push(("HIP_VISIBLE_DEVICES", hip.join(",")));
    }
    env
}
