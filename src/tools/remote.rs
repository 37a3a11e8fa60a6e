//! Steps run elsewhere: every tool of a registry wrapped so that its calls go to an
//! [`Executor`] (a Ray cluster, `localforge.executors.ray`) instead of running here.
//!
//! The engine keeps everything else — parsing, templates, the schedule and its ledger,
//! the step cache, history, events — so a run's outputs and history are the same
//! wherever its calls ran. A wrapped tool has the inner tool's name, actions, needs,
//! fingerprint and cache rules; only `call` moves. `batch` and approval gates are the
//! engine's own and never leave it: a `batch.foreach` item's sub-steps are separate
//! calls, so items spread over the cluster.

use super::{JsonMap, LlmSink, LogFn, Needs, ProgressFn, Registry, Tool, ToolCtx, ToolError, ToolKind};
use crate::schedule::Capacity;
use crate::store::LlmCall;
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Runs tool calls somewhere else.
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    /// Run `tool.action` with `inputs` (already rendered) for the step `ctx` describes;
    /// `ctx.reservation` is what the step holds, `ctx.cancel` stops it. The call's log
    /// lines are written to `ctx.log` as they are for a local call.
    async fn call(&self, tool: &dyn Tool, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError>;
    /// What the executor offers in all (a cluster's CPUs, RAM and VRAM), planned with
    /// instead of this machine's; `None` keeps this machine's.
    fn capacity(&self) -> Option<Capacity> {
        None
    }
}

/// The driver's end of one call an executor runs: where its result goes when it comes,
/// and the log lines, progress and LLM calls it reports while it runs, into the step's.
pub struct Reply {
    tx: Mutex<Option<oneshot::Sender<Value>>>,
    log: LogFn,
    progress: ProgressFn,
    llm_calls: Option<LlmSink>,
    /// The driver's run and step: an LLM call is recorded as theirs.
    ids: (String, String),
}

impl Reply {
    /// A reply for the step `ctx` describes, and where its result arrives ([`outcome`]).
    pub fn new(ctx: &ToolCtx) -> (Reply, oneshot::Receiver<Value>) {
        let (tx, rx) = oneshot::channel();
        let ids = (ctx.run_id.clone(), ctx.step_id.clone());
        let reply =
            Reply { tx: Mutex::new(Some(tx)), log: ctx.log.clone(), progress: ctx.progress.clone(), llm_calls: ctx.llm_calls.clone(), ids };
        (reply, rx)
    }

    /// Whether the step still waits for this call: after a cancel it does not, and what
    /// comes later would land after the step ended.
    fn waited_for(&self) -> bool {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|tx| !tx.is_closed())
    }

    /// The call's result (`CallResult`'s shape); only the first counts.
    pub fn done(&self, result: Value) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(result);
        }
    }

    /// A line of the step's log, as the tool wrote it there.
    pub fn log(&self, level: &str, message: &str) {
        if self.waited_for() {
            (self.log)(level, message)
        }
    }

    /// The step's progress there: done of total (either may be unknown) in `unit`s.
    pub fn progress(&self, done: Option<u64>, total: Option<u64>, unit: &str) {
        if self.waited_for() {
            (self.progress)(done, total, unit)
        }
    }

    /// An LLM call the step made there, for the history, as the driver's step's.
    pub fn llm_call(&self, mut call: LlmCall) {
        if let Some(record) = &self.llm_calls {
            (call.run_id, call.step_id) = self.ids.clone();
            record(call);
        }
    }
}

/// The step's outputs from the result `rx` of a call submitted for `ctx`'s step; when the
/// step is cancelled first, `stop` stops the call there (and its processes) before the
/// step counts as stopped.
pub async fn outcome<F: Future<Output = ()>>(
    rx: oneshot::Receiver<Value>,
    ctx: &ToolCtx,
    stop: impl FnOnce() -> F,
) -> Result<JsonMap, ToolError> {
    tokio::select! {
        r = rx => match r {
            Ok(v) => super::call::result_of(v).finish(ctx),
            Err(_) => Err(ToolError::failed("the executor dropped the call without a result")),
        },
        _ = ctx.cancel.cancelled() => {
            stop().await;
            Err(ToolError::Cancelled)
        }
    }
}

/// A tool whose calls an executor runs.
pub struct RemoteTool {
    inner: Arc<dyn Tool>,
    executor: Arc<dyn Executor>,
}

#[async_trait::async_trait]
impl Tool for RemoteTool {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn actions(&self) -> Vec<String> {
        self.inner.actions()
    }
    fn kind(&self) -> ToolKind {
        self.inner.kind()
    }
    fn description(&self) -> String {
        self.inner.description()
    }
    fn source(&self) -> String {
        self.inner.source()
    }
    /// Nothing: what a tool needs (a program, a library) must be on the node that runs it,
    /// not here. A node that lacks it fails the call, saying what is missing.
    fn missing(&self) -> Vec<String> {
        Vec::new()
    }
    fn needs(&self, action: &str, inputs: &JsonMap) -> Needs {
        self.inner.needs(action, inputs)
    }
    fn binaries(&self) -> Vec<String> {
        self.inner.binaries()
    }
    fn renders_0x(&self) -> bool {
        self.inner.renders_0x()
    }
    fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }
    fn deterministic(&self, action: &str, inputs: &JsonMap) -> bool {
        self.inner.deterministic(action, inputs)
    }
    fn writes_only_outputs(&self, action: &str) -> bool {
        self.inner.writes_only_outputs(action)
    }
    fn reads(&self, action: &str, inputs: &JsonMap) -> super::Reads {
        self.inner.reads(action, inputs)
    }
    fn names_no_files(&self, action: &str, input: &str) -> bool {
        self.inner.names_no_files(action, input)
    }
    fn relocatable(&self, action: &str, inputs: &JsonMap) -> bool {
        self.inner.relocatable(action, inputs)
    }
    fn confirms(&self, action: &str, identity: &Value, outputs: &JsonMap) -> Result<(), ToolError> {
        self.inner.confirms(action, identity, outputs)
    }
    async fn identity(&self, action: &str, inputs: &JsonMap) -> Result<Option<Value>, ToolError> {
        self.inner.identity(action, inputs).await
    }
    fn inputs(&self, action: &str) -> Option<super::ActionInputs> {
        self.inner.inputs(action)
    }
    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        self.executor.call(self.inner.as_ref(), action, inputs, ctx).await
    }
}

impl Registry {
    /// This registry with every tool's calls run by `executor`.
    pub fn remote(mut self, executor: Arc<dyn Executor>) -> Registry {
        for tool in self.tools.values_mut() {
            *tool = Arc::new(RemoteTool { inner: tool.clone(), executor: executor.clone() });
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Reservation;
    use std::sync::Mutex;

    /// Runs each call on a thread of its own and records what it was asked.
    #[derive(Default)]
    struct Elsewhere {
        seen: Mutex<Vec<(String, String, Reservation)>>,
    }

    #[async_trait::async_trait]
    impl Executor for Elsewhere {
        async fn call(&self, tool: &dyn Tool, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
            self.seen.lock().unwrap().push((tool.name().into(), action.into(), ctx.reservation.clone()));
            ctx.log("INFO", "ran elsewhere");
            let out = tool.call(action, inputs, ctx).await?;
            Ok(out)
        }
        fn capacity(&self) -> Option<Capacity> {
            Some(Capacity { cpu: 4, ram_gb: 0.0, vram_gb: 32.0, gpus: Vec::new() })
        }
    }

    #[tokio::test]
    async fn a_wrapped_tool_is_the_same_tool_whose_calls_the_executor_runs() {
        let exec = Arc::new(Elsewhere::default());
        let local = Registry::native();
        let remote = Registry::native().remote(exec.clone());
        for (a, b) in local.tools().zip(remote.tools()) {
            assert_eq!((a.name(), a.actions(), a.fingerprint(), a.kind()), (b.name(), b.actions(), b.fingerprint(), b.kind()));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = crate::tools::stand_in::ctx_in(dir.path());
        ctx.reservation = Reservation { cpu: 2, vram_gb: Some(16.0), gpu: true, ..Default::default() };
        let path = dir.path().join("a.txt");
        let inputs = crate::tools::outputs(serde_json::json!({"path": path, "content": "hi"}));
        let out = remote.get("file_ops").unwrap().call("write", inputs, &ctx).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hi");
        assert!(out.contains_key("path"), "{out:?}");
        let seen = exec.seen.lock().unwrap();
        assert_eq!(seen.as_slice(), &[("file_ops".into(), "write".into(), ctx.reservation.clone())]);
    }
}
