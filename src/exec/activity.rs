//! The tool calls of a run running now, for the step cache (docs/cache.md): what ran
//! beside each call, what finished calls named in the run folder, and the cache entries
//! held back until every call that ran beside their step has finished.

use crate::cache::capture::Made;
use crate::cache::snapshot::Snapshot;
use crate::tools::JsonMap;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The tool calls running now and what ran beside each; what finished calls named in the
/// run folder; and the entries waiting to be written until every call that ran beside
/// their step has finished and said which of the files changed meanwhile are its own.
#[derive(Default)]
pub(super) struct Activity {
    state: Mutex<State>,
    next: AtomicU64,
    /// Bumped whenever a call begins or ends: a listing of the run folder taken at one
    /// epoch still holds at the next when the only call begun meanwhile is the next step's.
    epoch: AtomicU64,
    /// The last listing a step took after it ran, with the epoch it was taken at.
    listing: Mutex<Option<(u64, Arc<Snapshot>)>>,
}

#[derive(Default)]
struct State {
    running: HashMap<u64, HashSet<u64>>,
    claims: HashMap<u64, Vec<String>>,
    pending: Vec<Pending>,
}

/// A step's entry, its files already in the store, waiting on the calls that ran beside it.
pub(super) struct Pending {
    pub(super) cache: Arc<crate::cache::Cache>,
    pub(super) key: String,
    pub(super) ids: (String, String, String, String),
    pub(super) outputs: JsonMap,
    pub(super) run_dir: std::path::PathBuf,
    pub(super) made: Made,
    pub(super) files: Vec<crate::cache::store::EntryFile>,
    /// Files a hit could not give back (`Store::put_files`): the step is not stored if one
    /// of them is its own.
    pub(super) refused: crate::cache::store::Refused,
    /// The paths in the run folder the step names (inputs, outputs, what it read).
    pub(super) own: Vec<String>,
    pub(super) waits: HashSet<u64>,
    /// Seconds the step took.
    pub(super) took_s: f64,
}

/// One call, counted as running until `finish`ed or dropped.
pub(super) struct Running<'a> {
    activity: &'a Activity,
    id: u64,
    /// `finish` has ended it; otherwise dropping it does, naming nothing.
    ended: bool,
    /// The run folder's listing from before this call, when the last one taken still holds.
    pub listing: Option<Arc<Snapshot>>,
}

impl Activity {
    pub fn begin(&self) -> Running<'_> {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().expect("activity");
        let beside: HashSet<u64> = state.running.keys().copied().collect();
        for others in state.running.values_mut() {
            others.insert(id);
        }
        let alone = beside.is_empty();
        state.running.insert(id, beside);
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst);
        let listing = match &*self.listing.lock().expect("listing") {
            Some((at, l)) if alone && *at == epoch => Some(l.clone()),
            _ => None,
        };
        Running { activity: self, id, ended: false, listing }
    }

    /// Keep `listing` for the next call, if nothing began or ended since `epoch`.
    pub fn listed(&self, epoch: u64, listing: Arc<Snapshot>) {
        let mut slot = self.listing.lock().expect("listing");
        if self.epoch() == epoch {
            *slot = Some((epoch, listing));
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn end(&self, id: u64, claims: Vec<String>) -> HashSet<u64> {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().expect("activity");
        state.claims.insert(id, claims);
        state.running.remove(&id).unwrap_or_default()
    }

    /// Write every waiting entry whose neighbours have all finished, with what they name
    /// left out (`capture::attribute`). Returns `(step, why it was not stored)`.
    pub fn resolve(&self) -> Vec<(String, String)> {
        let ready: Vec<(Pending, Vec<String>)> = {
            let mut state = self.state.lock().expect("activity");
            let (ready, waiting): (Vec<Pending>, Vec<Pending>) =
                std::mem::take(&mut state.pending).into_iter().partition(|p| p.waits.iter().all(|w| state.claims.contains_key(w)));
            state.pending = waiting;
            let ready = ready
                .into_iter()
                .map(|p| {
                    let theirs = p.waits.iter().flat_map(|w| state.claims[w].iter().cloned()).collect();
                    (p, theirs)
                })
                .collect();
            ready
        };
        let mut notes = Vec::new();
        for (p, theirs) in ready {
            let made = match crate::cache::capture::attribute(p.made, &p.own, &theirs) {
                Ok(m) => m,
                Err(why) => {
                    notes.push((p.ids.1.clone(), why.to_string()));
                    continue;
                }
            };
            if let Some((_, why)) = p.refused.iter().find(|(rel, _)| made.files.contains(rel)) {
                notes.push((p.ids.1.clone(), why.to_string()));
                continue;
            }
            let ids = (p.ids.0.as_str(), p.ids.1.as_str(), p.ids.2.as_str(), p.ids.3.as_str());
            match p.cache.store.put_entry(&p.key, ids, &p.outputs, &p.run_dir, &made, (p.files, Some(p.took_s))) {
                Ok(()) => p.cache.stored.store(true, Ordering::SeqCst),
                Err(e) => notes.push((p.ids.1.clone(), format!("could not store it: {e}"))),
            }
        }
        notes
    }

    pub(super) fn defer(&self, p: Pending) {
        self.state.lock().expect("activity").pending.push(p);
    }
}

impl Running<'_> {
    /// The call ended, naming these paths in the run folder: the calls that ran beside it.
    pub fn finish(mut self, claims: Vec<String>) -> HashSet<u64> {
        self.ended = true;
        self.activity.end(self.id, claims)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.activity.end(self.id, Vec::new());
        }
    }
}
