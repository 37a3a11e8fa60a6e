//! Why a step is not served from the cache or not stored in it: each is shown as the
//! step's cache verdict, so it says what happened in words a user can act on.

/// A reason the cache stands aside for one step (it runs as if there were no cache).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Uncacheable {
    #[error("cannot read {path}: {error}")]
    Unreadable { path: String, error: String },
    #[error("cannot write {path}: {error}")]
    Unwritable { path: String, error: String },
    #[error("cannot list {path}: {error}")]
    Unlistable { path: String, error: String },
    #[error("{folder} holds more than {limit} files")]
    TooManyFiles { folder: String, limit: usize },
    #[error("`{pattern}` matches more than {limit} paths")]
    TooManyMatches { pattern: String, limit: usize },
    #[error("`{pattern}` is a file pattern the cache cannot list ({error})")]
    Pattern { pattern: String, error: String },
    #[error("it ran beside other steps and `{0}` changed in the run folder meanwhile, which neither it nor they name")]
    Unclaimed(String),
    #[error("it ran beside another step that names `{0}` too, so it cannot be told whose it is")]
    Shared(String),
    #[error("it made {what} `{rel}` in the run folder, which the cache does not keep")]
    Unkept { what: String, rel: String },
    #[error("it made `{0}`, outside the run folder, which a hit could not make again")]
    MadeOutside(String),
    #[error("it made `{rel}`, which {why}: served to another run it would name this run's folder")]
    HoldsRunFolder { rel: String, why: String },
    #[error("its {0} hold the text `{{run_dir}}`, which the cache writes for the run folder's path")]
    Placeholder(&'static str),
    #[error("its outputs hold the run folder's path written another way (escaped, UTF-16 or Latin-1), which a hit could not write for another run")]
    OutputsHoldRunFolder,
    #[error("`{0}`, which it reads, changed while it ran")]
    InputChanged(String),
    #[error("its outputs name `{0}`, outside the run folder, which a hit could not make again")]
    NamesOutside(String),
    #[error("the cached copy of `{0}` is damaged (its SHA-256 does not match); removed")]
    Damaged(String),
    #[error("cannot restore `{rel}`: {error}")]
    Unrestorable { rel: String, error: String },
    #[error("cannot restore into the run folder: {0}")]
    Unplaced(String),
    /// A probe on an async worker would pass its bound (`cache::in_place`): it is done
    /// again on a blocking thread, so this is never a step's verdict.
    #[error("too much to look at on an async worker")]
    Deferred,
    /// The blocking task that did the work did not finish (it panicked or was cancelled).
    #[error("the cache's work did not finish: {0}")]
    Interrupted(String),
}

impl Uncacheable {
    pub fn unreadable(path: impl std::fmt::Display, error: impl std::fmt::Display) -> Uncacheable {
        Uncacheable::Unreadable { path: path.to_string(), error: error.to_string() }
    }
}
