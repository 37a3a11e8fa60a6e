//! What became of a step and of a run: one word each, the same in `run --json`, the
//! events front ends hear, the history's rows and templates (`steps.X.status`).

use serde::{Deserialize, Serialize};

/// A step's status, or one attempt's. A report's step is `completed`, `failed`, `skipped`,
/// `cancelled` or `not_run`; events and history rows also say `running`, `cached` (served
/// by the step cache), `kept` (completed before a resume) and `interrupted` (its process died).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Running,
    Completed,
    Cached,
    Kept,
    Failed,
    Skipped,
    Cancelled,
    NotRun,
    Interrupted,
}

/// A run's status: `completed`, `failed` or `cancelled` when it ends; in the history also
/// `running`, and `interrupted` when its process died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
}

impl StepStatus {
    const ALL: [StepStatus; 9] = [
        StepStatus::Running,
        StepStatus::Completed,
        StepStatus::Cached,
        StepStatus::Kept,
        StepStatus::Failed,
        StepStatus::Skipped,
        StepStatus::Cancelled,
        StepStatus::NotRun,
        StepStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Running => "running",
            StepStatus::Completed => "completed",
            StepStatus::Cached => "cached",
            StepStatus::Kept => "kept",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
            StepStatus::NotRun => "not_run",
            StepStatus::Interrupted => "interrupted",
        }
    }

    /// The status a history row or event names; `None` for a word that is not one.
    pub fn parse(word: &str) -> Option<StepStatus> {
        StepStatus::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// The step's outputs stand: it completed, now, from the cache, or before a resume.
    pub fn succeeded(self) -> bool {
        matches!(self, StepStatus::Completed | StepStatus::Cached | StepStatus::Kept)
    }
}

impl RunStatus {
    const ALL: [RunStatus; 5] = [RunStatus::Running, RunStatus::Completed, RunStatus::Failed, RunStatus::Cancelled, RunStatus::Interrupted];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// The status a history row names; `None` for a word that is not one.
    pub fn parse(word: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{RunStatus, StepStatus};

    #[test]
    fn each_status_is_written_as_serde_writes_it_and_read_back() {
        for s in StepStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(StepStatus::parse(s.as_str()), Some(s));
        }
        for s in RunStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(StepStatus::parse("success"), None);
    }
}
