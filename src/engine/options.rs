//! The options a run starts with: one set for every front end. The Python API's keywords
//! (`run`, `arun`, `start`, `resume`, `plan`) become this in one place and cross the
//! binding as one value; the engine reads it (`flow::execute`, `flow::dry_run`).

use crate::exec::Answers;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Approval gates take their default without asking.
    pub auto_approve: bool,
    /// Start although preflight found unmet needs; resume although the recipe changed.
    pub force: bool,
    /// No progress lines or preflight notes on stderr.
    pub quiet: bool,
    /// `run --no-cache`: nothing taken from the step cache and nothing stored.
    pub no_cache: bool,
    /// `run --refresh STEP`: these steps and every step after them run (and refresh the cache).
    pub refresh: Vec<String>,
    /// The caller reads the run's events (a stream is kept for it).
    pub events: bool,
    /// The caller answers approval gates (`Answers::answer`) instead of a terminal.
    pub answers: bool,
}

impl Options {
    /// Where approval gates get their answers from the caller: not when it approves all.
    pub fn caller_answers(&self) -> Option<Answers> {
        (self.answers && !self.auto_approve).then(Answers::default)
    }
}

#[cfg(test)]
mod tests {
    use super::Options;
    use serde_json::json;

    #[test]
    fn options_left_out_take_their_defaults_and_a_misspelt_one_is_refused() {
        let o: Options = serde_json::from_value(json!({"quiet": true, "refresh": ["b"]})).unwrap();
        assert_eq!(o, Options { quiet: true, refresh: vec!["b".into()], ..Options::default() });
        let err = serde_json::from_value::<Options>(json!({"auto_aprove": true})).unwrap_err().to_string();
        assert!(err.starts_with("unknown field `auto_aprove`, expected one of `auto_approve`"), "{err}");
    }

    #[test]
    fn the_caller_answers_gates_only_when_it_asked_to_and_does_not_approve_all() {
        let asked = Options { answers: true, ..Options::default() };
        assert!(asked.caller_answers().is_some());
        assert!(Options { auto_approve: true, ..asked }.caller_answers().is_none());
        assert!(Options::default().caller_answers().is_none());
    }
}
