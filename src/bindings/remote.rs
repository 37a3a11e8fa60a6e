//! Executors written in Python (`localforge.executors`): the engine hands each tool call to
//! the executor's `submit`, which answers later through a `CallDone` callback; and the
//! other end, `call_tool`, which runs one tool call on a worker node.

use crate::schedule::Capacity;
use crate::tools::call::{self, CallRequest, Listeners};
use crate::tools::remote::{self, Executor, Reply};
use crate::tools::{JsonMap, Tool, ToolCtx, ToolError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pythonize::{depythonize, pythonize};
use serde_json::Value;
use std::sync::Arc;

/// A Python executor object: `submit(request, inputs, done) -> handle`, `handle.cancel()`,
/// and `capacity()`.
pub struct PyExecutor {
    obj: Arc<Py<PyAny>>,
    capacity: Option<Capacity>,
}

impl PyExecutor {
    /// The executor, with the capacity it reports now (`capacity()`: a dict or None).
    pub fn new(obj: &Bound<'_, PyAny>) -> PyResult<PyExecutor> {
        let cap = obj.call_method0("capacity")?;
        let capacity = (!cap.is_none()).then(|| depythonize::<Value>(&cap)).transpose()?.map(|v| call::capacity_of(&v));
        Ok(PyExecutor { obj: Arc::new(obj.clone().unbind()), capacity })
    }

    pub fn capacity(&self) -> Option<Capacity> {
        self.capacity.clone()
    }
}

/// The callback an executor calls once with the call's result:
/// `{"outputs": {...}, "logs": [[level, message], ...]}` or `{"error": ..., "detail": ...}`;
/// before that, `log`, `progress` and `llm_call` as the call goes on (`tools::remote::Reply`).
#[pyclass(module = "localforge._core", frozen)]
pub struct CallDone(Reply);

#[pymethods]
impl CallDone {
    fn __call__(&self, result: &Bound<'_, PyAny>) -> PyResult<()> {
        self.0.done(depythonize(result)?);
        Ok(())
    }

    fn log(&self, py: Python<'_>, level: &str, message: &str) {
        py.detach(|| self.0.log(level, message))
    }

    #[pyo3(signature = (done, total, unit))]
    fn progress(&self, py: Python<'_>, done: Option<u64>, total: Option<u64>, unit: &str) {
        py.detach(|| self.0.progress(done, total, unit))
    }

    fn llm_call(&self, py: Python<'_>, call: &Bound<'_, PyAny>) -> PyResult<()> {
        let call = depythonize(call)?;
        py.detach(|| self.0.llm_call(call));
        Ok(())
    }
}

fn py_failed(py: Python<'_>, what: &str, e: PyErr) -> ToolError {
    let detail = e.traceback(py).and_then(|t| t.format().ok());
    ToolError::Failed { message: format!("{what}: {}", e.value(py)), detail }
}

#[async_trait::async_trait]
impl Executor for PyExecutor {
    async fn call(&self, tool: &dyn Tool, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let request = CallRequest::new(tool, action, ctx);
        let (reply, rx) = Reply::new(ctx);
        let obj = self.obj.clone();
        let submitted = super::python_workers().run(move || {
            Python::attach(|py| {
                let args = (pythonize(py, &request)?, pythonize(py, &Value::Object(inputs))?, Bound::new(py, CallDone(reply))?);
                obj.call_method1(py, "submit", args)
            })
            .map_err(|e| Python::attach(|py| py_failed(py, "the executor could not start the call", e)))
        });
        let handle = submitted.await.unwrap_or_else(|| Err(ToolError::failed("the executor's thread stopped")))?;
        let stop = || async move {
            let _ = super::python_workers().run(move || Python::attach(|py| handle.call_method0(py, "cancel").map(|_| ()))).await;
        };
        remote::outcome(rx, ctx, stop).await
    }

    fn capacity(&self) -> Option<Capacity> {
        self.capacity.clone()
    }
}

/// Run one tool call here, for a step whose run is driven from another machine:
/// `request` as `PyExecutor` sends it (paths already made local). Returns the dict
/// `CallDone` expects. The tool must be the driver's (same fingerprint): a node with
/// another version of it, or without it, fails the call saying so.
///
/// `log(level, message)`, `progress(done, total, unit)` and `llm_call(call)` hear the call
/// as it goes (without them, lines and LLM calls come back in the result's `logs` and
/// `llm_calls`); `stop()` is asked every 100 ms whether to stop (as Ctrl-C is): the call is
/// dropped and its processes stopped.
#[pyfunction]
#[pyo3(signature = (request, inputs, plugins=None, log=None, progress=None, stop=None, llm_call=None))]
#[allow(clippy::too_many_arguments)]
pub fn call_tool<'py>(
    py: Python<'py>,
    request: &Bound<'py, PyDict>,
    inputs: &Bound<'py, PyDict>,
    plugins: Option<&Bound<'py, PyAny>>,
    log: Option<Py<PyAny>>,
    progress: Option<Py<PyAny>>,
    stop: Option<Py<PyAny>>,
    llm_call: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let req: CallRequest = depythonize(request.as_any())?;
    let inputs: JsonMap = depythonize(inputs.as_any())?;
    let tools = super::tools_for(&super::load_config(py)?, Some([req.tool.as_str()]), plugins)?;
    let hear = Listeners {
        log: log.map(|f| -> crate::tools::LogFn {
            Arc::new(move |level: &str, message: &str| Python::attach(|py| drop(f.call1(py, (level, message)))))
        }),
        progress: progress.map(|f| -> crate::tools::ProgressFn {
            Arc::new(move |done: Option<u64>, total: Option<u64>, unit: &str| Python::attach(|py| drop(f.call1(py, (done, total, unit)))))
        }),
        llm_call: llm_call.map(|f| -> crate::tools::LlmSink {
            Arc::new(move |c| Python::attach(|py| drop(pythonize(py, &c).map(|c| f.call1(py, (c,))))))
        }),
    };
    // Ctrl-C (a Ray cancel) or `stop()` drops the call: the processes it started are stopped.
    let stopped = move |py: Python<'_>| stop.as_ref().is_some_and(|f| f.call0(py).and_then(|v| v.bind(py).is_truthy()).unwrap_or(false));
    let result = super::interruptible_unless(py, call::serve_call(&tools, req, inputs, hear), stopped)?;
    Ok(pythonize(py, &result)?)
}
