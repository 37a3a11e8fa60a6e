//! Python tool plugins (the 0.x contract) as engine tools.
//!
//! `handle(action, inputs, ctx) -> dict` is called on one of `python_workers`' threads,
//! which holds the GIL for the call only, so native steps and HTTP steps keep
//! running beside it.

use crate::tools::plugin::Handler;
use crate::tools::{JsonMap, ToolCtx, ToolError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};
use pythonize::{depythonize, pythonize};
use serde_json::Value;
use std::sync::Arc;

/// A loaded plugin module: the engine's `tools::plugin::Plugin` calls its `handle` here.
pub struct PyModuleHandler(pub Arc<Py<PyAny>>);

#[async_trait::async_trait]
impl Handler for PyModuleHandler {
    async fn call(&self, tool: &str, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let module = self.0.clone();
        let (name, action, ctx) = (tool.to_string(), action.to_string(), ctx.clone());
        let task = super::python_workers().run(move || Python::attach(|py| call(py, &module, &name, &action, inputs, ctx)));
        task.await.unwrap_or_else(|| Err(ToolError::failed("the plugin's thread stopped without a result")))
    }
}

fn call(py: Python<'_>, module: &Py<PyAny>, name: &str, action: &str, inputs: JsonMap, ctx: ToolCtx) -> Result<JsonMap, ToolError> {
    let failed = |e: PyErr| py_failure(py, name, action, e);
    let handle = module.bind(py).getattr("handle").map_err(failed)?;
    let inputs = pythonize(py, &Value::Object(inputs)).map_err(|e| ToolError::failed(format!("inputs for `{name}.{action}`: {e}")))?;
    let py_ctx = make_ctx(py, ctx).map_err(failed)?;
    // Through `localforge.context.call_plugin`: what the plugin prints goes to the step's log.
    let result =
        CALL.import(py, "localforge.context", "call_plugin").and_then(|c| c.call1((handle, action, inputs, py_ctx))).map_err(failed)?;
    if !result.is_instance_of::<PyDict>() {
        let kind = result.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
        return Err(ToolError::failed(format!("tool `{name}` action `{action}` returned {kind}, not a dict")));
    }
    let value: Value = match depythonize(&result) {
        Ok(v) => v,
        // Paths, tuples and the like: convert to plain data, then try again.
        Err(_) => {
            let unstorable =
                |why: String| ToolError::failed(format!("tool `{name}` action `{action}` returned a value that cannot be stored: {why}"));
            let plain = py
                .import("localforge.context")
                .and_then(|_| PLAIN.import(py, "localforge.context", "plain"))
                .and_then(|f| f.call1((&result,)))
                .map_err(|e| unstorable(e.value(py).to_string()))?;
            depythonize(&plain).map_err(|e| unstorable(e.to_string()))?
        }
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ToolError::failed(format!("tool `{name}` action `{action}` did not return a mapping"))),
    }
}

/// The exception's type and message for the step, its traceback for the history.
fn py_failure(py: Python<'_>, name: &str, action: &str, e: PyErr) -> ToolError {
    let kind = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    let traceback = py
        .import("traceback")
        .and_then(|tb| tb.call_method1("format_exception", (e.get_type(py), e.value(py), e.traceback(py))))
        .and_then(|lines| PyString::new(py, "").call_method1("join", (lines,)))
        .map(|s| s.to_string())
        .ok();
    let message = if message.is_empty() { kind } else { format!("{kind}: {message}") };
    ToolError::Failed { message: format!("`{name}.{action}` raised {message}"), detail: traceback }
}

static TOOL_CONTEXT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static RUN_INFO: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static PLAIN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static CALL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The run's info as Python objects, made once per run and shared by its calls.
static RUN_CACHE: std::sync::Mutex<Option<(Arc<Value>, Py<PyAny>)>> = std::sync::Mutex::new(None);

fn run_info<'py>(py: Python<'py>, ctx: &ToolCtx) -> PyResult<Bound<'py, PyAny>> {
    let info = ctx.run_info();
    let mut cache = RUN_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((key, obj)) = cache.as_ref() {
        if Arc::ptr_eq(key, &info) {
            return Ok(obj.bind(py).clone());
        }
    }
    let obj = RUN_INFO.import(py, "localforge.context", "run_info")?.call1((pythonize(py, &*info)?,))?;
    *cache = Some((info, obj.clone().unbind()));
    Ok(obj)
}

/// `localforge.context.ToolContext(run, current_step, engine)`.
fn make_ctx<'py>(py: Python<'py>, ctx: ToolCtx) -> PyResult<Bound<'py, PyAny>> {
    let run = run_info(py, &ctx)?;
    let step = pythonize(py, &ctx.step)?;
    let engine = Bound::new(py, EngineHandle { ctx })?;
    TOOL_CONTEXT.import(py, "localforge.context", "ToolContext")?.call1((run, step, engine))
}

/// The engine side of a plugin's `ctx`: log, resolve, steps_output.
#[pyclass(module = "localforge._core", frozen)]
pub struct EngineHandle {
    ctx: ToolCtx,
}

#[pymethods]
impl EngineHandle {
    /// Write a line to the run's log and its history.
    fn log(&self, level: &str, message: &str) {
        self.ctx.log(level, message);
    }

    /// The plugin read `what` of the run (`ctx.inputs`, `ctx.config`, ...): its result is
    /// not stored in the step cache, whose key does not hold those.
    fn read_run(&self, what: &str) {
        if let Some(run) = &self.ctx.run {
            run.read(what);
        }
    }

    /// Render templates in `value` with the run's scope.
    fn resolve<'py>(&self, py: Python<'py>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let v: Value = depythonize(value)?;
        let Some(run) = &self.ctx.run else { return Ok(value.clone()) };
        run.read("`ctx.resolve`");
        let out = run.resolve(&v).map_err(|e| super::errors::TemplateError::new_err(e.message))?;
        Ok(pythonize(py, &out)?)
    }

    /// The value of one template expression; ValueError naming it if it cannot be evaluated.
    fn evaluate<'py>(&self, py: Python<'py>, expr: &str) -> PyResult<Bound<'py, PyAny>> {
        let Some(run) = &self.ctx.run else { return Err(pyo3::exceptions::PyValueError::new_err(format!("Unknown variable: {expr}"))) };
        run.read("a template");
        let v = run.evaluate(expr).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.message))?;
        Ok(pythonize(py, &v)?)
    }

    /// Record outputs for a step id: later templates and `steps_output` see them.
    fn set_step_output(&self, step_id: &str, outputs: &Bound<'_, PyAny>) -> PyResult<()> {
        let v: Value = depythonize(outputs)?;
        if let Some(run) = &self.ctx.run {
            run.read("`ctx.set_step_output`");
            run.set_output(step_id, &v);
        }
        Ok(())
    }

    /// The recipe file as its YAML says it (`steps`, `inputs`, ... unrendered), for 0.x's `ctx.recipe`.
    fn recipe_document<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(run) = &self.ctx.run {
            run.read("`ctx.recipe`");
        }
        let info = self.ctx.run.as_ref().map(|r| r.info());
        let path = info.as_ref().and_then(|i| i["recipe"]["path"].as_str().map(str::to_string));
        match path {
            Some(p) => Ok(super::info::recipe_document(py, p.into())?.unwrap_or_else(|| py.None().into_bound(py))),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// Outputs of the steps that have finished, by id.
    fn steps_output<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(run) = &self.ctx.run {
            run.read("`ctx.steps_output`");
        }
        let v = self.ctx.run.as_ref().map(|r| r.steps_output()).unwrap_or_else(|| Value::Object(Default::default()));
        Ok(pythonize(py, &v)?)
    }
}
