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

#[cfg(test)]
mod tests;
