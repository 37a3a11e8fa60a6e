//! Quick reads (`engine::reads`) as Python values: validation, recipe summaries, tools, history, config.

use super::errors::{diag_dict, engine_error};
use crate::engine::reads;
use crate::store::logs::Channel;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pythonize::{depythonize, pythonize};
use std::path::PathBuf;

/// Check recipe files; a list of problems (dicts with file, line, column, message, hint), empty when all are valid.
#[pyfunction]
/// `plugins`: a callable returning `(plugins, broken)`.
#[pyo3(signature = (paths, plugins=None))]
pub fn validate<'py>(py: Python<'py>, paths: Vec<PathBuf>, plugins: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyList>> {
    // `validate` always looks at every plugin, so name clashes and broken plugins show up here
    // even for recipes of native steps (which `run` checks without importing plugins).
    let tools = super::tools_for(&super::load_config(py)?, None::<[&str; 0]>, plugins)?;
    let diags = py.detach(|| reads::validate(&paths, &tools));
    let dicts = diags.iter().map(|d| diag_dict(py, d)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, dicts)
}

/// Warnings: what recipes written for LocalForge 0.x would do differently here, and
/// `cache: true` where the cache cannot see all a step does.
#[pyfunction]
#[pyo3(signature = (paths, plugins=None))]
pub fn validate_warnings<'py>(py: Python<'py>, paths: Vec<PathBuf>, plugins: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyList>> {
    let tools = super::tools_for(&super::load_config(py)?, None::<[&str; 0]>, plugins)?;
    let diags = py.detach(|| reads::validate_warnings(&paths, &tools));
    let dicts = diags.iter().map(|d| diag_dict(py, d)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, dicts)
}

/// Name, description, version and declared inputs of a recipe, without full validation.
/// `None` for a file that is not a readable recipe.
#[pyfunction]
pub fn recipe_info<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Option<Bound<'py, PyAny>>> {
    let doc = py.detach(|| reads::recipe_summary(&path));
    doc.map(|d| pythonize(py, &d).map_err(PyErr::from)).transpose()
}

/// Every setting's built-in value (0.x's `localforge.engine.config.DEFAULTS`).
#[pyfunction]
pub fn config_defaults(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    Ok(pythonize(py, &crate::config::defaults())?)
}

/// A recipe file as its YAML says it (nothing rendered or checked); `None` if it cannot be read.
#[pyfunction]
pub fn recipe_document<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Option<Bound<'py, PyAny>>> {
    let doc = py.detach(|| reads::recipe_document(&path));
    doc.map(|d| pythonize(py, &d).map_err(PyErr::from)).transpose()
}

/// A YAML text as `{"value", "positions"}` — positions maps each node's JSON Pointer to
/// `[line, column]` — or `{"error": {line, column, message, hint}}` when it does not parse.
#[pyfunction]
pub fn parse_yaml<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let doc = py.detach(|| reads::parse_yaml(text));
    Ok(pythonize(py, &doc)?)
}

/// Render a document (a seed's Markdown) with `context` in the recipes' template environment.
#[pyfunction]
pub fn render_template<'py>(py: Python<'py>, text: &str, context: &Bound<'py, PyAny>) -> PyResult<String> {
    let ctx: serde_json::Value = pythonize::depythonize(context)?;
    py.detach(|| crate::template::render_document(text, &ctx)).map_err(|d| {
        let msg = match d.line {
            Some(line) => format!("line {line}: {}", d.message),
            None => d.message.clone(),
        };
        super::errors::TemplateError::new_err(msg)
    })
}

/// A YAML tool definition checked with the same checker as local YAML tools; `shared`: also
/// the registry rules, whose reasons come back as `refused`.
#[pyfunction]
#[pyo3(signature = (path, shared=false))]
pub fn tool_definition<'py>(py: Python<'py>, path: PathBuf, shared: bool) -> PyResult<Bound<'py, PyAny>> {
    let doc = py.detach(|| reads::tool_definition(&path, shared));
    Ok(pythonize(py, &doc)?)
}

/// The step cache: entries, bytes, limit, oldest and newest use, entries per tool.
#[pyfunction]
pub fn cache_stats<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    let store = crate::cache::store_of(&super::load_config(py)?);
    let stats = py.detach(|| store.stats());
    Ok(pythonize(py, &stats)?)
}

/// Remove step cache entries (all, or those unused for `older_than_s` seconds); how many.
#[pyfunction]
#[pyo3(signature = (older_than_s=None))]
pub fn cache_clear(py: Python<'_>, older_than_s: Option<f64>) -> PyResult<usize> {
    let store = crate::cache::store_of(&super::load_config(py)?);
    py.detach(|| store.clear(older_than_s.map(std::time::Duration::from_secs_f64)))
        .map_err(|e| super::errors::StoreError::new_err(format!("cannot clear the step cache in {}: {e}", store.root.display())))
}

/// Every tool with its kind, actions and availability (the `list-tools --json` shape).
#[pyfunction]
/// `plugins`: a callable returning `(plugins, broken)`; `schema`: each action's input schema too.
#[pyo3(signature = (plugins=None, schema=false))]
pub fn list_tools<'py>(py: Python<'py>, plugins: Option<&Bound<'py, PyAny>>, schema: bool) -> PyResult<Bound<'py, PyAny>> {
    let reg = super::tools_for(&super::load_config(py)?, None::<[&str; 0]>, plugins)?;
    let list = py.detach(|| reads::tool_list(&reg, schema));
    Ok(pythonize(py, &list)?)
}

/// The JSON Schema `kind` (`recipe`, `tool`, `config`); `local`: the recipe schema
/// specialised to the tools usable here (plugins found with `plugins`).
#[pyfunction]
#[pyo3(signature = (kind, local=false, plugins=None))]
pub fn schema_document<'py>(py: Python<'py>, kind: &str, local: bool, plugins: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    let Some(doc) = crate::schema::document(kind) else {
        return Err(pyo3::exceptions::PyValueError::new_err(format!("no schema `{kind}`; schemas: {}", crate::schema::KINDS.join(", "))));
    };
    let doc = match local && kind == "recipe" {
        true => {
            let reg = super::tools_for(&super::load_config(py)?, None::<[&str; 0]>, plugins)?;
            py.detach(|| crate::schema::specialise(doc, &reg))
        }
        false => doc,
    };
    Ok(pythonize(py, &doc)?)
}

/// `read` with this process's configuration and without the GIL: its value as Python
/// values (`None` for `None`), its error as its `localforge.errors` class.
fn read<'py, T: serde::Serialize + Send>(
    py: Python<'py>,
    read: impl FnOnce(&crate::config::Config) -> Result<T, crate::engine::EngineError> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let config = super::load_config(py)?;
    let value = py.detach(|| read(&config)).map_err(|e| engine_error(py, e))?;
    Ok(pythonize(py, &value)?)
}

/// The newest runs, newest first (the `history --json` shape).
#[pyfunction]
#[pyo3(signature = (limit=20))]
pub fn history<'py>(py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyAny>> {
    read(py, |c| reads::history(c, limit))
}

/// One run with its step attempts and events; `None` if there is no such run.
#[pyfunction]
pub fn history_show<'py>(py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
    read(py, |c| reads::history_show(c, run_id))
}

/// A run's status alone (`None` if there is no such run): cheap to ask often.
#[pyfunction]
pub fn run_status<'py>(py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
    read(py, |c| reads::run_status(c, run_id))
}

/// The merged configuration (`raw`), its file, and the resolved paths; `path` reads that
/// file instead of searching (0.x's `Config(path)`), without touching the environment.
#[pyfunction]
#[pyo3(signature = (path=None))]
pub fn config<'py>(py: Python<'py>, path: Option<std::path::PathBuf>) -> PyResult<Bound<'py, PyAny>> {
    let c = match path {
        Some(p) => py.detach(|| crate::config::Config::from_file(&p)).map_err(|d| super::errors::config_error(py, &d))?,
        None => super::load_config(py)?,
    };
    let doc = reads::config_document(&c);
    Ok(pythonize(py, &doc)?)
}

fn channel(word: &str) -> PyResult<Channel> {
    Channel::parse(word).ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("no output `{word}`: `stdout` or `stderr`")))
}

/// A piece of what a step's attempt (`None`: its newest) printed on `channel`: `text`,
/// `start`/`end` bytes, the log's `size`, the attempt and its `status`; `offset` < 0 reads
/// back from the end. `None` when the history has no such run, step or attempt.
#[pyfunction]
#[pyo3(signature = (run_id, step, attempt=None, channel="stdout", offset=-65536, limit=65536))]
pub fn step_log<'py>(
    py: Python<'py>,
    run_id: &str,
    step: &str,
    attempt: Option<u32>,
    channel: &str,
    offset: i64,
    limit: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let channel = self::channel(channel)?;
    read(py, |c| reads::step_log(c, run_id, (step, attempt), channel, (offset, limit)))
}

/// The lines of a step's attempt's log holding `text` (any case): `line`, `offset`, `text`.
#[pyfunction]
#[pyo3(signature = (run_id, step, text, attempt=None, channel="stdout", limit=200))]
pub fn search_step_log<'py>(
    py: Python<'py>,
    run_id: &str,
    step: &str,
    text: &str,
    attempt: Option<u32>,
    channel: &str,
    limit: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let channel = self::channel(channel)?;
    read(py, |c| reads::search_step_log(c, run_id, (step, attempt), channel, text, limit))
}

/// A page of the runs in the history, newest first: `query` holds `status`, `recipe`,
/// `since`, `until`, `text`, `offset`, `limit` (each optional); returns `runs`, `total`
/// (found in all) and `recipes` (every recipe name in the history).
#[pyfunction]
#[pyo3(signature = (query=None))]
pub fn query_runs<'py>(py: Python<'py>, query: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
    let q: crate::store::RunQuery = query.map(|q| depythonize(q.as_any())).transpose()?.unwrap_or_default();
    read(py, |c| reads::query_runs(c, &q))
}

/// Ask run `run_id`, whichever process runs it, to stop or to take an answer:
/// `{"action": "cancel"}` or `{"action": "answer", "step": ..., "answer": ...}`.
#[pyfunction]
pub fn control_run<'py>(py: Python<'py>, run_id: &str, control: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyAny>> {
    let control: crate::store::control::Control = depythonize(control.as_any())?;
    read(py, |c| crate::engine::control::request(c, run_id, &control))
}

/// A number that moves whenever a run, in any process, writes to the history.
#[pyfunction]
pub fn history_version(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    read(py, reads::history_version)
}
