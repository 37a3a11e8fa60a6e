//! What a step's program printed, kept per attempt in the run folder beside the history:
//! `logs/<step>.<attempt>.stdout.log` and `.stderr.log`, written as the program writes
//! them (`tools::process`), kept whatever the attempt's end. Read from any byte, from the
//! end without loading the file (a 300 MB log opens at its tail), or searched line by line.

use serde::Serialize;
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Which of a program's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Stdout,
    Stderr,
}

impl Channel {
    pub fn parse(word: &str) -> Option<Channel> {
        match word {
            "stdout" => Some(Channel::Stdout),
            "stderr" => Some(Channel::Stderr),
            _ => None,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Channel::Stdout => ".stdout.log",
            Channel::Stderr => ".stderr.log",
        }
    }
}

/// `<run_dir>/logs/<step>.<attempt>` (`<step>` alone for attempt 0: a call outside a run's
/// attempts), with characters a file name should not hold in a record id made `_`.
pub fn base(run_dir: &Path, step_id: &str, attempt: u32) -> PathBuf {
    let mut name: String = step_id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if attempt > 0 {
        name.push_str(&format!(".{attempt}"));
    }
    run_dir.join("logs").join(name)
}

/// The file holding `channel` of a step's attempt.
pub fn path(run_dir: &Path, step_id: &str, attempt: u32, channel: Channel) -> PathBuf {
    let mut p = base(run_dir, step_id, attempt).into_os_string();
    p.push(channel.suffix());
    PathBuf::from(p)
}

/// A piece of a log: its text, the bytes `start..end` it covers, and the file's size now
/// (a running step's log grows: read on from `end`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chunk {
    pub text: String,
    pub start: u64,
    pub end: u64,
    pub size: u64,
}

/// A step's log file for reading, never through a link at its name: the step's program
/// may write in the run folder, so it could replace its log with a link to a file of the
/// user's, which the history, the dashboard, MCP and the step's own outputs would then show.
pub fn open(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// Up to `max` bytes of the log at `path` from byte `from`; a negative `from` counts back
/// from the end and starts at the next whole line. A piece cut short ends at a line end, so
/// the next read (from `end`) starts the next line; a line longer than `max` is cut as it
/// is, and a tail inside one line longer than it is that line's end. A log not written
/// (yet) reads as empty.
pub fn read(path: &Path, from: i64, max: u64) -> std::io::Result<Chunk> {
    let mut f = match open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Chunk { text: String::new(), start: 0, end: 0, size: 0 }),
        Err(e) => return Err(e),
    };
    let size = f.metadata()?.len();
    let mut start = match from {
        f if f < 0 => size.saturating_sub(f.unsigned_abs()),
        f => (f as u64).min(size),
    };
    let mut bytes = Vec::new();
    if from < 0 && start > 0 {
        // Back from the end: skip to the first whole line (the byte before `start` may end one).
        f.seek(SeekFrom::Start(start - 1))?;
        (&mut f).take(max.saturating_add(1)).read_to_end(&mut bytes)?;
        // A window inside one line longer than it keeps that line's end, cut.
        let skip = bytes.iter().position(|&b| b == b'\n').map(|i| i + 1).filter(|&i| i < bytes.len()).unwrap_or(1);
        bytes.drain(..skip);
        start = start - 1 + skip as u64;
    } else {
        f.seek(SeekFrom::Start(start))?;
        (&mut f).take(max).read_to_end(&mut bytes)?;
    }
    bytes.truncate(max as usize);
    if start + (bytes.len() as u64) < size {
        if let Some(nl) = bytes.iter().rposition(|&b| b == b'\n') {
            bytes.truncate(nl + 1);
        }
    }
    // A piece may end inside a character: keep that character's bytes for the next read.
    let valid = match std::str::from_utf8(&bytes) {
        Ok(_) => bytes.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => bytes.len(),
    };
    bytes.truncate(valid);
    let end = start + bytes.len() as u64;
    Ok(Chunk { text: String::from_utf8_lossy(&bytes).into_owned(), start, end, size })
}

/// A line of a log that holds what was searched for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// 1-based.
    pub line: u64,
    /// Where the line starts, in bytes (read from there to see what follows).
    pub offset: u64,
    pub text: String,
}

/// Lines of the log at `path` holding `needle` (any case), in order, at most `limit`;
/// the file is read as a stream, so any size can be searched.
pub fn search(path: &Path, needle: &str, limit: usize) -> std::io::Result<Vec<Hit>> {
    let f = match open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let needle = needle.to_lowercase();
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, f);
    let (mut hits, mut line, mut offset, mut buf) = (Vec::new(), 0u64, 0u64, Vec::new());
    while hits.len() < limit {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line += 1;
        let text = String::from_utf8_lossy(&buf);
        if text.to_lowercase().contains(&needle) {
            hits.push(Hit { line, offset, text: text.trim_end_matches(['\n', '\r']).to_string() });
        }
        offset += n as u64;
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_per_attempt_and_safe() {
        let run = Path::new("/r");
        assert_eq!(path(run, "make", 2, Channel::Stdout), Path::new("/r/logs/make.2.stdout.log"));
        assert_eq!(path(run, "b[3].sub", 1, Channel::Stderr), Path::new("/r/logs/b_3_.sub.1.stderr.log"));
        assert_eq!(base(run, "make", 0), Path::new("/r/logs/make"));
    }

    #[test]
    fn reads_from_a_byte_in_whole_lines_and_from_the_end_at_a_line_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, "one\ntwo\nthree\nfour\n").unwrap();
        let first = read(&p, 0, 9).unwrap();
        assert_eq!((first.text.as_str(), first.start, first.end, first.size), ("one\ntwo\n", 0, 8, 19));
        let next = read(&p, first.end as i64, 1000).unwrap();
        assert_eq!(next.text, "three\nfour\n");
        let tail = read(&p, -7, 1000).unwrap();
        assert_eq!((tail.text.as_str(), tail.start), ("four\n", 14), "the cut line `ree` is left out");
        assert_eq!(read(&p, -5, 1000).unwrap().text, "four\n", "a start just after a newline keeps its line");
        assert_eq!(read(&p, -1000, 1000).unwrap().text, "one\ntwo\nthree\nfour\n");
        assert_eq!(read(&dir.path().join("none.log"), -10, 10).unwrap().size, 0, "not written yet: empty");
    }

    #[test]
    fn a_cut_inside_a_character_leaves_it_for_the_next_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, "ééé").unwrap();
        let a = read(&p, 0, 3).unwrap();
        assert_eq!((a.text.as_str(), a.end), ("é", 2));
        assert_eq!(read(&p, a.end as i64, 10).unwrap().text, "éé");
    }

    #[test]
    fn the_tail_of_a_big_log_is_read_without_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.log");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(50_000_000).unwrap(); // 50 MB of NULs, sparse: nothing to read but the end
        std::fs::OpenOptions::new().append(true).open(&p).and_then(|mut f| std::io::Write::write_all(&mut f, b"\nlast line\n")).unwrap();
        let tail = read(&p, -20, 64 * 1024).unwrap();
        assert_eq!(tail.text, "last line\n");
        let long = dir.path().join("long.log");
        std::fs::write(&long, format!("{}the end\n", "x".repeat(100))).unwrap();
        assert_eq!(read(&long, -20, 64).unwrap().text, "xxxxxxxxxxxxthe end\n", "inside one long line: its end, cut");
    }

    #[test]
    fn search_finds_lines_in_any_case_with_their_numbers_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, "ok\nERROR one\nok\nan error two\n").unwrap();
        let hits = search(&p, "error", 10).unwrap();
        assert_eq!(
            hits.iter().map(|h| (h.line, h.offset, h.text.as_str())).collect::<Vec<_>>(),
            [(2, 3, "ERROR one"), (4, 16, "an error two")]
        );
        assert_eq!(search(&p, "error", 1).unwrap().len(), 1);
    }
}
