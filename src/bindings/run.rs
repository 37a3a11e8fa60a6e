//! `run_recipe`, `resume_run` and `plan_recipe`: the engine's run flow
//! (`engine::flow`) called with the GIL released. This file converts values and
//! errors and turns Ctrl-C into cancellation; the engine decides the rest.

use super::errors::{engine_error, RunError};
use super::runtime;
use crate::config::Config;
use crate::engine::flow::{self, Start};
use crate::engine::Prepared;
use crate::tools::Registry;
use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pythonize::{depythonize, pythonize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Load and check a recipe, with plugins discovered only if it names a tool that is not native.
fn prepare(
    py: Python<'_>,
    config: &Config,
    path: &Path,
    given: &IndexMap<String, Value>,
    discover: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Prepared, Registry)> {
    let (recipe, diags) = py.detach(|| flow::load(path)).map_err(|e| engine_error(py, e))?;
    let tools = super::tools_for(config, Some(recipe.tool_names()), discover)?;
    let prepared = py.detach(|| flow::ready(recipe, diags, given, &tools)).map_err(|e| engine_error(py, e))?;
    Ok((prepared, tools))
}

fn given(inputs: Option<&Bound<'_, PyDict>>) -> PyResult<IndexMap<String, Value>> {
    Ok(match inputs {
        Some(d) => depythonize(d.as_any())?,
        None => IndexMap::new(),
    })
}

fn preflight(
    py: Python<'_>,
    config: &Config,
    p: &Prepared,
    tools: &Registry,
    force: bool,
    quiet: bool,
) -> PyResult<crate::system::preflight::Preflight> {
    py.detach(|| runtime().block_on(flow::preflight(config, p, tools, force, quiet))).map_err(|e| engine_error(py, e))
}

/// Run a recipe and return the `run --json` document as a dict.
///
/// Ctrl-C (KeyboardInterrupt) or SIGTERM while it runs stops the running
/// steps and their processes, runs `cleanup.on_failure`, records the run as
/// `cancelled`, and returns normally with `status == "cancelled"`.
///
/// `plugins`: a callable returning `(plugins, broken)`, called only when the
/// recipe uses a tool that is not native.
#[pyfunction]
#[pyo3(signature = (path, inputs=None, auto_approve=false, quiet=false, plugins=None, force=false))]
pub fn run_recipe<'py>(
    py: Python<'py>,
    path: PathBuf,
    inputs: Option<&Bound<'py, PyDict>>,
    auto_approve: bool,
    quiet: bool,
    plugins: Option<&Bound<'py, PyAny>>,
    force: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let config = super::load_config(py)?;
    let (p, tools) = prepare(py, &config, &path, &given(inputs)?, plugins)?;
    let pf = preflight(py, &config, &p, &tools, force, quiet)?;
    execute(py, config, p, tools, pf, Start { auto_approve, quiet, ..Start::default() })
}

/// Run on the engine's runtime; while waiting, a pending KeyboardInterrupt cancels the run.
fn execute<'py>(
    py: Python<'py>,
    config: Config,
    p: Prepared,
    tools: Registry,
    pf: crate::system::preflight::Preflight,
    start: Start,
) -> PyResult<Bound<'py, PyAny>> {
    let cancel = CancellationToken::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let token = cancel.clone();
    runtime().spawn(async move {
        let _ = tx.send(flow::execute(&config, p, Arc::new(tools), &pf, start, token).await);
    });
    let mut rx = rx;
    let report = loop {
        let (received, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(100)), rx));
        rx = back;
        match received {
            Ok(report) => break report,
            Err(RecvTimeoutError::Timeout) => {
                if py.check_signals().is_err() {
                    // KeyboardInterrupt (or SIGTERM turned into one by the CLI): stop the run, keep waiting for it.
                    cancel.cancel();
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Err(RunError::new_err("the engine stopped without a result (this is a bug)")),
        }
    };
    let report = report.map_err(|e| engine_error(py, e))?;
    Ok(pythonize(py, &report)?)
}

/// Continue a failed, cancelled or interrupted run in its own folder and history row:
/// completed steps keep their outputs and are not run again. The recipe file must be
/// unchanged (same hash) unless `force`.
#[pyfunction]
#[pyo3(signature = (run_id, auto_approve=false, quiet=false, plugins=None, force=false))]
pub fn resume_run<'py>(
    py: Python<'py>,
    run_id: String,
    auto_approve: bool,
    quiet: bool,
    plugins: Option<&Bound<'py, PyAny>>,
    force: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let config = super::load_config(py)?;
    let target = py.detach(|| flow::resume_target(&config, &run_id)).map_err(|e| engine_error(py, e))?;
    let (p, tools) = prepare(py, &config, &target.recipe, &target.inputs, plugins)?;
    let resume = target.resume(&p, force).map_err(|e| engine_error(py, e))?;
    let pf = preflight(py, &config, &p, &tools, force, quiet)?;
    execute(py, config, p, tools, pf, Start { auto_approve, quiet, resume: Some(resume), ..Start::default() })
}

/// The plan of a recipe without running it (`run --dry-run`): levels, order, each step's tool and resources.
#[pyfunction]
#[pyo3(signature = (path, inputs=None, plugins=None, force=false))]
pub fn plan_recipe<'py>(
    py: Python<'py>,
    path: PathBuf,
    inputs: Option<&Bound<'py, PyDict>>,
    plugins: Option<&Bound<'py, PyAny>>,
    force: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let config = super::load_config(py)?;
    let (p, tools) = prepare(py, &config, &path, &given(inputs)?, plugins)?;
    let pf = preflight(py, &config, &p, &tools, force, true)?;
    let doc = py.detach(|| flow::plan_document(&config, &p, &pf, force));
    Ok(pythonize(py, &doc)?)
}
