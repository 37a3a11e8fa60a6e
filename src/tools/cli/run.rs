//! Running one action of a YAML tool.

use super::def::{ActionDef, Command, ToolDef};
use crate::recipe::inputs::{convert, in_choices};
use crate::recipe::InputType;
use crate::template::env;
use crate::tools::process::{run_process, tail, ProcessSpec};
use crate::tools::{JsonMap, ToolCtx, ToolError};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(super) async fn run(tool: &ToolDef, name: &str, action: &ActionDef, given: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
    let what = format!("{}.{name}", tool.name);
    let mut dirs = Map::new();
    dirs.insert("temp_dir".into(), json!(ctx.temp_dir));
    dirs.insert("run_dir".into(), json!(ctx.run_dir));
    // Output paths the caller gave (not a definition's defaults): a confined program may write there.
    let given_outputs: Vec<String> = action
        .inputs
        .iter()
        .filter(|(n, d)| d.output && given.get(n.as_str()).is_some_and(|v| !v.is_null()))
        .map(|(n, _)| n.clone())
        .collect();
    let values = bind(&what, action, given, &dirs)?;
    // `{{ file }}` and `{{ inputs.file }}` (the roadmap's format) alike.
    let mut scope = values.clone();
    scope.extend(dirs);
    scope.insert("inputs".into(), Value::Object(values));
    let argv = match &action.command {
        Command::Argv(words) => {
            let mut argv = Vec::new();
            for w in words {
                argv.extend(render_word(&what, w, &scope)?);
            }
            argv
        }
        Command::Shell(text) => vec!["sh".into(), "-c".into(), render_text(&what, text, &quoted(&scope))?],
    };
    let cwd = match &action.cwd {
        Some(c) => PathBuf::from(render_text(&what, c, &scope)?),
        None => ctx.temp_dir.clone(),
    };
    let mut envs = std::collections::BTreeMap::new();
    for (k, v) in tool.env.iter().chain(action.env.iter()) {
        envs.insert(k.clone(), render_text(&what, v, &scope)?);
    }
    let sandbox = tool.sandbox.sandbox(Vec::new(), tool.network).map(|mut sb| {
        let write = &mut sb.write;
        write.push(ctx.temp_dir.clone());
        if let Some(cache) = tool_cache(&tool.name) {
            envs.insert("LOCALFORGE_TOOL_CACHE".into(), cache.to_string_lossy().into_owned());
            write.push(cache);
        }
        for name in &given_outputs {
            if let Some(p) = scope.get(name).and_then(Value::as_str) {
                let p = cwd.join(p);
                write.extend(p.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf));
            }
        }
        sb
    });
    let spec = ProcessSpec { argv, cwd: Some(cwd), env: envs, sandbox, ..Default::default() }.for_step(ctx);
    let token = ctx.cancel.child_token();
    let out = match action.timeout {
        Some(secs) => {
            let fut = run_process(&spec, &token);
            tokio::pin!(fut);
            tokio::select! {
                r = &mut fut => r?,
                _ = tokio::time::sleep(Duration::from_secs_f64(secs)) => {
                    token.cancel();
                    let _ = fut.await;
                    return Err(ToolError::failed(format!("{what} timed out after {secs}s; its processes were stopped")));
                }
            }
        }
        None => run_process(&spec, &token).await?,
    };
    if out.code != 0 {
        let t = tail(&out.stderr, 15, 1500);
        return Err(ToolError::Failed {
            message: format!(
                "{what}: `{}` exited with code {}: {}",
                spec.argv[0],
                out.code,
                if t.is_empty() { tail(&out.stdout, 5, 500) } else { t }
            ),
            detail: Some(out.stderr),
        });
    }
    let mut result = Map::new();
    for (key, (template, is_path)) in &action.outputs {
        let v = render_text(&what, template, &scope)?;
        if *is_path && !Path::new(&v).exists() {
            return Err(ToolError::failed(format!("{what}: declared output `{key}` (`{v}`) was not created by the command")));
        }
        result.insert(key.clone(), Value::String(v));
    }
    match action.parse.as_deref() {
        Some("json") => {
            let stdout = out.full_stdout()?;
            let parsed: Value = serde_json::from_str(stdout.trim())
                .map_err(|e| ToolError::failed(format!("{what}: output is not JSON ({e}): {}", tail(&stdout, 3, 300))))?;
            result.insert("json".into(), parsed);
        }
        Some("lines") => {
            result.insert("lines".into(), json!(out.full_stdout()?.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>()));
        }
        _ => {}
    }
    let code = out.code;
    out.insert_into(&mut result);
    result.insert("return_code".into(), json!(code));
    Ok(result)
}

/// The step's inputs checked against the action's declarations, defaults filled in.
fn bind(what: &str, action: &ActionDef, given: JsonMap, dirs: &Map<String, Value>) -> Result<Map<String, Value>, ToolError> {
    let mut problems = Vec::new();
    for key in given.keys() {
        if !action.inputs.contains_key(key) {
            let names: Vec<&str> = action.inputs.keys().map(String::as_str).collect();
            let hint = crate::diag::did_you_mean(key, names.iter().copied())
                .unwrap_or_else(|| format!("its inputs are {}", crate::diag::list_names(&names)));
            problems.push(format!("unknown input `{key}` ({hint})"));
        }
    }
    let mut out = Map::new();
    for (name, spec) in &action.inputs {
        let raw = match given.get(name).filter(|v| !v.is_null()) {
            Some(v) => v.clone(),
            // A default may name the run's folders: `default: "{{ temp_dir }}"`.
            None if spec.default.as_ref().and_then(Value::as_str).is_some_and(crate::template::has_template) => {
                Value::String(render_text(what, spec.default.as_ref().and_then(Value::as_str).unwrap_or_default(), dirs)?)
            }
            None if spec.default.is_some() => spec.default.clone().unwrap_or(Value::Null),
            None if spec.required => {
                problems.push(format!(
                    "missing required input `{name}`{}",
                    spec.description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
                ));
                continue;
            }
            None => continue,
        };
        let v = match convert(spec.ty, &raw) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("input `{name}`: {e}"));
                continue;
            }
        };
        if let Some(choices) = spec.choices.as_ref().filter(|c| !in_choices(&v, c)) {
            let names: Vec<String> = choices.iter().map(|c| c.as_str().map(str::to_string).unwrap_or_else(|| c.to_string())).collect();
            problems.push(format!(
                "input `{name}`: `{}` is not one of {}",
                v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
                crate::diag::list_names(&names)
            ));
            continue;
        }
        if spec.ty == InputType::Path && !spec.output {
            if let Some(p) = v.as_str().filter(|p| !Path::new(p).exists()) {
                problems.push(format!("input `{name}`: `{p}` does not exist"));
                continue;
            }
        }
        out.insert(name.clone(), v);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ToolError::failed(format!("{what}: {}", problems.join("; "))))
    }
}

/// A confined tool's own cache folder: `$XDG_CACHE_HOME/localforge/tools/<name>` (or under
/// `~/.cache`), named by the tool's name with anything but letters, digits, `-_.` replaced.
pub(super) fn tool_cache(name: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '_' }).collect();
    Some(base.join("localforge").join("tools").join(safe))
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One command word: exactly one `{{ name }}` holding a list becomes one argument per item.
/// What a registry's tool may do when it runs on this machine, in one sentence for the
/// install prompt: confined (and how), or why not.
pub fn confinement(tool: &ToolDef, required: bool) -> String {
    let abi = crate::tools::sandbox::landlock_abi();
    let cache = tool_cache(&tool.name).map_or_else(|| "its cache folder".to_string(), |p| p.display().to_string());
    let writes = format!("writes only the folders of the output paths you give it, the run's temp folder and {cache}");
    let network = if tool.network { "may open TCP connections (`network: true`)" } else { "opens no TCP connection" };
    match abi {
        0 if required => "this kernel has no Landlock, so it will be refused (`sandbox: required`)".to_string(),
        0 => "this kernel has no Landlock, so it runs unconfined, as your user (`sandbox: required` in localforge.yaml refuses instead)"
            .to_string(),
        1..=3 if !tool.network => format!(
            "confined (Landlock ABI {abi}): reads anything, {writes}; this kernel cannot refuse its TCP connections (ABI 4, Linux 6.7)"
        ),
        _ => format!("confined (Landlock ABI {abi}): reads anything, {writes}, and {network}"),
    }
}

/// An action's argv with every input at its default (`<name>` where it has none) and the
/// folders as `<temp_dir>`/`<run_dir>`: what the install prompt shows, list expressions
/// expanded as a run would expand them.
pub fn preview(action: &ActionDef) -> Vec<String> {
    let mut values = Map::new();
    for (k, input) in &action.inputs {
        values.insert(k.clone(), input.default.clone().unwrap_or_else(|| Value::String(format!("<{k}>"))));
    }
    let mut scope = values.clone();
    for dir in ["temp_dir", "run_dir"] {
        scope.insert(dir.into(), Value::String(format!("<{dir}>")));
    }
    scope.insert("inputs".into(), Value::Object(values));
    match &action.command {
        Command::Argv(words) => words.iter().flat_map(|w| render_word("", w, &scope).unwrap_or_else(|_| vec![w.clone()])).collect(),
        Command::Shell(text) => vec!["sh".into(), "-c".into(), render_text("", text, &quoted(&scope)).unwrap_or_else(|_| text.clone())],
    }
}

fn render_word(what: &str, word: &str, scope: &Map<String, Value>) -> Result<Vec<String>, ToolError> {
    if let Some(expr) = crate::template::single_expression(word) {
        let value = env()
            .compile_expression_owned(expr.to_string())
            .and_then(|e| e.eval(crate::template::to_value(&Value::Object(scope.clone()))))
            .map_err(|e| undefined(what, word, scope, &e))?;
        if value.is_undefined() {
            return Err(undefined(what, word, scope, &minijinja::Error::new(minijinja::ErrorKind::UndefinedError, "undefined")));
        }
        let json = serde_json::to_value(&value).unwrap_or(Value::Null);
        return Ok(match json {
            Value::Array(items) => items.iter().map(text_of).collect(),
            other => vec![text_of(&other)],
        });
    }
    Ok(vec![render_text(what, word, scope)?])
}

fn render_text(what: &str, text: &str, scope: &Map<String, Value>) -> Result<String, ToolError> {
    env().render_str(text, crate::template::to_value(&Value::Object(scope.clone()))).map_err(|e| undefined(what, text, scope, &e))
}

fn undefined(what: &str, text: &str, scope: &Map<String, Value>, e: &minijinja::Error) -> ToolError {
    let names: Vec<&str> = scope.keys().map(String::as_str).collect();
    match e.kind() {
        minijinja::ErrorKind::UndefinedError => {
            ToolError::failed(format!("{what}: `{text}` uses a name that is not set; available: {}", crate::diag::list_names(&names)))
        }
        _ => ToolError::failed(format!("{what}: cannot render `{text}`: {}", e.detail().unwrap_or(&e.to_string()))),
    }
}

/// Every value shell-quoted, for `shell: true` commands.
fn quoted(scope: &Map<String, Value>) -> Map<String, Value> {
    let q = |s: &str| shlex::try_quote(s).map(|c| c.into_owned()).unwrap_or_else(|_| "''".into());
    scope
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Array(items) => items.iter().map(|i| q(&text_of(i))).collect::<Vec<_>>().join(" "),
                other => q(&text_of(other)),
            };
            (k.clone(), Value::String(text))
        })
        .collect()
}
