//! Progress on stderr: a line when a step starts and when it ends (with its
//! time), and — when stderr is a terminal — a live line under them listing the
//! steps running now with their elapsed time, redrawn four times a second.

use crate::exec::Event;
use crate::status::{RunStatus, StepStatus};
use indexmap::IndexMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The steps running now, for the live line (one run per process).
struct Live {
    running: Mutex<IndexMap<String, Instant>>,
    /// Approval prompts that own the terminal now: no live line while any does.
    prompts: AtomicUsize,
    drawn: AtomicBool,
}

fn live() -> Option<&'static Live> {
    static LIVE: OnceLock<Option<Live>> = OnceLock::new();
    LIVE.get_or_init(|| {
        let tty = std::io::stderr().is_terminal() && std::env::var_os("LOCALFORGE_NO_LIVE").is_none();
        tty.then(|| {
            std::thread::Builder::new()
                .name("localforge-progress".into())
                .spawn(|| loop {
                    std::thread::sleep(Duration::from_millis(250));
                    if let Some(l) = live() {
                        l.redraw(&mut std::io::stderr().lock());
                    }
                })
                .ok();
            Live { running: Mutex::new(IndexMap::new()), prompts: AtomicUsize::new(0), drawn: AtomicBool::new(false) }
        })
    })
    .as_ref()
}

impl Live {
    fn clear(&self, err: &mut impl Write) {
        if self.drawn.swap(false, Ordering::SeqCst) {
            let _ = write!(err, "\r\x1b[K");
        }
    }

    fn redraw(&self, err: &mut impl Write) {
        self.clear(err);
        if self.prompts.load(Ordering::SeqCst) > 0 {
            return;
        }
        let running = self.running.lock().expect("live progress");
        if running.is_empty() {
            return;
        }
        let list: Vec<String> = running.iter().map(|(id, t)| format!("{id} {:.0}s", t.elapsed().as_secs_f64())).collect();
        let mut line = format!("⋯ running {}: {}", running.len(), list.join(", "));
        if line.chars().count() > 150 {
            line = format!("{}…", line.chars().take(149).collect::<String>());
        }
        let _ = write!(err, "{line}");
        let _ = err.flush();
        self.drawn.store(true, Ordering::SeqCst);
    }
}

/// A progress line: the clock time, then `text`; the live line is drawn again under it.
fn line(text: std::fmt::Arguments<'_>) {
    let stamp = chrono::Local::now().format("%H:%M:%S");
    let mut err = std::io::stderr().lock();
    let l = live();
    if let Some(l) = l {
        l.clear(&mut err);
    }
    let _ = writeln!(err, "[{stamp}] {text}");
    if let Some(l) = l {
        l.redraw(&mut err);
    }
}

fn track(id: &str, running: bool) {
    if let Some(l) = live() {
        let mut r = l.running.lock().expect("live progress");
        if running {
            r.insert(id.to_string(), Instant::now());
        } else {
            r.shift_remove(id);
        }
    }
}

/// An approval prompt takes the terminal (`true`) or gives it back.
pub fn prompting(on: bool) {
    if let Some(l) = live() {
        match on {
            true => {
                l.prompts.fetch_add(1, Ordering::SeqCst);
                l.clear(&mut std::io::stderr().lock());
            }
            false => {
                let _ = l.prompts.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            }
        }
    }
}

/// What an event shows: a progress line (after the clock time) or a line of its own.
#[derive(Debug, PartialEq)]
enum Shown {
    Progress(String),
    Plain(String),
}

/// Show an event on stderr (if it shows at all), and keep the live line's list up to date.
pub fn on(event: &Event) {
    match event {
        Event::StepStarted { step, .. } => track(step, true),
        Event::StepFinished { step, status, .. } if !matches!(status, StepStatus::Kept | StepStatus::Skipped) => track(step, false),
        _ => {}
    }
    match shown(event) {
        Some(Shown::Progress(text)) => line(format_args!("{text}")),
        Some(Shown::Plain(text)) => {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
        None => {}
    }
}

fn shown(event: &Event) -> Option<Shown> {
    let or_none = |e: &Option<String>| e.clone().unwrap_or_default();
    let text = match event {
        Event::PreflightNote { message } => return Some(Shown::Plain(format!("preflight: {message}"))),
        Event::RunStarted { run_id, recipe, .. } => format!("run {run_id}: {recipe}"),
        Event::StepStarted { step, tool, action, gpus, .. } => {
            let what = if action.is_empty() { tool.clone() } else { format!("{tool}.{action}") };
            let on = gpus.iter().map(|g| format!("GPU {g}")).collect::<Vec<_>>().join(" + ");
            format!("▶ {step} ({what}){}", if on.is_empty() { String::new() } else { format!(" on {on}") })
        }
        Event::StepFinished { step, status, elapsed_s, error, .. } => match status {
            StepStatus::Completed => format!("✓ {step} {elapsed_s:.2}s"),
            StepStatus::Kept => format!("✓ {step} (completed before; outputs from the history)"),
            StepStatus::Cached => format!("✓ {step} (from the step cache)"),
            StepStatus::Skipped => format!("↷ {step} skipped: {}", or_none(error)),
            _ => format!("✗ {step} {elapsed_s:.2}s: {}", or_none(error)),
        },
        Event::StepLog { step, level, message } if level != "DEBUG" => format!("  {step}: {message}"),
        Event::Note { message } => message.clone(),
        Event::RunFinished { run_id, status: RunStatus::Completed, duration_s, .. } => {
            format!("run {run_id} completed in {duration_s:.2}s")
        }
        Event::RunFinished { run_id, status, error, .. } => format!("run {run_id} {status}: {}", or_none(error)),
        Event::StepLog { .. } | Event::StepProgress { .. } | Event::ApprovalRequested { .. } => return None,
    };
    Some(Shown::Progress(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn finished(step: &str, status: StepStatus, error: Option<&str>) -> Event {
        let (outputs, attempt, elapsed_s) = (Map::new(), 1, 1.5);
        Event::StepFinished { step: step.into(), status, attempt, elapsed_s, outputs, error: error.map(Into::into) }
    }

    /// Every kind of event as the terminal shows it (the clock time is added when written).
    #[test]
    fn every_event_as_the_terminal_shows_it() {
        let log = |level: &str| Event::StepLog { step: "s".into(), level: level.into(), message: format!("a {level} line") };
        let events = [
            Event::PreflightNote { message: "step `s`: sd_client.txt2img needs ~4.0 GB of VRAM and no GPU was found".into() },
            Event::RunStarted {
                run_id: "20261207-034511-38a5a1".into(),
                recipe: "pic".into(),
                run_dir: "/r".into(),
                resumed: false,
                plan: vec![],
            },
            Event::StepStarted { step: "s".into(), attempt: 1, tool: "file_ops".into(), action: "write".into(), gpus: vec![] },
            Event::StepStarted { step: "gate".into(), attempt: 1, tool: "approval_gate".into(), action: String::new(), gpus: vec![] },
            Event::StepStarted { step: "big".into(), attempt: 1, tool: "script".into(), action: "run".into(), gpus: vec![0, 1] },
            Event::StepProgress { step: "s".into(), done: Some(1), total: Some(2), unit: "items".into() },
            log("INFO"),
            log("DEBUG"),
            Event::ApprovalRequested { step: "gate".into(), message: "Go?".into(), options: vec!["yes".into()], default: "yes".into() },
            finished("s", StepStatus::Completed, None),
            finished("s", StepStatus::Kept, None),
            finished("s", StepStatus::Cached, None),
            finished("s", StepStatus::Skipped, Some("`when` is false")),
            finished("s", StepStatus::Failed, Some("script exited with code 3: boom")),
            finished("s", StepStatus::Cancelled, Some("cancelled")),
            Event::Note { message: "warning: something".into() },
            Event::RunFinished { run_id: "r1".into(), status: RunStatus::Completed, duration_s: 2.0, error: None },
            Event::RunFinished { run_id: "r1".into(), status: RunStatus::Failed, duration_s: 2.0, error: Some("step `s` failed".into()) },
        ];
        let shown: Vec<String> = events
            .iter()
            .map(|e| match shown(e) {
                Some(Shown::Progress(t)) => format!("[progress] {t}"),
                Some(Shown::Plain(t)) => format!("[plain]    {t}"),
                None => "[nothing]".into(),
            })
            .collect();
        insta::assert_snapshot!(shown.join("\n"));
    }
}
