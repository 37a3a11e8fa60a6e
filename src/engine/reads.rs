//! What front ends read besides runs: validation of recipe files, a recipe's
//! summary, the tool list, history, and the machine (`system`, `health`).
//! Each returns the documented shape; front ends only convert it.

use super::{store_error, EngineError};
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::recipe::ToolCatalog;
use crate::store::logs::{self, Channel};
use crate::store::{RunDetail, RunSummary};
use crate::system::{self, preflight::user_profiles, profiles::Profiles, Health, Probe, SystemReport};
use crate::tools::Registry;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Every problem in the recipe files, in file order; empty when all are valid. Each
/// problem with a place also carries the JSON Pointer of the node it is about.
pub fn validate(paths: &[PathBuf], tools: &Registry) -> Vec<Diagnostic> {
    paths
        .iter()
        .flat_map(|p| {
            let mut diags = super::check(p, tools).err().unwrap_or_default();
            let positions = std::fs::read_to_string(p)
                .ok()
                .and_then(|t| crate::yaml::parse(&t).ok().flatten())
                .map(|n| crate::yaml::positions(&n))
                .unwrap_or_default();
            for d in &mut diags {
                if let (Some(line), Some(col)) = (d.line, d.column) {
                    d.pointer = crate::yaml::pointer_at(&positions, line, col, &d.message).map(String::into_boxed_str);
                }
            }
            diags
        })
        .collect()
}

/// What recipes written for LocalForge 0.x would do differently here, and `cache: true` on
/// steps whose effects the cache cannot all see (warnings, not errors), for the recipes that load.
pub fn validate_warnings(paths: &[PathBuf], tools: &Registry) -> Vec<Diagnostic> {
    paths
        .iter()
        .filter_map(|p| crate::recipe::load(p).ok())
        .flat_map(|(r, _)| {
            let mut w = crate::recipe::compat::warnings_0x(&r);
            w.extend(crate::recipe::compat::idle_settings(&r));
            w.extend(crate::cache::lint::warnings(&r, tools));
            w
        })
        .collect()
}

/// A recipe file as its YAML says it (nothing rendered or checked); `None` if it cannot be read.
pub fn recipe_document(path: &std::path::Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    crate::yaml::parse(&text).ok().flatten().map(|n| n.to_json())
}

/// Name, description, version, declared inputs and step count of a recipe, without full
/// validation; `None` for a file that is not a readable recipe.
pub fn recipe_summary(path: &std::path::Path) -> Option<Value> {
    let (r, _) = crate::recipe::load(path).ok()?;
    Some(json!({"name": r.name, "description": r.description, "version": r.version, "inputs": r.inputs, "steps": r.steps.len(),
                "outputs": r.outputs}))
}

/// Every tool with its kind, actions and availability (the `list-tools --json` shape), by name.
/// `schema`: each tool also gets `inputs`, the JSON Schema of each action's `inputs`
/// (`null` where the tool does not declare them), so an agent can build calls from it.
pub fn tool_list(reg: &Registry, schema: bool) -> Vec<Value> {
    let mut out: Vec<Value> = reg
        .tools()
        .map(|t| {
            let mut missing = t.missing();
            missing.extend(reg.clash(t.name()).map(str::to_string));
            // The services its calls use by default (what preflight probes for a step of it).
            let mut services: Vec<String> = t.actions().iter().filter_map(|a| t.needs(a, &serde_json::Map::new()).service).collect();
            services.sort();
            services.dedup();
            let mut entry = json!({"name": t.name(), "kind": t.kind(), "actions": t.actions(), "available": missing.is_empty(),
                                   "missing": missing, "services": services, "source": t.source(), "description": t.description()});
            if schema {
                let inputs: serde_json::Map<String, Value> = t
                    .actions()
                    .into_iter()
                    .map(|a| (a.clone(), t.inputs(&a).map_or(Value::Null, |i| crate::schema::input_schema(&i))))
                    .collect();
                entry["inputs"] = Value::Object(inputs);
            }
            entry
        })
        .collect();
    let mut batch = json!({"name": "batch", "kind": "native", "actions": reg.actions("batch"), "available": true, "missing": [],
                           "services": [], "source": "built-in", "description": "Run sub-steps once per item of a list"});
    if schema {
        let mut foreach = crate::schema::batch_inputs();
        // Self-contained: its steps are the recipe schema's steps.
        foreach["properties"]["workflow_steps"]["items"] = json!({"type": "object", "required": ["id"]});
        batch["inputs"] = json!({"foreach": foreach});
    }
    out.push(batch);
    for b in reg.broken() {
        out.push(json!({"name": b.name, "kind": b.kind, "actions": [], "available": false, "missing": [b.error], "services": [],
                       "source": b.source, "description": ""}));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    out
}

/// A YAML tool definition checked as `list-tools` and `run` would load it: `{"problems": [..]}`
/// with file, line and hint for each, and, when it is valid, its `name` and the `document`
/// as JSON (what registries index and show).
/// `argv`: each action's words with every default filled in, and `confinement`, what it may
/// do once installed from a registry (`tools install` shows both).
/// `shared`: also the rules for a definition shared through a registry, as `refused`.
pub fn tool_definition(path: &std::path::Path, shared: bool) -> Value {
    match crate::tools::cli::load(path) {
        Ok(def) => {
            let doc = std::fs::read_to_string(path).ok().and_then(|t| crate::yaml::parse(&t).ok().flatten()).map(|n| n.to_json());
            let refused = if shared { crate::tools::cli::shared::refusals(&def, doc.as_ref()) } else { Vec::new() };
            let argv: serde_json::Map<String, Value> =
                def.actions.iter().map(|(name, a)| (name.clone(), json!(crate::tools::cli::preview(a)))).collect();
            let strict =
                std::env::current_dir().ok().and_then(|d| crate::config::Config::load(&d).ok()).is_some_and(|c| c.sandbox_required());
            let confinement = crate::tools::cli::confinement(&def, strict || def.sandbox == crate::tools::sandbox::Confinement::Required);
            json!({"problems": [], "refused": refused, "name": def.name, "document": doc, "argv": argv, "confinement": confinement})
        }
        Err(diags) => json!({"problems": diags}),
    }
}

/// The newest `limit` runs, newest first.
pub fn history(config: &Config, limit: usize) -> Result<Vec<RunSummary>, EngineError> {
    crate::store::list_runs(&config.db_path(), limit).map_err(|e| EngineError::Store(store_error(&config.db_path(), e)))
}

/// A run's status (`interrupted` for one whose process died), read by its key alone;
/// `None` if there is no such run.
pub fn run_status(config: &Config, run_id: &str) -> Result<Option<String>, EngineError> {
    crate::store::run_status(&config.db_path(), run_id).map_err(|e| EngineError::Store(store_error(&config.db_path(), e)))
}

/// One run with its attempts and events; `None` if there is no such run.
pub fn history_show(config: &Config, run_id: &str) -> Result<Option<RunDetail>, EngineError> {
    crate::store::run_detail(&config.db_path(), run_id).map_err(|e| EngineError::Store(store_error(&config.db_path(), e)))
}

/// A number that moves whenever a run (in any process) writes to the history.
pub fn history_version(config: &Config) -> Result<i64, EngineError> {
    crate::store::data_version(&config.db_path()).map_err(|e| EngineError::Store(store_error(&config.db_path(), e)))
}

/// A page of the runs in the history that `q` finds, with how many it finds in all.
pub fn query_runs(config: &Config, q: &crate::store::RunQuery) -> Result<crate::store::RunPage, EngineError> {
    crate::store::query_runs(&config.db_path(), q).map_err(|e| EngineError::Store(store_error(&config.db_path(), e)))
}

/// A piece of what an attempt of a step printed, with which attempt it is and whether it
/// is still running (its log may grow: read on from `end`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepLog {
    pub step: String,
    pub attempt: u32,
    pub status: String,
    pub channel: Channel,
    pub path: String,
    #[serde(flatten)]
    pub chunk: logs::Chunk,
}

/// Where a step's log is: the run's folder, the attempt and its status.
fn log_of(
    config: &Config,
    run_id: &str,
    step: &str,
    attempt: Option<u32>,
    channel: Channel,
) -> Result<Option<(PathBuf, u32, String)>, EngineError> {
    let db = config.db_path();
    let place = crate::store::log_place(&db, run_id, step, attempt).map_err(|e| EngineError::Store(store_error(&db, e)))?;
    Ok(place.map(|(dir, attempt, status)| (logs::path(std::path::Path::new(&dir), step, attempt, channel), attempt, status)))
}

/// Up to `max` bytes of what `step`'s attempt (`None`: its newest) in run `run_id` printed
/// on `channel`, from byte `from` (negative: back from the end, at a line start; see
/// `store::logs::read`). `None` when the history has no such run, step or attempt.
pub fn step_log(
    config: &Config,
    run_id: &str,
    (step, attempt): (&str, Option<u32>),
    channel: Channel,
    (from, max): (i64, u64),
) -> Result<Option<StepLog>, EngineError> {
    let Some((path, attempt, status)) = log_of(config, run_id, step, attempt, channel)? else { return Ok(None) };
    let chunk = logs::read(&path, from, max).map_err(|e| EngineError::Store(store_error(&path, e)))?;
    Ok(Some(StepLog { step: step.into(), attempt, status, channel, path: path.to_string_lossy().into_owned(), chunk }))
}

/// The lines of `step`'s attempt's log holding `needle` (any case), at most `limit`.
pub fn search_step_log(
    config: &Config,
    run_id: &str,
    (step, attempt): (&str, Option<u32>),
    channel: Channel,
    needle: &str,
    limit: usize,
) -> Result<Option<Vec<logs::Hit>>, EngineError> {
    let Some((path, _, _)) = log_of(config, run_id, step, attempt, channel)? else { return Ok(None) };
    logs::search(&path, needle, limit).map(Some).map_err(|e| EngineError::Store(store_error(&path, e)))
}

/// The YAML tools' programs, so `system` and `health` list them too.
fn tool_binaries(config: &Config) -> Vec<String> {
    Registry::configured(config).tools().flat_map(|t| t.binaries()).collect()
}

fn profiles(config: &Config) -> Result<Profiles, EngineError> {
    Profiles::load(config.data_dir().as_deref(), Some(&user_profiles()))
        .map_err(|e| EngineError::Config(Diagnostic::new(format!("model profiles: {e}"))))
}

/// Hardware, services, tools, recommended models and tuning advice (`system --json`);
/// `binaries` are looked up too (with their versions) beside the tools' own programs.
pub async fn system_report(config: &Config, binaries: Vec<String>) -> Result<SystemReport, EngineError> {
    let profiles = profiles(config)?;
    let mut wanted = tool_binaries(config);
    wanted.extend(binaries);
    Ok(system::report(config, &profiles, &Probe::machine(), wanted).await)
}

/// Every LLM profile measured against this machine (memory, KV cache by type, fit).
pub async fn model_table(config: &Config) -> Result<Vec<system::advice::ModelFit>, EngineError> {
    let profiles = profiles(config)?;
    let probe = Probe::machine();
    let (hw, services) = tokio::join!(probe.hardware(config), system::services::probe_all(config, probe.deadline));
    // The settings `system` recommends with: a running Ollama's default context counts.
    let settings = match system::ollama_version(&services) {
        Some(v) => probe.settings().with_ollama_default(Some(v), hw.vram_gb),
        None => probe.settings(),
    };
    Ok(system::advice::model_table(&profiles, &hw, &settings))
}

/// Services and command-line tools (`health --json`).
pub async fn health_report(config: &Config) -> Health {
    system::health(config, &Probe::machine(), tool_binaries(config)).await
}

/// A YAML text as `{"value", "positions"}` (each node's JSON Pointer -> `[line, column]`),
/// or `{"error": {line, column, message, hint}}` when it does not parse.
pub fn parse_yaml(text: &str) -> Value {
    match crate::yaml::parse(text) {
        Ok(node) => {
            let positions: serde_json::Map<String, Value> = node
                .as_ref()
                .map(crate::yaml::positions)
                .unwrap_or_default()
                .into_iter()
                .map(|(p, line, col)| (p, json!([line, col])))
                .collect();
            json!({"value": node.map(|n| n.to_json()), "positions": positions})
        }
        Err(d) => json!({"error": d}),
    }
}

/// The merged configuration (`raw`), its file, and the paths it resolves to.
pub fn config_document(c: &Config) -> Value {
    json!({
        "raw": c.raw,
        "file": c.file,
        "workspace": c.workspace(),
        "run_dir": c.run_dir(),
        "db_path": c.db_path(),
        "persistence_enabled": c.persistence_enabled(),
        "tool_dirs": c.tool_dirs(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn parsed_yaml_says_where_each_node_is_or_what_is_wrong() {
        let doc = super::parse_yaml("name: x\nsteps:\n  - id: a\n");
        assert_eq!(doc["value"], json!({"name": "x", "steps": [{"id": "a"}]}));
        assert_eq!(doc["positions"]["/steps/0/id"], json!([3, 9]));
        assert!(super::parse_yaml("a: [1,\n").get("error").is_some());
    }
}
