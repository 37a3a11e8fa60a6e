//! `RunHandle`: a run started from Python and going on in the engine. Events
//! stream to Python through a channel (the engine never waits for Python);
//! waiting releases the GIL, and the async forms are asyncio futures on the
//! engine's tokio runtime (pyo3-async-runtimes), so an event loop never blocks.

use super::errors::{engine_error, RunError};
use super::runtime;
use crate::engine::stream::next_batch;
use crate::engine::task::{Outcome, RunTask};
use crate::exec::{Answer, AnswerError, Answers, Event};
use pyo3::exceptions::{PyLookupError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};
use pythonize::pythonize;
use std::sync::Arc;
use std::time::Duration;

/// A run going on in the engine: its events, approvals, cancellation and result.
#[pyclass(module = "localforge._core", frozen)]
pub struct RunHandle(pub(crate) RunTask);

fn report<'py>(py: Python<'py>, outcome: &Outcome) -> PyResult<Bound<'py, PyAny>> {
    match outcome.as_ref() {
        Ok(r) => Ok(pythonize(py, r)?),
        Err(e) => Err(engine_error(py, e.clone())),
    }
}

fn event_list<'py>(py: Python<'py>, events: Vec<Arc<Event>>) -> PyResult<Bound<'py, PyList>> {
    let items = events.iter().map(|e| event_dict(py, e)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// An event as the dict `pythonize` would make (the serde shape), built directly with
/// interned keys: a run of 5000 steps sends 10,000 events, and this is their cost in Python.
fn event_dict<'py>(py: Python<'py>, e: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    // `type`, then each field under its own name.
    macro_rules! fill {
        ($kind:literal $(, $field:ident)*) => {{
            d.set_item(intern!(py, "type"), $kind)?;
            $(d.set_item(intern!(py, stringify!($field)), $field)?;)*
        }};
    }
    match e {
        Event::RunStarted { run_id, recipe, run_dir, resumed, plan } => fill!("run_started", run_id, recipe, run_dir, resumed, plan),
        Event::StepStarted { step, attempt, tool, action, gpus } => fill!("step_started", step, attempt, tool, action, gpus),
        Event::StepProgress { step, done, total, unit } => fill!("step_progress", step, done, total, unit),
        Event::StepLog { step, level, message } => fill!("step_log", step, level, message),
        Event::StepFinished { step, status, attempt, elapsed_s, outputs, error } => {
            let (status, outputs) = (status.as_str(), pythonize(py, outputs)?);
            fill!("step_finished", step, status, attempt, elapsed_s, outputs, error)
        }
        Event::ApprovalRequested { step, message, options, default } => fill!("approval_requested", step, message, options, default),
        Event::PreflightNote { message } => fill!("preflight_note", message),
        Event::Note { message } => fill!("note", message),
        Event::RunFinished { run_id, status, duration_s, error } => {
            let status = status.as_str();
            fill!("run_finished", run_id, status, duration_s, error)
        }
    }
    Ok(d)
}

/// Events for Python: a list, or `None` once the run has ended and all were read.
/// Converted where pyo3-async-runtimes converts results, not on the engine's threads.
struct Batch(Option<Vec<Arc<Event>>>);

impl<'py> IntoPyObject<'py> for Batch {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Some(events) => Ok(event_list(py, events)?.into_any()),
            None => Ok(py.None().into_bound(py)),
        }
    }
}

/// A run's report for Python, or its error as a `localforge.errors` exception.
struct Report(Outcome);

impl<'py> IntoPyObject<'py> for Report {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        report(py, &self.0)
    }
}

#[pymethods]
impl RunHandle {
    /// The run's id (its history row and run folder name).
    #[getter]
    fn id(&self) -> &str {
        &self.0.run_id
    }

    /// Stop the run: running steps and their processes are stopped, `cleanup.on_failure`
    /// runs, and the history records it as `cancelled`. Returns at once.
    fn cancel(&self) {
        self.0.cancel.cancel();
    }

    /// Whether the run has ended.
    fn done(&self) -> bool {
        self.0.outcome.borrow().is_some()
    }

    /// Answer the approval gate `step`: `True` (go on), `False` (take its rejecting
    /// option), or one of its options by name. Returns the option chosen. LookupError:
    /// `step` is not waiting (any more); ValueError: not one of its options.
    fn approve(&self, step: &str, answer: &Bound<'_, PyAny>) -> PyResult<String> {
        let Some(answers) = &self.0.answers else {
            return Err(PyValueError::new_err("this run takes approvals automatically (auto_approve) or on its terminal"));
        };
        let answer = if let Ok(b) = answer.cast::<PyBool>() {
            if b.is_true() {
                Answer::Yes
            } else {
                Answer::No
            }
        } else if let Ok(s) = answer.cast::<PyString>() {
            Answer::Choice(s.to_string())
        } else {
            return Err(PyTypeError::new_err("answer with True, False or one of the gate's options"));
        };
        answers.answer(step, answer).map_err(|e| match e {
            AnswerError::NotWaiting(m) => PyLookupError::new_err(m),
            AnswerError::NoSuchOption(m) => PyValueError::new_err(m),
        })
    }

    /// The approval gates waiting for an answer now.
    fn waiting_approvals(&self) -> Vec<String> {
        self.0.answers.as_ref().map(Answers::waiting).unwrap_or_default()
    }

    /// The next events (a list, empty if none came within `timeout` seconds), or `None`
    /// once the run has ended and every event was read. Waits without the GIL.
    #[pyo3(signature = (timeout=None))]
    fn next_events<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Option<Bound<'py, PyList>>> {
        super::not_forked()?;
        let Some(rx) = self.0.events.clone() else { return Ok(None) };
        let wait = timeout.map(|t| Duration::from_secs_f64(t.max(0.0)));
        let batch = py.detach(|| runtime().block_on(next_batch(rx, wait)));
        batch.map(|b| event_list(py, b)).transpose()
    }

    /// `next_events()` for asyncio: an awaitable of the next events, or `None` at the end.
    /// Cancelling it loses no event: the next read returns them.
    fn next_events_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::not_forked()?;
        let inbox = self.0.events.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            Ok(Batch(match inbox {
                Some(inbox) => next_batch(inbox, None).await,
                None => None,
            }))
        })
    }

    /// Wait for the run to end and return its report (the `run --json` document).
    /// `timeout`: seconds; `None` when it has not ended by then. Ctrl-C (KeyboardInterrupt)
    /// while waiting cancels the run and keeps waiting for it to stop, as the CLI does.
    #[pyo3(signature = (timeout=None))]
    fn wait<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Option<Bound<'py, PyAny>>> {
        super::not_forked()?;
        let deadline = timeout.map(|t| std::time::Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        loop {
            if let Some(outcome) = self.0.outcome.borrow().clone() {
                return report(py, &outcome).map(Some);
            }
            let step = match deadline {
                Some(d) if std::time::Instant::now() >= d => return Ok(None),
                Some(d) => d.saturating_duration_since(std::time::Instant::now()).min(Duration::from_millis(100)),
                None => Duration::from_millis(100),
            };
            let mut rx = self.0.outcome.clone();
            let waited = py
                .detach(|| runtime().block_on(async { tokio::time::timeout(step, rx.wait_for(Option::is_some)).await.map(|r| r.is_ok()) }));
            if let Ok(false) = waited {
                // The run's task is gone without an outcome (the runtime shut down).
                return Err(RunError::new_err("the engine stopped without a result (this is a bug)"));
            }
            if py.check_signals().is_err() {
                // KeyboardInterrupt (or SIGTERM turned into one): stop the run, keep waiting for it.
                self.0.cancel.cancel();
            }
        }
    }

    /// `wait()` for asyncio: an awaitable of the report.
    fn wait_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::not_forked()?;
        let mut rx = self.0.outcome.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match rx.wait_for(Option::is_some).await.map(|o| o.clone()).ok().flatten() {
                Some(outcome) => Ok(Report(outcome)),
                None => Err(RunError::new_err("the engine stopped without a result (this is a bug)")),
            }
        })
    }

    fn __repr__(&self) -> String {
        let state = if self.done() { "ended" } else { "running" };
        format!("<RunHandle {} ({state})>", self.0.run_id)
    }
}
