//! `system_report` and `health_report`: what this machine has (`engine::reads`), as dicts.

use super::errors::engine_error;
use super::{interruptible, load_config};
use crate::engine::reads;
use pyo3::prelude::*;
use pythonize::pythonize;

/// The `system --json` document.
#[pyfunction]
pub fn system_report(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let config = load_config(py)?;
    let report = interruptible(py, reads::system_report(&config))?.map_err(|e| engine_error(py, e))?;
    Ok(pythonize(py, &report)?)
}

/// The `health --json` document: services and tools.
#[pyfunction]
pub fn health_report(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let config = load_config(py)?;
    let report = interruptible(py, reads::health_report(&config))?;
    Ok(pythonize(py, &report)?)
}
