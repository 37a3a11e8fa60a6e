//! Controlling a run from any front end in any process: `request` records what the run is
//! asked to do (`store::control`), and `watch`, beside every run that keeps history, takes
//! it within `POLL` and acts: a cancel stops the run as Ctrl-C would; an answer goes to the
//! approval gate waiting for one (a gate nobody waits on, with `--auto-approve` or no
//! terminal, has already taken its default).

use super::{store_error, EngineError};
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::exec::{Answer, Answers};
use crate::status::RunStatus;
use crate::store::control::{self, Control};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a run looks for what it was asked.
pub const POLL: Duration = Duration::from_millis(250);

/// Ask run `run_id`, wherever it runs on this machine, to do `c`. Refused when the history
/// has no such run or it is not running.
pub fn request(config: &Config, run_id: &str, c: &Control) -> Result<(), EngineError> {
    let db = config.db_path();
    let status = super::reads::run_status(config, run_id)?;
    let refuse = |m: String, hint: &str| Err(EngineError::Refused(Diagnostic::new(m).hint(hint)));
    match status.as_deref().map(RunStatus::parse) {
        None => refuse(format!("no run `{run_id}` in the history ({})", db.display()), "list runs with `localforge history`"),
        Some(Some(RunStatus::Running)) => control::send(&db, run_id, c).map_err(|e| EngineError::Store(store_error(&db, e))),
        Some(_) => refuse(
            format!("run `{run_id}` has already ended ({})", status.unwrap_or_default()),
            "a run that ended can be resumed (`localforge resume`), not controlled",
        ),
    }
}

/// What an answer in a control says, as the gate takes it.
fn answer_of(v: &Value) -> Option<Answer> {
    match v {
        Value::Bool(true) => Some(Answer::Yes),
        Value::Bool(false) => Some(Answer::No),
        Value::String(s) => Some(Answer::Choice(s.clone())),
        _ => None,
    }
}

/// Act on what run `run_id` is asked, until `done` is cancelled (the run ended).
pub async fn watch(db: PathBuf, run_id: String, cancel: CancellationToken, answers: Option<Answers>, done: CancellationToken) {
    let mut conn = None;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
        let (path, id, held) = (db.clone(), run_id.clone(), conn.take());
        let taken = tokio::task::spawn_blocking(move || {
            let mut c = match held {
                Some(c) => c,
                None => control::watcher(&path)?,
            };
            control::take(&mut c, &id).map(|t| (t, c))
        })
        .await;
        let Ok(Ok((controls, c))) = taken else { continue };
        conn = Some(c);
        for c in controls {
            match c {
                Control::Cancel => cancel.cancel(),
                Control::Answer { step, answer } => {
                    if let (Some(answers), Some(a)) = (&answers, answer_of(&answer)) {
                        let _ = answers.answer(&step, a);
                    }
                }
            }
        }
    }
}
