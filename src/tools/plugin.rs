//! Python tool plugins (the 0.x contract) as the engine sees them: what a plugin declares
//! (`localforge.plugins.discover` reads it from the module) and the tool made of it. Only
//! the call itself is the front end's ([`Handler`]: the binding calls `handle` in Python).

use super::{ActionInputs, BrokenTool, InputDoc, JsonMap, Registry, Tool, ToolCtx, ToolError, ToolKind};
use crate::recipe::InputType;
use serde::Deserialize;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// What a plugin module declares.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PluginInfo {
    pub name: String,
    pub actions: Vec<String>,
    /// Where the plugin came from: its file, or an entry point's name.
    pub source: String,
    /// The module's file (`__file__`): its code, for the step cache's version of it.
    pub file: Option<String>,
    pub description: String,
    /// What the plugin says it lacks (`TOOL_MISSING()`), e.g. an optional library.
    pub missing: Vec<String>,
    /// `TOOL_NATIVE_VALUES = True`: rendered by the engine, native values. Otherwise a 0.x
    /// plugin: it renders its own inputs as 0.x did.
    pub native: bool,
    /// `TOOL_DETERMINISTIC = True`: the step cache may serve its calls.
    pub deterministic: bool,
    /// `TOOL_INPUTS`: action -> input name -> {type, required, default, choices, description}.
    pub inputs: Option<Value>,
}

/// A plugin that failed to load: its name, file and why.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BrokenPlugin {
    pub name: String,
    pub source: String,
    pub error: String,
}

impl From<BrokenPlugin> for BrokenTool {
    fn from(b: BrokenPlugin) -> BrokenTool {
        BrokenTool { name: b.name, kind: ToolKind::Python, source: b.source, error: b.error }
    }
}

/// What plugin discovery found: each plugin that loaded (what it declares, and how to
/// call it), and each that did not.
#[derive(Default)]
pub struct Found {
    pub plugins: Vec<(PluginInfo, Arc<dyn Handler>)>,
    pub broken: Vec<BrokenPlugin>,
}

impl Registry {
    /// These tools, plus the plugins when `needed` names a tool they lack: only then is
    /// `discover` called, so a recipe of native steps never imports a plugin module. It
    /// gets the names it must find (`None`: every plugin, as `validate` and `list-tools`
    /// want), so it can skip slow sources once they are found. A plugin whose name is
    /// taken is kept as broken, naming both sources.
    pub fn with_plugins<'a, E>(
        mut self,
        needed: Option<impl IntoIterator<Item = &'a str>>,
        discover: impl FnOnce(Option<Vec<&'a str>>) -> Result<Found, E>,
    ) -> Result<Registry, E> {
        let wanted = needed.map(|n| self.lacking(n));
        if wanted.as_ref().is_some_and(Vec::is_empty) {
            return Ok(self);
        }
        let found = discover(wanted)?;
        for (info, handler) in found.plugins {
            // A clash is recorded by the registry and makes the name unusable, naming both files.
            let _ = self.add(Arc::new(Plugin::new(info, handler)));
        }
        for broken in found.broken {
            self.add_broken(broken.into());
        }
        Ok(self)
    }
}

/// Calls the plugin's `handle(action, inputs, ctx)`.
#[async_trait::async_trait]
pub trait Handler: Send + Sync {
    async fn call(&self, tool: &str, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError>;
}

/// A loaded plugin.
pub struct Plugin {
    pub info: PluginInfo,
    handler: Arc<dyn Handler>,
    /// Worked out on first use: the module is imported once, so its code does not change under it.
    fingerprint: OnceLock<String>,
}

impl Plugin {
    pub fn new(info: PluginInfo, handler: Arc<dyn Handler>) -> Plugin {
        Plugin { info, handler, fingerprint: OnceLock::new() }
    }
}

#[async_trait::async_trait]
impl Tool for Plugin {
    fn name(&self) -> &str {
        &self.info.name
    }
    fn actions(&self) -> Vec<String> {
        self.info.actions.clone()
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Python
    }
    fn description(&self) -> String {
        self.info.description.clone()
    }
    fn source(&self) -> String {
        self.info.source.clone()
    }
    fn missing(&self) -> Vec<String> {
        self.info.missing.clone()
    }
    fn renders_0x(&self) -> bool {
        !self.info.native
    }
    fn fingerprint(&self) -> String {
        let file = self.info.file.as_deref().unwrap_or(&self.info.source);
        self.fingerprint.get_or_init(|| super::fingerprint::python_plugin(&self.info.name, file.as_ref())).clone()
    }
    /// `TOOL_DETERMINISTIC = True` in the plugin (LocalForge's image_processor says so).
    fn deterministic(&self, _action: &str, _inputs: &JsonMap) -> bool {
        self.info.deterministic
    }
    /// As `TOOL_INPUTS` declares them: a step naming another input is refused, as for a
    /// native or YAML tool. An action `TOOL_INPUTS` leaves out takes any input (0.x).
    fn inputs(&self, action: &str) -> Option<ActionInputs> {
        let specs = self.info.inputs.as_ref()?.get(action)?.as_object()?;
        let inputs = specs
            .iter()
            .map(|(name, spec)| InputDoc {
                name: name.clone(),
                // `plugins.py` refuses a type it does not know; a spec without one takes any value.
                ty: spec["type"].as_str().and_then(InputType::parse).unwrap_or(InputType::String),
                required: spec["required"].as_bool().unwrap_or(false),
                default: spec.get("default").filter(|d| !d.is_null()).cloned(),
                choices: spec["choices"].as_array().cloned(),
                description: spec["description"].as_str().unwrap_or_default().to_string(),
                any: spec.get("type").is_none_or(Value::is_null),
            })
            .collect();
        Some(ActionInputs { inputs, open: false })
    }
    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let inputs = match self.inputs(action) {
            Some(table) => bound(&self.info.name, action, &table, inputs, self.info.native)?,
            None => inputs,
        };
        self.handler.call(&self.info.name, action, inputs, ctx).await
    }
}

/// The inputs as `TOOL_INPUTS` declares them, before the plugin sees them: a required one
/// is given, and (for a plugin given rendered values: a 0.x plugin renders its own) a
/// number, boolean, list or mapping is of its type, converted as a YAML tool's are (`"3"`
/// for an integer is 3), and a value with `choices` is one of them. Every problem is said
/// at once.
fn bound(tool: &str, action: &str, table: &ActionInputs, mut inputs: JsonMap, rendered: bool) -> Result<JsonMap, ToolError> {
    use crate::recipe::inputs::{convert, in_choices};
    let mut problems = Vec::new();
    for spec in &table.inputs {
        let Some(v) = inputs.get(&spec.name).filter(|v| !v.is_null()) else {
            if spec.required {
                problems.push(format!("missing required input `{}`", spec.name));
            }
            continue;
        };
        // Text and paths are taken as given (a plugin declared as text may read other
        // shapes too, as 0.x let it); numbers, booleans, lists and mappings are checked.
        // (a text is still converted: a path's `~/` is expanded)
        let loose = matches!(spec.ty, InputType::String | InputType::Path) && !v.is_string();
        if !rendered || spec.any || (loose && spec.choices.is_none()) {
            continue;
        }
        match convert(spec.ty, v) {
            Ok(v) if spec.choices.as_ref().is_some_and(|c| !in_choices(&v, c)) => {
                let names: Vec<String> =
                    spec.choices.iter().flatten().map(|c| c.as_str().map(str::to_string).unwrap_or_else(|| c.to_string())).collect();
                let shown = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                problems.push(format!("input `{}`: `{shown}` is not one of {}", spec.name, crate::diag::list_names(&names)));
            }
            Ok(v) => {
                inputs.insert(spec.name.clone(), v);
            }
            Err(e) => problems.push(format!("input `{}`: {e}", spec.name)),
        }
    }
    match problems.is_empty() {
        true => Ok(inputs),
        false => Err(ToolError::failed(format!("`{tool}.{action}`: {}", problems.join("; ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Echo;

    #[async_trait::async_trait]
    impl Handler for Echo {
        async fn call(&self, tool: &str, action: &str, inputs: JsonMap, _ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
            Ok(super::super::outputs(json!({"tool": tool, "action": action, "inputs": inputs})))
        }
    }

    #[tokio::test]
    async fn a_plugin_is_a_tool_of_what_it_declares_whose_calls_its_handler_makes() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("shout.py");
        std::fs::write(&source, "TOOL_NAME = 'shout'\n").unwrap();
        let info: PluginInfo = serde_json::from_value(json!({
            "name": "shout", "actions": ["say"], "source": source, "deterministic": true,
            "inputs": {"say": {"text": {"type": "string", "required": true}, "times": {"type": "integer", "default": null}}},
        }))
        .unwrap();
        let tool = Plugin::new(info, Arc::new(Echo));
        assert_eq!((tool.kind(), tool.renders_0x(), tool.deterministic("say", &JsonMap::new())), (ToolKind::Python, true, true));
        assert_eq!(tool.fingerprint(), crate::tools::fingerprint::python_plugin("shout", &source));
        let declared = tool.inputs("say").unwrap();
        let names: Vec<_> = declared.inputs.iter().map(|i| (i.name.as_str(), i.ty, i.required, i.default.is_some())).collect();
        assert_eq!(names, [("text", InputType::String, true, false), ("times", InputType::Integer, false, false)]);
        assert!(tool.inputs("whisper").is_none(), "an action TOOL_INPUTS leaves out takes any input");
        let ctx = crate::tools::stand_in::ctx_in(dir.path());
        let out = tool.call("say", super::super::outputs(json!({"text": "hi"})), &ctx).await.unwrap();
        assert_eq!(Value::Object(out), json!({"tool": "shout", "action": "say", "inputs": {"text": "hi"}}));
        let broken: BrokenTool =
            serde_json::from_value::<BrokenPlugin>(json!({"name": "b", "source": "b.py", "error": "boom"})).unwrap().into();
        assert_eq!((broken.kind, broken.error.as_str()), (ToolKind::Python, "boom"));
    }
}

#[cfg(test)]
mod binding_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_declared_path_is_expanded_and_a_number_converted_and_other_shapes_of_text_pass() {
        let table = ActionInputs::of(
            &[("image", InputType::Path, true, ""), ("size", InputType::String, false, ""), ("times", InputType::Integer, false, "")],
            false,
        );
        let given = json!({"image": "~/a.png", "size": [4, 2], "times": "3"}).as_object().unwrap().clone();
        let out = bound("p", "go", &table, given, true).unwrap();
        let home = std::env::var("HOME").unwrap();
        assert_eq!(out["image"], json!(format!("{}/a.png", home.trim_end_matches('/'))));
        assert_eq!((out["size"].clone(), out["times"].clone()), (json!([4, 2]), json!(3)));
        let e = bound("p", "go", &table, json!({"times": "many"}).as_object().unwrap().clone(), true).unwrap_err();
        assert!(e.to_string().starts_with("`p.go`: missing required input `image`; input `times`:"), "{e}");
    }
}
