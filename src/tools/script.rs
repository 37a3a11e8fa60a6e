//! `script.run`: run a script file or a command. A non-zero exit fails the step
//! (so `retry` works) unless `allow_failure: true` keeps 0.x's report-only behaviour.

use super::process::{run_process, tail, ProcessSpec};
use super::sandbox::{Confinement, Sandbox};
use super::{opt_bool, opt_str, JsonMap, Tool, ToolCtx, ToolError, ToolKind};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `strict`: the configuration says `sandbox: required`, so `sandbox: true` is `required`.
#[derive(Default)]
pub struct Script {
    pub strict: bool,
}

#[async_trait::async_trait]
impl Tool for Script {
    fn name(&self) -> &str {
        "script"
    }
    fn actions(&self) -> Vec<String> {
        vec!["run".into()]
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    fn description(&self) -> String {
        "Run a script file (.py, .sh, executable) or a command; non-zero exit fails the step".into()
    }

    fn inputs(&self, action: &str) -> Option<super::ActionInputs> {
        use crate::recipe::InputType::{Boolean as B, List as L, Number as N, Object as O, Path as P, String as S};
        // `command` is text or a list of words: a `list` input takes both.
        (action == "run").then(|| {
            let mut inputs = super::ActionInputs::of(
                &[
                    ("command", L, false, "A shell line (`sh -c`), or a list of words run without a shell."),
                    ("script", P, false, "A script file to run (by its `#!` line or its suffix)."),
                    ("args", L, false, "Arguments after the command or script."),
                    ("cwd", P, false, "The folder it runs in (default: the run's temp folder)."),
                    ("working_dir", P, false, "Same as `cwd` (0.x)."),
                    ("env", O, false, "Environment variables to add (NAME: value)."),
                    ("stdin", S, false, "Text given on standard input."),
                    ("timeout", N, false, "Seconds it may run."),
                    ("allow_failure", B, false, "A non-zero exit does not fail the step."),
                    ("detach", B, false, "Start it and go on; it is stopped when the run ends."),
                    ("sandbox", B, false, "Confine it (Linux Landlock): `true` where the kernel can, `required` or refuse to run. It reads anything and writes only the run's temp folder and `writes`."),
                    ("writes", L, false, "Folders a confined script may write in besides the run's temp folder (relative to `cwd`; made if missing)."),
                    ("network", B, false, "A confined script may open and accept TCP connections."),
                ],
                false,
            );
            let sandbox = inputs.inputs.iter_mut().find(|d| d.name == "sandbox").expect("declared above");
            sandbox.choices = Some(vec![Value::Bool(true), Value::Bool(false), Value::from("required")]);
            inputs
        })
    }

    /// The programs it starts that can be seen: a script's interpreter, the first word of a
    /// list, and every word of a shell line or list word that names a program on `PATH` (a
    /// wrapper such as `env` or `sh -c "..."` names the program it runs); and the whole
    /// environment, which its program inherits.
    fn reads(&self, _action: &str, inputs: &JsonMap) -> super::Reads {
        let mut reads = super::Reads { env: true, ..Default::default() };
        match (inputs.get("script"), inputs.get("command")) {
            (Some(Value::String(script)), _) => reads.programs.extend(interpreter(Path::new(script)).into_iter().take(1)),
            (_, Some(Value::String(command))) => {
                reads.programs.push("sh".into());
                reads.programs.extend(command_words(command));
            }
            (_, Some(Value::Array(words))) => {
                reads.programs.extend(words.first().and_then(Value::as_str).map(str::to_string));
                words.iter().filter_map(Value::as_str).for_each(|w| reads.programs.extend(command_words(w)));
            }
            _ => {}
        }
        reads
    }

    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        if action != "run" {
            return Err(ToolError::failed(format!("script has no action `{action}`")));
        }
        let spec = build_spec(&inputs, ctx, self.strict)?;
        ctx.log("INFO", &format!("running {}", shown(&spec.argv)));
        // `timeout` (seconds), as 0.x's script tool took it: the program's processes are stopped.
        let out = match super::opt_f64(&inputs, "timeout").filter(|t| *t > 0.0) {
            Some(secs) => {
                let token = ctx.cancel.child_token();
                let run = run_process(&spec, &token);
                tokio::pin!(run);
                tokio::select! {
                    r = &mut run => r?,
                    _ = tokio::time::sleep(std::time::Duration::from_secs_f64(secs)) => {
                        token.cancel();
                        let _ = run.await;
                        return Err(ToolError::failed(format!("script timed out after {secs} s; its processes were stopped")));
                    }
                }
            }
            None => run_process(&spec, &ctx.cancel).await?,
        };
        let success = out.code == 0;
        if !success && !opt_bool(&inputs, "allow_failure").unwrap_or(false) {
            let stderr = tail(&out.stderr, 20, 2000);
            let detail = if stderr.is_empty() { tail(&out.stdout, 10, 1000) } else { stderr };
            return Err(ToolError::Failed {
                message: format!("script exited with code {}: {}", out.code, if detail.is_empty() { "(no output)".into() } else { detail }),
                detail: Some(out.stderr),
            });
        }
        let mut o = JsonMap::new();
        let code = out.code;
        out.insert_into(&mut o);
        o.insert("return_code".into(), Value::from(code));
        o.insert("success".into(), Value::Bool(success));
        Ok(o)
    }
}

/// A command line quoted as a shell would, so the log line can be pasted back into one.
fn shown(argv: &[String]) -> String {
    shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
}

fn build_spec(inputs: &JsonMap, ctx: &ToolCtx, strict: bool) -> Result<ProcessSpec, ToolError> {
    let args: Vec<String> = match inputs.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
        Some(Value::String(s)) => {
            shlex::split(s).ok_or_else(|| ToolError::failed(format!("script.run: cannot split `args` {s:?} into words")))?
        }
        Some(other) => return Err(ToolError::failed(format!("script.run: `args` must be a list, got {other}"))),
    };
    let mut argv = match (inputs.get("script"), inputs.get("command")) {
        (Some(Value::String(script)), _) => {
            let path = Path::new(script);
            if !path.exists() {
                return Err(ToolError::failed(format!("script.run: script not found: {script}")));
            }
            interpreter(path)
        }
        (_, Some(Value::String(command))) => vec!["sh".into(), "-c".into(), command.clone(), "sh".into()],
        (_, Some(Value::Array(words))) => words.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
        _ => return Err(ToolError::failed("script.run needs `script` (a file) or `command` (text or a list of words)")),
    };
    argv.extend(args);
    let cwd = opt_str(inputs, "working_dir").or_else(|| opt_str(inputs, "cwd")).map(Into::into).unwrap_or_else(|| ctx.temp_dir.clone());
    let env = match inputs.get("env") {
        Some(Value::Object(m)) => {
            m.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect()
        }
        _ => Default::default(),
    };
    let detach = opt_bool(inputs, "detach").unwrap_or(false);
    let sandbox = confinement(inputs, ctx, &cwd, strict)?;
    Ok(ProcessSpec { argv, cwd: Some(cwd), env, stdin: opt_str(inputs, "stdin"), detach, log: None, sandbox }.for_step(ctx))
}

/// `sandbox`, `writes` and `network`: what a confined script may do.
fn confinement(inputs: &JsonMap, ctx: &ToolCtx, cwd: &Path, strict: bool) -> Result<Option<Sandbox>, ToolError> {
    let given = inputs.get("sandbox").unwrap_or(&Value::Null);
    let level = Confinement::parse(given)
        .ok_or_else(|| ToolError::failed(format!("script.run: `sandbox` is true, false or `required`, not {given}")))?;
    let writes: Vec<PathBuf> = match inputs.get("writes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.into()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(PathBuf::from)
                    .ok_or_else(|| ToolError::failed(format!("script.run: `writes` holds folders (text), not {v}")))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(ToolError::failed(format!("script.run: `writes` is a list of folders, not {other}"))),
    };
    if level == Confinement::Off && !writes.is_empty() {
        return Err(ToolError::failed("script.run: `writes` limits a confined script; add `sandbox: true` (or drop `writes`)"));
    }
    let network = opt_bool(inputs, "network").unwrap_or(false);
    let mut write = vec![ctx.temp_dir.clone()];
    write.extend(writes.into_iter().map(|p| cwd.join(p)));
    Ok(level.strict(strict).sandbox(write, network))
}

/// The words of a shell line that name a program on `PATH` (or by path): what it may run.
pub fn command_words(text: &str) -> Vec<String> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| c.is_whitespace() || "'\"`;|&<>(){}$=".contains(c)) {
        if !w.is_empty() && !out.iter().any(|o| o == w) && super::process::which_in(w, &path_var).is_some() {
            out.push(w.to_string());
        }
    }
    out
}

/// How 0.x ran a script: Python files with this Python, shell files with bash.
fn interpreter(path: &Path) -> Vec<String> {
    let p = path.to_string_lossy().into_owned();
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("py") => vec![std::env::var("LOCALFORGE_PYTHON").unwrap_or_else(|_| "python3".into()), p],
        Some("sh") | Some("bash") => vec!["bash".into(), p],
        _ => vec![p],
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_shell_line_names_its_programs() {
        let words = super::command_words("cat in.txt | sort > out.txt; nosuchprogram-xyz");
        assert!(words.contains(&"cat".to_string()) && words.contains(&"sort".to_string()), "{words:?}");
        assert!(!words.iter().any(|w| w.starts_with("nosuch") || w == "in.txt"), "{words:?}");
    }

    #[test]
    fn the_running_line_quotes_words_as_a_shell_would() {
        let argv: Vec<String> = ["sh", "-c", "echo oops >&2; exit 3", "sh"].map(String::from).to_vec();
        assert_eq!(super::shown(&argv), "sh -c 'echo oops >&2; exit 3' sh");
    }

    #[tokio::test]
    async fn a_script_with_sandbox_writes_only_its_temp_folder_and_writes_and_opens_no_tcp() {
        use crate::tools::Tool;
        use serde_json::json;
        if crate::tools::sandbox::landlock_abi() < 4 || !crate::tools::process::on_path("python3") {
            eprintln!("skipped: Landlock ABI < 4 or no python3");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = crate::tools::stand_in::ctx_in(dir.path());
        ctx.temp_dir = dir.path().join("tmp");
        std::fs::create_dir(&ctx.temp_dir).unwrap();
        let (mine, elsewhere) = (dir.path().join("mine"), dir.path().join("elsewhere"));
        std::fs::create_dir(&elsewhere).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let line = format!(
            "echo t > t; echo m > {0}/m; echo e > {1}/e; python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=5)' && echo connected > t",
            mine.display(),
            elsewhere.display()
        );
        let call = |extra: serde_json::Value| {
            let mut inputs = json!({"command": line, "allow_failure": true}).as_object().unwrap().clone();
            inputs.extend(extra.as_object().unwrap().clone());
            let ctx = &ctx;
            async move { super::Script::default().call("run", inputs, ctx).await }
        };
        for level in [json!(true), json!("required")] {
            let out = call(json!({"sandbox": level, "writes": [mine]})).await.unwrap();
            assert_eq!(std::fs::read_to_string(ctx.temp_dir.join("t")).unwrap(), "t\n", "{out:?}");
            assert!(mine.join("m").exists() && !elsewhere.join("e").exists(), "{out:?}");
            assert!(out["stderr"].as_str().unwrap().contains("PermissionError"), "{out:?}");
        }
        // With `network: true` it connects; unconfined it writes anywhere.
        call(json!({"sandbox": true, "network": true})).await.unwrap();
        assert_eq!(std::fs::read_to_string(ctx.temp_dir.join("t")).unwrap(), "connected\n");
        call(json!({})).await.unwrap();
        assert!(elsewhere.join("e").exists());
        let err = call(json!({"sandbox": "maybe"})).await.unwrap_err().to_string();
        assert!(err.contains("`sandbox` is true, false or `required`"), "{err}");
        let err = call(json!({"writes": [mine]})).await.unwrap_err().to_string();
        assert!(err.contains("add `sandbox: true`"), "{err}");
    }
}
