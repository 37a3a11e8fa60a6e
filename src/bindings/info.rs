//! Quick reads for the CLI: validation, recipe summaries, tools, history, config.

use super::errors::{diag_dict, store_error};
use crate::recipe::{self, ToolCatalog};
use crate::store;
use pyo3::prelude::*;
use pyo3::types::PyList;
use pythonize::pythonize;
use serde_json::json;
use std::path::PathBuf;

/// Check recipe files; a list of problems (dicts with file, line, column, message, hint), empty when all are valid.
#[pyfunction]
/// `plugins`: a callable returning `(plugins, broken)`.
#[pyo3(signature = (paths, plugins=None))]
pub fn validate<'py>(py: Python<'py>, paths: Vec<PathBuf>, plugins: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyList>> {
    // `validate` always looks at every plugin, so name clashes and broken plugins show up here
    // even for recipes of native steps (which `run` checks without importing plugins).
    let loaded: Vec<_> = py.detach(|| paths.iter().map(|p| recipe::load(p)).collect());
    let tools = super::tools_for(&super::load_config(py)?, None::<[&str; 0]>, plugins)?;
    let diags = py.detach(|| {
        loaded
            .into_iter()
            .flat_map(|l| l.and_then(|(r, d)| crate::engine::validated(r, d, &tools)).err().unwrap_or_default())
            .collect::<Vec<_>>()
    });
    let dicts = diags.iter().map(|d| diag_dict(py, d)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, dicts)
}

/// Name, description, version and declared inputs of a recipe, without full validation.
/// `None` for a file that is not a readable recipe.
#[pyfunction]
pub fn recipe_info<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Ok((r, _)) = py.detach(|| recipe::load(&path)) else { return Ok(None) };
    let doc = json!({"name": r.name, "description": r.description, "version": r.version, "inputs": r.inputs, "steps": r.steps.len()});
    Ok(Some(pythonize(py, &doc)?))
}

/// Every tool with its kind, actions and availability (the `list-tools --json` shape).
#[pyfunction]
/// `plugins`: a callable returning `(plugins, broken)`.
#[pyo3(signature = (plugins=None))]
pub fn list_tools<'py>(py: Python<'py>, plugins: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    let reg = super::tools_for(&super::load_config(py)?, None::<[&str; 0]>, plugins)?;
    let mut out: Vec<serde_json::Value> = reg
        .tools()
        .map(|t| {
            let mut missing = t.missing();
            missing.extend(reg.clash(t.name()).map(str::to_string));
            json!({"name": t.name(), "kind": t.kind(), "actions": t.actions(), "available": missing.is_empty(), "missing": missing,
                   "source": t.source(), "description": t.description()})
        })
        .collect();
    out.push(json!({"name": "batch", "kind": "native", "actions": reg.actions("batch"), "available": true, "missing": [],
                    "source": "built-in", "description": "Run sub-steps once per item of a list"}));
    for b in reg.broken() {
        out.push(json!({"name": b.name, "kind": b.kind, "actions": [], "available": false, "missing": [b.error], "source": b.source, "description": ""}));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(pythonize(py, &out)?)
}

fn db_path(py: Python<'_>) -> PyResult<PathBuf> {
    let config = super::load_config(py)?;
    Ok(config.db_path())
}

/// The newest runs, newest first (the `history --json` shape).
#[pyfunction]
#[pyo3(signature = (limit=20))]
pub fn history<'py>(py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyAny>> {
    let db = db_path(py)?;
    let runs = py.detach(|| store::list_runs(&db, limit)).map_err(store_error)?;
    Ok(pythonize(py, &runs)?)
}

/// One run with its step attempts and events; `None` if there is no such run.
#[pyfunction]
pub fn history_show<'py>(py: Python<'py>, run_id: String) -> PyResult<Option<Bound<'py, PyAny>>> {
    let db = db_path(py)?;
    let detail = py.detach(|| store::run_detail(&db, &run_id)).map_err(store_error)?;
    detail.map(|d| pythonize(py, &d).map_err(PyErr::from)).transpose()
}

/// The merged configuration (`raw`), its file, and the resolved paths.
#[pyfunction]
pub fn config<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    let c = super::load_config(py)?;
    let doc = json!({
        "raw": c.raw,
        "file": c.file,
        "workspace": c.workspace(),
        "run_dir": c.run_dir(),
        "db_path": c.db_path(),
        "persistence_enabled": c.persistence_enabled(),
        "tool_dirs": c.tool_dirs(),
    });
    Ok(pythonize(py, &doc)?)
}
