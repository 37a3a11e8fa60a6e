//! The terminal front end: a run's events rendered on stderr (a line when a step
//! starts and ends, a live line of the steps running now) and approval gates asked
//! on standard input. The engine only emits events; the CLI path wires this in as
//! one listener (`Terminal::listener`) and hands the run the gates it answers.

mod progress;
mod prompt;

use crate::exec::{Answers, Event, Listener};
use std::io::IsTerminal;
use std::sync::Arc;

/// What the terminal does for one run (and its preflight).
pub struct Terminal {
    progress: bool,
    answers: Option<Answers>,
}

impl Terminal {
    /// `progress`: show the progress lines (not `--quiet`). `ask`: nobody else answers the
    /// approval gates, so they are asked here — when standard input is a terminal.
    pub fn new(progress: bool, ask: bool) -> Terminal {
        let answers = (ask && std::io::stdin().is_terminal()).then(Answers::default);
        Terminal { progress, answers }
    }

    /// The terminal's part in a run: progress lines and preflight notes unless `quiet`;
    /// approval gates asked here when nobody else answers them.
    pub fn for_run(o: &crate::engine::Options) -> Terminal {
        Terminal::new(!o.quiet, !o.auto_approve && !o.answers)
    }

    /// The terminal as a part of a run started with `capacity` (an executor's, if any).
    pub fn around(&self, capacity: Option<crate::schedule::Capacity>) -> crate::engine::task::Around {
        crate::engine::task::Around { listener: self.listener(), answers: self.answers(), capacity }
    }

    /// The approval gates this terminal answers, for the run to wait on; `None`: it does not
    /// ask (the run takes each gate's default and says so).
    pub fn answers(&self) -> Option<Answers> {
        self.answers.clone()
    }

    /// The listener that shows the events and asks the gates; `None` when it would do nothing.
    pub fn listener(&self) -> Option<Listener> {
        if !self.progress && self.answers.is_none() {
            return None;
        }
        let (show, answers) = (self.progress, self.answers.clone());
        Some(Arc::new(move |event: &Arc<Event>| {
            if show {
                progress::on(event);
            }
            if let (Some(answers), Event::ApprovalRequested { step, message, options, default }) = (&answers, &**event) {
                prompt::ask_in_turn(answers.clone(), step, message, options, default);
            }
        }))
    }
}
