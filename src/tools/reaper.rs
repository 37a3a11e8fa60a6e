//! No orphans, even after `kill -9`: a watchdog `sh` process reads the ids of
//! the process groups LocalForge starts (`+PGID` / `-PGID` lines) from a pipe.
//! When LocalForge dies, however it dies, the kernel closes the pipe; the
//! watchdog reads end-of-file and kills every group still registered.
//!
//! Hand-written rather than `PR_SET_PDEATHSIG`: that signal reaches only the
//! direct child (not a script's grandchildren), and fires when the *thread*
//! that spawned it exits, which in a thread pool is not when LocalForge dies.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

const WATCHDOG: &str = r#"trap '' INT TERM HUP
g=' '
while IFS= read -r l; do
  case $l in
    +*) g="$g${l#+} " ;;
    -*) x=${l#-}; case $g in *" $x "*) g="${g%%" $x "*} ${g#*" $x "}" ;; esac ;;
  esac
done
for x in $g; do kill -9 -"$x" 2>/dev/null; done"#;

fn pipe() -> &'static Mutex<Option<ChildStdin>> {
    static PIPE: OnceLock<Mutex<Option<ChildStdin>>> = OnceLock::new();
    PIPE.get_or_init(|| {
        use std::os::unix::process::CommandExt;
        let child = Command::new("sh")
            .args(["-c", WATCHDOG])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: Ctrl-C at the terminal stops the steps through LocalForge, not the watchdog.
            .process_group(0)
            .spawn();
        Mutex::new(child.ok().and_then(|mut c| {
            let stdin = c.stdin.take();
            // Reap it when it exits (only after LocalForge is gone, or if it dies).
            std::thread::Builder::new().name("localforge-reaper".into()).spawn(move || c.wait()).ok();
            stdin
        }))
    })
}

fn send(line: String) {
    if let Ok(mut p) = pipe().lock() {
        if let Some(w) = p.as_mut() {
            if w.write_all(line.as_bytes()).and_then(|_| w.flush()).is_err() {
                *p = None; // the watchdog is gone; runs go on without it
            }
        }
    }
}

/// Watch process group `pgid` until `release`.
pub fn watch(pgid: i32) {
    if pgid > 0 {
        send(format!("+{pgid}\n"));
    }
}

pub fn release(pgid: i32) {
    if pgid > 0 {
        send(format!("-{pgid}\n"));
    }
}
