//! `system_report` and `health_report`: what this machine has (`engine::reads`), as dicts.

use super::errors::engine_error;
use super::{interruptible, load_config};
use crate::engine::reads;
use pyo3::prelude::*;
use pythonize::pythonize;

/// The `system --json` document; `binaries` are looked up too, with their versions.
#[pyfunction]
#[pyo3(signature = (binaries=None))]
pub fn system_report(py: Python<'_>, binaries: Option<Vec<String>>) -> PyResult<Bound<'_, PyAny>> {
    let config = load_config(py)?;
    let report = interruptible(py, reads::system_report(&config, binaries.unwrap_or_default()))?.map_err(|e| engine_error(py, e))?;
    Ok(pythonize(py, &report)?)
}

/// Every LLM profile measured against this machine: memory, KV cache by type, fit.
#[pyfunction]
pub fn model_table(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let config = load_config(py)?;
    let table = interruptible(py, reads::model_table(&config))?.map_err(|e| engine_error(py, e))?;
    Ok(pythonize(py, &table)?)
}

/// The `health --json` document: services and tools.
#[pyfunction]
pub fn health_report(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let config = load_config(py)?;
    let report = interruptible(py, reads::health_report(&config))?;
    Ok(pythonize(py, &report)?)
}
