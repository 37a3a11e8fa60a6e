//! Running a recipe: the step loop, failure policies, approval gates,
//! `batch.foreach`, cleanup, history, and cancellation.

mod approval;
mod attempt;
mod batch;
mod cleanup;
mod progress;
mod report;
mod runner;
mod view;

pub use progress::Progress;
pub use report::{RunReport, RunStatus, StepReport, StepStatus};
pub use runner::{run, Resume, RunOptions};

#[cfg(test)]
mod tests;
