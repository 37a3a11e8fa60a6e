//! `start_run`, `start_resume` and `plan_recipe`: the engine's run flow
//! (`engine::flow`) called with the GIL released. This file converts values and
//! errors; the engine decides the rest, and `RunHandle` watches the run.

use super::errors::engine_error;
use super::handle::RunHandle;
use super::remote::PyExecutor;
use crate::config::Config;
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

/// A recipe checked and preflighted, with what shows its progress, the run it continues
/// and where its steps run.
struct Checked {
    ready: Ready,
    terminal: Terminal,
    resume: Option<crate::exec::Resume>,
    executor: Option<Arc<PyExecutor>>,
}

fn ready(
    py: Python<'_>,
    path: &Path,
    given: &IndexMap<String, Value>,
    o: &Options,
    discover: Option<&Bound<'_, PyAny>>,
    choose: Option<&Bound<'_, PyAny>>,
    resume: Option<(Config, flow::ResumeTarget)>,
) -> PyResult<Checked> {
    let (config, resume) = match resume {
        Some((config, target)) => (config, Some(target)),
        None => (super::load_config(py)?, None),
    };
    let executor = self::executor(choose, &config)?;
    let executor = executor.as_ref();
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
    Ok(Checked { ready: Ready { config, prepared, tools, preflight }, terminal, resume, executor: executor.cloned() })
}

fn options(options: Option<&Bound<'_, PyDict>>) -> PyResult<Options> {
    Ok(options.map(|o| depythonize(o.as_any())).transpose()?.unwrap_or_default())
}

fn given(inputs: Option<&Bound<'_, PyDict>>) -> PyResult<IndexMap<String, Value>> {
    Ok(inputs.map(|d| depythonize(d.as_any())).transpose()?.unwrap_or_default())
}

/// The executor `choose` picks given the configuration's `executor` setting (so the
/// configuration is read once per run), or None: the steps run here.
fn executor(choose: Option<&Bound<'_, PyAny>>, config: &Config) -> PyResult<Option<Arc<PyExecutor>>> {
    let Some(choose) = choose.filter(|c| !c.is_none()) else { return Ok(None) };
    let setting = pythonize(choose.py(), config.raw.get("executor").unwrap_or(&Value::Null))?;
    let obj = choose.call1((setting,))?;
    match obj.is_none() {
        true => Ok(None),
        false => PyExecutor::new(&obj).map(|e| Some(Arc::new(e))),
    }
}

/// Start the run (its history opened here: without the GIL, as the caller waits anyway).
fn spawn(c: Checked, options: Options) -> RunHandle {
    let around = c.terminal.around(c.executor.as_ref().and_then(|e| e.capacity()));
    RunHandle(c.ready.start(super::runtime().handle(), options, around, c.resume))
}

/// Check, preflight and start a recipe; the run goes on in the engine (`RunHandle`).
///
/// `options`: the run's options (`engine::Options`: auto_approve, force, quiet, no_cache,
/// refresh, events, answers). `plugins`: a callable taking the tool names the recipe needs
/// and the configured tool folders and returning `(plugins, broken)`, called only when the
/// recipe uses a tool that is not native. `executor`: a callable taking the configuration's
/// `executor` setting (None when unset) and returning what runs the steps' tool calls
/// elsewhere (`localforge.executors`), or None: here.
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
    let o = self::options(options)?;
    let checked = ready(py, &path, &given(inputs)?, &o, plugins, executor, None)?;
    Ok(py.detach(|| spawn(checked, o)))
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
    let o = self::options(options)?;
    let config = super::load_config(py)?;
    let target = py.detach(|| flow::resume_target(&config, &run_id)).map_err(|e| engine_error(py, e))?;
    let (path, inputs) = (target.recipe.clone(), target.inputs.clone());
    let checked = ready(py, &path, &inputs, &o, plugins, executor, Some((config, target)))?;
    Ok(py.detach(|| spawn(checked, o)))
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
    let r = ready(py, &path, &given(inputs)?, &o, plugins, None, None)?.ready;
    let doc = super::interruptible(py, flow::dry_run(&r.config, &r.prepared, &r.tools, &r.preflight, &o))?;
    Ok(pythonize(py, &doc)?)
}
