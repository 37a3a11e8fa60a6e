//! Progress on stderr: a line when a step starts and when it ends (with its
//! time), and — when stderr is a terminal — a live line under them listing the
//! steps running now with their elapsed time, redrawn four times a second.

use super::events::Event;
use indexmap::IndexMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub quiet: bool,
}

/// The steps running now, for the live line (one run per process).
struct Live {
    running: Mutex<IndexMap<String, Instant>>,
    /// An approval prompt owns the terminal: no live line.
    paused: AtomicBool,
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
            Live { running: Mutex::new(IndexMap::new()), paused: AtomicBool::new(false), drawn: AtomicBool::new(false) }
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
        if self.paused.load(Ordering::SeqCst) {
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

impl Progress {
    fn line(&self, text: std::fmt::Arguments<'_>) {
        if self.quiet {
            return;
        }
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

    fn track(&self, id: &str, running: bool) {
        if let Some(l) = live().filter(|_| !self.quiet) {
            let mut r = l.running.lock().expect("live progress");
            if running {
                r.insert(id.to_string(), Instant::now());
            } else {
                r.shift_remove(id);
            }
        }
    }

    /// An approval prompt takes the terminal (`true`) or gives it back.
    pub fn prompting(&self, on: bool) {
        if let Some(l) = live() {
            l.paused.store(on, Ordering::SeqCst);
            if on {
                l.clear(&mut std::io::stderr().lock());
            }
        }
    }

    /// The progress line for an event (the CLI's view of a run).
    pub fn on(&self, event: &Event) {
        if self.quiet {
            return;
        }
        match event {
            Event::RunStarted { run_id, recipe, .. } => self.line(format_args!("run {run_id}: {recipe}")),
            Event::StepStarted { step, tool, action, .. } => {
                self.track(step, true);
                match action.is_empty() {
                    true => self.line(format_args!("▶ {step} ({tool})")),
                    false => self.line(format_args!("▶ {step} ({tool}.{action})")),
                }
            }
            Event::StepFinished { step, status, elapsed_s, error, .. } => match status.as_str() {
                "completed" => {
                    self.track(step, false);
                    self.line(format_args!("✓ {step} {elapsed_s:.2}s"));
                }
                "kept" => self.line(format_args!("✓ {step} (completed before; outputs from the history)")),
                "cached" => {
                    self.track(step, false);
                    self.line(format_args!("✓ {step} (from the step cache)"));
                }
                "skipped" => self.line(format_args!("↷ {step} skipped: {}", error.as_deref().unwrap_or_default())),
                _ => {
                    self.track(step, false);
                    self.line(format_args!("✗ {step} {elapsed_s:.2}s: {}", error.as_deref().unwrap_or_default()));
                }
            },
            Event::StepLog { step, level, message } if level != "DEBUG" => self.line(format_args!("  {step}: {message}")),
            Event::Note { message } => self.line(format_args!("{message}")),
            Event::RunFinished { run_id, status, duration_s, error } => match status.as_str() {
                "completed" => self.line(format_args!("run {run_id} completed in {duration_s:.2}s")),
                _ => self.line(format_args!("run {run_id} {status}: {}", error.as_deref().unwrap_or_default())),
            },
            Event::StepLog { .. } | Event::StepProgress { .. } | Event::ApprovalRequested { .. } => {}
        }
    }
}
