//! Child processes in their own process group, so a timeout or Ctrl-C stops
//! the whole tree (grandchildren included) and nothing is left behind.

use super::ToolError;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// Time between SIGTERM and SIGKILL when stopping a process group.
const GRACE: Duration = Duration::from_secs(3);
/// How long output is still read after the child exits (a grandchild may hold the pipe).
const DRAIN: Duration = Duration::from_millis(300);

/// A program to run: argv, never a shell string.
#[derive(Debug, Clone, Default)]
pub struct ProcessSpec {
    pub argv: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub stdin: Option<String>,
    /// Leave what the program started in the background running when it exits
    /// (a server a step starts on purpose). Otherwise the rest of its process group
    /// is stopped when it exits, as CI runners do at the end of a job.
    pub detach: bool,
}

#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub stdout: String,
    pub stderr: String,
    /// Exit code; `-signal` when killed by a signal.
    pub code: i32,
}

/// Kills the process group when dropped, unless it was reaped normally.
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, libc::SIGKILL);
        }
        super::reaper::release(self.pgid);
    }
}

fn signal_group(pgid: i32, sig: i32) {
    if pgid > 0 {
        // SAFETY: killpg only sends a signal; a stale group id fails with ESRCH.
        unsafe {
            libc::killpg(pgid, sig);
        }
    }
}

/// Whether `program` can be started: a path to a file, or a name found on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").map_or(program.contains('/') && std::path::Path::new(program).is_file(), |p| which_in(program, &p).is_some())
}

/// Where `program` is found on `path_var` (a `PATH` value); a name with a `/` is taken as a path.
pub fn which_in(program: &str, path_var: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &std::path::Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        let p = std::path::PathBuf::from(program);
        return runnable(&p).then_some(p);
    }
    std::env::split_paths(path_var).map(|d| d.join(program)).find(|p| runnable(p))
}

/// Run to completion, or stop the whole process group when `cancel` fires.
pub async fn run_process(spec: &ProcessSpec, cancel: &CancellationToken) -> Result<ProcessOutput, ToolError> {
    let (program, args) = spec.argv.split_first().ok_or_else(|| ToolError::failed("empty command"))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(&spec.env)
        .stdin(if spec.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    let mut child = cmd.spawn().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound { " (is it installed and on PATH?)" } else { "" };
        ToolError::failed(format!("cannot start `{program}`: {e}{hint}"))
    })?;
    let mut guard = GroupGuard { pgid: child.id().map(|p| p as i32).unwrap_or(0), armed: true };
    super::reaper::watch(guard.pgid);
    if let (Some(text), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = stdin.write_all(text.as_bytes()).await;
        });
    }
    let out = Arc::new(Mutex::new(Vec::new()));
    let err = Arc::new(Mutex::new(Vec::new()));
    let readers =
        [child.stdout.take().map(|s| tokio::spawn(pump(s, out.clone()))), child.stderr.take().map(|s| tokio::spawn(pump(s, err.clone())))];
    let status = tokio::select! {
        status = child.wait() => status.map_err(|e| ToolError::failed(format!("waiting for `{program}`: {e}")))?,
        _ = cancel.cancelled() => {
            signal_group(guard.pgid, libc::SIGTERM);
            if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
                signal_group(guard.pgid, libc::SIGKILL);
                let _ = child.wait().await;
            }
            // Members of the group that outlived the leader go too.
            signal_group(guard.pgid, libc::SIGKILL);
            guard.armed = false;
            return Err(ToolError::Cancelled);
        }
    };
    guard.armed = false;
    if spec.detach {
        super::reaper::release(guard.pgid);
    } else {
        stop_leftovers(guard.pgid);
    }
    for r in readers.into_iter().flatten() {
        if tokio::time::timeout(DRAIN, r).await.is_err() {
            break;
        }
    }
    let text = |b: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&b.lock().expect("output buffer")).into_owned();
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().unwrap_or_else(|| -status.signal().unwrap_or(0));
    Ok(ProcessOutput { stdout: text(&out), stderr: text(&err), code })
}

/// What the program left running in its group (`sleep 300 &`): SIGTERM now, SIGKILL
/// after the grace period for what ignored it. The group's id cannot be reused while
/// any member lives, so the late signal reaches only stragglers of this step.
fn stop_leftovers(pgid: i32) {
    // SAFETY: signal 0 only checks whether the group still has members.
    if pgid <= 0 || unsafe { libc::killpg(pgid, 0) } != 0 {
        return;
    }
    signal_group(pgid, libc::SIGTERM);
    tokio::spawn(async move {
        tokio::time::sleep(GRACE).await;
        // SAFETY: as above.
        if unsafe { libc::killpg(pgid, 0) } == 0 {
            signal_group(pgid, libc::SIGKILL);
        }
    });
}

async fn pump<R: tokio::io::AsyncRead + Unpin>(mut r: R, buf: Arc<Mutex<Vec<u8>>>) {
    let mut chunk = [0u8; 8192];
    while let Ok(n) = r.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buf.lock().expect("output buffer").extend_from_slice(&chunk[..n]);
    }
}

/// The last lines of `text`, at most `max_chars` characters.
pub fn tail(text: &str, lines: usize, max_chars: usize) -> String {
    let trimmed = text.trim_end();
    let start = trimmed.lines().rev().take(lines).map(|l| l.len() + 1).sum::<usize>();
    let mut t = &trimmed[trimmed.len().saturating_sub(start)..];
    if t.len() > max_chars {
        let mut cut = t.len() - max_chars;
        while !t.is_char_boundary(cut) {
            cut += 1;
        }
        t = &t[cut..];
    }
    t.trim_start_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> ProcessSpec {
        ProcessSpec { argv: vec!["sh".into(), "-c".into(), script.into()], ..Default::default() }
    }

    #[tokio::test]
    async fn captures_output_and_exit_code() {
        let out = run_process(&sh("echo out; echo err >&2; exit 3"), &CancellationToken::new()).await.unwrap();
        assert_eq!((out.stdout.as_str(), out.stderr.as_str(), out.code), ("out\n", "err\n", 3));
    }

    #[tokio::test]
    async fn cancel_kills_grandchildren() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let token = CancellationToken::new();
        let t2 = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            t2.cancel();
        });
        let r = run_process(&sh(&script), &token).await;
        assert!(matches!(r, Err(ToolError::Cancelled)));
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!alive(pid), "grandchild {pid} survived");
    }

    #[tokio::test]
    async fn what_a_program_leaves_running_is_stopped_unless_detached() {
        let dir = tempfile::tempdir().unwrap();
        for detach in [false, true] {
            let pidfile = dir.path().join(format!("pid-{detach}"));
            let spec = ProcessSpec { detach, ..sh(&format!("sleep 300 > /dev/null 2>&1 & echo $! > {}", pidfile.display())) };
            let out = run_process(&spec, &CancellationToken::new()).await.unwrap();
            assert_eq!(out.code, 0);
            let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(alive(pid), detach, "detach: {detach}");
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    #[tokio::test]
    async fn a_grandchild_holding_the_pipe_does_not_hang_the_call() {
        let start = std::time::Instant::now();
        let out = run_process(&sh("(sleep 5 &) ; echo done"), &CancellationToken::new()).await.unwrap();
        assert_eq!(out.stdout, "done\n");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    /// Running and not a zombie waiting to be reaped.
    pub fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat.rsplit(") ").next().is_some_and(|rest| !rest.starts_with('Z')),
            Err(_) => false,
        }
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2, 100), "b\nc");
        assert_eq!(tail("abcdef", 5, 3), "def");
    }
}
