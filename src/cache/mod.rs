//! The step cache (docs/cache.md): a step attempt whose key — tool, action, the tool's
//! version, rendered inputs, the content of every file they name, the model's identity —
//! matches an earlier successful one is not run again: its outputs and files come back
//! from a content-addressed store, and history records the attempt as `cached`.
//!
//! Whether a step is cached: `cache: true | false` on the step wins; otherwise the tool
//! says whether the call is deterministic (`Tool::deterministic`), and `cache: false` on
//! the recipe or `cache.enabled: false` in the config turns caching off for all of it.

pub mod capture;
mod clone;
mod error;
pub mod files;
pub mod in_place;
pub mod key;
pub mod lint;
pub mod relocate;
pub mod snapshot;
pub mod store;

use crate::config::{expand, Config};
use serde_json::Value;
use std::sync::Arc;

pub use error::Uncacheable;
pub use store::{Entry, Store};

/// `cache.max_gb` when not set.
pub const DEFAULT_MAX_GB: f64 = 10.0;

/// The store a run uses, and what it was told on the command line.
pub struct Cache {
    pub store: Store,
    /// `run --refresh STEP`: these steps (and those after them) run and replace their entries.
    pub refresh: Vec<String>,
    /// Something was stored during this run: evict once it ends (not after every step,
    /// which scans every entry: quadratic on a long chain).
    pub stored: std::sync::atomic::AtomicBool,
}

impl Cache {
    /// The store from the config (`cache.dir`, `cache.max_gb`), or `None` when caching is
    /// off (`cache.enabled: false`, or `run --no-cache`).
    pub fn from_config(config: &Config, no_cache: bool, refresh: Vec<String>) -> Option<Arc<Cache>> {
        let enabled = config.get("cache.enabled").and_then(Value::as_bool).unwrap_or(true);
        if no_cache || !enabled {
            return None;
        }
        Some(Arc::new(Cache { store: store_of(config), refresh, stored: Default::default() }))
    }
}

/// The store `cache stats` and `cache clear` work on.
pub fn store_of(config: &Config) -> Store {
    let root =
        config.get("cache.dir").and_then(Value::as_str).map(expand).unwrap_or_else(|| crate::config::home().join(".localforge/cache"));
    let max_gb = config.get("cache.max_gb").and_then(Value::as_f64).filter(|g| *g >= 0.0).unwrap_or(DEFAULT_MAX_GB);
    Store { root, max_bytes: (max_gb * 1024.0 * 1024.0 * 1024.0) as u64 }
}

/// Whether a step is cached: its own `cache:` wins, then the recipe's `cache: false`, then the tool.
pub fn wanted(step_cache: Option<bool>, recipe_cache: Option<bool>, tool_says: bool) -> bool {
    match (step_cache, recipe_cache) {
        (Some(on), _) => on,
        (None, Some(false)) => false,
        _ => tool_says,
    }
}

#[cfg(test)]
mod tests;
