//! The step cache in the step loop (docs/cache.md): a step's key, its lookup and restore,
//! what it made while it ran, and the digests each finished step hands to the keys of the
//! steps after it (a Merkle chain: a step that ran again with a new result changes the key
//! of every step after it, whatever those read of it).

use super::activity::Pending;
use super::fail::{gate_fails, Fail};
use super::state::Run;
use crate::cache::in_place::InPlace;
use crate::cache::key::{digest, Context, KeyParts};
use crate::cache::snapshot::{self, Snapshot};
use crate::cache::Uncacheable;
use crate::digest::sha256_hex;
use crate::recipe::{Step, StepKind};
use crate::store::now;
use crate::tools::JsonMap;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// What the cache said about an attempt.
pub(super) enum Probe {
    /// Not cached (off, not deterministic, a key that could not be made).
    Off,
    /// Served: its files (`restored`, relative to the run folder) are back there.
    Hit { key: String, outputs: JsonMap, from: String, restored: Vec<String> },
    /// To run, then store: the key, the hashes of what it reads, the run folder before it
    /// (`None`: the tool changes nothing there but what its outputs name), and whether its
    /// files may be kept with the run folder written `{run_dir}` (`Tool::relocatable`); and
    /// what the tool said identifies its model, for its outputs to confirm (`Tool::confirms`).
    Miss { key: String, read: HashMap<String, String>, before: Option<Arc<Snapshot>>, relocatable: bool, identity: Option<Value> },
}

/// How what an uncached step did to the run folder is seen, for the digest it hands on: a
/// step after it must not be served a result made from what an earlier run of it wrote.
pub(super) enum Effects {
    /// The tool changes nothing but what its outputs name: their content says it.
    Outputs,
    /// The run folder as it was before the step.
    Listed(Arc<Snapshot>),
    /// The run folder could not be listed: what the step does cannot be known.
    Unknown,
}

impl Probe {
    pub fn key(&self) -> Option<&str> {
        match self {
            Probe::Off => None,
            Probe::Hit { key, .. } | Probe::Miss { key, .. } => Some(key),
        }
    }
}

impl Run {
    /// `(step, digest)` of what this record comes after: the steps it depends on (those
    /// of its `batch.foreach` step, for a sub-step, and the earlier sub-steps of its item),
    /// and the refinement steps run before this attempt.
    pub(super) fn upstream_of(&self, record_id: &str) -> Vec<(String, String)> {
        let top = top_of(record_id);
        let digests = self.digests.lock().expect("digests");
        let of = |id: &str| -> String {
            digests.get(id).cloned().unwrap_or_else(|| {
                // Not run in this process (kept from before a resume, skipped): what it gave.
                let entry = self.steps.get(id).map(|v| v.to_string()).unwrap_or_default();
                sha256_hex(entry.as_bytes())
            })
        };
        let mut out: Vec<(String, String)> = self.upstream.get(top).into_iter().flatten().map(|d| (d.clone(), of(d))).collect();
        if let Some(item) = item_of(record_id) {
            out.extend(digests.iter().filter(|(k, _)| k.starts_with(item) && k.as_str() != record_id).map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(refined) = digests.get(&format!("{record_id}@refined")) {
            out.push(("@refined".into(), refined.clone()));
        }
        out
    }

    /// What a `batch.foreach` step's items handed on (each sub-step's digest, in order):
    /// part of the batch's own digest, so that a step after it is keyed by what its items
    /// did to the run folder, not by the batch's outputs alone.
    pub(super) fn items_digest(&self, record_id: &str) -> String {
        let prefix = format!("{record_id}[");
        let digests = self.digests.lock().expect("digests");
        let mut items: Vec<(&String, &String)> = digests.iter().filter(|(k, _)| k.starts_with(&prefix)).collect();
        items.sort();
        let text: String = items.iter().map(|(k, v)| format!("{k}\0{v}\0")).collect();
        sha256_hex(text.as_bytes())
    }

    /// A step kept from before a resume did its work in another process, whose effects on
    /// the run folder nothing here saw: it hands on a digest of this run alone, so the
    /// steps after it run rather than be served what another run's files made.
    pub(super) fn kept(&self, record_id: &str) {
        let d = sha256_hex(format!("kept before a resume\0{}\0{record_id}", self.run_id).as_bytes());
        self.digests.lock().expect("digests").insert(record_id.to_string(), d);
    }

    pub(super) fn set_digest(&self, record_id: &str, key: Option<&str>, outputs: &JsonMap, upstream: &[(String, String)]) {
        let d = digest(key, outputs, &self.run_dir, upstream);
        self.digests.lock().expect("digests").insert(record_id.to_string(), d);
    }

    /// Whether an uncached step's effects must be seen: the cache is on and something comes
    /// after it (a step that depends on it, a later sub-step of its item, the next attempt
    /// of the step it refines).
    pub(super) fn feeds(&self, record_id: &str) -> bool {
        let top = top_of(record_id);
        self.cache.is_some() && (record_id != top || self.feeds.contains(top))
    }

    /// Before an uncached step that `feeds` others runs: how its effects will be seen.
    pub(super) async fn effects_before(&self, tool: &str, action: &str, listing: Option<Arc<Snapshot>>) -> Effects {
        if self.tools.get(tool).is_some_and(|t| t.writes_only_outputs(action)) {
            return Effects::Outputs;
        }
        let run_dir = self.run_dir.clone();
        let taken = match listing {
            Some(l) => Ok(l),
            None => tokio::task::spawn_blocking(move || snapshot::take(&run_dir).map(Arc::new))
                .await
                .unwrap_or_else(|e| Err(Uncacheable::Interrupted(e.to_string()))),
        };
        match taken {
            Ok(l) => Effects::Listed(l),
            Err(_) => Effects::Unknown,
        }
    }

    /// What an uncached step made, changed and removed in the run folder, by content: part
    /// of its digest. Unknowable (a listing that failed) is a value no other run has.
    pub(super) async fn effects_digest(&self, effects: Effects, outputs: &JsonMap) -> String {
        let (run_dir, outputs) = (self.run_dir.clone(), outputs.clone());
        let epoch = self.activity.epoch();
        let done = tokio::task::spawn_blocking(move || {
            let mut parts: Vec<(String, String)> = Vec::new();
            let mut after = None;
            match effects {
                Effects::Outputs => {
                    let mut texts = Vec::new();
                    crate::cache::key::strings(&Value::Object(outputs), &mut texts);
                    for t in texts {
                        let p = std::path::Path::new(t.trim());
                        if p.is_absolute() && p.starts_with(&run_dir) {
                            let hash = crate::cache::files::content_hash_skipping(p, Some(&run_dir.join("logs")))?;
                            // By its place in the run folder: the same step of another run hands on the same digest.
                            let rel = crate::cache::key::normalize_str(t.trim(), &run_dir.to_string_lossy());
                            parts.push((rel, hash.unwrap_or_default()));
                        }
                    }
                }
                Effects::Listed(before) => {
                    let now = snapshot::take(&run_dir)?;
                    let c = snapshot::diff(&before, &now, &run_dir);
                    for f in &c.made {
                        parts.push((
                            f.clone(),
                            crate::cache::files::file_hash(&run_dir.join(f)).map_err(|e| Uncacheable::unreadable(f, e))?,
                        ));
                    }
                    parts.extend(c.dirs.iter().map(|d| (d.clone(), "dir".into())));
                    parts.extend(c.removed.iter().map(|r| (r.clone(), "removed".into())));
                    after = Some(Arc::new(now));
                }
                Effects::Unknown => {
                    return Err(Uncacheable::Unlistable {
                        path: "the run folder".into(),
                        error: "its listing failed before the step".into(),
                    })
                }
            }
            let doc = serde_json::to_string(&parts).unwrap_or_default();
            Ok::<_, Uncacheable>((sha256_hex(doc.as_bytes()), after))
        })
        .await;
        match done {
            Ok(Ok((d, after))) => {
                if let Some(after) = after {
                    self.activity.listed(epoch, after);
                }
                d
            }
            _ => {
                let mut r = [0u8; 16];
                let _ = getrandom::fill(&mut r);
                crate::digest::hex(&r)
            }
        }
    }

    /// A refinement step of `record_id` finished: its next attempt comes after it.
    pub(super) fn refined(&self, record_id: &str, refinement_record: &str) {
        let mut digests = self.digests.lock().expect("digests");
        let so_far = digests.get(&format!("{record_id}@refined")).cloned().unwrap_or_default();
        let this = digests.get(refinement_record).cloned().unwrap_or_else(|| "skipped".into());
        let chained = sha256_hex(format!("{so_far}\0{refinement_record}\0{this}").as_bytes());
        digests.insert(format!("{record_id}@refined"), chained);
    }

    /// The cache key of this call when the step is cached, and the entry for it with its
    /// files restored into this run's folder when there is one (not for a step `--refresh`
    /// names, or one after it); on a miss, the run folder as it was. The key, the lookup and
    /// the restore each run here, on the async worker, when they keep within
    /// `cache::in_place`'s bound — on a chain of small steps a hand-off to a blocking thread
    /// and back costs more than the work — and on a blocking thread when they would not;
    /// the run folder's listing, of any size, always on one.
    pub(super) async fn cache_probe(
        &self,
        step: &Step,
        record_id: &str,
        (tool, action): (&str, &str),
        inputs: &JsonMap,
        upstream: &[(String, String)],
        listing: Option<Arc<Snapshot>>,
    ) -> Probe {
        let Some(cache) = self.cache.clone() else { return Probe::Off };
        // Refinement steps repair a failure: they always run.
        if tool == "batch" || matches!(step.kind, StepKind::Approval { .. }) || record_id.contains('#') {
            return Probe::Off;
        }
        let Some(t) = self.tools.get(tool).cloned() else { return Probe::Off };
        if !crate::cache::wanted(step.cache, self.recipe.cache, t.deterministic(action, inputs)) {
            return Probe::Off;
        }
        let identity = match t.identity(action, inputs).await {
            Ok(i) => i,
            Err(e) => {
                self.events.note(&format!("{record_id}: not taken from the step cache: {e}"));
                return Probe::Off;
            }
        };
        let confirm = identity.clone();
        let look = !self.refreshed.contains(top_of(record_id));
        let folders = [Some(self.temp_dir.as_path()), self.recipe.path.parent()];
        let context = context_of(t.as_ref(), action, inputs, &folders, upstream);
        let only_outputs = t.writes_only_outputs(action);
        let relocatable = t.relocatable(action, inputs);
        let (fingerprint, run_dir) = (t.fingerprint(), self.run_dir.clone());
        let (tool, action, inputs) = (tool.to_string(), action.to_string(), inputs.clone());
        let keyed = in_place_or_blocking(move |bound| {
            let parts = KeyParts {
                tool: &tool,
                action: &action,
                fingerprint: &fingerprint,
                inputs: &inputs,
                identity: identity.as_ref(),
                run_dir: &run_dir,
                known: None,
                context: &context,
            };
            crate::cache::key::key_and_files_within(&parts, bound)
        })
        .await;
        let (key, read) = match keyed {
            Ok(k) => k,
            Err(e) => {
                self.events.note(&format!("{record_id}: not cached: {e}"));
                return Probe::Off;
            }
        };
        if look {
            match self.serve(&cache, &key, step).await {
                Ok(Some((outputs, from, restored))) => return Probe::Hit { key, outputs, from, restored },
                Ok(None) => {}
                Err(e) => self.events.note(&format!("{record_id}: {e}")), // it runs instead
            }
        }
        if only_outputs {
            return Probe::Miss { key, read, before: None, relocatable, identity: confirm };
        }
        let run_dir = self.run_dir.clone();
        let before = match listing {
            Some(l) => Ok(l),
            None => tokio::task::spawn_blocking(move || snapshot::take(&run_dir).map(Arc::new))
                .await
                .unwrap_or_else(|e| Err(Uncacheable::Interrupted(e.to_string()))),
        };
        match before {
            Ok(before) => Probe::Miss { key, read, before: Some(before), relocatable, identity: confirm },
            Err(e) => {
                self.events.note(&format!("{record_id}: not cached: {e}"));
                Probe::Off
            }
        }
    }

    /// The entry of `key`, its files restored into the run folder: its outputs for this
    /// run, the run it came from and what it restored (relative to the run folder).
    /// `Ok(None)` when there is none, or its outputs would fail the step's gate (then it
    /// runs); `Err` when it could not be restored (damaged, unwritable: it runs too).
    async fn serve(
        &self,
        cache: &Arc<crate::cache::Cache>,
        key: &str,
        step: &Step,
    ) -> Result<Option<(JsonMap, String, Vec<String>)>, Uncacheable> {
        let (c, k) = (cache.clone(), key.to_string());
        let Some(entry) = in_place_or_blocking(move |bound| c.store.lookup_within(&k, bound)).await? else { return Ok(None) };
        if entry.outputs.as_object().is_none_or(|o| gate_fails(step, o)) {
            return Ok(None);
        }
        // A step given less time than the stored run took would have timed out: it runs
        // (and one stored before durations were kept, when it has a timeout at all).
        if let Some(limit) = step.timeout {
            if entry.took_s.is_none_or(|took| took > limit) {
                return Ok(None);
            }
        }
        let restored = entry.files.iter().map(|f| f.rel.clone()).chain(entry.dirs.iter().cloned()).collect();
        let from = entry.run_id.clone();
        let (c, run_dir) = (cache.clone(), self.run_dir.clone());
        let outputs = in_place_or_blocking(move |bound| c.store.restore_within(&entry, &run_dir, bound)).await?;
        Ok(Some((outputs, from, restored)))
    }

    /// Record a cached attempt and hand its outputs on (they passed the step's gate when stored).
    pub(super) fn served(
        &self,
        record_id: &str,
        attempt: u32,
        number: u32,
        started: Instant,
        hit: (JsonMap, String),
    ) -> Result<JsonMap, Fail> {
        let (outputs, from) = hit;
        if let Some(store) = &self.store {
            store.step_cached(self.attempt_key(record_id, attempt), super::json_text(&outputs), from.clone(), now());
        }
        self.events.step_cached(record_id, number, started.elapsed(), &outputs, &from);
        Ok(outputs)
    }

    /// Keep a successful call's outputs and what it made, when a hit could give all of it
    /// back (`cache::capture`); otherwise say why it was not kept. Its files go into the
    /// store now; when other calls ran beside it, the entry waits until they have all
    /// finished (`Activity::resolve`). A failure to store is a warning, not a failed step.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn cache_put(
        &self,
        key: &str,
        record_id: &str,
        tool: &str,
        action: &str,
        outputs: &JsonMap,
        (read, before, relocatable): (HashMap<String, String>, Option<Arc<Snapshot>>, bool),
        (beside, own): (HashSet<u64>, Vec<String>),
        took_s: f64,
    ) {
        let Some(cache) = self.cache.clone() else { return };
        let epoch = self.activity.epoch();
        let ids = (self.run_id.clone(), record_id.to_string(), tool.to_string(), action.to_string());
        let (key, outputs, run_dir) = (key.to_string(), outputs.clone(), self.run_dir.clone());
        let stored = tokio::task::spawn_blocking(move || {
            let (changes, after) = match &before {
                None => (Ok(Default::default()), None),
                Some(before) => match snapshot::take(&run_dir) {
                    Ok(after) => (Ok(snapshot::diff(before, &after, &run_dir)), Some(Arc::new(after))),
                    Err(e) => (Err(e), None),
                },
            };
            let stored = (|| {
                let forms = crate::cache::relocate::Forms::of(&run_dir);
                let captured = match changes.and_then(|changes| crate::cache::capture::capture(&outputs, &forms, &read, &changes)) {
                    Ok(c) => c,
                    Err(why) => return Ok(Err(why)),
                };
                let (files, refused) = cache.store.put_files(&forms, &captured.made, relocatable)?;
                let made = captured.made;
                if beside.is_empty() {
                    if let Some((_, why)) = refused.into_iter().next() {
                        return Ok(Err(why));
                    }
                    let ids = (ids.0.as_str(), ids.1.as_str(), ids.2.as_str(), ids.3.as_str());
                    cache.store.put_entry(&key, ids, &outputs, &run_dir, &made, (files, Some(took_s)))?;
                    cache.stored.store(true, Ordering::SeqCst);
                    return Ok(Ok(None));
                }
                let own = own.into_iter().chain(captured.named).collect();
                Ok::<_, std::io::Error>(Ok(Some(Pending {
                    cache,
                    key,
                    ids,
                    outputs,
                    run_dir,
                    made,
                    files,
                    refused,
                    own,
                    waits: beside,
                    took_s,
                })))
            })();
            (after, stored)
        })
        .await;
        let Ok((after, stored)) = stored else { return };
        if let Some(after) = after {
            self.activity.listed(epoch, after); // the next step's listing from before it, if nothing runs meanwhile
        }
        match stored {
            Ok(Ok(Some(pending))) => self.activity.defer(pending),
            Ok(Err(why)) => self.events.note(&format!("{record_id}: not stored in the step cache: {why}")),
            Err(e) => self.events.note(&format!("warning: {record_id}: could not store it in the step cache: {e}")),
            _ => {}
        }
        self.resolve_pending();
    }

    /// Write the entries whose neighbours have finished (`Activity::resolve`).
    pub(super) fn resolve_pending(&self) {
        for (step, why) in self.activity.resolve() {
            self.events.note(&format!("{step}: not stored in the step cache: {why}"));
        }
    }
}

/// The recipe step a record belongs to: `each` for `each[2].sub`, `fix` for `fix#1`.
fn top_of(record_id: &str) -> &str {
    record_id.split(['[', '#']).next().unwrap_or(record_id)
}

/// The batch item a record is part of, as its records start (`each[3].`), if any.
pub(super) fn item_of(record_id: &str) -> Option<&str> {
    record_id.rfind("].").map(|i| &record_id[..i + 2])
}

/// What a call reads besides its inputs, for its key: relative paths from the step's
/// working folder (`cwd`), then `folders` (the run's temp folder, the recipe's folder) and
/// LocalForge's own; the programs the tool names; and, when its program inherits it, the
/// environment (a step's `env` input over LocalForge's).
pub fn context_of(
    t: &dyn crate::tools::Tool,
    action: &str,
    inputs: &JsonMap,
    folders: &[Option<&std::path::Path>],
    upstream: &[(String, String)],
) -> Context {
    let cwd = ["cwd", "working_dir"].iter().find_map(|k| inputs.get(*k).and_then(Value::as_str)).map(std::path::PathBuf::from);
    let mut bases: Vec<std::path::PathBuf> = cwd.into_iter().chain(folders.iter().flatten().map(|f| f.to_path_buf())).collect();
    bases.extend(std::env::current_dir().ok());
    bases.dedup();
    let reads = t.reads(action, inputs);
    let mut env = std::collections::BTreeMap::new();
    if reads.env {
        env.extend(std::env::vars().filter(|(k, _)| !crate::cache::key::volatile(k)));
        // What the step's own `env` input sets (it is in the inputs too; here it replaces LocalForge's).
        for (name, v) in inputs.get("env").and_then(Value::as_object).into_iter().flatten() {
            env.insert(name.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        }
    }
    let text_only = inputs.keys().filter(|name| t.names_no_files(action, name)).cloned().collect();
    Context { bases, programs: reads.programs, env, upstream: upstream.to_vec(), text_only }
}

/// `work` here, on the async worker, within `InPlace`'s bound; when it would pass the bound,
/// again and whole on a blocking thread (`cache::in_place`).
async fn in_place_or_blocking<T: Send + 'static>(
    work: impl Fn(&InPlace) -> Result<T, Uncacheable> + Send + 'static,
) -> Result<T, Uncacheable> {
    let here = work(&InPlace::bounded());
    match here {
        Err(Uncacheable::Deferred) => tokio::task::spawn_blocking(move || work(&InPlace::unbounded()))
            .await
            .unwrap_or_else(|e| Err(Uncacheable::Interrupted(e.to_string()))),
        done => done,
    }
}
