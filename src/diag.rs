//! User-facing diagnostics: what went wrong, where (file, line, column), and a hint.

use serde::Serialize;
use std::fmt;

/// One problem found in a user's file or command line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The JSON Pointer (RFC 6901) of the node in the file the problem is about, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<Box<str>>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic { file: None, line: None, column: None, message: message.into(), hint: None, pointer: None }
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }
}

/// Put problems in the order a reader meets them: by file, then line and column;
/// problems without a place keep their order, after the placed ones of their file.
pub fn in_file_order(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| (d.file.clone(), d.line.is_none(), d.line, d.column));
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line, self.column) {
            (Some(file), Some(l), Some(c)) => write!(f, "{file}:{l}:{c}: ")?,
            (Some(file), Some(l), None) => write!(f, "{file}:{l}: ")?,
            (Some(file), _, _) => write!(f, "{file}: ")?,
            _ => {}
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// A list of diagnostics, shown one per `error:` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The closest candidate to `word`, for "did you mean" hints. A candidate that `word`
/// begins (or that begins `word`) comes first; then the fewest edits over the whole key
/// (a swapped pair of letters is one edit), then the most similar by Jaro-Winkler. A
/// key that counts something is also known by the plural it counts (`retry_count`:
/// "retries"), so `retires` means `retry_count`, not `retry_delay`. A candidate is only
/// offered when it is close: a prefix, at most a third of its letters to edit, or
/// Jaro-Winkler above 0.8.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let w = word.to_lowercase();
    // (not a prefix, edits, -similarity): smaller is closer.
    let mut best: Option<((bool, usize, f64), &str)> = None;
    for c in candidates {
        let lc = c.to_lowercase();
        let prefix = w.len().min(lc.len()) >= 3 && (lc.starts_with(&w) || w.starts_with(&lc));
        let edits = spoken(&lc).into_iter().map(|form| strsim::osa_distance(&w, &form)).min().unwrap_or(usize::MAX);
        let similarity = strsim::jaro_winkler(&w, &lc);
        let longest = w.chars().count().max(lc.chars().count());
        if !(prefix || (edits <= (longest / 3).max(1) && edits < longest) || similarity > 0.8) {
            continue;
        }
        let rank = (!prefix, edits, -similarity);
        if best.as_ref().is_none_or(|(r, _)| rank.partial_cmp(r) == Some(std::cmp::Ordering::Less)) {
            best = Some((rank, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

/// The ways a key may be written from memory: the key itself, and for `X_count` the
/// plural of `X` (`retry_count`: `retries`; `item_count`: `items`).
fn spoken(key: &str) -> Vec<String> {
    let mut forms = vec![key.to_string()];
    if let Some(stem) = key.strip_suffix("_count").filter(|s| !s.is_empty()) {
        let plural = match stem.strip_suffix('y') {
            Some(head) if !head.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{head}ies"),
            _ => format!("{stem}s"),
        };
        forms.push(plural);
    }
    forms
}

/// `a`, `b`, `c` — for messages that list what exists.
pub fn list_names<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names.iter().map(|n| format!("`{}`", n.as_ref())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("stpes", ["steps", "name"]).as_deref(), Some("did you mean `steps`?"));
        assert_eq!(did_you_mean("zzz", ["steps", "name"]), None);
    }

    #[test]
    fn ranks_by_edits_over_the_whole_key_with_prefixes_first() {
        let step_keys = ["id", "name", "on_failure", "retry_count", "retry_delay", "timeout", "depends_on", "resources", "cache"];
        let hint = |w: &str| did_you_mean(w, step_keys);
        // Jaro-Winkler alone says `retry_delay` (the shared `re` and the `e`); `retires` is `retries`.
        assert_eq!(hint("retires").as_deref(), Some("did you mean `retry_count`?"));
        assert_eq!(hint("retries").as_deref(), Some("did you mean `retry_count`?"));
        assert_eq!(hint("retry_cont").as_deref(), Some("did you mean `retry_count`?"));
        assert_eq!(hint("retry_dealy").as_deref(), Some("did you mean `retry_delay`?"));
        assert_eq!(hint("retyr_delay").as_deref(), Some("did you mean `retry_delay`?"));
        assert_eq!(hint("retry").as_deref(), Some("did you mean `retry_count`?"), "a prefix of both: the first");
        assert_eq!(hint("timout").as_deref(), Some("did you mean `timeout`?"));
        assert_eq!(hint("time").as_deref(), Some("did you mean `timeout`?"), "a prefix before a closer non-prefix (`name`)");
        assert_eq!(hint("depend_on").as_deref(), Some("did you mean `depends_on`?"));
        assert_eq!(hint("resource").as_deref(), Some("did you mean `resources`?"));
        assert_eq!(hint("on_falure").as_deref(), Some("did you mean `on_failure`?"));
        assert_eq!(hint("RETRY_COUNT").as_deref(), Some("did you mean `retry_count`?"));
        assert_eq!(hint("quux"), None);
        assert_eq!(did_you_mean("contnet", ["path", "content", "append", "encoding"]).as_deref(), Some("did you mean `content`?"));
        assert_eq!(did_you_mean("fitler", ["input", "filter", "output"]).as_deref(), Some("did you mean `filter`?"));
        assert_eq!(did_you_mean("nn", ["n"]).as_deref(), Some("did you mean `n`?"));
    }

    #[test]
    fn displays_location_and_hint() {
        let d = Diagnostic::new("unknown key `stpes`").in_file("r.yaml").at(3, 1).hint("did you mean `steps`?");
        assert_eq!(d.to_string(), "r.yaml:3:1: unknown key `stpes`\n  hint: did you mean `steps`?");
    }
}
