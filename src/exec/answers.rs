//! Approval gates' answers from outside the engine: a front end (the terminal, the
//! Python API, the dashboard) answers a waiting gate by name (`Answers::answer`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Choices that stop the run instead of letting it go on.
pub(super) const REJECTIONS: &[&str] = &["reject", "abort", "cancel", "deny", "no", "stop"];

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
    pub(super) fn wait(&self, step: &str, options: &[String], default: &str) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        let pending = Pending { tx, options: options.to_vec(), default: default.to_string() };
        self.0.lock().expect("approvals").insert(step.to_string(), pending);
        rx
    }

    pub(super) fn forget(&self, step: &str) {
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
