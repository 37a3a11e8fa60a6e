//! What a definition shared through a registry may not do, beyond being a valid definition
//! (docs/registry.md): its program is pinned — a literal word equal to its declared
//! `requirements.binary`, so no template, list expression or input default can choose it —
//! and no program or argument that runs code given in its arguments. The refusal list
//! catches the obvious cases only; it is a speed bump, not the defence.

use super::def::{Command, ToolDef};
use crate::diag::Diagnostic;
use serde_json::Value;

/// Programs refused as the program of a shared definition, each class with why.
const CLASSES: &[(&[&str], &str)] = &[
    (
        &[
            "sh",
            "bash",
            "dash",
            "zsh",
            "ksh",
            "mksh",
            "rbash",
            "fish",
            "csh",
            "tcsh",
            "ash",
            "yash",
            "busybox",
            "toybox",
            "cmd",
            "powershell",
            "pwsh",
        ],
        "is a shell: it runs the code in its arguments",
    ),
    (
        &[
            "env",
            "xargs",
            "unshare",
            "nsenter",
            "sudo",
            "doas",
            "su",
            "runuser",
            "setpriv",
            "setsid",
            "chroot",
            "nohup",
            "nice",
            "ionice",
            "chrt",
            "taskset",
            "timeout",
            "stdbuf",
            "flock",
            "script",
            "watch",
            "time",
            "unbuffer",
            "expect",
            "parallel",
            "systemd-run",
            "firejail",
            "bwrap",
            "capsh",
            "prlimit",
            "strace",
            "ltrace",
            "gdb",
            "valgrind",
            "make",
            "ssh",
            "at",
            "batch",
            "crontab",
        ],
        "runs another program named in its arguments",
    ),
    (
        &[
            "python",
            "python2",
            "python3",
            "pypy",
            "pypy3",
            "perl",
            "ruby",
            "irb",
            "node",
            "nodejs",
            "deno",
            "bun",
            "lua",
            "luajit",
            "php",
            "rscript",
            "tclsh",
            "wish",
            "osascript",
            "awk",
            "gawk",
            "mawk",
            "nawk",
            "guile",
            "racket",
            "sbcl",
            "julia",
            "ghci",
            "jshell",
            "groovy",
            "scala",
            "erl",
            "escript",
            "elixir",
            "vi",
            "vim",
            "nvim",
            "ex",
            "ed",
            "emacs",
            "less",
            "more",
            "man",
        ],
        "is an interpreter (or an editor or pager): its arguments, or a file they name, are code it runs",
    ),
];

/// Environment variables that make a program load or run other code.
const ENV_NAMES: &[&str] = &[
    "PATH",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "PROMPT_COMMAND",
    "IFS",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONHOME",
    "NODE_OPTIONS",
    "NODE_PATH",
    "RUBYOPT",
    "RUBYLIB",
    "TAR_OPTIONS",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_PAGER",
    "GIT_EDITOR",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "PAGER",
    "EDITOR",
    "VISUAL",
    "LESSOPEN",
    "LESSCLOSE",
    "MANPAGER",
    "GIT_EXTERNAL_DIFF",
    "GIT_PROXY_COMMAND",
    "GIT_SEQUENCE_EDITOR",
    "RSYNC_RSH",
    "RSYNC_CONNECT_PROG",
    "GCONV_PATH",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "LUA_INIT",
    "LUA_PATH",
    "LUA_CPATH",
    "PHPRC",
    "R_PROFILE",
    "R_PROFILE_USER",
];
const ENV_PREFIXES: &[&str] = &["LD_", "DYLD_", "GIT_CONFIG", "BASH_FUNC_"];

/// Every reason a definition may not be shared through a registry; empty when it may.
/// `doc`: the definition as JSON (for its `example`, whose inputs the publisher runs).
pub fn refusals(def: &ToolDef, doc: Option<&Value>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut refuse = |message: String, hint: &str| out.push(Diagnostic::new(message).in_file(&def.file).maybe_hint(Some(hint.to_string())));
    let binary = match def.binary.as_deref().map(str::trim) {
        None | Some("") => {
            refuse(
                "the definition declares no `requirements.binary`".into(),
                "name the program its actions run: `requirements: {binary: NAME}`",
            );
            None
        }
        Some(b) if has_template(b) || b.contains('/') || b.chars().any(char::is_whitespace) => {
            refuse(
                format!("`requirements.binary` is `{b}`, not a program name"),
                "write the name looked up on PATH, literally (no path, no template)",
            );
            None
        }
        Some(b) => {
            if let Some(why) = class_of(b) {
                refuse(
                    format!("the definition's program `{b}` {why}"),
                    "a registry definition runs the program itself, never a shell, wrapper or interpreter",
                );
            }
            Some(b)
        }
    };
    let example_values: Vec<String> = doc
        .and_then(|d| d.pointer("/example/inputs"))
        .and_then(Value::as_object)
        .map(|m| m.values().flat_map(texts).collect())
        .unwrap_or_default();
    for (aname, action) in &def.actions {
        let words = match &action.command {
            Command::Shell(_) => {
                refuse(
                    format!("action `{aname}` uses `shell: true`, which runs `sh -c`"),
                    "registry definitions run an argv list, never a shell",
                );
                continue;
            }
            Command::Argv(words) => words,
        };
        if let Some(cwd) = &action.cwd {
            refuse(
                format!("action `{aname}` sets `cwd: {cwd}`"),
                "leave `cwd` out: a registry tool runs in the step's temporary folder, and the output paths a caller gives \
                 (whose folders it may write) are read from there",
            );
        }
        let program = words.first().map(String::as_str).unwrap_or("");
        if has_template(program) {
            refuse(
                format!("action `{aname}`'s program word `{program}` is a template"),
                "write the program literally, equal to `requirements.binary`: no template, list expression or input default may choose it",
            );
            continue;
        }
        if let Some(b) = binary.filter(|b| *b != program) {
            refuse(
                format!("action `{aname}` runs `{program}`, but the definition declares `requirements.binary: {b}`"),
                "the first word of every command must be the declared binary, written literally",
            );
            continue;
        }
        if binary.is_none() {
            if let Some(why) = class_of(program) {
                refuse(format!("action `{aname}` runs `{program}`, which {why}"), "call the program itself with its arguments");
            }
        }
        // What the author controls: the literal words, the text literals inside templates,
        // each input's default and choices, and the example's inputs.
        let mut tokens: Vec<String> = Vec::new();
        for w in &words[1..] {
            if has_template(w) {
                tokens.extend(literals(w));
                tokens.push(strip_templates(w));
            } else {
                tokens.push(w.clone());
            }
        }
        for (iname, input) in &action.inputs {
            if let Some(t) = input.default.iter().flat_map(texts).find(|t| has_template(t)) {
                refuse(
                    format!("action `{aname}`'s input `{iname}` has the template `{t}` as its default"),
                    "write the default literally: a template default is rendered when the tool runs, so what it gives is not what the install prompt shows",
                );
            }
            tokens.extend(input.default.iter().flat_map(texts));
            tokens.extend(input.choices.iter().flatten().flat_map(texts));
        }
        tokens.extend(example_values.iter().cloned());
        if let Some((token, why)) = argument_rule(program, &tokens) {
            refuse(
                format!("action `{aname}` runs `{program}` with `{token}`, which {why}"),
                "remove that argument; a shared definition may not run code from its arguments",
            );
        }
    }
    for (name, place) in def
        .env
        .keys()
        .map(|k| (k, "the definition".to_string()))
        .chain(def.actions.iter().flat_map(|(a, act)| act.env.keys().map(move |k| (k, format!("action `{a}`")))))
    {
        if ENV_NAMES.contains(&name.as_str()) || ENV_PREFIXES.iter().any(|p| name.starts_with(p)) {
            out.push(
                Diagnostic::new(format!("{place} sets `{name}`, which makes programs load or run other code"))
                    .in_file(&def.file)
                    .maybe_hint(Some("leave the environment to the user".to_string())),
            );
        }
    }
    out
}

fn has_template(w: &str) -> bool {
    w.contains("{{") || w.contains("{%") || w.contains("{#")
}

/// The class of a program refused outright, by its name (versions too: `python3.12`, `perl5`).
fn class_of(program: &str) -> Option<&'static str> {
    let base = program.rsplit('/').next().unwrap_or(program).to_ascii_lowercase();
    let bare = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    CLASSES.iter().find(|(names, _)| names.contains(&base.as_str()) || names.contains(&bare)).map(|(_, why)| *why)
}

/// Text values of a default, a choice or an example input (lists flattened).
pub(super) fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(texts).collect(),
        Value::Number(_) | Value::Bool(_) => vec![v.to_string()],
        _ => Vec::new(),
    }
}

/// The quoted text literals inside a template word: `{{ ['-lossless'] }}` gives `-lossless`.
fn literals(w: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = w.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\'' || chars[i] == '"' {
            let q = chars[i];
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != q {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            out.push(s);
        }
        i += 1;
    }
    out
}

/// A word with its templates removed: `--checkpoint-action=exec={{ x }}` keeps its option.
fn strip_templates(w: &str) -> String {
    let mut out = String::new();
    let mut rest = w;
    while let Some(open) = rest.find('{').filter(|&o| matches!(rest[o..].chars().nth(1), Some('{' | '%' | '#'))) {
        out.push_str(&rest[..open]);
        match rest[open + 2..].find('}') {
            Some(close) => rest = rest[open + 2 + close..].trim_start_matches(['}', '%', '#']),
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The first argument that makes an otherwise plain program run code, with why.
fn argument_rule(program: &str, tokens: &[String]) -> Option<(String, &'static str)> {
    let hit = |pred: &dyn Fn(&str) -> bool, why: &'static str| tokens.iter().find(|t| pred(t.trim())).map(|t| (t.clone(), why));
    match program {
        "find" => hit(&|t| matches!(t, "-exec" | "-execdir" | "-ok" | "-okdir"), "runs a command for each file"),
        "git" => hit(
            &|t| {
                let l = t.to_ascii_lowercase();
                t.starts_with("-c")
                    || matches!(t, "-u" | "-x")
                    || ["--config-env", "--exec-path", "--upload-pack", "--receive-pack", "--exec", "--template"]
                        .iter()
                        .any(|o| t.starts_with(o))
                    || [
                        "sshcommand",
                        "ext::",
                        "fsmonitor",
                        "hookspath",
                        "core.pager",
                        "core.editor",
                        "sequence.editor",
                        "askpass",
                        "alias.",
                        "gpg.program",
                        "diff.external",
                        "credential.helper",
                        "filter.",
                    ]
                    .iter()
                    .any(|k| l.contains(k))
            },
            "makes git run a command or load configuration",
        ),
        "tar" | "gtar" | "bsdtar" => hit(
            &|t| {
                [
                    "--checkpoint-action",
                    "--to-command",
                    "--use-compress-program",
                    "--info-script",
                    "--new-volume-script",
                    "--rsh-command",
                    "--rmt-command",
                ]
                .iter()
                .any(|o| t.starts_with(o))
                    || t == "-I"
                    || t == "-F"
                    || (t.starts_with('-') && !t.starts_with("--") && t.contains('I'))
            },
            "makes tar run a command",
        ),
        "sed" | "gsed" => hit(&sed_runs, "is a sed script that runs a command (`e`) or writes a file (`w`)"),
        "rsync" => hit(&|t| t == "-e" || t.starts_with("--rsh") || t.starts_with("--rsync-path"), "makes rsync run a command"),
        "zip" => hit(&|t| t == "-TT" || t.starts_with("--unzip-command"), "makes zip run a command"),
        "tcpdump" => hit(&|t| t == "-z", "makes tcpdump run a command"),
        _ => None,
    }
}

/// A sed script (or `-e`/`--expression` text) holding an `e` command, an `s///e` flag, or a
/// `w`/`W` write: GNU sed runs the first two through a shell.
fn sed_runs(t: &str) -> bool {
    if let Some(script) = t.strip_prefix("--expression=") {
        return sed_runs(script);
    }
    if t.starts_with('-') {
        return false;
    }
    let b = t.as_bytes();
    // Commands start a script, or follow `;`, a newline, `{`, an address (`1`, `$`, `/re/`) or `!`.
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b's' && i + 1 < b.len() && !b[i + 1].is_ascii_alphanumeric() && command_start(b, i) {
            // s<d>re<d>repl<d>flags
            let d = b[i + 1];
            let mut j = i + 2;
            let mut seen = 0;
            while j < b.len() && seen < 2 {
                if b[j] == b'\\' {
                    j += 1;
                } else if b[j] == d {
                    seen += 1;
                }
                j += 1;
            }
            let flags_end = (j..b.len()).find(|&k| matches!(b[k], b';' | b'\n' | b'}')).unwrap_or(b.len());
            if t[j.min(b.len())..flags_end].contains(['e', 'w', 'W']) {
                return true;
            }
            i = flags_end;
            continue;
        }
        let next = b.get(i + 1).copied();
        let ends = next.is_none_or(|n| matches!(n, b' ' | b'\t' | b';' | b'\n' | b'}'));
        if (c == b'e' && ends || matches!(c, b'w' | b'W') && next.is_none_or(|n| n.is_ascii_whitespace())) && command_start(b, i) {
            return true;
        }
        if c == b'/' || c == b'\\' {
            // skip a /regex/ address
            let mut j = i + 1;
            while j < b.len() && b[j] != b'/' {
                if b[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            i = j + 1;
            continue;
        }
        i += 1;
    }
    false
}

/// Whether position `i` of a sed script is where a command may start.
fn command_start(b: &[u8], i: usize) -> bool {
    let before = b[..i].iter().rev().find(|c| !c.is_ascii_whitespace());
    match before {
        None => true,
        Some(c) => matches!(c, b';' | b'\n' | b'{' | b'}' | b'!' | b'$' | b'/' | b',') || c.is_ascii_digit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(yaml: &str) -> Vec<String> {
        let def = super::super::parse(yaml, "t.yaml").expect("valid definition");
        let doc = crate::yaml::parse(yaml).unwrap().map(|n| n.to_json());
        refusals(&def, doc.as_ref()).into_iter().map(|d| d.message).collect()
    }

    fn tool(binary: &str, command: &str, inputs: &str) -> String {
        format!("name: t\nrequirements: {{binary: {binary}}}\nactions:\n  go:\n    command: {command}\n    inputs:\n{inputs}      x: {{type: string}}\n")
    }

    #[test]
    fn every_shipped_registry_definition_is_accepted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("registry/tools");
        let mut seen = 0;
        for tool in std::fs::read_dir(root).unwrap().flatten() {
            for version in std::fs::read_dir(tool.path()).unwrap().flatten() {
                for file in std::fs::read_dir(version.path()).unwrap().flatten() {
                    let text = std::fs::read_to_string(file.path()).unwrap();
                    assert_eq!(reasons(&text), Vec::<String>::new(), "{}", file.path().display());
                    seen += 1;
                }
            }
        }
        assert!(seen >= 10, "{seen}");
    }

    #[test]
    fn the_install_prompt_shows_the_argv_with_every_default() {
        let def = super::super::parse(
            &tool("echo", r#"[echo, "{{ ['-n', x] }}", "{{ y }}"]"#, "      y: {type: string, default: 'a b'}\n"),
            "t.yaml",
        )
        .unwrap();
        assert_eq!(super::super::preview(&def.actions["go"]), ["echo", "-n", "<x>", "a b"]);
    }

    #[test]
    fn a_plain_program_is_accepted() {
        assert!(reasons(&tool("cwebp", r#"[cwebp, -q, "{{ ['-lossless'] if x else ['-q', '80'] }}", "{{ x }}"]"#, "")).is_empty());
        assert!(reasons(&tool("sed", r#"[sed, -n, "s/a/b/gp", "{{ x }}"]"#, "")).is_empty());
        assert!(reasons(&tool("git", r#"[git, log, --oneline, "{{ x }}"]"#, "")).is_empty());
    }

    #[test]
    fn the_program_word_is_pinned() {
        let r = reasons(&tool("echo", r#"["{{ ['sh','-c','touch /tmp/x'] }}"]"#, ""));
        assert!(r[0].contains("program word `{{ ['sh','-c','touch /tmp/x'] }}` is a template"), "{r:?}");
        let r = reasons(&tool("echo", r#"["{{ prog }}", -c, "{{ x }}"]"#, "      prog: {type: string, default: sh}\n"));
        assert!(r[0].contains("is a template"), "{r:?}");
        let r = reasons(&tool("echo", "[cat, /etc/passwd]", ""));
        assert!(r[0].contains("runs `cat`, but the definition declares `requirements.binary: echo`"), "{r:?}");
        let r = reasons("name: t\nactions:\n  go:\n    command: [echo, hi]\n");
        assert!(r[0].contains("declares no `requirements.binary`"), "{r:?}");
        let r = reasons("name: t\nrequirements: {binary: sh}\nactions:\n  go:\n    shell: true\n    command: \"echo hi\"\n");
        assert!(r.iter().any(|m| m.contains("`sh` is a shell")) && r.iter().any(|m| m.contains("uses `shell: true`")), "{r:?}");
    }

    #[test]
    fn programs_that_run_code_from_their_arguments_are_refused() {
        for (binary, command, words) in [
            ("find", r#"[find, "{{ x }}", -exec, sh, -c, id, ";"]"#, "with `-exec`, which runs a command for each file"),
            ("awk", r#"[awk, "BEGIN{system(\"id\")}"]"#, "`awk` is an interpreter"),
            ("perl", "[perl, -we, 'system 1']", "`perl` is an interpreter"),
            ("python3", "[python3, -Ic, 'import os']", "`python3` is an interpreter"),
            ("python3.12", "[python3.12, -V]", "`python3.12` is an interpreter"),
            ("git", "[git, -c, core.sshCommand=id, fetch]", "makes git run a command"),
            ("sed", "[sed, '1e id', '{{ x }}']", "sed script that runs a command"),
            ("sed", "[sed, 's/x/id/e', '{{ x }}']", "sed script that runs a command"),
            ("tar", r#"[tar, -cf, /dev/null, "--checkpoint-action=exec={{ x }}", .]"#, "makes tar run a command"),
            ("rbash", "[rbash, -c, id]", "`rbash` is a shell"),
            ("unshare", "[unshare, -r, id]", "runs another program"),
            ("node", "[node, -p, '1']", "`node` is an interpreter"),
            ("env", "[env, sh]", "runs another program"),
            ("xargs", "[xargs, sh]", "runs another program"),
            ("busybox", "[busybox, sh, -c, id]", "`busybox` is a shell"),
        ] {
            let r = reasons(&tool(binary, command, ""));
            assert!(r.iter().any(|m| m.contains(words)), "{binary}: {r:?}");
        }
    }

    #[test]
    fn defaults_choices_and_example_inputs_count_as_arguments() {
        let r = reasons(&tool("find", r#"[find, ".", "{{ x }}"]"#, "      y: {type: string, default: -exec}\n"));
        assert!(r[0].contains("with `-exec`"), "{r:?}");
        let text = format!("{}example:\n  action: go\n  inputs: {{x: [-execdir, id]}}\n", tool("find", r#"[find, ".", "{{ x }}"]"#, ""));
        assert!(reasons(&text)[0].contains("with `-execdir`"));
        let r = reasons("name: t\nrequirements: {binary: git}\nenv: {GIT_SSH_COMMAND: id}\nactions:\n  go:\n    command: [git, fetch]\n");
        assert!(r[0].contains("sets `GIT_SSH_COMMAND`"), "{r:?}");
        let r = reasons(
            "name: t\nrequirements: {binary: git}\nenv: {GIT_EXTERNAL_DIFF: 'f() { id; }; f'}\nactions:\n  go:\n    command: [git, diff]\n",
        );
        assert!(r[0].contains("sets `GIT_EXTERNAL_DIFF`"), "{r:?}");
    }

    #[test]
    fn a_working_folder_and_a_template_default_are_refused() {
        let inputs = "      output: {type: path, output: true}\n";
        let text = tool("touch", r#"[touch, "{{ output }}"]"#, inputs)
            .replace("    command:", "    cwd: \"{{ run_dir }}/../../..\"\n    command:");
        let r = reasons(&text);
        assert!(r.iter().any(|m| m.contains("sets `cwd: {{ run_dir }}/../../..`")), "{r:?}");
        // A default made of a template: `-ex` ~ `ec` is `-exec` only once rendered.
        let r = reasons(&tool("find", r#"[find, ".", "{{ a }}"]"#, "      a: {type: string, default: \"{{ '-ex' ~ 'ec' }}\"}\n"));
        assert!(r.iter().any(|m| m.contains("input `a` has the template")), "{r:?}");
    }
}
