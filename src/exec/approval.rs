//! Approval gates: wait for a front end's answer (`Answers`: the terminal, the
//! Python API, ...); with `--auto-approve` or nobody to answer, take the default
//! and say so.

use super::attempt::Fail;
use super::runner::Run;
use crate::template::{render_text, Scope};
use crate::tools::Outputs;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

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
        let (selection, auto) = if let (false, Some(answers)) = (self.auto_approve, &self.answers) {
            // A front end answers: a person at the terminal (`crate::terminal`), the Python API, MCP, a web page.
            let rx = answers.wait(record_id, options, default_action);
            self.events.approval_requested(record_id, &text, options, default_action);
            let answer = tokio::select! {
                a = rx => a.map_err(|_| Fail::msg("the approval was dropped without an answer")),
                _ = self.cancel.cancelled() => Err(Fail::Cancelled),
            };
            answers.forget(record_id);
            (answer?, false)
        } else {
            // Nobody answers: the CLI gives the run no answers when standard input is not a terminal.
            let why = if self.auto_approve { "--auto-approve" } else { "no terminal on standard input" };
            self.events.note(&format!("{record_id}: {text} → `{default_action}` ({why})"));
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

/// An answer to an approval gate from outside the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Go on: the default if it is not a rejection, else the first option that is not.
    Yes,
    /// Stop here: the gate's first rejecting option (`reject`, `no`, ...), else `reject`.
    No,
    /// One of the gate's options, by name.
    Choice(String),
}

struct Pending {
    tx: oneshot::Sender<String>,
    options: Vec<String>,
    default: String,
}

/// Why an answer was not taken.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerError {
    /// The gate is not waiting: never asked, already answered, or withdrawn (run cancelled).
    NotWaiting(String),
    /// The answer is not one of the gate's options.
    NoSuchOption(String),
}

/// Approval gates waiting for an answer from a front end (`Run.approve` in Python).
#[derive(Clone, Default)]
pub struct Answers(Arc<Mutex<HashMap<String, Pending>>>);

impl Answers {
    fn wait(&self, step: &str, options: &[String], default: &str) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        let pending = Pending { tx, options: options.to_vec(), default: default.to_string() };
        self.0.lock().expect("approvals").insert(step.to_string(), pending);
        rx
    }

    fn forget(&self, step: &str) {
        self.0.lock().expect("approvals").remove(step);
    }

    /// The gates waiting now.
    pub fn waiting(&self) -> Vec<String> {
        let mut w: Vec<String> = self.0.lock().expect("approvals").keys().cloned().collect();
        w.sort();
        w
    }

    /// Answer the gate `step`; an error says which gates are waiting, or which options there are.
    pub fn answer(&self, step: &str, answer: Answer) -> Result<String, AnswerError> {
        let mut map = self.0.lock().expect("approvals");
        let Some(p) = map.get(step) else {
            let mut waiting: Vec<&String> = map.keys().collect();
            waiting.sort();
            let now = match waiting.is_empty() {
                true => "none is waiting now".to_string(),
                false => format!("waiting now: {}", waiting.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")),
            };
            return Err(AnswerError::NotWaiting(format!("step `{step}` is not waiting for approval ({now})")));
        };
        let rejects = |o: &String| REJECTIONS.contains(&o.to_ascii_lowercase().as_str());
        let selection = match answer {
            Answer::Yes if !rejects(&p.default) => p.default.clone(),
            Answer::Yes => p.options.iter().find(|o| !rejects(o)).cloned().unwrap_or_else(|| "approve".into()),
            Answer::No => p.options.iter().find(|o| rejects(o)).cloned().unwrap_or_else(|| "reject".into()),
            Answer::Choice(c) => match p.options.iter().find(|o| o.eq_ignore_ascii_case(&c)) {
                Some(o) => o.clone(),
                None => {
                    let options = p.options.join(", ");
                    return Err(AnswerError::NoSuchOption(format!(
                        "`{c}` is not an option of approval gate `{step}` (options: {options})"
                    )));
                }
            },
        };
        let p = map.remove(step).expect("present");
        p.tx.send(selection.clone()).map_err(|_| AnswerError::NotWaiting(format!("step `{step}` stopped waiting")))?;
        Ok(selection)
    }
}
