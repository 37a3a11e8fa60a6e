//! `start_run`, `start_resume` and `plan_recipe`: the engine's run flow
//! (`engine::flow`) called with the GIL released. This file converts values and
//! errors; the engine decides the rest, and `RunHandle` watches the run.

use super::errors::engine_error;
use super::handle::RunHandle;
use super::remote::PyExecutor;
use crate::engine::flow;
use crate::engine::task::Ready;
use crate::engine::Options;
use crate::terminal::Terminal;
use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pythonize::{depythonize, pythonize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn ready(
    py: Python<'_>,
    path: &Path,
    given: &IndexMap<String, Value>,
    o: &Options,
    discover: Option<&Bound<'_, PyAny>>,
    executor: Option<&Arc<PyExecutor>>,
    resume: Option<flow::ResumeTarget>,
) -> PyResult<(Ready, Terminal, Option<crate::exec::Resume>)> {
    let config = super::load_config(py)?;
    let (recipe, diags) = py.detach(|| flow::load(path)).map_err(|e| engine_error(py, e))?;
    let mut tools = super::tools_for(&config, Some(recipe.tool_names()), discover)?;
    if let Some(e) = executor {
        tools = tools.remote(e.clone());
    }
    let prepared = py.detach(|| flow::ready(recipe, diags, given, &tools)).map_err(|e| engine_error(py, e))?;
    let resume = resume.map(|t| t.resume(&prepared, o.force)).transpose().map_err(|e| engine_error(py, e))?;
    let terminal = Terminal::for_run(o);
    let listeners: Vec<_> = terminal.listener().into_iter().collect();
    let check = flow::preflight(&config, &prepared, &tools, o.force, &listeners, executor.is_some());
    let preflight = super::interruptible(py, check)?.map_err(|e| engine_error(py, e))?;
    // Ctrl-C during preflight (which can take seconds): stop here, before anything runs.
    py.check_signals()?;
    Ok((Ready { config, prepared, tools, preflight }, terminal, resume))
}

fn options(options: Option<&Bound<'_, PyDict>>) -> PyResult<Options> {
    Ok(options.map(|o| depythonize(o.as_any())).transpose()?.unwrap_or_default())
}

fn given(inputs: Option<&Bound<'_, PyDict>>) -> PyResult<IndexMap<String, Value>> {
    Ok(inputs.map(|d| depythonize(d.as_any())).transpose()?.unwrap_or_default())
}

fn executor(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Arc<PyExecutor>>> {
    obj.filter(|o| !o.is_none()).map(|o| PyExecutor::new(o).map(Arc::new)).transpose()
}

fn spawn(r: Ready, term: Terminal, options: Options, executor: Option<Arc<PyExecutor>>, resume: Option<crate::exec::Resume>) -> RunHandle {
    let around = term.around(executor.as_ref().and_then(|e| e.capacity()));
    RunHandle(r.start(super::runtime().handle(), options, around, resume))
}

/// Check, preflight and start a recipe; the run goes on in the engine (`RunHandle`).
///
/// `options`: the run's options (`engine::Options`: auto_approve, force, quiet, no_cache,
/// refresh, events, answers). `plugins`: a callable returning `(plugins, broken)`, called
/// only when the recipe uses a tool that is not native. `executor`: runs the steps' tool
/// calls elsewhere (`localforge.executors`); None: here.
#[pyfunction]
#[pyo3(signature = (path, inputs=None, options=None, plugins=None, executor=None))]
pub fn start_run(
    py: Python<'_>,
    path: PathBuf,
    inputs: Option<&Bound<'_, PyDict>>,
    options: Option<&Bound<'_, PyDict>>,
    plugins: Option<&Bound<'_, PyAny>>,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<RunHandle> {
    super::not_forked()?;
    let (o, executor) = (self::options(options)?, self::executor(executor)?);
    let (ready, term, _) = ready(py, &path, &given(inputs)?, &o, plugins, executor.as_ref(), None)?;
    Ok(spawn(ready, term, o, executor, None))
}

/// Continue a failed, cancelled or interrupted run in its own folder and history row:
/// completed steps keep their outputs and are not run again. The recipe file must be
/// unchanged (same hash) unless `force`. `options`, `plugins`, `executor`: as `start_run`'s.
#[pyfunction]
#[pyo3(signature = (run_id, options=None, plugins=None, executor=None))]
pub fn start_resume(
    py: Python<'_>,
    run_id: String,
    options: Option<&Bound<'_, PyDict>>,
    plugins: Option<&Bound<'_, PyAny>>,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<RunHandle> {
    super::not_forked()?;
    let (o, executor) = (self::options(options)?, self::executor(executor)?);
    let config = super::load_config(py)?;
    let target = py.detach(|| flow::resume_target(&config, &run_id)).map_err(|e| engine_error(py, e))?;
    let (path, inputs) = (target.recipe.clone(), target.inputs.clone());
    let (ready, term, resume) = ready(py, &path, &inputs, &o, plugins, executor.as_ref(), Some(target))?;
    Ok(spawn(ready, term, o, executor, resume))
}

/// The plan of a recipe without running it (`run --dry-run`): levels, order, each step's
/// tool and resources, and whether the step cache would serve it. `options` as `start_run`'s.
#[pyfunction]
#[pyo3(signature = (path, inputs=None, options=None, plugins=None))]
pub fn plan_recipe<'py>(
    py: Python<'py>,
    path: PathBuf,
    inputs: Option<&Bound<'py, PyDict>>,
    options: Option<&Bound<'py, PyDict>>,
    plugins: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let o = Options { quiet: true, ..self::options(options)? };
    let (r, _, _) = ready(py, &path, &given(inputs)?, &o, plugins, None, None)?;
    let doc = super::interruptible(py, flow::dry_run(&r.config, &r.prepared, &r.tools, &r.preflight, &o))?;
    Ok(pythonize(py, &doc)?)
}
