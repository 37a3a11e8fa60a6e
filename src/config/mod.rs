//! Configuration: `./localforge.yaml`, else `~/.localforge/config.yaml`, else
//! defaults (the 0.x format), with `LOCALFORGE_*` environment overrides.

pub mod instances;
pub mod keys;
pub mod private;

use crate::diag::Diagnostic;
use crate::yaml;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Environment variables that override single settings, and the key each sets.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("LOCALFORGE_WORKSPACE", "workspace"),
    ("LOCALFORGE_OUTPUT_DIR", "output_dir"),
    ("LOCALFORGE_RUN_DIR", "run_dir"),
    ("LOCALFORGE_DB_PATH", "persistence.db_path"),
    ("LOCALFORGE_PERSISTENCE", "persistence.enabled"),
    ("LOCALFORGE_OLLAMA_HOST", "services.ollama.host"),
    ("LOCALFORGE_OLLAMA_MODEL", "services.ollama.default_model"),
    ("LOCALFORGE_SD_HOST", "services.sd.host"),
    ("LOCALFORGE_SD_TIMEOUT", "services.sd.timeout"),
    ("LOCALFORGE_COMFYUI_HOST", "services.comfyui.host"),
    ("LOCALFORGE_BLENDER_PATH", "services.blender.path"),
    ("LOCALFORGE_FFMPEG_PATH", "services.ffmpeg.path"),
    ("LOCALFORGE_MAX_PARALLEL", "max_parallel"),
    ("LOCALFORGE_VRAM_GB", "resources.vram_gb"),
    ("LOCALFORGE_EXECUTOR", "executor"),
];

/// Every setting's built-in value (0.x's `config.DEFAULTS`).
pub fn defaults() -> Value {
    json!({
        "workspace": "~/localforge-workspace",
        "output_dir": "~/localforge-workspace/output",
        "run_dir": "~/localforge-workspace/runs",
        "tool_dirs": [],
        "services": {
            "ollama": {"host": "http://localhost:11434", "default_model": "llama3.2:3b", "timeout": 60},
            "sd": {"host": "http://localhost:7860", "timeout": 120},
            "comfyui": {"host": "http://localhost:8188"},
            "blender": {"path": null},
            "ffmpeg": {"path": "ffmpeg"},
            "musicgen": {"venv_dir": null},
            "acestep": {"venv_dir": null}
        },
        "persistence": {"enabled": true, "db_path": "~/.localforge/runs.db"}
    })
}

/// The merged configuration and the file it came from.
#[derive(Debug, Clone)]
pub struct Config {
    pub raw: Value,
    /// What the user set (the file and `LOCALFORGE_*` variables), without the defaults.
    pub user: Value,
    pub file: Option<PathBuf>,
    /// The YAML tool definitions shipped with LocalForge (`data/tools`), when known.
    pub builtin_tools: Option<PathBuf>,
}

impl Config {
    /// Find and load the configuration for a process started in `cwd`.
    pub fn load(cwd: &Path) -> Result<Config, Diagnostic> {
        let explicit = std::env::var_os("LOCALFORGE_CONFIG").map(PathBuf::from);
        let candidates = explicit.clone().into_iter().chain([cwd.join("localforge.yaml"), home().join(".localforge").join("config.yaml")]);
        for path in candidates {
            if path.is_file() {
                return Config::from_file(&path);
            }
        }
        if let Some(p) = explicit {
            return Err(Diagnostic::new("configuration file named by LOCALFORGE_CONFIG does not exist").in_file(p.display().to_string()));
        }
        Config::from_value(None, None)
    }

    pub fn from_file(path: &Path) -> Result<Config, Diagnostic> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Diagnostic::new(format!("cannot read configuration: {e}")).in_file(&file))?;
        let node = yaml::parse(&text).map_err(|d| d.in_file(&file))?;
        Config::from_value(node.as_ref(), Some(path))
    }

    fn from_value(node: Option<&yaml::Node>, path: Option<&Path>) -> Result<Config, Diagnostic> {
        let file = path.map(|p| p.display().to_string()).unwrap_or_default();
        let mut raw = defaults();
        let mut user = Value::Object(Map::new());
        if let Some(node) = node.filter(|n| !n.is_null()) {
            if node.as_map().is_none() {
                return Err(Diagnostic::new(format!("configuration must be a mapping, found {}", node.kind()))
                    .in_file(&file)
                    .at(node.line, node.col));
            }
            check_types(node, &file)?;
            merge(&mut raw, node.to_json());
            merge(&mut user, node.to_json());
        }
        for (var, key) in ENV_OVERRIDES {
            if let Ok(v) = std::env::var(var) {
                let value = env_value(key, &v).map_err(|m| Diagnostic::new(format!("environment variable {var}: {m}")))?;
                set_path(&mut user, key, value.clone());
                set_path(&mut raw, key, value);
            }
        }
        Ok(Config { raw, user, file: path.map(Path::to_path_buf), builtin_tools: None })
    }

    /// Whether the user set `key` (or something under it), not only the defaults.
    pub fn user_set(&self, key: &str) -> bool {
        key.split('.').try_fold(&self.user, |v, k| v.get(k)).is_some_and(|v| !v.is_null())
    }

    /// A value by dotted key (`services.ollama.host`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        key.split('.').try_fold(&self.raw, |v, k| v.get(k)).filter(|v| !v.is_null())
    }

    fn path_of(&self, key: &str) -> PathBuf {
        expand(self.get(key).and_then(Value::as_str).unwrap_or("."))
    }

    pub fn workspace(&self) -> PathBuf {
        self.path_of("workspace")
    }
    pub fn run_dir(&self) -> PathBuf {
        self.path_of("run_dir")
    }
    pub fn db_path(&self) -> PathBuf {
        self.path_of("persistence.db_path")
    }
    pub fn persistence_enabled(&self) -> bool {
        self.get("persistence.enabled").and_then(Value::as_bool).unwrap_or(true)
    }
    pub fn service(&self, name: &str) -> Map<String, Value> {
        self.get(&format!("services.{name}")).and_then(Value::as_object).cloned().unwrap_or_default()
    }
    /// `resources.vram_gb`: the VRAM to plan with instead of what NVML reports.
    pub fn vram_override(&self) -> Option<f64> {
        self.get("resources.vram_gb").and_then(Value::as_f64).filter(|v| *v >= 0.0)
    }
    /// `max_parallel`: how many steps may run at once (default: the number of cores).
    pub fn max_parallel(&self) -> usize {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        self.get("max_parallel").and_then(Value::as_u64).map_or(cores, |n| n.max(1) as usize)
    }
    /// The shipped data folder (`data/`), when known.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.builtin_tools.as_deref().and_then(Path::parent).map(Path::to_path_buf)
    }
    /// Where YAML tool definitions are read from: the shipped ones, then the user's folders.
    pub fn yaml_tool_dirs(&self) -> Vec<PathBuf> {
        self.builtin_tools.iter().cloned().chain(self.tool_dirs()).collect()
    }

    /// `sandbox: required`: what runs confined must be confined, or not run at all.
    pub fn sandbox_required(&self) -> bool {
        self.get("sandbox").and_then(Value::as_str).is_some_and(|s| s.trim().eq_ignore_ascii_case("required"))
    }

    /// User tool folders: `tool_dirs` from the config, then `~/.localforge/tools`.
    pub fn tool_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> =
            self.get("tool_dirs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(expand).collect();
        dirs.push(home().join(".localforge").join("tools"));
        dirs
    }
}

/// Settings with a fixed type are checked, so a typo fails with file, line and key.
fn check_types(node: &yaml::Node, file: &str) -> Result<(), Diagnostic> {
    let bad = |n: &yaml::Node, key: &str, want: &str| {
        Diagnostic::new(format!("configuration key `{key}` must be {want}, found {}", n.kind())).in_file(file).at(n.line, n.col)
    };
    check_keys(node, file)?;
    for key in ["workspace", "output_dir", "run_dir"] {
        if let Some(n) = node.get(key).filter(|n| n.as_str().is_none()) {
            return Err(bad(n, key, "a path (text)"));
        }
    }
    if let Some(n) = node.get("tool_dirs").filter(|n| !n.is_null()) {
        if n.as_seq().is_none_or(|s| s.iter().any(|i| i.as_str().is_none())) {
            return Err(bad(n, "tool_dirs", "a list of folders"));
        }
    }
    if let Some(n) = node.get("executor").filter(|n| !n.is_null() && n.as_str().is_none() && n.as_map().is_none()) {
        return Err(bad(n, "executor", "`local`, `ray`, `ray:ADDRESS` or a mapping (kind, address, shared_dir, inline_mb)"));
    }
    for section in ["services", "persistence", "resources"] {
        if let Some(n) = node.get(section).filter(|n| !n.is_null() && n.as_map().is_none()) {
            return Err(bad(n, section, "a mapping"));
        }
    }
    if let Some(p) = node.get("persistence") {
        if let Some(n) = p.get("enabled").filter(|n| !matches!(n.value, yaml::NodeValue::Bool(_))) {
            return Err(bad(n, "persistence.enabled", "true or false"));
        }
        if let Some(n) = p.get("db_path").filter(|n| n.as_str().is_none()) {
            return Err(bad(n, "persistence.db_path", "a path (text)"));
        }
    }
    for (name, svc) in node.get("services").and_then(yaml::Node::as_map).unwrap_or_default() {
        if !svc.is_null() && svc.as_map().is_none() {
            return Err(bad(svc, &format!("services.{}", name.key_text()), "a mapping"));
        }
        // One server per card: each a mapping with its `host`.
        if let Some(list) = svc.get("instances").filter(|n| !n.is_null()) {
            let key = format!("services.{}.instances", name.key_text());
            let Some(items) = list.as_seq() else { return Err(bad(list, &key, "a list of `{host, gpu}` mappings")) };
            if let Some(item) = items.iter().find(|i| i.get("host").and_then(yaml::Node::as_str).is_none()) {
                return Err(Diagnostic::new(format!("an instance in `{key}` has no `host`: each is a mapping with the server's URL"))
                    .in_file(file)
                    .at(item.line, item.col)
                    .hint("for example `- {host: \"http://127.0.0.1:11435\", gpu: 1}`"));
            }
        }
    }
    Ok(())
}

/// The keys and values LocalForge reads (`keys`): a value of the wrong shape is an error,
/// and so is an unknown key where it is a misspelling of one LocalForge reads (at the top
/// and in a service, other keys are kept: 0.x files carry their own, a service's go to its
/// tool) or anywhere in the sections that are LocalForge's alone.
fn check_keys(node: &yaml::Node, file: &str) -> Result<(), Diagnostic> {
    check_section(node, keys::TOP, "", true, file)?;
    for (section, table) in
        [("persistence", keys::PERSISTENCE), ("resources", keys::RESOURCES), ("cache", keys::CACHE), ("executor", keys::EXECUTOR)]
    {
        if let Some(n) = node.get(section).filter(|n| n.as_map().is_some()) {
            check_section(n, table, &format!("{section}."), false, file)?;
        }
    }
    for (name, svc) in node.get("services").and_then(yaml::Node::as_map).unwrap_or_default() {
        if svc.as_map().is_some() {
            check_section(svc, keys::SERVICE, &format!("services.{}.", name.key_text()), true, file)?;
        }
    }
    Ok(())
}

fn check_section(map: &yaml::Node, table: &[crate::key::Key], prefix: &str, open: bool, file: &str) -> Result<(), Diagnostic> {
    use crate::key::Shape;
    let names = crate::key::names(table);
    for (k, v) in map.as_map().unwrap_or_default() {
        let name = k.key_text();
        let at = |d: Diagnostic, n: &yaml::Node| d.in_file(file).at(n.line, n.col);
        let Some(key) = table.iter().find(|key| key.name == name) else {
            // Where other keys are kept (0.x's, a service's own), only a near miss of one
            // LocalForge reads is refused: `max_paralel`, `hots`, not `api_key` or `cache_dir`.
            if open && !names.iter().any(|known| misspelled(&name, known)) {
                continue;
            }
            let hint = crate::diag::did_you_mean(&name, names.iter().copied())
                .unwrap_or_else(|| format!("the keys here are {}", names.join(", ")));
            return Err(at(Diagnostic::new(format!("unknown configuration key `{prefix}{name}`")), k).hint(hint));
        };
        if v.is_null() {
            continue;
        }
        let want = match key.shape {
            Shape::Word(words) if !v.as_str().is_some_and(|t| words.contains(&t)) => Some(format!("one of {}", words.join(", "))),
            Shape::Bool if !matches!(v.value, yaml::NodeValue::Bool(_)) => Some("true or false".to_string()),
            Shape::Number { .. } if !matches!(v.value, yaml::NodeValue::Int(_) | yaml::NodeValue::Float(_)) => Some("a number".to_string()),
            Shape::Count { .. } if !matches!(v.value, yaml::NodeValue::Int(n) if n >= 0) => Some("a whole number".to_string()),
            _ => None,
        };
        if let Some(want) = want {
            let shown = match &v.value {
                yaml::NodeValue::Str(t) => format!("`{t}`"),
                _ => v.kind().to_string(),
            };
            return Err(at(Diagnostic::new(format!("configuration key `{prefix}{name}` must be {want}, found {shown}")), v)
                .hint(format!("`{prefix}{name}`: {}", key.doc)));
        }
    }
    Ok(())
}

/// Whether `name` is `known` misspelled: one or two letters off (an extra, a missing, a
/// wrong or two swapped; `tool_dir` for `tool_dirs` too), and not `known` with more said
/// (`api` and `api_key`).
fn misspelled(name: &str, known: &str) -> bool {
    if name.len() < 4 || name.starts_with(known) {
        return false;
    }
    strsim::osa_distance(name, known) <= 2
}

fn env_value(key: &str, v: &str) -> Result<Value, String> {
    Ok(match key {
        "persistence.enabled" => match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Value::Bool(true),
            "0" | "false" | "no" | "off" => Value::Bool(false),
            _ => return Err(format!("expected true or false, got `{v}`")),
        },
        "resources.vram_gb" => v.parse::<f64>().map(Value::from).map_err(|_| format!("expected a number of GB, got `{v}`"))?,
        "services.sd.timeout" | "max_parallel" => {
            v.parse::<u64>().map(Value::from).map_err(|_| format!("expected a whole number, got `{v}`"))?
        }
        _ => Value::String(v.to_string()),
    })
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn set_path(root: &mut Value, key: &str, value: Value) {
    let mut cur = root;
    let parts: Vec<&str> = key.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !cur.get(*part).is_some_and(Value::is_object) {
            cur[*part] = json!({});
        }
        cur = &mut cur[*part];
    }
    cur[parts[parts.len() - 1]] = value;
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

/// `~` and `$VARS` expanded, made absolute.
pub fn expand(p: &str) -> PathBuf {
    let mut s = p.to_string();
    if let Some(rest) = s.strip_prefix("~/") {
        s = home().join(rest).to_string_lossy().into_owned();
    } else if s == "~" {
        s = home().to_string_lossy().into_owned();
    }
    if s.contains('$') {
        for (k, v) in std::env::vars() {
            s = s.replace(&format!("${{{k}}}"), &v);
        }
    }
    std::path::absolute(&s).unwrap_or_else(|_| PathBuf::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelled_key_or_a_value_of_the_wrong_shape_is_refused_where_it_is_written() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("localforge.yaml");
        let refused = |text: &str| {
            std::fs::write(&f, text).unwrap();
            let e = Config::from_file(&f).unwrap_err();
            format!("{}:{} {}; {}", e.line.unwrap_or(0), e.column.unwrap_or(0), e.message, e.hint.unwrap_or_default())
        };
        for (text, says) in [
            ("max_paralel: 2\n", "1:1 unknown configuration key `max_paralel`; did you mean `max_parallel`?"),
            ("tool_dir: [/x]\n", "1:1 unknown configuration key `tool_dir`; did you mean `tool_dirs`?"),
            ("sandbox: requried\n", "1:10 configuration key `sandbox` must be one of auto, required, found `requried`"),
            ("max_parallel: two\n", "1:15 configuration key `max_parallel` must be a whole number, found `two`"),
            ("resources: {vram_gb: 8GB}\n", "1:22 configuration key `resources.vram_gb` must be a number, found `8GB`"),
            ("cache:\n  enabeld: false\n", "2:3 unknown configuration key `cache.enabeld`; did you mean `enabled`?"),
            ("cache:\n  size: 3\n", "2:3 unknown configuration key `cache.size`; the keys here are enabled, dir, max_gb"),
            ("services:\n  ollama:\n    hots: http://h:1\n", "3:5 unknown configuration key `services.ollama.hots`; did you mean `host`?"),
        ] {
            assert!(refused(text).starts_with(says), "{text}: {}", refused(text));
        }
        // A 0.x file's own keys and a service's settings for its tool are kept, those that
        // say more than a key LocalForge reads too.
        let kept = "theme: dark\ntimeout_seconds: 5\ncache_dir: /x\noutput_directory: /y\nmax_parallel_steps: 2\nmcp_port: 1\n\
                    services:\n  sd:\n    steps_default: 30\n  openai:\n    api_key: k\n";
        std::fs::write(&f, kept).unwrap();
        assert!(Config::from_file(&f).is_ok(), "{:?}", Config::from_file(&f).err());
    }

    #[test]
    fn file_values_merge_over_defaults() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("localforge.yaml");
        std::fs::write(&f, "run_dir: /tmp/x/runs\nservices:\n  ollama:\n    host: http://h:1\n").unwrap();
        let c = Config::from_file(&f).unwrap();
        assert_eq!(c.run_dir(), PathBuf::from("/tmp/x/runs"));
        assert_eq!(c.service("ollama")["host"], "http://h:1");
        assert_eq!(c.service("ollama")["default_model"], "llama3.2:3b");
        assert!(c.persistence_enabled());
    }

    #[test]
    fn service_instances_each_need_a_host() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("localforge.yaml");
        std::fs::write(&f, "services:\n  ollama:\n    instances:\n      - {host: 'http://a:1', gpu: 0}\n      - {gpu: 1}\n").unwrap();
        let e = Config::from_file(&f).unwrap_err();
        assert_eq!(e.line, Some(5));
        assert_eq!(e.message, "an instance in `services.ollama.instances` has no `host`: each is a mapping with the server's URL");
        std::fs::write(&f, "services:\n  ollama:\n    instances: http://a:1\n").unwrap();
        assert_eq!(Config::from_file(&f).unwrap_err().line, Some(3));
    }

    #[test]
    fn malformed_config_names_file_line_and_key() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("localforge.yaml");
        std::fs::write(&f, "workspace: /w\npersistence:\n  enabled: maybe\n").unwrap();
        let e = Config::from_file(&f).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("`persistence.enabled` must be true or false"), "{}", e.message);
    }
}
