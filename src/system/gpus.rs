//! Every GPU in the box: NVIDIA cards through NVML (loaded at run time: a machine without
//! the driver simply has none), AMD cards through the amdgpu driver's sysfs files (no
//! library needed), both on one machine too. For tests only, `LOCALFORGE_FAKE_GPUS`
//! replaces them with a described machine (see [`FAKE_GPUS`]); every front end reads the
//! same variable, so `system`, `run`, the API, MCP and the dashboard agree.

use super::hardware::{round2, Gpu, GpuSource, GpuUnknown, GB};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The variable that describes a fake machine, for tests: a JSON list of cards, each
/// `{"vendor": "nvidia"|"amd", "name", "vram_gb", "free_gb", "uuid"}`.
pub const FAKE_GPUS: &str = "LOCALFORGE_FAKE_GPUS";

/// NVML initialisation can stall on a wedged driver; after this, report no NVIDIA GPU.
const NVML_DEADLINE: Duration = Duration::from_secs(2);

/// This machine's GPUs: the fake machine when `LOCALFORGE_FAKE_GPUS` is set, else NVIDIA's
/// (NVML) and AMD's (amdgpu sysfs), numbered in that order.
pub struct Discovered;

impl GpuSource for Discovered {
    fn gpus(&self) -> Result<Vec<Gpu>, GpuUnknown> {
        if let Ok(text) = std::env::var(FAKE_GPUS) {
            return fake(&text);
        }
        let nvidia = Nvml.gpus();
        let amd = Amdgpu { root: PathBuf::from("/sys/class/drm") }.gpus();
        let found: Vec<Gpu> = nvidia.iter().chain(amd.iter()).flatten().cloned().collect();
        match (found.is_empty(), nvidia, amd) {
            (false, _, _) => Ok(numbered(found)),
            (true, Err(e), _) => Err(e), // no driver at all: say why NVIDIA's is missing
            (true, Ok(_), _) => Ok(Vec::new()),
        }
    }
}

fn numbered(mut gpus: Vec<Gpu>) -> Vec<Gpu> {
    for (i, g) in gpus.iter_mut().enumerate() {
        g.index = i;
    }
    gpus
}

/// A card of the fake machine.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FakeGpu {
    vendor: String,
    name: String,
    vram_gb: f64,
    free_gb: Option<f64>,
    uuid: Option<String>,
}

/// The cards `LOCALFORGE_FAKE_GPUS` describes; a malformed value is an error naming it.
fn fake(text: &str) -> Result<Vec<Gpu>, GpuUnknown> {
    let cards: Vec<FakeGpu> = serde_json::from_str(text).map_err(|e| {
        GpuUnknown(format!("{FAKE_GPUS} is not a JSON list of {{\"vendor\", \"name\", \"vram_gb\", \"free_gb\", \"uuid\"}} cards: {e}"))
    })?;
    let gpus = cards
        .into_iter()
        .map(|c| {
            if !matches!(c.vendor.as_str(), "nvidia" | "amd") {
                return Err(GpuUnknown(format!("{FAKE_GPUS}: vendor `{}` is not `nvidia` or `amd`", c.vendor)));
            }
            Ok(Gpu {
                index: 0,
                vendor: c.vendor,
                name: c.name,
                uuid: c.uuid,
                vram_total_gb: c.vram_gb,
                vram_free_gb: c.free_gb.unwrap_or(c.vram_gb),
                driver: Some("fake (LOCALFORGE_FAKE_GPUS)".into()),
                unified: false,
                instances: Vec::new(),
                loaded: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(numbered(gpus))
}

/// NVIDIA GPUs through NVML (`libnvidia-ml.so.1`, loaded when called).
pub struct Nvml;

impl GpuSource for Nvml {
    fn gpus(&self) -> Result<Vec<Gpu>, GpuUnknown> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(nvml_gpus());
        });
        rx.recv_timeout(NVML_DEADLINE)
            .unwrap_or_else(|_| Err(GpuUnknown(format!("NVML did not answer within {}s", NVML_DEADLINE.as_secs()))))
    }
}

fn nvml_gpus() -> Result<Vec<Gpu>, GpuUnknown> {
    use nvml_wrapper::error::NvmlError;
    let nvml = nvml_wrapper::Nvml::init().map_err(|e| {
        GpuUnknown(match e {
            NvmlError::LibloadingError(_) => "no NVIDIA driver (libnvidia-ml.so.1 not found)".to_string(),
            NvmlError::DriverNotLoaded => "the NVIDIA driver is not loaded".to_string(),
            e => format!("NVML: {e}"),
        })
    })?;
    let driver = nvml.sys_driver_version().ok();
    let count = nvml.device_count().map_err(|e| GpuUnknown(format!("NVML device count: {e}")))?;
    let mut out = Vec::new();
    for i in 0..count {
        let dev = nvml.device_by_index(i).map_err(|e| GpuUnknown(format!("NVML GPU {i}: {e}")))?;
        let mem = dev.memory_info().map_err(|e| GpuUnknown(format!("NVML GPU {i} memory: {e}")))?;
        out.push(Gpu {
            index: i as usize,
            vendor: "nvidia".into(),
            name: dev.name().unwrap_or_else(|_| format!("GPU {i}")),
            uuid: dev.uuid().ok(),
            vram_total_gb: round2(mem.total as f64 / GB),
            vram_free_gb: round2(mem.free as f64 / GB),
            driver: driver.clone(),
            unified: false,
            instances: Vec::new(),
            loaded: Vec::new(),
        });
    }
    Ok(out)
}

/// AMD GPUs through the amdgpu driver's files under `root` (`/sys/class/drm`): each
/// `cardN/device` whose `vendor` is `0x1002`, with `mem_info_vram_total` and
/// `mem_info_vram_used` (bytes), its `product_name` where the board says one, and its
/// `unique_id`.
pub struct Amdgpu {
    pub root: PathBuf,
}

impl GpuSource for Amdgpu {
    fn gpus(&self) -> Result<Vec<Gpu>, GpuUnknown> {
        let read = |p: PathBuf| std::fs::read_to_string(p).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        let mut cards: Vec<(u32, PathBuf)> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let n: u32 = name.strip_prefix("card")?.parse().ok()?; // `card0`, not `card0-DP-1`
                Some((n, e.path().join("device")))
            })
            .collect();
        cards.sort();
        let driver = read(PathBuf::from("/sys/module/amdgpu/version"));
        let mut out = Vec::new();
        for (n, dev) in cards {
            if read(dev.join("vendor")).as_deref() != Some("0x1002") {
                continue;
            }
            let bytes = |file: &str| read(dev.join(file)).and_then(|t| t.parse::<u64>().ok());
            let (Some(total), Some(used)) = (bytes("mem_info_vram_total"), bytes("mem_info_vram_used")) else { continue };
            out.push(Gpu {
                index: 0,
                vendor: "amd".into(),
                name: read(dev.join("product_name")).unwrap_or_else(|| format!("AMD GPU (card{n})")),
                uuid: read(dev.join("unique_id")),
                vram_total_gb: round2(total as f64 / GB),
                vram_free_gb: round2(total.saturating_sub(used) as f64 / GB),
                driver: driver.clone().or_else(|| Some("amdgpu".into())),
                unified: false,
                instances: Vec::new(),
                loaded: Vec::new(),
            });
        }
        Ok(out)
    }
}

/// An amdgpu card's files, as the driver writes them (for tests: a fake sysfs).
#[cfg(test)]
pub(crate) fn write_amd_card(root: &std::path::Path, card: &str, vendor: &str, total: u64, used: u64, name: Option<&str>) {
    let dev = root.join(card).join("device");
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::write(dev.join("vendor"), format!("{vendor}\n")).unwrap();
    std::fs::write(dev.join("mem_info_vram_total"), format!("{total}\n")).unwrap();
    std::fs::write(dev.join("mem_info_vram_used"), format!("{used}\n")).unwrap();
    if let Some(n) = name {
        std::fs::write(dev.join("product_name"), format!("{n}\n")).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amd_cards_are_read_from_sysfs_and_other_vendors_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let gib = 1u64 << 30;
        write_amd_card(dir.path(), "card1", "0x1002", 24 * gib, 4 * gib, Some("AMD Radeon RX 7900 XTX"));
        write_amd_card(dir.path(), "card0", "0x1002", 16 * gib, 16 * gib, None);
        write_amd_card(dir.path(), "card2", "0x8086", 8 * gib, 0, Some("Intel Arc"));
        std::fs::create_dir_all(dir.path().join("card1-DP-1")).unwrap(); // a connector, not a card
        let gpus = Amdgpu { root: dir.path().into() }.gpus().unwrap();
        let seen: Vec<(&str, f64, f64)> = gpus.iter().map(|g| (g.name.as_str(), g.vram_total_gb, g.vram_free_gb)).collect();
        assert_eq!(seen, [("AMD GPU (card0)", 16.0, 0.0), ("AMD Radeon RX 7900 XTX", 24.0, 20.0)]);
        assert!(gpus.iter().all(|g| g.vendor == "amd"));
        assert!(Amdgpu { root: dir.path().join("none") }.gpus().unwrap().is_empty(), "no drm folder: no AMD card");
    }

    #[test]
    fn a_fake_machine_is_read_from_its_variable_and_a_bad_one_is_named() {
        let gpus = fake(
            r#"[{"vendor": "nvidia", "name": "RTX 4090", "vram_gb": 24, "free_gb": 20, "uuid": "GPU-a"},
                           {"vendor": "amd", "name": "RX 7900 XTX", "vram_gb": 24}]"#,
        )
        .unwrap();
        let seen: Vec<(usize, &str, f64, Option<&str>)> =
            gpus.iter().map(|g| (g.index, g.vendor.as_str(), g.vram_free_gb, g.uuid.as_deref())).collect();
        assert_eq!(seen, [(0, "nvidia", 20.0, Some("GPU-a")), (1, "amd", 24.0, None)]);
        let bad = fake(r#"[{"vendor": "intel", "name": "x", "vram_gb": 8}]"#).unwrap_err();
        assert_eq!(bad.0, "LOCALFORGE_FAKE_GPUS: vendor `intel` is not `nvidia` or `amd`");
        assert!(fake("not json").unwrap_err().0.starts_with("LOCALFORGE_FAKE_GPUS is not a JSON list"));
        assert!(fake(r#"[{"vendor": "amd", "name": "x", "vram_gb": 8, "cores": 2}]"#).unwrap_err().0.contains("unknown field `cores`"));
    }
}
