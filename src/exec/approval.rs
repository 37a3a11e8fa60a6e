//! Approval gates: ask on a terminal; with `--auto-approve` or no terminal on
//! standard input, take the default and say so.

use super::attempt::Fail;
use super::runner::Run;
use crate::template::{render_text, Scope};
use crate::tools::Outputs;
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};

/// Choices that stop the run instead of letting it go on.
const REJECTIONS: &[&str] = &["reject", "abort", "cancel", "deny", "no", "stop"];

impl Run {
    pub(super) async fn approval(
        &self,
        record_id: &str,
        message: &str,
        options: &[String],
        default_action: &str,
        scope: &Scope,
    ) -> Result<Outputs, Fail> {
        let text = render_text(message, scope).map_err(|e| Fail::msg(format!("approval message: {e}")))?;
        let interactive = !self.auto_approve && std::io::stdin().is_terminal();
        let (selection, auto) = if interactive {
            let (opts, default) = (options.to_vec(), default_action.to_string());
            self.progress.prompting(true);
            let ask = tokio::task::spawn_blocking(move || ask(&text, &opts, &default));
            let answer = tokio::select! {
                r = ask => r.map_err(|e| Fail::msg(format!("approval prompt failed: {e}"))),
                _ = self.cancel.cancelled() => Err(Fail::Cancelled),
            };
            self.progress.prompting(false);
            (answer?, false)
        } else {
            let why = if self.auto_approve { "--auto-approve" } else { "no terminal on standard input" };
            self.progress.note(&format!("{record_id}: {text} → `{default_action}` ({why})"));
            (default_action.to_string(), true)
        };
        if let Some(store) = &self.store {
            store.event(
                &self.run_id,
                Some(record_id),
                "INFO",
                &format!("approval: `{selection}` selected{}", if auto { " automatically" } else { "" }),
            );
        }
        if REJECTIONS.contains(&selection.to_ascii_lowercase().as_str()) {
            return Err(Fail::Failed {
                message: format!("`{selection}` selected at approval gate `{record_id}`"),
                detail: None,
                outputs: crate::tools::outputs(json!({"selection": selection, "auto": auto})),
            });
        }
        let mut out = Outputs::new();
        out.insert("selection".into(), Value::String(selection));
        out.insert("auto".into(), Value::Bool(auto));
        Ok(out)
    }
}

/// Prompt on stderr until one of `options` (or its number, or a unique prefix) is typed.
fn ask(message: &str, options: &[String], default: &str) -> String {
    let stdin = std::io::stdin();
    for _ in 0..5 {
        let listed: Vec<String> = options.iter().enumerate().map(|(i, o)| format!("{}) {o}", i + 1)).collect();
        eprint!("\n{message}\n  {}\n  choose [{default}]: ", listed.join("  "));
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            return default.to_string();
        }
        let answer = line.trim().to_ascii_lowercase();
        if answer.is_empty() {
            return default.to_string();
        }
        if let Some(i) = answer.parse::<usize>().ok().filter(|i| (1..=options.len()).contains(i)) {
            return options[i - 1].clone();
        }
        let matches: Vec<&String> = options.iter().filter(|o| o.to_ascii_lowercase().starts_with(&answer)).collect();
        if matches.len() == 1 {
            return matches[0].clone();
        }
        eprintln!("  `{}` is not one of the options", line.trim());
    }
    default.to_string()
}
