//! A run started on a runtime and watched from another thread (the Python API's
//! `RunHandle`): its id, cancel token, the approvals its caller answers, its events on
//! their way to the reader, and its outcome once it has ended.

use super::flow::{self, Start};
use super::stream::{EventStream, Inbox};
use super::{EngineError, Options, Prepared, RunFailure};
use crate::config::Config;
use crate::exec::{Answers, Listener, Resume, RunReport};
use crate::schedule::Capacity;
use crate::system::preflight::Preflight;
use crate::tools::Registry;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How a run ended: its report, or why it could not run.
pub type Outcome = Arc<Result<RunReport, EngineError>>;

/// A recipe loaded, checked against its tools and preflighted: ready to start (or to plan).
pub struct Ready {
    pub config: Config,
    pub prepared: Prepared,
    pub tools: Registry,
    pub preflight: Preflight,
}

/// Who else takes part in a run: a listener besides the caller's stream (the terminal's
/// progress lines), who answers approval gates the caller does not (the terminal's
/// prompt), and what an executor elsewhere offers the steps.
#[derive(Default)]
pub struct Around {
    pub listener: Option<Listener>,
    pub answers: Option<Answers>,
    pub capacity: Option<Capacity>,
}

/// A run going on: what its caller holds.
pub struct RunTask {
    pub run_id: String,
    pub cancel: CancellationToken,
    /// The gates the caller answers (`Options::answers`); `None`: not the caller's.
    pub answers: Option<Answers>,
    /// The run's events, when the caller asked for them (`Options::events`); they end
    /// with the run, so a reader sees every event and then the end.
    pub events: Option<Arc<tokio::sync::Mutex<Inbox>>>,
    /// `None` until the run has ended.
    pub outcome: watch::Receiver<Option<Outcome>>,
}

impl Ready {
    /// Start the run on `runtime` (continuing `resume`, if given) and return once its
    /// history is open.
    pub fn start(self, runtime: &tokio::runtime::Handle, options: Options, around: Around, resume: Option<Resume>) -> RunTask {
        let run_id = resume.as_ref().map(|r| r.run_id.clone()).unwrap_or_else(crate::exec::new_run_id);
        let cancel = CancellationToken::new();
        let answers = options.caller_answers();
        let stream = options.events.then(EventStream::new);
        let start = Start {
            resume,
            run_id: Some(run_id.clone()),
            listeners: around.listener.into_iter().chain(stream.iter().map(EventStream::listener)).collect(),
            answers: answers.clone().or(around.answers),
            capacity: around.capacity,
            options,
        };
        let (closer, events) = stream.map(EventStream::into_parts).unzip();
        let (done, outcome) = watch::channel(None);
        let token = cancel.clone();
        let store = flow::open_history(&self.config);
        runtime.spawn(async move {
            let Ready { config, prepared, tools, preflight } = self;
            let run = async move { flow::execute(&config, prepared, Arc::new(tools), &preflight, (start, store?), token).await };
            // A panic in the engine is a bug, but a waiting caller still gets an answer.
            let result = match futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run)).await {
                Ok(r) => r,
                Err(_) => Err(EngineError::Run(RunFailure::Panicked)),
            };
            if let Some(closer) = closer {
                closer.close();
            }
            let _ = done.send(Some(Arc::new(result)));
        });
        RunTask { run_id, cancel, answers, events, outcome }
    }
}
