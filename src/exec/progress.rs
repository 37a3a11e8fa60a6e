//! Progress lines on stderr: one when a step starts, one when it ends.

use std::io::Write;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub quiet: bool,
}

impl Progress {
    fn line(&self, text: std::fmt::Arguments<'_>) {
        if !self.quiet {
            let stamp = chrono::Local::now().format("%H:%M:%S");
            let _ = writeln!(std::io::stderr().lock(), "[{stamp}] {text}");
        }
    }

    pub fn run_started(&self, recipe: &str, run_id: &str) {
        self.line(format_args!("run {run_id}: {recipe}"));
    }

    pub fn step_started(&self, id: &str, what: &str) {
        self.line(format_args!("▶ {id} ({what})"));
    }

    pub fn step_completed(&self, id: &str, took: Duration) {
        self.line(format_args!("✓ {id} {:.2}s", took.as_secs_f64()));
    }

    pub fn step_failed(&self, id: &str, error: &str) {
        self.line(format_args!("✗ {id}: {error}"));
    }

    pub fn step_skipped(&self, id: &str, why: &str) {
        self.line(format_args!("↷ {id} skipped: {why}"));
    }

    pub fn note(&self, text: &str) {
        self.line(format_args!("{text}"));
    }
}
