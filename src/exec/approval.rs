//! Approval gates: wait for a front end's answer (`Answers`: the terminal, the
//! Python API, ...); with `--auto-approve` or nobody to answer, take the default
//! and say so.

use super::answers::REJECTIONS;
use super::fail::Fail;
use super::state::Run;
use crate::template::{render_text, Scope};
use crate::tools::JsonMap;
use serde_json::{json, Value};

impl Run {
    pub(super) async fn approval(
        &self,
        record_id: &str,
        message: &str,
        options: &[String],
        default_action: &str,
        scope: &Scope,
    ) -> Result<JsonMap, Fail> {
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
        let mut out = JsonMap::new();
        out.insert("selection".into(), Value::String(selection));
        out.insert("auto".into(), Value::Bool(auto));
        Ok(out)
    }
}
