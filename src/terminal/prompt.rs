//! An approval gate asked on the terminal: the question on stderr, the answer read
//! from standard input on a thread of its own (a listener must not block the run),
//! then handed to the run through its `Answers`.

use super::progress;
use crate::exec::{Answer, Answers};
use std::io::{BufRead, Write};
use std::sync::Mutex;

/// One question at a time: gates that wait together are asked one after another.
static ASKING: Mutex<()> = Mutex::new(());

/// Ask gate `step` on a thread of its own; the live line stays away while it asks.
pub fn ask_in_turn(answers: Answers, step: &str, message: &str, options: &[String], default: &str) {
    progress::prompting(true);
    let (step, message, options, default) = (step.to_string(), message.to_string(), options.to_vec(), default.to_string());
    let asked = std::thread::Builder::new().name("localforge-approval".into()).spawn(move || {
        let selection = {
            let _turn = ASKING.lock().unwrap_or_else(|e| e.into_inner());
            ask(&message, &options, &default)
        };
        progress::prompting(false);
        // Not waiting any more (the run was cancelled meanwhile): nothing to do.
        let _ = answers.answer(&step, Answer::Choice(selection));
    });
    if asked.is_err() {
        progress::prompting(false);
    }
}

/// Prompt on stderr until one of `options` (or its number, or a unique prefix) is typed.
fn ask(message: &str, options: &[String], default: &str) -> String {
    let stdin = std::io::stdin();
    for _ in 0..5 {
        let listed: Vec<String> = options.iter().enumerate().map(|(i, o)| format!("{}) {o}", i + 1)).collect();
        eprint!("\n{message}\n  {}\n  choose [{default}]: ", listed.join("  "));
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            return default.to_string();
        }
        let answer = line.trim().to_ascii_lowercase();
        if answer.is_empty() {
            return default.to_string();
        }
        if let Some(i) = answer.parse::<usize>().ok().filter(|i| (1..=options.len()).contains(i)) {
            return options[i - 1].clone();
        }
        let matches: Vec<&String> = options.iter().filter(|o| o.to_ascii_lowercase().starts_with(&answer)).collect();
        if matches.len() == 1 {
            return matches[0].clone();
        }
        eprintln!("  `{}` is not one of the options", line.trim());
    }
    default.to_string()
}
