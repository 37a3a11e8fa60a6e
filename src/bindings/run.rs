//! `start_run`, `start_resume` and `plan_recipe`: the engine's run flow
//! (`engine::flow`) called with the GIL released. This file converts values and
//! errors; the engine decides the rest, and `RunHandle` watches the run.

use super::errors::engine_error;
use super::handle::{EventStream, RunHandle};
use super::remote::PyExecutor;
use crate::config::Config;
use crate::engine::flow::{self, Start};
use crate::engine::Prepared;
use crate::system::preflight::Preflight;
use crate::terminal::Terminal;
use crate::tools::Registry;
use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pythonize::{depythonize, pythonize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Load and check a recipe, with plugins discovered only if it names a tool that is not native.
/// With an executor, every tool's calls go to it (`tools::remote`).
fn prepare(
    py: Python<'_>,
    config: &Config,
    path: &Path,
    given: &IndexMap<String, Value>,
    discover: Option<&Bound<'_, PyAny>>,
    executor: Option<&Arc<PyExecutor>>,
) -> PyResult<(Prepared, Registry)> {
    let (recipe, diags) = py.detach(|| flow::load(path)).map_err(|e| engine_error(py, e))?;
    let mut tools = super::tools_for(config, Some(recipe.tool_names()), discover)?;
    if let Some(e) = executor {
        tools = tools.remote(e.clone());
    }
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
    terminal: Option<&Terminal>,
    remote: bool,
) -> PyResult<crate::system::preflight::Preflight> {
    let listeners: Vec<_> = terminal.and_then(Terminal::listener).into_iter().collect();
    super::interruptible(py, flow::preflight(config, p, tools, force, &listeners, remote))?.map_err(|e| engine_error(py, e))
}

/// The terminal's part: progress lines unless `quiet`; approval gates asked there when
/// nobody else answers them.
fn terminal(quiet: bool, auto_approve: bool, answers: bool) -> Terminal {
    Terminal::new(!quiet, !auto_approve && !answers)
}

/// How a run started from Python is watched: an event stream, approvals (the terminal apart).
struct Watch {
    auto_approve: bool,
    events: bool,
    answers: bool,
    no_cache: bool,
    refresh: Vec<String>,
    executor: Option<Arc<PyExecutor>>,
}

fn executor(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Arc<PyExecutor>>> {
    obj.filter(|o| !o.is_none()).map(|o| PyExecutor::new(o).map(Arc::new)).transpose()
}

fn spawn(
    config: Config,
    p: Prepared,
    tools: Registry,
    pf: Preflight,
    w: Watch,
    term: Terminal,
    resume: Option<crate::exec::Resume>,
) -> RunHandle {
    let run_id = resume.as_ref().map(|r| r.run_id.clone()).unwrap_or_else(crate::exec::new_run_id);
    let cancel = CancellationToken::new();
    let answers = (w.answers && !w.auto_approve).then(crate::exec::Answers::default);
    let stream = w.events.then(EventStream::new);
    let start = Start {
        auto_approve: w.auto_approve,
        resume,
        run_id: Some(run_id.clone()),
        listeners: term.listener().into_iter().chain(stream.iter().map(EventStream::listener)).collect(),
        answers: answers.clone().or_else(|| term.answers()),
        no_cache: w.no_cache,
        refresh: w.refresh,
        capacity: w.executor.as_ref().and_then(|e| e.capacity()),
    };
    let token = cancel.clone();
    RunHandle::spawn(run_id, cancel, answers, stream, async move { flow::execute(&config, p, Arc::new(tools), &pf, start, token).await })
}

/// Check, preflight and start a recipe; the run goes on in the engine (`RunHandle`).
///
/// `plugins`: a callable returning `(plugins, broken)`, called only when the recipe
/// uses a tool that is not native. `events`: stream the run's events to the handle.
/// `answers`: approval gates wait for `RunHandle.approve` (else: the terminal, or the default).
/// `no_cache`: nothing from the step cache; `refresh`: these steps and those after them run.
/// `executor`: runs the steps' tool calls elsewhere (`localforge.executors`); None: here.
#[pyfunction]
#[pyo3(signature = (path, inputs=None, auto_approve=false, quiet=false, plugins=None, force=false, events=false, answers=false, no_cache=false, refresh=None, executor=None))]
#[allow(clippy::too_many_arguments)]
pub fn start_run(
    py: Python<'_>,
    path: PathBuf,
    inputs: Option<&Bound<'_, PyDict>>,
    auto_approve: bool,
    quiet: bool,
    plugins: Option<&Bound<'_, PyAny>>,
    force: bool,
    events: bool,
    answers: bool,
    no_cache: bool,
    refresh: Option<Vec<String>>,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<RunHandle> {
    super::not_forked()?;
    let config = super::load_config(py)?;
    let executor = self::executor(executor)?;
    let (p, tools) = prepare(py, &config, &path, &given(inputs)?, plugins, executor.as_ref())?;
    let term = terminal(quiet, auto_approve, answers);
    let pf = preflight(py, &config, &p, &tools, force, Some(&term), executor.is_some())?;
    // Ctrl-C during preflight (which can take seconds): stop here, before anything runs.
    py.check_signals()?;
    let refresh = refresh.unwrap_or_default();
    Ok(spawn(config, p, tools, pf, Watch { auto_approve, events, answers, no_cache, refresh, executor }, term, None))
}

/// Continue a failed, cancelled or interrupted run in its own folder and history row:
/// completed steps keep their outputs and are not run again. The recipe file must be
/// unchanged (same hash) unless `force`.
#[pyfunction]
#[pyo3(signature = (run_id, auto_approve=false, quiet=false, plugins=None, force=false, events=false, answers=false, executor=None))]
#[allow(clippy::too_many_arguments)]
pub fn start_resume(
    py: Python<'_>,
    run_id: String,
    auto_approve: bool,
    quiet: bool,
    plugins: Option<&Bound<'_, PyAny>>,
    force: bool,
    events: bool,
    answers: bool,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<RunHandle> {
    super::not_forked()?;
    let config = super::load_config(py)?;
    let executor = self::executor(executor)?;
    let target = py.detach(|| flow::resume_target(&config, &run_id)).map_err(|e| engine_error(py, e))?;
    let (p, tools) = prepare(py, &config, &target.recipe, &target.inputs, plugins, executor.as_ref())?;
    let resume = target.resume(&p, force).map_err(|e| engine_error(py, e))?;
    let term = terminal(quiet, auto_approve, answers);
    let pf = preflight(py, &config, &p, &tools, force, Some(&term), executor.is_some())?;
    py.check_signals()?;
    let watch = Watch { auto_approve, events, answers, no_cache: false, refresh: Vec::new(), executor };
    Ok(spawn(config, p, tools, pf, watch, term, Some(resume)))
}

/// The plan of a recipe without running it (`run --dry-run`): levels, order, each step's tool and resources.
#[pyfunction]
#[pyo3(signature = (path, inputs=None, plugins=None, force=false, no_cache=false, refresh=None))]
pub fn plan_recipe<'py>(
    py: Python<'py>,
    path: PathBuf,
    inputs: Option<&Bound<'py, PyDict>>,
    plugins: Option<&Bound<'py, PyAny>>,
    force: bool,
    no_cache: bool,
    refresh: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyAny>> {
    let config = super::load_config(py)?;
    let (p, tools) = prepare(py, &config, &path, &given(inputs)?, plugins, None)?;
    let pf = preflight(py, &config, &p, &tools, force, None, false)?;
    let mut doc = py.detach(|| flow::plan_document(&config, &p, &pf, force));
    // Which steps the step cache would serve (the dry run asks the services for model identities).
    let cache = crate::cache::Cache::from_config(&config, no_cache, refresh.unwrap_or_default());
    let verdicts = super::interruptible(py, crate::cache::preview::preview(cache.as_deref(), &p.recipe, &p.plan, &p.inputs, &tools))?;
    if let Some(steps) = doc.get_mut("steps").and_then(serde_json::Value::as_array_mut) {
        for s in steps {
            let id = s.get("id").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
            if let (Some(v), Some(obj)) = (verdicts.get(&id), s.as_object_mut()) {
                obj.insert("cache".into(), v.clone());
            }
        }
    }
    Ok(pythonize(py, &doc)?)
}
