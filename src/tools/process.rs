//! Child processes in their own process group, so a timeout or Ctrl-C stops
//! the whole tree (grandchildren included) and nothing is left behind.

use super::sandbox::{confine, Sandbox};
use super::ToolError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
/// Output kept in memory per stream: the last this many bytes. Beyond it the whole stream
/// goes to a file (`ProcessSpec::log`), so memory stays flat whatever a program prints.
pub const TAIL_BYTES: usize = 64 * 1024;

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
    /// Where the whole output goes as it is written: `<log>.stdout.log` and
    /// `<log>.stderr.log` (made when the stream has a first byte). Without it only the
    /// last `TAIL_BYTES` are kept.
    pub log: Option<PathBuf>,
    /// Confine the program with Landlock (Linux): see `Sandbox`.
    pub sandbox: Option<Sandbox>,
}

impl ProcessSpec {
    /// A step's program: its logs in the run folder, one pair per attempt
    /// (`<run_dir>/logs/<step id>.<attempt>`, `crate::store::logs`), and only its cards
    /// visible (`ToolCtx::gpu_env`; a variable the step sets itself is left as it is).
    pub fn for_step(mut self, ctx: &super::ToolCtx) -> ProcessSpec {
        self.log = Some(crate::store::logs::base(&ctx.run_dir, &ctx.step_id, ctx.attempt));
        for (k, v) in &ctx.gpu_env {
            self.env.entry(k.to_string()).or_insert_with(|| v.clone());
        }
        self
    }
}

#[derive(Debug, Clone)]
pub struct ProcessOutput {
    /// All of stdout, or its last `TAIL_BYTES` (from a line start) when it was longer.
    pub stdout: String,
    pub stderr: String,
    /// Exit code; `-signal` when killed by a signal.
    pub code: i32,
    pub stdout_stream: Stream,
    pub stderr_stream: Stream,
}

/// What became of one output stream: its size, and the file holding all of it when the
/// text kept in memory is only its tail.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub bytes: u64,
    pub truncated: bool,
    pub file: Option<PathBuf>,
}

impl ProcessOutput {
    /// All of stdout, read back from its log file when only the tail was kept (for a tool
    /// that parses the output); an error when it was cut and no file holds it.
    pub fn full_stdout(&self) -> Result<String, ToolError> {
        match (&self.stdout_stream.file, self.stdout_stream.truncated) {
            (_, false) => Ok(self.stdout.clone()),
            (Some(f), true) => crate::store::logs::open(f)
                .and_then(|mut file| {
                    let mut b = Vec::new();
                    std::io::Read::read_to_end(&mut file, &mut b).map(|_| b)
                })
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| ToolError::failed(format!("reading the output back from {}: {e}", f.display()))),
            (None, true) => Err(ToolError::failed(format!(
                "the program printed {} bytes; only the last {TAIL_BYTES} were kept",
                self.stdout_stream.bytes
            ))),
        }
    }

    /// `stdout`, `stderr` and, for a stream cut to its tail, `<name>_bytes` and `<name>_file`
    /// (the whole output's path): what a step's outputs and history keep.
    pub fn insert_into(self, outputs: &mut super::JsonMap) {
        use serde_json::Value;
        for (name, text, stream) in [("stdout", self.stdout, self.stdout_stream), ("stderr", self.stderr, self.stderr_stream)] {
            outputs.insert(name.into(), Value::String(text));
            if stream.truncated {
                outputs.insert(format!("{name}_bytes"), Value::from(stream.bytes));
                outputs
                    .insert(format!("{name}_file"), stream.file.map_or(Value::Null, |f| Value::String(f.to_string_lossy().into_owned())));
            }
        }
    }
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
    // Held until the child has started: the child restricts itself with it (pre_exec), and
    // it is closed on exec (Landlock ruleset descriptors are close-on-exec).
    let _ruleset = match &spec.sandbox {
        Some(sb) => confine(&mut cmd, sb, &spec.env)?,
        None => None,
    };
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
    let out = Arc::new(Mutex::new(Capture::new(spec.log.as_ref().map(|l| with_suffix(l, ".stdout.log")))));
    let err = Arc::new(Mutex::new(Capture::new(spec.log.as_ref().map(|l| with_suffix(l, ".stderr.log")))));
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
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().unwrap_or_else(|| -status.signal().unwrap_or(0));
    let (stdout, stdout_stream) = out.lock().expect("output buffer").finish();
    let (stderr, stderr_stream) = err.lock().expect("output buffer").finish();
    Ok(ProcessOutput { stdout, stderr, code, stdout_stream, stderr_stream })
}

fn with_suffix(base: &std::path::Path, suffix: &str) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// One output stream as it is read: the last `TAIL_BYTES` in memory and, once it
/// outgrows them, all of it in a file.
struct Capture {
    tail: std::collections::VecDeque<u8>,
    bytes: u64,
    path: Option<PathBuf>,
    file: Option<std::fs::File>,
    /// Why the file could not be written (the tail is still kept).
    failed: Option<String>,
    /// Taken by `finish`: what a straggling reader pushes later is dropped.
    closed: bool,
}

/// A step's log file, made new where no link leads: a confined program may write in the
/// run folder (its outputs are there), so it could put a link at the log's name, or make
/// the log folder a link, and have this process, which is not confined, write its output
/// through it. The folder is opened without following a link (`O_NOFOLLOW`), whatever is
/// at the file's name is removed, and the file is made there (`O_EXCL`: a link put back
/// meanwhile fails it instead of being followed).
fn create_log(path: &Path) -> std::io::Result<std::fs::File> {
    use std::ffi::CString;
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"));
    };
    std::fs::create_dir_all(dir)?;
    let c = |p: &std::ffi::OsStr| CString::new(p.as_bytes()).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e));
    let (dir_c, name_c) = (c(dir.as_os_str())?, c(name)?);
    // SAFETY: plain system calls on NUL-terminated paths; each descriptor is checked and
    // closed (the folder's) or owned by the returned File (the log's).
    unsafe {
        let dfd = libc::open(dir_c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC);
        if dfd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::unlinkat(dfd, name_c.as_ptr(), 0);
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let fd = libc::openat(dfd, name_c.as_ptr(), flags, 0o644 as libc::c_uint);
        let err = std::io::Error::last_os_error();
        libc::close(dfd);
        if fd < 0 {
            return Err(err);
        }
        Ok(std::fs::File::from_raw_fd(fd))
    }
}

impl Capture {
    fn new(path: Option<PathBuf>) -> Capture {
        Capture { tail: Default::default(), bytes: 0, path, file: None, failed: None, closed: false }
    }

    fn push(&mut self, chunk: &[u8]) {
        use std::io::Write;
        if self.closed {
            return;
        }
        if self.bytes == 0 {
            // The log file from the first byte, written through (not buffered) so a reader
            // (the dashboard's live log) sees each chunk as soon as the program wrote it.
            if let Some(path) = &self.path {
                match create_log(path) {
                    Ok(f) => self.file = Some(f),
                    Err(e) => self.failed = Some(format!("{}: {e}", path.display())),
                }
            }
        }
        self.bytes += chunk.len() as u64;
        if let Some(w) = &mut self.file {
            if let Err(e) = w.write_all(chunk) {
                self.failed = Some(e.to_string());
                self.file = None;
            }
        }
        let keep = &chunk[chunk.len().saturating_sub(TAIL_BYTES)..];
        let over = (self.tail.len() + keep.len()).saturating_sub(TAIL_BYTES);
        self.tail.drain(..over);
        self.tail.extend(keep);
    }

    /// The text kept (cut at a line start when it is a tail) and what became of the stream.
    fn finish(&mut self) -> (String, Stream) {
        self.closed = true;
        let truncated = self.bytes > self.tail.len() as u64;
        let file = if self.file.take().is_some() && self.failed.is_none() { self.path.clone() } else { None };
        let bytes: Vec<u8> = self.tail.iter().copied().collect();
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if truncated {
            // Start at a whole line (and a whole character) when the tail holds one.
            if let Some(nl) = text.find('\n').filter(|&i| i + 1 < text.len()) {
                text.drain(..=nl);
            }
        }
        (text, Stream { bytes: self.bytes, truncated, file })
    }
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

async fn pump<R: tokio::io::AsyncRead + Unpin>(mut r: R, buf: Arc<Mutex<Capture>>) {
    let mut chunk = vec![0u8; 64 * 1024];
    while let Ok(n) = r.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buf.lock().expect("output buffer").push(&chunk[..n]);
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
    use crate::tools::sandbox::landlock_abi;

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
        let out = run_process(&sh("(sleep 60 &) ; echo done"), &CancellationToken::new()).await.unwrap();
        assert_eq!(out.stdout, "done\n");
        assert!(start.elapsed() < Duration::from_secs(30), "waited for the grandchild: {:?}", start.elapsed());
    }

    #[tokio::test]
    async fn big_output_keeps_a_tail_in_memory_and_all_of_it_in_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ProcessSpec { log: Some(dir.path().join("logs").join("step")), ..sh("seq 1 200000; echo small >&2") };
        let out = run_process(&spec, &CancellationToken::new()).await.unwrap();
        let full: String = (1..=200000).map(|i| format!("{i}\n")).collect();
        assert!(out.stdout_stream.truncated && out.stdout_stream.bytes == full.len() as u64);
        assert!(out.stdout.len() <= TAIL_BYTES && out.stdout.ends_with("199999\n200000\n"));
        assert!(full.ends_with(&out.stdout) && full[..full.len() - out.stdout.len()].ends_with('\n'), "the tail starts at a line");
        let file = out.stdout_stream.file.clone().unwrap();
        assert_eq!(file, dir.path().join("logs").join("step.stdout.log"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), full);
        assert_eq!(out.full_stdout().unwrap(), full);
        assert_eq!((out.stderr.as_str(), out.stderr_stream.truncated), ("small\n", false));
        let err_file = dir.path().join("logs").join("step.stderr.log");
        assert_eq!(std::fs::read_to_string(&err_file).unwrap(), "small\n", "a small stream is in its file too");
        let mut outputs = super::super::JsonMap::new();
        out.insert_into(&mut outputs);
        assert!(!outputs.contains_key("stderr_file") && outputs.contains_key("stdout_file"), "outputs name the file only for a cut stream");
    }

    #[tokio::test]
    async fn a_link_at_the_logs_name_or_for_the_log_folder_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(victim.join("bashrc"), "original\n").unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        // Planted by the program itself, after it started, before its first byte.
        let plant = format!("ln -sf {} {}/step.stdout.log; echo planted", victim.join("bashrc").display(), logs.display());
        let spec = ProcessSpec { log: Some(logs.join("step")), ..sh(&plant) };
        let out = run_process(&spec, &CancellationToken::new()).await.unwrap();
        assert_eq!(std::fs::read_to_string(victim.join("bashrc")).unwrap(), "original\n");
        let log = logs.join("step.stdout.log");
        assert!(!log.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!((std::fs::read_to_string(&log).unwrap().as_str(), out.stdout.as_str()), ("planted\n", "planted\n"));

        let linked = dir.path().join("run");
        std::fs::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(&victim, linked.join("logs")).unwrap();
        let spec = ProcessSpec { log: Some(linked.join("logs").join("step")), ..sh("echo through") };
        let out = run_process(&spec, &CancellationToken::new()).await.unwrap();
        assert_eq!(out.stdout, "through\n", "the output is still kept in memory");
        assert!(out.stdout_stream.file.is_none() && !victim.join("step.stdout.log").exists(), "nothing made through the linked folder");

        // Swapped for a link after it was written: not read back through it either (the
        // step's outputs, the history, the dashboard read logs this way).
        let spec = ProcessSpec { log: Some(logs.join("big")), ..sh("seq 1 100000") };
        let out = run_process(&spec, &CancellationToken::new()).await.unwrap();
        let log = logs.join("big.stdout.log");
        std::fs::remove_file(&log).unwrap();
        std::os::unix::fs::symlink(victim.join("bashrc"), &log).unwrap();
        assert!(out.full_stdout().is_err());
        assert!(crate::store::logs::read(&log, 0, 1000).is_err() && crate::store::logs::search(&log, "original", 10).is_err());
    }

    #[tokio::test]
    async fn without_a_log_file_only_the_tail_is_kept() {
        let out = run_process(&sh("seq 1 100000"), &CancellationToken::new()).await.unwrap();
        assert!(out.stdout_stream.truncated && out.stdout_stream.file.is_none() && out.stdout.len() <= TAIL_BYTES);
        assert!(out.full_stdout().is_err());
    }

    #[tokio::test]
    async fn a_confined_program_writes_only_where_allowed_and_opens_no_tcp() {
        if landlock_abi() < 1 {
            eprintln!("skipped: this kernel has no Landlock");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (inside, outside) = (dir.path().join("out"), dir.path().join("elsewhere"));
        std::fs::create_dir(&outside).unwrap();
        let sandbox = Some(Sandbox { write: vec![inside.clone()], ..Default::default() });
        let run = |script: String, sandbox: Option<Sandbox>| async move {
            run_process(&ProcessSpec { sandbox, ..sh(&script) }, &CancellationToken::new()).await.unwrap()
        };
        let out = run(format!("echo x > {0}/a && echo y > {1}/b", inside.display(), outside.display()), sandbox.clone()).await;
        assert_ne!(out.code, 0, "{out:?}");
        assert!(out.stderr.contains("ermission denied"), "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(inside.join("a")).unwrap(), "x\n", "the missing folder was made, and written");
        assert!(!outside.join("b").exists());
        // Reading and running anything still works, and so does `> /dev/null`.
        let out = run(format!("cat {}/a > /dev/null && ls / > /dev/null", inside.display()), sandbox.clone()).await;
        assert_eq!(out.code, 0, "{out:?}");
        // Its temporary files go to its first folder: /tmp is not writable.
        let out = run("mktemp".into(), sandbox.clone()).await;
        assert!(out.code == 0 && out.stdout.starts_with(&inside.display().to_string()), "{out:?}");
        if landlock_abi() >= 4 {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let connect = format!("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=5)'");
            if on_path("python3") {
                let out = run(connect.clone(), sandbox.clone()).await;
                assert_ne!(out.code, 0, "connected from the sandbox: {out:?}");
                assert!(out.stderr.contains("PermissionError") || out.stderr.contains("ermission"), "{}", out.stderr);
                let open = Some(Sandbox { write: vec![inside.clone()], network: true, ..Default::default() });
                let out = run(connect, open).await;
                assert_eq!(out.code, 0, "`network: true` connects: {out:?}");
            } else {
                eprintln!("skipped the TCP check: no python3");
            }
        } else {
            eprintln!("skipped the TCP check: Landlock ABI {} < 4", landlock_abi());
        }
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
