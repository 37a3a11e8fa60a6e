//! Knowing the machine: hardware, services, command-line tools, model profiles,
//! recommendations, and the preflight check a run makes before its first step.

pub mod advice;
mod capacity;
pub mod gpus;
pub mod hardware;
pub mod preflight;
pub mod profiles;
pub mod services;

use crate::config::Config;
use crate::tools::binaries::{self, Found};
use advice::{Advice, Recommendation};
use hardware::{GpuSource, Hardware};
use indexmap::IndexMap;
use profiles::{LlmSettings, Profiles};
use serde::Serialize;
use services::Service;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The `system --json` document.
#[derive(Debug, Clone, Serialize)]
pub struct SystemReport {
    pub hardware: Hardware,
    pub services: IndexMap<String, Service>,
    pub tools: IndexMap<String, Found>,
    pub recommendations: Vec<Recommendation>,
    pub advice: Vec<Advice>,
}

/// The `health --json` document: services and tools only.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub services: IndexMap<String, Service>,
    pub tools: IndexMap<String, Found>,
}

/// Reads an environment variable.
pub type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What discovery reads from outside: the GPU source, `PATH`, the environment,
/// the version cache, the probe deadline. Tests replace each.
#[derive(Clone)]
pub struct Probe {
    pub gpus: Arc<dyn GpuSource>,
    pub path_var: OsString,
    pub env: EnvFn,
    pub version_cache: Option<PathBuf>,
    pub deadline: Duration,
    /// Whether the steps run on this machine: when an executor runs them elsewhere, this
    /// machine's memory says nothing about them and is not checked.
    pub steps_here: bool,
}

impl Probe {
    /// The real machine.
    pub fn machine() -> Probe {
        Probe {
            gpus: Arc::new(gpus::Discovered),
            path_var: std::env::var_os("PATH").unwrap_or_default(),
            env: Arc::new(|k| std::env::var(k).ok()),
            version_cache: Some(binaries::default_cache()),
            deadline: services::PROBE_DEADLINE,
            steps_here: true,
        }
    }

    pub fn settings(&self) -> LlmSettings {
        LlmSettings::from_env(|k| (self.env)(k))
    }

    pub async fn hardware(&self, config: &Config) -> Hardware {
        let gpus = self.gpus.clone();
        let vram = config.vram_override();
        tokio::task::spawn_blocking(move || hardware::discover(gpus.as_ref(), vram))
            .await
            .unwrap_or_else(|_| hardware::discover(&NoGpu, vram))
    }
}

struct NoGpu;
impl GpuSource for NoGpu {
    fn gpus(&self) -> Result<Vec<hardware::Gpu>, hardware::GpuUnknown> {
        Err(hardware::GpuUnknown("GPU discovery failed".into()))
    }
}

/// Services and tools, probed at once.
pub async fn health(config: &Config, probe: &Probe, extra_bins: Vec<String>) -> Health {
    let wanted = binaries::wanted(config, extra_bins);
    let (services, tools) = tokio::join!(
        services::probe_all(config, probe.deadline),
        binaries::find_all(wanted, probe.path_var.clone(), probe.version_cache.clone()),
    );
    Health { services, tools }
}

/// Everything: hardware, services and tools at once, then recommendations and advice.
pub async fn report(config: &Config, profiles: &Profiles, probe: &Probe, extra_bins: Vec<String>) -> SystemReport {
    let (hardware, health) = tokio::join!(probe.hardware(config), health(config, probe, extra_bins));
    let settings = match ollama_version(&health.services) {
        Some(v) => probe.settings().with_ollama_default(Some(v), hardware.vram_gb),
        None => probe.settings(),
    };
    let recommendations = advice::recommend(profiles, &hardware, &settings);
    let advice = advice::tuning(profiles, &hardware, |k| (probe.env)(k));
    let mut hardware = hardware;
    serving(config, &mut hardware.gpus, &health.services);
    SystemReport { hardware, services: health.services, tools: health.tools, recommendations, advice }
}

/// Which running services serve from each GPU, and what those on one card have loaded:
/// an instance serves from the cards its `gpu` names; a local service without instances
/// from every card (where on them its models sit is its own affair).
fn serving(config: &Config, gpus: &mut [hardware::Gpu], services: &IndexMap<String, Service>) {
    use crate::config::instances::{instances, service_of};
    for (name, svc) in services.iter().filter(|(_, s)| s.running && preflight::is_local(&s.url)) {
        let service = service_of(name);
        let Some(inst) = instances(service, &config.service(service)).into_iter().find(|i| &i.name == name) else { continue };
        let names = |g: &hardware::Gpu| inst.gpus.iter().any(|w| w.trim() == g.index.to_string() || g.uuid.as_deref() == Some(w.trim()));
        for g in gpus.iter_mut().filter(|g| inst.gpus.is_empty() || names(g)) {
            g.instances.push(name.clone());
            if !inst.gpus.is_empty() {
                g.loaded.extend(svc.loaded.iter().map(|l| l.name.clone()));
            }
        }
    }
}

/// The version of the first running Ollama among `services`.
pub fn ollama_version(services: &IndexMap<String, Service>) -> Option<&str> {
    services.values().find(|s| s.running && s.kind == services::ServiceKind::Ollama).and_then(|s| s.version.as_deref())
}

#[cfg(test)]
mod tests;
