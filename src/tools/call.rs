//! The remote-call protocol: what the driver's engine sends an executor for one tool
//! call ([`CallRequest`]), what comes back ([`CallResult`]), and the node's side,
//! [`serve_call`], which refuses a tool it lacks or has in another version.
//!
//! Both travel as JSON-like values (a Ray task's arguments); front ends only convert.

use super::{JsonMap, LogFn, ProgressFn, Registry, Tool, ToolCtx, ToolError, ToolKind};
use crate::recipe::ToolCatalog;
use crate::schedule::Capacity;
use crate::store::LlmCall;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One tool call as the driver sends it: the tool and its version, the run's ids and
/// folders (a node maps them to its own), the step, what it holds, and the run so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CallRequest {
    pub tool: String,
    pub action: String,
    pub kind: Option<ToolKind>,
    /// The driver's tool fingerprint; empty: not checked.
    pub fingerprint: String,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub temp_dir: PathBuf,
    pub step_id: String,
    /// The attempt's number (its logs' names); 0: not said.
    pub attempt: u32,
    pub step: Value,
    pub reservation: Held,
    /// The run's info (inputs, config, recipe) and its finished steps' outputs.
    pub info: Option<Value>,
    pub steps: Option<Value>,
}

/// What the step holds on the driver's ledger: the cluster is asked for as much.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Held {
    pub cpu: u32,
    pub ram_gb: f64,
    pub gpu: bool,
    pub vram_gb: Option<f64>,
    /// The step's `resources` ask for a GPU: a cluster without one refuses it.
    pub declared_gpu: bool,
}

impl CallRequest {
    pub fn new(tool: &dyn Tool, action: &str, ctx: &ToolCtx) -> CallRequest {
        let r = &ctx.reservation;
        CallRequest {
            tool: tool.name().into(),
            action: action.into(),
            kind: Some(tool.kind()),
            fingerprint: tool.fingerprint(),
            run_id: ctx.run_id.clone(),
            run_dir: ctx.run_dir.clone(),
            temp_dir: ctx.temp_dir.clone(),
            step_id: ctx.step_id.clone(),
            attempt: ctx.attempt,
            step: ctx.step.clone(),
            reservation: Held { cpu: r.cpu, ram_gb: r.ram_gb, gpu: r.gpu, vram_gb: r.vram_gb, declared_gpu: r.declared_gpu },
            info: ctx.run.as_ref().map(|v| (*v.info()).clone()),
            steps: ctx.run.as_ref().map(|v| v.steps_output()),
        }
    }
}

/// How a call ended there: `outputs`, or `error` (with `detail`), or `cancelled`; with the
/// log lines and LLM calls it made (empty when they were heard as they came).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    pub logs: Vec<(String, String)>,
    pub llm_calls: Vec<Value>,
    /// What the call read of the run through a plugin's `ctx` (`RunView::read`), told to
    /// the driver's run: its step cache does not store such a call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<String>,
}

impl CallResult {
    fn refused(message: String) -> CallResult {
        CallResult { error: Some(message), ..Default::default() }
    }

    /// The call's outputs (or failure) for the driver's step: its log lines replayed into
    /// the step's log, its LLM calls into the run's history as this step's.
    pub fn finish(self, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        for (level, message) in &self.logs {
            ctx.log(level, message);
        }
        if let Some(record) = &ctx.llm_calls {
            for call in self.llm_calls {
                if let Ok(mut call) = serde_json::from_value::<LlmCall>(call) {
                    (call.run_id, call.step_id) = (ctx.run_id.clone(), ctx.step_id.clone());
                    record(call);
                }
            }
        }
        if let (Some(what), Some(run)) = (&self.read, &ctx.run) {
            run.read(what);
        }
        if self.cancelled {
            return Err(ToolError::Cancelled);
        }
        if let Some(message) = self.error {
            return Err(ToolError::Failed { message, detail: self.detail });
        }
        self.outputs.ok_or_else(|| ToolError::failed("the executor returned no outputs"))
    }
}

/// What an executor's result value says, or a failure naming what was wrong with it.
pub fn result_of(v: Value) -> CallResult {
    serde_json::from_value(v).unwrap_or_else(|e| CallResult::refused(format!("the executor returned a result that cannot be read: {e}")))
}

/// What an executor offers (`{cpu, ram_gb, vram_gb}`, any left out), as the ledger's capacity.
pub fn capacity_of(v: &Value) -> Capacity {
    Capacity {
        cpu: v["cpu"].as_u64().unwrap_or(1).max(1) as u32,
        ram_gb: v["ram_gb"].as_f64().unwrap_or(0.0),
        vram_gb: v["vram_gb"].as_f64().unwrap_or(0.0),
        gpus: Vec::new(),
    }
}

/// Who hears a served call as it goes; `None`: kept for the result's `logs` / `llm_calls`.
#[derive(Default)]
pub struct Listeners {
    pub log: Option<LogFn>,
    pub progress: Option<ProgressFn>,
    pub llm_call: Option<super::LlmSink>,
}

/// Run one call here for a step driven from another machine. The tool must be the
/// driver's (same fingerprint): a node with another version of it, or without it,
/// fails the call saying so.
pub async fn serve_call(tools: &Registry, req: CallRequest, inputs: JsonMap, hear: Listeners) -> CallResult {
    let name = &req.tool;
    let Some(tool) = tools.get(name).cloned() else {
        let why = tools.unavailable(name).unwrap_or_else(|| "it is not installed there".into());
        return CallResult::refused(format!("this node cannot run tool `{name}`: {why}"));
    };
    if let Some(why) = tools.unavailable(name) {
        return CallResult::refused(format!("this node cannot run tool `{name}`: {why}"));
    }
    let (here, wanted) = (tool.fingerprint(), &req.fingerprint);
    if !wanted.is_empty() && &here != wanted {
        return CallResult::refused(format!(
            "tool `{name}` on this node is not the driver's ({here} here, {wanted} there): install the same version of it on every node"
        ));
    }
    let logs: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let llm: Arc<Mutex<Vec<LlmCall>>> = Default::default();
    let (log_sink, llm_sink) = (logs.clone(), llm.clone());
    let reads: crate::tools::view::Reads = Default::default();
    let ctx = ToolCtx {
        run_id: req.run_id,
        run_dir: req.run_dir,
        temp_dir: req.temp_dir,
        step_id: req.step_id,
        attempt: req.attempt,
        cancel: Default::default(),
        log: hear.log.unwrap_or_else(|| {
            Arc::new(move |l: &str, m: &str| log_sink.lock().unwrap_or_else(|e| e.into_inner()).push((l.into(), m.into())))
        }),
        progress: hear.progress.unwrap_or_else(|| Arc::new(|_, _, _| {})),
        run: Some(crate::tools::view::detached(req.info.unwrap_or(Value::Null), &req.steps.unwrap_or(Value::Null), reads.clone())),
        step: req.step,
        llm_calls: Some(hear.llm_call.unwrap_or_else(|| Arc::new(move |c| llm_sink.lock().unwrap_or_else(|e| e.into_inner()).push(c)))),
        reservation: Default::default(),
        cards: Vec::new(),
        gpu_env: Vec::new(),
    };
    let outcome = tool.call(&req.action, inputs, &ctx).await;
    let logs = std::mem::take(&mut *logs.lock().unwrap_or_else(|e| e.into_inner()));
    let llm_calls = std::mem::take(&mut *llm.lock().unwrap_or_else(|e| e.into_inner()));
    let llm_calls = llm_calls.iter().filter_map(|c| serde_json::to_value(c).ok()).collect();
    let read = reads.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(_, what)| what).next();
    let done = CallResult { logs, llm_calls, read, ..Default::default() };
    match outcome {
        Ok(outputs) => CallResult { outputs: Some(outputs), ..done },
        Err(ToolError::Cancelled) => CallResult { cancelled: true, ..done },
        Err(ToolError::Failed { message, detail }) => CallResult { error: Some(message), detail, ..done },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file_write(dir: &std::path::Path) -> (CallRequest, JsonMap) {
        let tools = Registry::native();
        let ctx = crate::tools::stand_in::ctx_in(dir);
        let req = CallRequest::new(tools.get("file_ops").unwrap().as_ref(), "write", &ctx);
        (req, crate::tools::outputs(json!({"path": dir.join("a.txt"), "content": "hi"})))
    }

    #[tokio::test]
    async fn a_served_call_runs_the_tool_and_its_result_reads_back_on_the_driver() {
        let dir = tempfile::tempdir().unwrap();
        let (req, inputs) = file_write(dir.path());
        // Through JSON, as a Ray task carries it.
        let req: CallRequest = serde_json::from_value(serde_json::to_value(&req).unwrap()).unwrap();
        assert_eq!((req.tool.as_str(), req.kind), ("file_ops", Some(ToolKind::Native)));
        let result = serve_call(&Registry::native(), req, inputs, Listeners::default()).await;
        assert_eq!(std::fs::read_to_string(dir.path().join("a.txt")).unwrap(), "hi");
        let sent = serde_json::to_value(&result).unwrap();
        assert!(sent.get("error").is_none() && sent.get("cancelled").is_none(), "{sent}");
        let back = result_of(sent);
        let ctx = crate::tools::stand_in::ctx_in(dir.path());
        assert!(back.finish(&ctx).unwrap().contains_key("path"));
    }

    #[tokio::test]
    async fn a_node_refuses_a_tool_it_lacks_or_has_in_another_version() {
        let dir = tempfile::tempdir().unwrap();
        let (mut req, inputs) = file_write(dir.path());
        req.fingerprint = "file_ops:other".into();
        let r = serve_call(&Registry::native(), req.clone(), inputs.clone(), Listeners::default()).await;
        let message = r.error.unwrap();
        assert!(message.starts_with("tool `file_ops` on this node is not the driver's ("), "{message}");
        assert!(message.ends_with(", file_ops:other there): install the same version of it on every node"), "{message}");
        req.tool = "blender".into();
        let r = serve_call(&Registry::native(), req, inputs, Listeners::default()).await;
        assert_eq!(r.error.as_deref(), Some("this node cannot run tool `blender`: it is not installed there"));
        assert_eq!(serde_json::to_value(&r).unwrap()["error"], json!(r.error));
        assert!(!dir.path().join("a.txt").exists());
    }

    #[test]
    fn a_result_replays_its_logs_and_says_how_the_call_ended() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::tools::stand_in::ctx_in(dir.path());
        let failed = result_of(json!({"error": "boom", "detail": "trace", "logs": [["INFO", "there"]]}));
        assert_eq!(failed.logs, vec![("INFO".to_string(), "there".to_string())]);
        assert!(matches!(failed.finish(&ctx), Err(ToolError::Failed { message, detail: Some(d) }) if message == "boom" && d == "trace"));
        assert!(matches!(result_of(json!({"cancelled": true})).finish(&ctx), Err(ToolError::Cancelled)));
        let Err(ToolError::Failed { message, .. }) = result_of(json!({})).finish(&ctx) else { panic!() };
        assert_eq!(message, "the executor returned no outputs");
        let Err(ToolError::Failed { message, .. }) = result_of(json!({"logs": 3})).finish(&ctx) else { panic!() };
        assert!(message.starts_with("the executor returned a result that cannot be read"), "{message}");
    }

    /// A tool that reads the run's config through its context, as a plugin's `ctx.config`.
    struct ReadsConfig;

    #[async_trait::async_trait]
    impl crate::tools::Tool for ReadsConfig {
        fn name(&self) -> &str {
            "reads"
        }
        fn actions(&self) -> Vec<String> {
            vec!["go".into()]
        }
        fn kind(&self) -> ToolKind {
            ToolKind::Python
        }
        fn description(&self) -> String {
            String::new()
        }
        async fn call(&self, _action: &str, _inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
            ctx.run.as_ref().unwrap().read("`ctx.config`");
            Ok(JsonMap::new())
        }
    }

    #[tokio::test]
    async fn what_a_call_on_a_node_read_of_the_run_is_told_to_the_drivers_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut tools = Registry::native();
        tools.add(std::sync::Arc::new(ReadsConfig)).unwrap();
        let ctx = crate::tools::stand_in::ctx_in(dir.path());
        let req = CallRequest::new(tools.get("reads").unwrap().as_ref(), "go", &ctx);
        let sent = serde_json::to_value(serve_call(&tools, req, JsonMap::new(), Listeners::default()).await).unwrap();
        assert_eq!(sent["read"], "`ctx.config`");
        let reads: crate::tools::view::Reads = Default::default();
        let run = crate::tools::view::detached(json!({}), &json!({}), reads.clone());
        let driver = ToolCtx { run: Some(run), ..crate::tools::stand_in::ctx_in(dir.path()) };
        result_of(sent).finish(&driver).unwrap();
        assert_eq!(reads.lock().unwrap().values().collect::<Vec<_>>(), ["`ctx.config`"]);
    }

    #[test]
    fn an_executors_capacity_has_at_least_one_cpu() {
        assert_eq!(capacity_of(&json!({"vram_gb": 24.0})), Capacity { cpu: 1, ram_gb: 0.0, vram_gb: 24.0, gpus: Vec::new() });
        assert_eq!(capacity_of(&json!({"cpu": 8, "ram_gb": 64.0})), Capacity { cpu: 8, ram_gb: 64.0, vram_gb: 0.0, gpus: Vec::new() });
    }
}
