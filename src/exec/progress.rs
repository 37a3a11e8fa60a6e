//! Progress on stderr: a line when a step starts and when it ends (with its
//! time), and — when stderr is a terminal — a live line under them listing the
//! steps running now with their elapsed time, redrawn four times a second.

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

    pub fn run_started(&self, recipe: &str, run_id: &str) {
        self.line(format_args!("run {run_id}: {recipe}"));
    }

    pub fn step_started(&self, id: &str, what: &str) {
        self.track(id, true);
        self.line(format_args!("▶ {id} ({what})"));
    }

    pub fn step_completed(&self, id: &str, took: Duration) {
        self.track(id, false);
        self.line(format_args!("✓ {id} {:.2}s", took.as_secs_f64()));
    }

    pub fn step_failed(&self, id: &str, error: &str, took: Duration) {
        self.track(id, false);
        self.line(format_args!("✗ {id} {:.2}s: {error}", took.as_secs_f64()));
    }

    /// A resumed run keeps a step that completed before.
    pub fn step_kept(&self, id: &str) {
        self.line(format_args!("✓ {id} (completed before; outputs from the history)"));
    }

    pub fn step_skipped(&self, id: &str, why: &str) {
        self.line(format_args!("↷ {id} skipped: {why}"));
    }

    pub fn note(&self, text: &str) {
        self.line(format_args!("{text}"));
    }
}
