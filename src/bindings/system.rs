//! `system_report` and `health_report`: what this machine has, as dicts.

use super::{load_config, runtime};
use crate::system::{self, preflight::user_profiles, profiles::Profiles, Probe};
use crate::tools::Registry;
use pyo3::prelude::*;
use pythonize::pythonize;

/// The YAML tools' programs, so `system` and `health` list them too.
fn tool_binaries(config: &crate::config::Config) -> Vec<String> {
    let reg = Registry::configured(config);
    reg.tools().flat_map(|t| t.binaries()).collect()
}

/// The `system --json` document.
#[pyfunction]
pub fn system_report(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let config = load_config(py)?;
    let profiles = Profiles::load(config.data_dir().as_deref(), Some(&user_profiles()))
        .map_err(|e| crate::bindings::errors::ConfigError::new_err(format!("model profiles: {e}")))?;
    let report = py.detach(|| runtime().block_on(system::report(&config, &profiles, &Probe::machine(), tool_binaries(&config))));
    Ok(pythonize(py, &report)?)
}

/// The `health --json` document: services and tools.
#[pyfunction]
pub fn health_report(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let config = load_config(py)?;
    let report = py.detach(|| runtime().block_on(system::health(&config, &Probe::machine(), tool_binaries(&config))));
    Ok(pythonize(py, &report)?)
}
