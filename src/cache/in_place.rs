//! A bound on what a cache probe may do on the async worker that asked for it. Handing a
//! probe of a few system calls to a blocking thread and back costs more than the probe
//! (~37 µs, two context switches: docs/benchmarks.md), but what a probe touches is set by
//! the step's inputs — a text of ten thousand words, a 4 GB video, a folder — and a worker
//! stalled on that stalls every other step it serves. So a probe first runs in place
//! against a bounded `InPlace`; the moment it would pass the bound it stops with
//! `Uncacheable::Deferred`, before anything it did could be seen, and runs again whole on
//! a blocking thread against an unbounded one.

use super::Uncacheable;
use std::cell::Cell;

/// Most paths looked up in place (a failed `statx` costs ~2 µs on these VMs).
const PATHS: usize = 32;
/// Most bytes read, hashed or written in place (SHA-256 of 64 KiB takes ~50–150 µs).
const BYTES: u64 = 64 * 1024;

/// What is left of the bound (`None`: no bound, on a blocking thread).
pub struct InPlace {
    left: Option<(Cell<usize>, Cell<u64>)>,
}

impl InPlace {
    /// The bound a probe on an async worker keeps to.
    pub fn bounded() -> InPlace {
        InPlace { left: Some((Cell::new(PATHS), Cell::new(BYTES))) }
    }

    /// No bound: the probe runs on a blocking thread.
    pub fn unbounded() -> InPlace {
        InPlace { left: None }
    }

    /// `n` more paths to look up.
    pub fn paths(&self, n: usize) -> Result<(), Uncacheable> {
        take(self.left.as_ref().map(|(paths, _)| paths), n)
    }

    /// `n` more bytes to read or write.
    pub fn bytes(&self, n: u64) -> Result<(), Uncacheable> {
        take(self.left.as_ref().map(|(_, bytes)| bytes), n)
    }

    /// Work whose size is not known before it is done (a folder's files, a pattern's
    /// matches, a program on `PATH`): only off the async worker.
    pub fn unsized_work(&self) -> Result<(), Uncacheable> {
        match self.left {
            Some(_) => Err(Uncacheable::Deferred),
            None => Ok(()),
        }
    }
}

/// Take `n` from what is `left` of one part of the bound (`None`: unbounded).
fn take<T: Copy + PartialOrd + std::ops::Sub<Output = T>>(left: Option<&Cell<T>>, n: T) -> Result<(), Uncacheable> {
    match left {
        Some(left) if left.get() < n => Err(Uncacheable::Deferred),
        Some(left) => {
            left.set(left.get() - n);
            Ok(())
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_probe_stops_at_its_bound_and_an_unbounded_one_never_does() {
        let b = InPlace::bounded();
        assert_eq!(b.paths(PATHS), Ok(()));
        assert_eq!(b.paths(1), Err(Uncacheable::Deferred), "the 33rd path");
        assert_eq!(b.bytes(BYTES - 1), Ok(()));
        assert_eq!(b.bytes(2), Err(Uncacheable::Deferred));
        assert_eq!(b.unsized_work(), Err(Uncacheable::Deferred));
        let u = InPlace::unbounded();
        assert_eq!((u.paths(usize::MAX), u.bytes(u64::MAX), u.unsized_work()), (Ok(()), Ok(()), Ok(())));
    }
}
