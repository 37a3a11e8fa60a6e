//! `RunHandle`: a run started from Python and going on in the engine. Events
//! stream to Python through a channel (the engine never waits for Python);
//! waiting releases the GIL, and the async forms are asyncio futures on the
//! engine's tokio runtime (pyo3-async-runtimes), so an event loop never blocks.

use super::errors::{engine_error, RunError};
use super::runtime;
use crate::engine::stream::{next_batch, EventStream, Inbox};
use crate::engine::EngineError;
use crate::exec::{Answer, AnswerError, Answers, Event, RunReport};
use pyo3::exceptions::{PyLookupError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};
use pythonize::pythonize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

type Outcome = Arc<Result<RunReport, EngineError>>;

/// A run going on in the engine: its events, approvals, cancellation and result.
#[pyclass(module = "localforge._core", frozen)]
pub struct RunHandle {
    run_id: String,
    cancel: CancellationToken,
    answers: Option<Answers>,
    events: Option<Arc<tokio::sync::Mutex<Inbox>>>,
    outcome: watch::Receiver<Option<Outcome>>,
}

impl RunHandle {
    /// Start `run` (the engine's `execute`) on the runtime; `events`: a stream to fill, if wanted.
    pub(crate) fn spawn<F>(
        run_id: String,
        cancel: CancellationToken,
        answers: Option<Answers>,
        events: Option<EventStream>,
        run: F,
    ) -> RunHandle
    where
        F: Future<Output = Result<RunReport, EngineError>> + Send + 'static,
    {
        let (done_tx, outcome) = watch::channel(None);
        let (sender, receiver) = match events {
            Some(s) => {
                let (closer, inbox) = s.into_parts();
                (Some(closer), Some(inbox))
            }
            None => (None, None),
        };
        runtime().spawn(async move {
            // A panic in the engine is a bug, but a waiting caller still gets an answer.
            let result = match futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run)).await {
                Ok(r) => r,
                Err(_) => Err(EngineError::Run(crate::engine::RunFailure::Panicked)),
            };
            // The stream ends with the run: a reader sees everything, then the end.
            if let Some(tx) = sender {
                tx.close();
            }
            let _ = done_tx.send(Some(Arc::new(result)));
        });
        RunHandle { run_id, cancel, answers, events: receiver, outcome }
    }
}

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
    let kind = |name: &'static str| d.set_item(intern!(py, "type"), name);
    match e {
        Event::RunStarted { run_id, recipe, run_dir, resumed, plan } => {
            kind("run_started")?;
            d.set_item(intern!(py, "run_id"), run_id)?;
            d.set_item(intern!(py, "recipe"), recipe)?;
            d.set_item(intern!(py, "run_dir"), run_dir)?;
            d.set_item(intern!(py, "resumed"), resumed)?;
            d.set_item(intern!(py, "plan"), plan)?;
        }
        Event::StepStarted { step, attempt, tool, action } => {
            kind("step_started")?;
            d.set_item(intern!(py, "step"), step)?;
            d.set_item(intern!(py, "attempt"), attempt)?;
            d.set_item(intern!(py, "tool"), tool)?;
            d.set_item(intern!(py, "action"), action)?;
        }
        Event::StepProgress { step, done, total, unit } => {
            kind("step_progress")?;
            d.set_item(intern!(py, "step"), step)?;
            d.set_item(intern!(py, "done"), done)?;
            d.set_item(intern!(py, "total"), total)?;
            d.set_item(intern!(py, "unit"), unit)?;
        }
        Event::StepLog { step, level, message } => {
            kind("step_log")?;
            d.set_item(intern!(py, "step"), step)?;
            d.set_item(intern!(py, "level"), level)?;
            d.set_item(intern!(py, "message"), message)?;
        }
        Event::StepFinished { step, status, attempt, elapsed_s, outputs, error } => {
            kind("step_finished")?;
            d.set_item(intern!(py, "step"), step)?;
            d.set_item(intern!(py, "status"), status.as_str())?;
            d.set_item(intern!(py, "attempt"), attempt)?;
            d.set_item(intern!(py, "elapsed_s"), elapsed_s)?;
            d.set_item(intern!(py, "outputs"), pythonize(py, outputs)?)?;
            d.set_item(intern!(py, "error"), error)?;
        }
        Event::ApprovalRequested { step, message, options, default } => {
            kind("approval_requested")?;
            d.set_item(intern!(py, "step"), step)?;
            d.set_item(intern!(py, "message"), message)?;
            d.set_item(intern!(py, "options"), options)?;
            d.set_item(intern!(py, "default"), default)?;
        }
        Event::PreflightNote { message } => {
            kind("preflight_note")?;
            d.set_item(intern!(py, "message"), message)?;
        }
        Event::Note { message } => {
            kind("note")?;
            d.set_item(intern!(py, "message"), message)?;
        }
        Event::RunFinished { run_id, status, duration_s, error } => {
            kind("run_finished")?;
            d.set_item(intern!(py, "run_id"), run_id)?;
            d.set_item(intern!(py, "status"), status.as_str())?;
            d.set_item(intern!(py, "duration_s"), duration_s)?;
            d.set_item(intern!(py, "error"), error)?;
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
        &self.run_id
    }

    /// Stop the run: running steps and their processes are stopped, `cleanup.on_failure`
    /// runs, and the history records it as `cancelled`. Returns at once.
    fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether the run has ended.
    fn done(&self) -> bool {
        self.outcome.borrow().is_some()
    }

    /// Answer the approval gate `step`: `True` (go on), `False` (take its rejecting
    /// option), or one of its options by name. Returns the option chosen. LookupError:
    /// `step` is not waiting (any more); ValueError: not one of its options.
    fn approve(&self, step: &str, answer: &Bound<'_, PyAny>) -> PyResult<String> {
        let Some(answers) = &self.answers else {
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
        self.answers.as_ref().map(Answers::waiting).unwrap_or_default()
    }

    /// The next events (a list, empty if none came within `timeout` seconds), or `None`
    /// once the run has ended and every event was read. Waits without the GIL.
    #[pyo3(signature = (timeout=None))]
    fn next_events<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Option<Bound<'py, PyList>>> {
        super::not_forked()?;
        let Some(rx) = self.events.clone() else { return Ok(None) };
        let wait = timeout.map(|t| Duration::from_secs_f64(t.max(0.0)));
        let batch = py.detach(|| runtime().block_on(next_batch(rx, wait)));
        batch.map(|b| event_list(py, b)).transpose()
    }

    /// `next_events()` for asyncio: an awaitable of the next events, or `None` at the end.
    /// Cancelling it loses no event: the next read returns them.
    fn next_events_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::not_forked()?;
        let inbox = self.events.clone();
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
            if let Some(outcome) = self.outcome.borrow().clone() {
                return report(py, &outcome).map(Some);
            }
            let step = match deadline {
                Some(d) if std::time::Instant::now() >= d => return Ok(None),
                Some(d) => d.saturating_duration_since(std::time::Instant::now()).min(Duration::from_millis(100)),
                None => Duration::from_millis(100),
            };
            let mut rx = self.outcome.clone();
            let waited = py
                .detach(|| runtime().block_on(async { tokio::time::timeout(step, rx.wait_for(Option::is_some)).await.map(|r| r.is_ok()) }));
            if let Ok(false) = waited {
                // The run's task is gone without an outcome (the runtime shut down).
                return Err(RunError::new_err("the engine stopped without a result (this is a bug)"));
            }
            if py.check_signals().is_err() {
                // KeyboardInterrupt (or SIGTERM turned into one): stop the run, keep waiting for it.
                self.cancel.cancel();
            }
        }
    }

    /// `wait()` for asyncio: an awaitable of the report.
    fn wait_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::not_forked()?;
        let mut rx = self.outcome.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match rx.wait_for(Option::is_some).await.map(|o| o.clone()).ok().flatten() {
                Some(outcome) => Ok(Report(outcome)),
                None => Err(RunError::new_err("the engine stopped without a result (this is a bug)")),
            }
        })
    }

    fn __repr__(&self) -> String {
        let state = if self.done() { "ended" } else { "running" };
        format!("<RunHandle {} ({state})>", self.run_id)
    }
}
