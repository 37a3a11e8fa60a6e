//! A key a file may hold: its name, what it is for, and what its value may be. The parsers
//! accept exactly the keys of their tables (an unknown key is an error naming the ones
//! allowed), and the JSON Schemas are written from the same tables, so the two cannot
//! drift apart; `doc` is each property's description (an editor's hover text).

/// One key of a mapping.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub doc: &'static str,
    pub shape: Shape,
}

/// What a key's value may be, as the parser reads it.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Text; a number or true/false is read as its text (`version: 1.0`); null when optional.
    Text,
    /// One of these words.
    Word(&'static [&'static str]),
    /// true/false (also yes/no/on/off as text); null for unset.
    Bool,
    /// true/false only (a YAML tool definition's flags: anything but `true` is false).
    Flag,
    /// true/false, or one of these words (`sandbox: required`).
    FlagOr(&'static [&'static str]),
    /// A number (or text that reads as one) from `min` to `max` (infinite: no bound); null for unset.
    Number { min: f64, max: f64 },
    /// A whole number from `min` to `max` (`u32::MAX`: no bound), or text that reads as one; null for unset.
    Count { min: u32, max: u32 },
    /// A list of texts; one text is a list of one; null is an empty list.
    TextList,
    /// Text or true/false: a template expression.
    Condition,
    /// true/false (as `Bool`), or a GPU: its index or its UUID.
    Card,
    /// Any value.
    Any,
    /// A mapping of anything.
    Mapping,
    /// A mapping whose keys are these, defined under `$defs` by this name.
    Def(&'static str),
    /// A list of what `$defs` holds under this name.
    ListOf(&'static str),
}

impl Key {
    pub const fn new(name: &'static str, shape: Shape, doc: &'static str) -> Key {
        Key { name, doc, shape }
    }
}

/// Whether `name` is one of `keys`.
pub fn allows(keys: &[Key], name: &str) -> bool {
    keys.iter().any(|k| k.name == name)
}

/// The names of `keys`, in order.
pub fn names(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().map(|k| k.name).collect()
}
