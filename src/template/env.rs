//! The one minijinja environment every recipe template renders in.

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use std::path::Path;
use std::sync::OnceLock;

/// Most instructions one render may run: a runaway loop (`range(100000)` twice nested)
/// stops with a clear error in well under a second instead of running for minutes.
pub const FUEL: u64 = 20_000_000;

/// The shared environment: strict about undefined names, with the path filters
/// recipes use, and lists/mappings written as JSON when they appear inside text.
pub fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(new_env)
}

fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_recursion_limit(64);
    env.set_fuel(Some(FUEL));
    env.set_syntax(minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build().expect("default syntax"));
    env.set_formatter(|out, state, value| match value.kind() {
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
            let text = serde_json::to_string(value).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
            out.write_str(&text).map_err(Error::from)
        }
        ValueKind::None => Ok(()),
        _ => minijinja::escape_formatter(out, state, value),
    });
    env.add_filter("stem", |p: &str| path_part(p, |p| p.file_stem()));
    env.add_filter("basename", |p: &str| path_part(p, |p| p.file_name()));
    env.add_filter("name", |p: &str| path_part(p, |p| p.file_name())); // pathlib's name, as YAML tools write it
    env.add_filter("parent", |p: &str| Path::new(p).parent().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default());
    env.add_filter("dirname", |p: &str| Path::new(p).parent().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default());
    env.add_filter("suffix", |p: &str| Path::new(p).extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default());
    env.add_filter("abspath", |p: &str| -> Result<String, Error> {
        std::path::absolute(p)
            .map(|a| a.to_string_lossy().into_owned())
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("abspath of `{p}`: {e}")))
    });
    env.add_filter("shell_quote", |s: &str| -> Result<String, Error> {
        shlex::try_quote(s).map(|q| q.into_owned()).map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("cannot shell-quote: {e}")))
    });
    env
}

fn path_part(p: &str, f: impl Fn(&Path) -> Option<&std::ffi::OsStr>) -> String {
    f(Path::new(p)).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `Value` for JSON data.
pub fn to_value(json: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_filters() {
        let r = |t: &str| env().render_str(t, minijinja::context! { p => "/a/b/photo.tar.png" }).unwrap();
        assert_eq!(r("{{ p | stem }}"), "photo.tar");
        assert_eq!(r("{{ p | basename }}"), "photo.tar.png");
        assert_eq!(r("{{ p | dirname }}"), "/a/b");
        assert_eq!(r("{{ p | suffix }}"), ".png");
        assert_eq!(r("{{ 'a b' | shell_quote }}"), "'a b'");
    }

    #[test]
    fn containers_inside_text_are_json() {
        let out = env().render_str("x={{ v }}", minijinja::context! { v => vec![1, 2] }).unwrap();
        assert_eq!(out, "x=[1,2]");
    }
}
