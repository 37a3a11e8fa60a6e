//! Running a recipe: the step loop, failure policies, approval gates,
//! `batch.foreach`, cleanup, history, and cancellation.

mod activity;
mod answers;
mod approval;
mod attempt;
mod batch;
mod cached;
mod cleanup;
mod events;
mod fail;
mod placed;
mod report;
mod runner;
mod state;

pub use answers::{Answer, AnswerError, Answers};
pub use cached::context_of;
pub use events::{preflight_notes, Event, Listener};
pub use report::{RunReport, RunStatus, StepReport, StepStatus};
pub use runner::{new_run_id, refreshed, run, Resume, RunOptions, StartError};

/// A JSON object as the history keeps it (inputs, outputs), serialised without copying it
/// into a `Value` first.
fn json_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string(map).unwrap_or_default()
}

#[cfg(test)]
mod tests;
