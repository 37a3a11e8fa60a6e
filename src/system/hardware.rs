//! CPU, RAM and GPUs (found by `gpus`). Apple Silicon reports its unified memory.

use serde::Serialize;

/// Bytes in the "GB" this crate reports: GiB, the unit GPU memory is sold in
/// (a "24 GB" card has 24 GiB; `nvidia-smi` shows MiB).
pub const GB: f64 = (1u64 << 30) as f64;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gpu {
    /// Its place among this machine's GPUs (0, 1, ...), as `system` lists them.
    pub index: usize,
    /// `nvidia`, `amd`, `apple` (unified memory) or `configured` (`resources.vram_gb`).
    pub vendor: String,
    pub name: String,
    /// The card's own id where the driver gives one (NVIDIA's `GPU-…`, amdgpu's `unique_id`).
    pub uuid: Option<String>,
    pub vram_total_gb: f64,
    pub vram_free_gb: f64,
    pub driver: Option<String>,
    /// Memory shared with the CPU (Apple Silicon): the figures are the machine's RAM.
    pub unified: bool,
    /// The running services that serve from it (`system`): an instance on this card
    /// (`ollama#1`), or a local service over every card (`ollama`).
    pub instances: Vec<String>,
    /// The models those instances on this card alone have loaded.
    pub loaded: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hardware {
    pub cpu: String,
    pub cpu_cores: usize,
    pub physical_cores: Option<usize>,
    pub ram_gb: f64,
    pub ram_available_gb: f64,
    /// Total VRAM across GPUs, or `resources.vram_gb` from the config when set.
    pub vram_gb: f64,
    pub gpus: Vec<Gpu>,
    /// Why there is no GPU, or what went wrong looking for one.
    pub gpu_note: Option<String>,
    /// 0.x's keys, kept for agents that read them: Python's `platform.system()` and
    /// `platform.machine()` names, and the first GPU's name (`None` without one).
    pub platform: String,
    pub arch: String,
    pub gpu: Option<String>,
}

impl Hardware {
    /// Free VRAM of the roomiest GPU (a model is loaded on one card unless split).
    pub fn best_free_vram(&self) -> Option<f64> {
        self.gpus.iter().map(|g| g.vram_free_gb).reduce(f64::max)
    }
}

/// Why the GPUs could not be listed (no driver, NVML not answering): said where the GPUs would be.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct GpuUnknown(pub String);

/// Where GPUs come from: NVML and amdgpu on a real machine (`gpus::Discovered`), a fixed
/// list in tests.
pub trait GpuSource: Send + Sync {
    fn gpus(&self) -> Result<Vec<Gpu>, GpuUnknown>;
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0 + 0.0 // `+ 0.0` turns -0.0 into 0.0
}

/// The machine's memory as one unified-memory GPU, where the platform has one.
fn unified_gpu(os: &str, arch: &str, ram: f64, available: f64) -> Option<Gpu> {
    (os == "macos" && arch == "aarch64").then(|| Gpu {
        index: 0,
        vendor: "apple".into(),
        uuid: None,
        name: "Apple Silicon GPU (unified memory)".into(),
        vram_total_gb: ram,
        vram_free_gb: available,
        driver: Some("Metal".into()),
        unified: true,
        instances: Vec::new(),
        loaded: Vec::new(),
    })
}

/// Discover the machine. `vram_override` is the config's `resources.vram_gb`.
pub fn discover(gpus: &dyn GpuSource, vram_override: Option<f64>) -> Hardware {
    let mut sys = sysinfo::System::new().ok();
    if let Some(s) = sys.as_mut() {
        s.refresh_memory();
        s.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
    }
    let cpu_cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let cpu = sys.as_ref().and_then(|s| s.cpus().first().map(|c| c.brand().trim().to_string())).filter(|b| !b.is_empty());
    let (ram, available) = sys.as_ref().map(|s| (s.total_memory() as f64 / GB, s.available_memory() as f64 / GB)).unwrap_or((0.0, 0.0));
    let (ram, available) = (round2(ram), round2(available));
    let (gpus, gpu_note) = match gpus.gpus() {
        Ok(list) if !list.is_empty() => (list, None),
        Ok(_) => (Vec::new(), Some("no GPU found (NVML and amdgpu list none)".to_string())),
        Err(e) => match unified_gpu(std::env::consts::OS, std::env::consts::ARCH, ram, available) {
            Some(g) => (vec![g], None),
            None => (Vec::new(), Some(e.0)),
        },
    };
    assemble(
        cpu.unwrap_or_else(|| "unknown CPU".into()),
        cpu_cores,
        sysinfo::System::physical_core_count().ok(),
        ram,
        available,
        gpus,
        gpu_note,
        vram_override,
    )
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    cpu: String,
    cpu_cores: usize,
    physical_cores: Option<usize>,
    ram_gb: f64,
    ram_available_gb: f64,
    gpus: Vec<Gpu>,
    gpu_note: Option<String>,
    vram_override: Option<f64>,
) -> Hardware {
    let mut gpus = gpus;
    if let (Some(gb), true) = (vram_override, gpus.is_empty()) {
        // A planning budget for machines whose GPU LocalForge cannot see (or tests).
        let name = "configured (resources.vram_gb)".into();
        gpus.push(Gpu {
            index: 0,
            vendor: "configured".into(),
            name,
            uuid: None,
            vram_total_gb: gb,
            vram_free_gb: gb,
            driver: None,
            unified: false,
            instances: Vec::new(),
            loaded: Vec::new(),
        });
    }
    let vram_gb = vram_override.unwrap_or_else(|| round2(gpus.iter().map(|g| g.vram_total_gb).fold(0.0, |a, b| a + b)));
    let platform = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "windows" => "Windows",
        other => other,
    }
    .to_string();
    let gpu = gpus.first().map(|g| g.name.clone());
    Hardware {
        cpu,
        cpu_cores,
        physical_cores,
        ram_gb,
        ram_available_gb,
        vram_gb,
        gpus,
        gpu_note,
        platform,
        arch: std::env::consts::ARCH.into(),
        gpu,
    }
}

#[cfg(test)]
pub(crate) mod fake {
    use super::*;

    /// A machine faked at the NVML boundary.
    pub struct FakeGpus(pub Result<Vec<Gpu>, GpuUnknown>);

    impl GpuSource for FakeGpus {
        fn gpus(&self) -> Result<Vec<Gpu>, GpuUnknown> {
            self.0.clone()
        }
    }

    pub fn gpu(name: &str, total: f64, free: f64) -> Gpu {
        Gpu {
            index: 0,
            vendor: "nvidia".into(),
            name: name.into(),
            uuid: None,
            vram_total_gb: total,
            vram_free_gb: free,
            driver: Some("550.54".into()),
            unified: false,
            instances: Vec::new(),
            loaded: Vec::new(),
        }
    }

    #[test]
    fn apple_silicon_reports_unified_memory_and_others_do_not() {
        let g = unified_gpu("macos", "aarch64", 32.0, 20.0).unwrap();
        assert!(g.unified && g.vram_total_gb == 32.0 && g.vram_free_gb == 20.0);
        assert!(unified_gpu("macos", "x86_64", 32.0, 20.0).is_none());
        assert!(unified_gpu("linux", "aarch64", 32.0, 20.0).is_none());
    }
}
