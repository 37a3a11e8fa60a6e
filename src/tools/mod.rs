//! Tools: the one trait the engine calls, the registry, and the native tools.

pub mod binaries;
mod blender;
pub mod call;
pub mod cli;
mod comfyui;
mod ffmpeg;
mod file_ops;
pub(crate) mod fingerprint;
mod llm;
mod music;
pub mod plugin;
pub(crate) mod process;
mod reaper;
pub mod remote;
pub(crate) mod sandbox;
pub(crate) mod script;
mod sd;
#[cfg(test)]
pub(crate) mod stand_in;
pub mod view;
pub mod workers;

use crate::recipe::ToolCatalog;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub use blender::Blender;
pub use comfyui::ComfyUi;
pub use ffmpeg::Ffmpeg;
pub use file_ops::FileOps;
pub use llm::Llm;
pub use music::Music;
pub use process::{run_process, ProcessOutput, ProcessSpec};
pub use script::Script;
pub use sd::SdClient;

/// A JSON object: a tool call's inputs, its outputs, a step's rendered inputs.
pub type JsonMap = Map<String, Value>;

/// Where a tool comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    Native,
    Python,
    Yaml,
}

/// How a tool call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolError {
    /// The tool reported a failure; `detail` holds a traceback or log tail for the history.
    #[error("{message}")]
    Failed { message: String, detail: Option<String> },
    /// The call was stopped (Ctrl-C, SIGTERM, or a step timeout).
    #[error("cancelled")]
    Cancelled,
}

impl ToolError {
    pub fn failed(message: impl Into<String>) -> Self {
        ToolError::Failed { message: message.into(), detail: None }
    }
}

/// Takes the LLM calls a step makes, for the run's history.
pub type LlmSink = Arc<dyn Fn(crate::store::LlmCall) + Send + Sync>;

/// Log sink a tool writes to: `(level, message)`.
pub type LogFn = Arc<dyn Fn(&str, &str) + Send + Sync>;
/// Reports a step's progress: done, total, unit.
pub type ProgressFn = Arc<dyn Fn(Option<u64>, Option<u64>, &str) + Send + Sync>;

/// What a plugin may ask of the run it is part of (the 0.x `ctx`).
pub trait RunView: Send + Sync {
    /// `{run_id, run_dir, temp_dir, inputs, config, recipe}`; the same `Arc` for the whole run.
    fn info(&self) -> Arc<Value>;
    /// Outputs of the steps that have finished, by id.
    fn steps_output(&self) -> Value;
    /// Render templates in `value` with the run's scope.
    fn resolve(&self, value: &Value) -> Result<Value, crate::template::RenderError>;
    /// The value of one template expression (`inputs.n`, `steps.a.outputs.x | upper`).
    fn evaluate(&self, expr: &str) -> Result<Value, crate::template::RenderError>;
    /// Record `outputs` as step `id`'s (0.x's `ctx.set_step_output`): later templates read them.
    fn set_output(&self, id: &str, outputs: &Value);
    /// The call read `what` of the run (its inputs, config, templates, other steps'
    /// outputs), which its cache key does not hold: its result is not to be stored.
    fn read(&self, _what: &str) {}
}

/// What a tool call knows about its run.
#[derive(Clone)]
pub struct ToolCtx {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub temp_dir: PathBuf,
    pub step_id: String,
    /// The attempt's number in the history (1, 2, ... across resumes); 0 outside a run.
    pub attempt: u32,
    /// Cancelled when the step must stop (run cancelled or step timeout).
    pub cancel: CancellationToken,
    pub log: LogFn,
    /// Report progress: done of total (either may be unknown) in `unit`s (`tokens`, `items`, `steps`).
    pub progress: ProgressFn,
    /// The run, for plugins that read its inputs, outputs or templates.
    pub run: Option<Arc<dyn RunView>>,
    /// `{id, name, tool, action}` of the step being run.
    pub step: Value,
    /// Where a tool records the LLM calls it makes (the run's history), if anywhere.
    pub llm_calls: Option<LlmSink>,
    /// What the step holds while it runs (CPU slots, RAM, GPU, VRAM): where an executor
    /// runs the call elsewhere (`remote`), it asks the cluster for this much.
    pub reservation: crate::schedule::Reservation,
    /// The GPUs the scheduler gave the step (none on a machine without listed cards).
    pub cards: Vec<crate::schedule::Card>,
    /// What the step's programs are told to see only those cards by (`CUDA_VISIBLE_DEVICES`,
    /// ...); empty where there is nothing to choose between (one card or none).
    pub gpu_env: Vec<(&'static str, String)>,
}

impl ToolCtx {
    /// What a plugin sees of the run (`ctx.inputs`, `ctx.recipe`, ...); a call outside a
    /// run sees its ids and folders only.
    pub fn run_info(&self) -> Arc<Value> {
        match &self.run {
            Some(r) => r.info(),
            None => Arc::new(serde_json::json!({"run_id": self.run_id, "run_dir": self.run_dir, "temp_dir": self.temp_dir,
                                                "inputs": {}, "config": {}, "recipe": {}})),
        }
    }

    pub fn log(&self, level: &str, message: &str) {
        (self.log)(level, message)
    }
    pub fn progress(&self, done: Option<u64>, total: Option<u64>, unit: &str) {
        (self.progress)(done, total, unit)
    }
}

/// Why a tool was not added to the registry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotAdded {
    #[error("tool name `batch` is reserved for the engine (from {from})")]
    Reserved { from: String },
    #[error("two tools are named `{name}`: {first} and {second}; rename one (its TOOL_NAME)")]
    Clash { name: String, first: String, second: String },
}

/// A tool: named actions taking a mapping of inputs and giving a mapping of outputs.
#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    fn name(&self) -> &str;
    fn actions(&self) -> Vec<String>;
    fn kind(&self) -> ToolKind;
    fn description(&self) -> String {
        String::new()
    }
    /// Where the tool is defined (a file, or "built-in").
    fn source(&self) -> String {
        "built-in".into()
    }
    /// What this tool needs that the machine lacks (empty when usable).
    fn missing(&self) -> Vec<String> {
        Vec::new()
    }
    /// What a call needs from the machine, judged from its inputs before the run
    /// (inputs not known yet are absent): preflight and the resource ledger read it.
    fn needs(&self, _action: &str, _inputs: &JsonMap) -> Needs {
        Needs::default()
    }
    /// Programs the tool runs, for `system` / `health`.
    fn binaries(&self) -> Vec<String> {
        Vec::new()
    }
    /// A 0.x Python plugin: it gets its step's inputs as the recipe wrote them and renders
    /// them as 0.x did (names it does not know, like `{{item}}` for a plugin that runs its
    /// own batches, stay as written). Validation lets such names through for its steps.
    fn renders_0x(&self) -> bool {
        false
    }
    /// The tool's own version, part of every cache key: LocalForge's version for native
    /// tools; the definition's or plugin file's hash for YAML tools and Python plugins.
    fn fingerprint(&self) -> String {
        format!("{}@{}", self.name(), env!("CARGO_PKG_VERSION"))
    }
    /// Whether this call gives the same result for the same inputs and files, so the step
    /// cache may serve it (a step's own `cache:` overrides this).
    fn deterministic(&self, _action: &str, _inputs: &JsonMap) -> bool {
        false
    }
    /// What identifies the model a call uses (Ollama's digest, the SD checkpoint's hash),
    /// for the cache key; `None` when there is no model. An error means the identity could
    /// not be learned, and the step is then not taken from the cache.
    async fn identity(&self, _action: &str, _inputs: &JsonMap) -> Result<Option<Value>, ToolError> {
        Ok(None)
    }
    /// The call changes nothing in the run folder but the paths its outputs name (a native
    /// tool that knows what it writes): the cache then need not list the run folder around it.
    fn writes_only_outputs(&self, _action: &str) -> bool {
        false
    }
    /// The call never opens, lists or runs anything its input `input` names: it is text
    /// to the call (what `file_ops.write` writes, a prompt sent to a server). The cache key
    /// then does not look its words up as paths, each of which costs a lookup under every
    /// folder a relative path is read from. Say so only where the tool's own code shows it:
    /// a word taken for a path that is not one costs a lookup, a path missed serves a stale
    /// result.
    fn names_no_files(&self, _action: &str, _input: &str) -> bool {
        false
    }
    /// The files this call writes hold the run folder's path only where its inputs put it,
    /// as UTF-8 text, and nothing made from it (a size, a checksum): the step cache may
    /// keep such a file with the path written `{run_dir}` and write another run's folder
    /// there, which is what the call writes in that run (`cache::relocate`). Otherwise a
    /// step whose file holds the run folder's path is not stored.
    fn relocatable(&self, _action: &str, _inputs: &JsonMap) -> bool {
        false
    }
    /// Whether a call's outputs show it ran with what `identity` (taken before the call, for
    /// the key) said: a service other clients share may change its model in between. An
    /// error says why the call is not stored.
    fn confirms(&self, _action: &str, _identity: &Value, _outputs: &JsonMap) -> Result<(), ToolError> {
        Ok(())
    }
    /// What a call reads besides its inputs and the files they name, for the cache key:
    /// the programs it runs and the environment variables it reads.
    fn reads(&self, _action: &str, _inputs: &JsonMap) -> Reads {
        Reads::default()
    }
    /// The inputs `action` takes, for schemas, `list-tools --schema` and validation (a
    /// step naming an input not here is refused unless `open`); `None` when the tool does
    /// not say (a 0.x Python plugin without `TOOL_INPUTS`, an unknown action). Every name
    /// the call reads belongs here, 0.x spellings it still accepts included.
    fn inputs(&self, _action: &str) -> Option<ActionInputs> {
        None
    }
    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError>;
}

/// One input of an action, as a schema and `list-tools --schema` describe it.
#[derive(Debug, Clone, Serialize)]
pub struct InputDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: crate::recipe::InputType,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Value>>,
    pub description: String,
    /// Any value will do (no type is checked).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub any: bool,
}

/// The inputs an action takes; `open`: it passes others on (to an API), so they are allowed.
#[derive(Debug, Clone, Serialize)]
pub struct ActionInputs {
    pub inputs: Vec<InputDoc>,
    pub open: bool,
}

impl ActionInputs {
    /// From `(name, type, required, description)` rows, as native tools declare them.
    pub fn of(rows: &[(&str, crate::recipe::InputType, bool, &str)], open: bool) -> ActionInputs {
        let inputs = rows
            .iter()
            .map(|(name, ty, required, description)| InputDoc {
                name: name.to_string(),
                ty: *ty,
                required: *required,
                default: None,
                choices: None,
                description: description.to_string(),
                any: false,
            })
            .collect();
        ActionInputs { inputs, open }
    }
}

/// `work`, unless the step is stopped first: then it is dropped at once (an HTTP
/// request in flight is closed) and the call is `Cancelled`.
pub async fn until_cancelled<T>(ctx: &ToolCtx, work: impl std::future::Future<Output = Result<T, ToolError>>) -> Result<T, ToolError> {
    tokio::select! {
        r = work => r,
        _ = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
    }
}

/// What a tool call needs from the machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// The configured service it talks to (`services.NAME`).
    pub service: Option<String>,
    /// The step's own `host` for that service, when it names one: preflight checks that one.
    pub host: Option<String>,
    /// The LLM it loads (an Ollama tag or a server's model id), and the context asked for.
    pub llm: Option<String>,
    pub llm_context: Option<u32>,
    /// An image it generates: width, height, checkpoint when named.
    pub image: Option<(u32, u32, Option<String>)>,
    /// Runs on the GPU (serialised with other GPU steps unless VRAM fits).
    pub gpu: bool,
    /// VRAM known without a profile (a YAML tool's `min_vram_gb`).
    pub vram_gb: Option<f64>,
}

/// What a call reads that its inputs do not show (`Tool::reads`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reads {
    /// Programs, as a shell would look them up (`ffmpeg`) or by path.
    pub programs: Vec<String>,
    /// Its program inherits LocalForge's environment: the key holds all of it but what
    /// differs between two shells of the same person (`cache::key::volatile`).
    pub env: bool,
}

/// A tool that could not be loaded, kept so `list-tools` and validation can say why.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenTool {
    pub name: String,
    pub kind: ToolKind,
    pub source: String,
    pub error: String,
}

/// Every tool the engine can call, by name.
#[derive(Default, Clone)]
pub struct Registry {
    tools: IndexMap<String, Arc<dyn Tool>>,
    broken: IndexMap<String, BrokenTool>,
    /// Names defined twice: the tool cannot be used until one is renamed.
    clashes: IndexMap<String, String>,
    /// The shipped registry's index (`<data>/registry/index.json`), read only when a recipe
    /// names a tool that is not here: it may be one `tools install` adds.
    registry_index: Option<PathBuf>,
}

/// The actions `batch` offers; the engine runs them itself.
pub const BATCH_ACTIONS: &[&str] = &["foreach"];

impl Registry {
    /// The native tools: `file_ops`, `script` (and `batch`, run by the engine).
    pub fn native() -> Self {
        let mut r = Registry::default();
        for tool in [Arc::new(FileOps) as Arc<dyn Tool>, Arc::new(Script::default())] {
            r.add(tool).expect("native tools have distinct names");
        }
        r
    }

    /// Add a tool. A second tool of the same name is refused with both sources.
    /// Native tools that need the configuration: the file and script tools, the LLM, Stable Diffusion and ComfyUI clients, FFmpeg.
    pub fn configured(config: &crate::config::Config) -> Self {
        let mut r = Registry::native();
        let strict = config.sandbox_required();
        r.tools.insert("script".into(), Arc::new(Script { strict }));
        for tool in [
            Arc::new(Llm::new(config)) as Arc<dyn Tool>,
            Arc::new(SdClient::new(config)),
            Arc::new(ComfyUi::new(config)),
            Arc::new(Ffmpeg::new(config)),
            Arc::new(Blender::new(config)),
            Arc::new(Music::musicgen(config)),
            Arc::new(Music::acestep(config)),
        ] {
            r.add(tool).expect("native tools have distinct names");
        }
        let (yaml_tools, broken) = cli::load_dirs(&config.yaml_tool_dirs());
        let built_in = config.builtin_tools.as_deref();
        for mut t in yaml_tools {
            t.def.sandbox = t.def.sandbox.strict(strict);
            // Your own definition of a tool LocalForge ships as YAML replaces the shipped one
            // (the roadmap's `whisper.yaml` in ~/.localforge/tools, say); any other clash is
            // recorded and named by the registry.
            let shipped = r.get(t.name()).is_some_and(|e| built_in.is_some_and(|b| Path::new(&e.source()).starts_with(b)));
            let is_user = built_in.is_none_or(|b| !Path::new(&t.source()).starts_with(b));
            if shipped && is_user {
                r.tools.insert(t.name().to_string(), Arc::new(t));
                continue;
            }
            let _ = r.add(Arc::new(t));
        }
        for (file, error) in broken {
            let name = std::path::Path::new(&file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            r.add_broken(BrokenTool { name, kind: ToolKind::Yaml, source: file, error });
        }
        r.registry_index = config.data_dir().map(|d| d.join("registry").join("index.json"));
        r
    }

    pub fn add(&mut self, tool: Arc<dyn Tool>) -> Result<(), NotAdded> {
        let name = tool.name().to_string();
        if name == "batch" {
            return Err(NotAdded::Reserved { from: tool.source() });
        }
        if let Some(existing) = self.tools.get(&name) {
            let clash = NotAdded::Clash { name: name.clone(), first: existing.source(), second: tool.source() };
            self.clashes.insert(name, clash.to_string());
            return Err(clash);
        }
        self.broken.shift_remove(&name);
        self.tools.insert(name, tool);
        Ok(())
    }

    /// Of the tools `names` (a recipe's), those this registry lacks: the ones a front end
    /// must find elsewhere (Python plugins). `batch` is the engine's own.
    pub fn lacking<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        names.into_iter().filter(|t| *t != "batch" && self.get(t).is_none()).collect()
    }

    pub fn add_broken(&mut self, broken: BrokenTool) {
        if !self.tools.contains_key(&broken.name) {
            self.broken.insert(broken.name.clone(), broken);
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    pub fn tools(&self) -> impl Iterator<Item = &Arc<dyn Tool>> {
        self.tools.values()
    }

    pub fn broken(&self) -> impl Iterator<Item = &BrokenTool> {
        self.broken.values()
    }

    /// Why `name` is unusable because it is defined twice, if it is.
    pub fn clash(&self, name: &str) -> Option<&str> {
        self.clashes.get(name).map(String::as_str)
    }
}

impl ToolCatalog for Registry {
    fn actions(&self, tool: &str) -> Option<Vec<String>> {
        if tool == "batch" {
            return Some(BATCH_ACTIONS.iter().map(|s| s.to_string()).collect());
        }
        self.tools.get(tool).map(|t| t.actions()).or_else(|| self.broken.get(tool).map(|_| Vec::new()))
    }

    fn tool_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tools.keys().cloned().collect();
        names.push("batch".into());
        names.sort();
        names
    }

    fn renders_0x(&self, tool: &str) -> bool {
        self.tools.get(tool).is_some_and(|t| t.renders_0x())
    }

    /// From the action's table (`Tool::inputs`), unless it is open. `batch` is the engine's
    /// own (`items`, `workflow_steps`, `parallel`), open as its schema is; a name defined
    /// twice has no one table.
    fn inputs(&self, tool: &str, action: &str) -> Option<Vec<String>> {
        if self.clashes.contains_key(tool) {
            return None;
        }
        let table = self.tools.get(tool)?.inputs(action)?;
        (!table.open).then(|| table.inputs.into_iter().map(|i| i.name).collect())
    }

    fn installable(&self, tool: &str) -> bool {
        let Some(text) = self.registry_index.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) else { return false };
        let index: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        index["tools"].as_array().into_iter().flatten().any(|t| t["name"].as_str() == Some(tool))
    }

    fn unavailable(&self, tool: &str) -> Option<String> {
        if let Some(c) = self.clashes.get(tool) {
            return Some(c.clone());
        }
        if let Some(b) = self.broken.get(tool) {
            return Some(format!("it failed to load from {}: {}", b.source, b.error));
        }
        let missing = self.tools.get(tool)?.missing();
        (!missing.is_empty()).then(|| format!("missing {}", missing.join(", ")))
    }
}

/// A `json!({...})` mapping as tool outputs.
pub fn outputs(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

/// Required text input, or a clear error naming tool, action and key.
pub fn need_str<'a>(inputs: &'a JsonMap, key: &str, what: &str) -> Result<&'a str, ToolError> {
    match inputs.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(ToolError::failed(format!("{what}: `{key}` is empty"))),
        Some(other) => Err(ToolError::failed(format!("{what}: `{key}` must be text, got {other}"))),
        None => Err(ToolError::failed(format!("{what} needs input `{key}`"))),
    }
}

/// Optional text input (numbers and booleans become their text).
pub fn opt_str(inputs: &JsonMap, key: &str) -> Option<String> {
    match inputs.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Optional boolean input; text like "true"/"yes" is accepted.
pub fn opt_bool(inputs: &JsonMap, key: &str) -> Option<bool> {
    match inputs.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "1" | "on")),
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        _ => None,
    }
}

/// Optional number input; text is parsed.
pub fn opt_f64(inputs: &JsonMap, key: &str) -> Option<f64> {
    match inputs.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_front_end_looks_elsewhere_only_for_tools_the_registry_lacks() {
        let native = super::Registry::native();
        assert_eq!(native.lacking(["file_ops", "batch", "shout", "script", "mine"]), ["shout", "mine"]);
    }
}
