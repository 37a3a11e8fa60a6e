//! YAML tools: definitions, quoting and injection attempts, types, outputs,
//! timeouts. Commands are coreutils, present wherever the tests run.

use super::*;
use crate::tools::sandbox::Confinement;
use crate::tools::stand_in::ctx_in;
use serde_json::{json, Value};
use std::path::Path;

fn tool(yaml: &str) -> CliTool {
    CliTool { def: parse(yaml, "t.yaml").unwrap_or_else(|d| panic!("{d:?}")) }
}

async fn call(t: &CliTool, action: &str, inputs: Value, dir: &std::path::Path) -> Result<crate::tools::JsonMap, crate::tools::ToolError> {
    t.call(action, inputs.as_object().unwrap().clone(), &ctx_in(dir)).await
}

const ECHO: &str = "name: echo\ntype: cli\nactions:\n  say:\n    command: [printf, '%s\\n', '{{ text }}']\n    inputs:\n      text: {type: string, required: true}\n";

#[tokio::test]
async fn values_never_reach_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let t = tool(ECHO);
    for attack in ["x; touch PWNED", "$(touch PWNED)", "`touch PWNED`", "--output=/etc/passwd", "a\ntouch PWNED", "'\"; touch PWNED"] {
        let out = call(&t, "say", json!({"text": attack}), dir.path()).await.unwrap();
        assert_eq!(out["stdout"], format!("{attack}\n"), "one argument, printed as given");
    }
    assert!(!dir.path().join("PWNED").exists());
}

#[tokio::test]
async fn a_string_command_is_split_into_words_first() {
    let dir = tempfile::tempdir().unwrap();
    let t =
        tool("name: s\nactions:\n  go:\n    command: \"printf '%s|%s\\n' 'two words' {{ x }}\"\n    inputs:\n      x: {type: string}\n");
    let out = call(&t, "go", json!({"x": "a b; rm -rf /"}), dir.path()).await.unwrap();
    assert_eq!(out["stdout"], "two words|a b; rm -rf /\n");
}

#[tokio::test]
async fn shell_true_quotes_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let t = tool("name: sh\nactions:\n  up:\n    shell: true\n    command: \"printf '%s' {{ text }} | tr a-z A-Z\"\n    inputs:\n      text: {type: string}\n");
    let out = call(&t, "up", json!({"text": "a; touch PWNED $(id)"}), dir.path()).await.unwrap();
    assert_eq!(out["stdout"], "A; TOUCH PWNED $(ID)");
    assert!(!dir.path().join("PWNED").exists());
}

#[tokio::test]
async fn a_list_value_becomes_one_argument_per_item() {
    let dir = tempfile::tempdir().unwrap();
    let t = tool("name: l\nactions:\n  go:\n    command: [printf, '<%s>', '{{ items }}']\n    inputs:\n      items: {type: list}\n");
    let out = call(&t, "go", json!({"items": ["a b", "-c", "d"]}), dir.path()).await.unwrap();
    assert_eq!(out["stdout"], "<a b><-c><d>");
}

#[tokio::test]
async fn inputs_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let t = tool(
        "name: c\nactions:\n  go:\n    command: [touch, '{{ out }}']\n    inputs:\n      n: {type: integer, required: true}\n      mode: {choices: [fast, slow], default: fast}\n      src: {type: path}\n      out: {type: path, output: true, default: made.txt}\n",
    );
    let e =
        call(&t, "go", json!({"n": "many", "mode": "medium", "src": "/no/such/file", "nn": 1}), dir.path()).await.unwrap_err().to_string();
    assert!(e.starts_with("c.go: unknown input `nn` (did you mean `n`?)"), "{e}");
    assert!(e.contains("input `n`: expected a whole number, got `many`"), "{e}");
    assert!(e.contains("input `mode`: `medium` is not one of `fast`, `slow`"), "{e}");
    assert!(e.contains("input `src`: `/no/such/file` does not exist"), "{e}");
    assert!(!dir.path().join("made.txt").exists());
    let e = call(&t, "go", json!({}), dir.path()).await.unwrap_err().to_string();
    assert_eq!(e, "c.go: missing required input `n`");
    call(&t, "go", json!({"n": 3}), dir.path()).await.unwrap();
    assert!(dir.path().join("made.txt").exists(), "an output path need not exist beforehand; the temp folder is the working folder");
}

#[tokio::test]
async fn declared_outputs_must_exist_and_stdout_can_be_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let t = tool(
        "name: o\nactions:\n  make:\n    command: [sh, -c, 'test \"$0\" = yes && touch out.txt; echo done', '{{ really }}']\n    inputs:\n      really: {}\n    outputs:\n      file: {path: '{{ temp_dir }}/out.txt'}\n  json:\n    command: [printf, '{\"a\": [1, 2]}']\n    parse: json\n  lines:\n    command: [printf, 'x\\n\\ny\\n']\n    parse: lines\n",
    );
    let e = call(&t, "make", json!({"really": "no"}), dir.path()).await.unwrap_err().to_string();
    assert_eq!(e, format!("o.make: declared output `file` (`{}/out.txt`) was not created by the command", dir.path().display()));
    let out = call(&t, "make", json!({"really": "yes"}), dir.path()).await.unwrap();
    assert_eq!(out["file"], json!(format!("{}/out.txt", dir.path().display())));
    assert_eq!(out["return_code"], 0);
    assert_eq!(call(&t, "json", json!({}), dir.path()).await.unwrap()["json"], json!({"a": [1, 2]}));
    assert_eq!(call(&t, "lines", json!({}), dir.path()).await.unwrap()["lines"], json!(["x", "y"]));
}

#[tokio::test]
async fn failures_missing_programs_and_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let t = tool("name: f\nactions:\n  fail:\n    command: [sh, -c, 'echo bad input >&2; exit 3']\n");
    assert_eq!(call(&t, "fail", json!({}), dir.path()).await.unwrap_err().to_string(), "f.fail: `sh` exited with code 3: bad input");
    let t = tool("name: m\nrequirements:\n  binary: surely-not-installed-xyz\n  install_hint: apt install xyz\nactions:\n  go:\n    command: [surely-not-installed-xyz]\n");
    assert_eq!(t.missing(), ["`surely-not-installed-xyz` (apt install xyz)"]);
    let e = call(&t, "go", json!({}), dir.path()).await.unwrap_err().to_string();
    assert!(e.starts_with("cannot start `surely-not-installed-xyz`"), "{e}");
    let pidfile = dir.path().join("pid");
    let t = tool(&format!(
        "name: slow\nactions:\n  go:\n    timeout: 0.5\n    command: [sh, -c, 'sleep 30 & echo $! > {}; wait']\n",
        pidfile.display()
    ));
    let e = call(&t, "go", json!({}), dir.path()).await.unwrap_err().to_string();
    assert_eq!(e, "slow.go timed out after 0.5s; its processes were stopped");
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.rsplit(") ").next().unwrap().starts_with('Z'), "grandchild {pid} survived the timeout");
}

#[test]
fn malformed_definitions_say_file_line_and_field() {
    let e = parse("name: x\nactons:\n  a: {command: [ls]}\n", "bad.yaml").unwrap_err();
    let text: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert_eq!(text[0], "bad.yaml:2:1: unknown key `actons` in the tool definition\n  hint: did you mean `actions`?");
    assert!(text[1].contains("needs `actions`"));
    let e = parse("name: x\nactions:\n  a:\n    inputs:\n      n: {type: nummber}\n", "bad.yaml").unwrap_err();
    let text: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|t| t.starts_with("bad.yaml:4:5: action `a` is missing required key `command`")), "{text:?}");
    assert!(text.iter().any(|t| t.contains("unknown type `nummber`")), "{text:?}");
    let e = parse("name: x\nactions:\n  a:\n    command: [ls]\n    parse: xml\n", "bad.yaml").unwrap_err();
    assert_eq!(e[0].to_string(), "bad.yaml:5:12: `parse` of action `a` is `xml`; use `json` or `lines`");
    let e = parse("name: x\nactions:\n  a:\n    command: \"ls 'unbalanced\"\n", "bad.yaml").unwrap_err();
    assert!(e[0].message.contains("cannot be split into words"));
    assert!(parse("", "empty.yaml").unwrap_err()[0].message.contains("empty"));
}

#[test]
fn a_definition_edited_at_once_is_read_anew() {
    // Parses are kept by the file's whole text: an edit of the same size within the same
    // clock tick (same length, same times) still changes what is loaded.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("echo.yaml");
    std::fs::write(&f, ECHO).unwrap();
    assert_eq!(load(&f).unwrap().actions.keys().collect::<Vec<_>>(), ["say"]);
    std::fs::write(&f, ECHO.replace("say", "yell")).unwrap();
    assert_eq!(load(&f).unwrap().actions.keys().collect::<Vec<_>>(), ["yell"]);
    std::fs::write(&f, ECHO.replace("text: {type: string", "text: {type: strin")).unwrap();
    assert!(load(&f).is_err(), "a broken edit is seen too");
    std::fs::write(&f, ECHO).unwrap();
    assert_eq!(load(&f).unwrap().actions.keys().collect::<Vec<_>>(), ["say"]);
}

#[test]
fn one_broken_definition_does_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "name: a\nactions:\n  go: {command: [true]}\n").unwrap();
    std::fs::write(dir.path().join("b.yaml"), "name: b\nactions: nope\n").unwrap();
    let (tools, broken) = load_dirs(&[dir.path().to_path_buf()]);
    assert_eq!(tools.len(), 1);
    assert_eq!(broken.len(), 1);
    assert!(broken[0].1.contains("b.yaml:2:"), "{}", broken[0].1);
}

#[test]
fn every_shipped_definition_loads() {
    let dir = std::path::Path::new("data/tools");
    let (tools, broken) = load_dirs(&[dir.to_path_buf()]);
    assert!(broken.is_empty(), "{broken:?}");
    let names: Vec<&str> = tools.iter().map(|t| t.def.name.as_str()).collect();
    assert!(names.len() >= 10, "{names:?}");
    for want in ["whisper", "faster-whisper", "yt-dlp", "pandoc", "imagemagick", "imagemagick6", "tesseract", "ffprobe", "espeak-ng", "sox"]
    {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

#[tokio::test]
async fn optional_flags_drop_out_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let t = tool("name: o\nactions:\n  go:\n    command: [printf, '<%s>', x, \"{{ ['--lang', lang] if lang else [] }}\"]\n    inputs:\n      lang: {default: ''}\n");
    assert_eq!(call(&t, "go", json!({}), dir.path()).await.unwrap()["stdout"], "<x>");
    assert_eq!(call(&t, "go", json!({"lang": "en"}), dir.path()).await.unwrap()["stdout"], "<x><--lang><en>");
}

#[test]
fn a_placeholder_inside_shell_quotes_is_refused() {
    for command in ["printf '%s' '{{ text }}'", "printf '%s' \"{{ text }}\"", "echo \"pre-{{ text }}-post\"", "echo 'a' \"{{ text }}\""] {
        let yaml = format!(
            "name: q\nactions:\n  go:\n    shell: true\n    command: {}\n    inputs:\n      text: {{type: string}}\n",
            serde_json::to_string(command).unwrap()
        );
        let diags = parse(&yaml, "q.yaml").err().unwrap_or_else(|| panic!("accepted: {command}"));
        assert!(diags[0].message.contains("`{{ text }}` sits inside"), "{command}: {diags:?}");
        assert!(diags[0].hint.as_deref().unwrap().contains("remove the quotes"));
    }
    // Quotes that close before the placeholder, escaped quotes, and quotes inside the template are fine.
    for command in [
        "printf '%s\\n' {{ text }}",
        "echo \\\"{{ text }}",
        "printf '%s' {{ text | default('x y') }}",
        "x='a' && printf '%s' --opt={{ text }}",
    ] {
        let yaml = format!(
            "name: q\nactions:\n  go:\n    shell: true\n    command: {}\n    inputs:\n      text: {{type: string}}\n",
            serde_json::to_string(command).unwrap()
        );
        assert!(parse(&yaml, "q.yaml").is_ok(), "refused: {command}");
    }
}

#[tokio::test]
async fn shell_true_resists_every_payload_in_every_position() {
    let dir = tempfile::tempdir().unwrap();
    let payloads = [
        "$(touch PWNED)",
        "`touch PWNED`",
        "x\" ; touch PWNED ; \"",
        "x' ; touch PWNED ; '",
        "; touch PWNED",
        "a\ntouch PWNED",
        "&& touch PWNED",
        "| touch PWNED",
        "$((1+1)) ${HOME}",
        "*",
        "-n",
    ];
    let positions =
        [("alone", "printf '[%s]' {{ text }}"), ("glued", "printf '[%s]' --opt={{ text }}"), ("piped", "printf '[%s]' {{ text }} | cat")];
    for (where_, command) in positions {
        let yaml = format!(
            "name: p\nactions:\n  go:\n    shell: true\n    command: {}\n    inputs:\n      text: {{type: string}}\n",
            serde_json::to_string(command).unwrap()
        );
        let t = tool(&yaml);
        for p in payloads {
            let out = call(&t, "go", json!({"text": p}), dir.path()).await.unwrap();
            let expected = if where_ == "glued" { format!("[--opt={p}]") } else { format!("[{p}]") };
            assert_eq!(out["stdout"], expected, "{where_}: {p:?}");
        }
    }
    assert!(!dir.path().join("PWNED").exists());
}

#[test]
fn registry_metadata_and_examples_are_checked() {
    let ok = "name: x\ntags: [a]\nlicense: MIT\nauthor: me\nrequirements: {binary: ls, install_hints: {debian: apt install coreutils}}\n\
              actions:\n  a: {command: [ls, '{{ p }}'], inputs: {p: {type: path}}}\n\
              example: {action: a, inputs: {p: in.txt}, files: {in.txt: hi}, expect: {files: {}}}\n";
    assert!(parse(ok, "x.yaml").is_ok());
    let e = parse(&ok.replace("action: a,", "action: b,"), "x.yaml").unwrap_err();
    assert!(e[0].message.contains("calls action `b`") && e[0].line == Some(8), "{e:?}");
    let e = parse(&ok.replace("in.txt: hi", "../up.txt: hi"), "x.yaml").unwrap_err();
    assert!(e[0].message.contains("relative path inside"), "{e:?}");
    let e = parse(&ok.replace("expect: {files: {}}", "expect: {stdout: x}"), "x.yaml").unwrap_err();
    assert!(e[0].message.contains("unknown key `stdout` in `example.expect`"), "{e:?}");
}

#[tokio::test]
async fn sandbox_true_writes_only_outputs_and_temp_and_opens_no_tcp() {
    if crate::tools::sandbox::landlock_abi() < 1 {
        eprintln!("skipped: this kernel has no Landlock");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (tmp, out, elsewhere) = (dir.path().join("tmp"), dir.path().join("out"), dir.path().join("elsewhere"));
    std::fs::create_dir(&tmp).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    let mut ctx = ctx_in(dir.path());
    ctx.temp_dir = tmp.clone();
    let def = |sandbox: &str| {
        tool(&format!(
            "name: box\n{sandbox}actions:\n  go:\n    command: [sh, -c, 'echo made > \"$1\" && echo t > t && echo no > \"$2\"', sh, '{{{{ out }}}}', '{{{{ other }}}}']\n    inputs:\n      out: {{type: path, output: true}}\n      other: {{type: string}}\n"
        ))
    };
    let inputs = json!({"out": out.join("result.txt"), "other": elsewhere.join("x")}).as_object().unwrap().clone();
    for level in ["true", "required"] {
        let err = def(&format!("sandbox: {level}\n")).call("go", inputs.clone(), &ctx).await.unwrap_err().to_string();
        assert!(err.contains("ermission denied"), "{err}");
        assert_eq!(std::fs::read_to_string(out.join("result.txt")).unwrap(), "made\n");
        assert!(tmp.join("t").exists() && !elsewhere.join("x").exists());
        std::fs::remove_file(tmp.join("t")).unwrap();
    }
    forget_tool_cache("box");
    // Unconfined, the same definition writes anywhere.
    def("").call("go", inputs, &ctx).await.unwrap();
    assert!(elsewhere.join("x").exists());
    if crate::tools::sandbox::landlock_abi() < 4 || !crate::tools::process::on_path("python3") {
        eprintln!("skipped the TCP check: Landlock ABI < 4 or no python3");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let net = |extra: &str| {
        tool(&format!(
            "name: net\nsandbox: true\n{extra}actions:\n  go:\n    command: [python3, -c, 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=5)']\n"
        ))
    };
    let err = net("").call("go", Default::default(), &ctx).await.unwrap_err().to_string();
    assert!(err.contains("PermissionError"), "{err}");
    net("network: true\n").call("go", Default::default(), &ctx).await.unwrap();
    forget_tool_cache("net");
}

/// Removes the cache folder a confined test tool was given, and its parents, when empty:
/// a test leaves nothing in the user's `~/.cache`.
fn forget_tool_cache(name: &str) {
    let mut dir = super::run::tool_cache(name);
    for _ in 0..3 {
        match dir {
            Some(d) if std::fs::remove_dir(&d).is_ok() => dir = d.parent().map(Path::to_path_buf),
            _ => break,
        }
    }
}

#[test]
fn a_tool_installed_from_a_registry_is_always_confined() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name: hello\ntype: cli\nrequirements: {binary: printf}\nactions:\n  say:\n    command: [printf, hello]\n";
    let file = dir.path().join("hello.yaml");
    std::fs::write(&file, text).unwrap();
    let local = dir.path().join("local.yaml");
    std::fs::write(&local, text.replace("hello", "local")).unwrap();
    let sha = parse(text, "x").unwrap().hash;
    let record = json!({"tools": {"hello": {"path": file, "sha256": sha}}});
    std::fs::write(dir.path().join("installed.json"), record.to_string()).unwrap();
    let (tools, broken) = load_dirs(&[dir.path().to_path_buf()]);
    assert!(broken.is_empty(), "{broken:?}");
    let confined: Vec<(&str, Confinement)> = tools.iter().map(|t| (t.def.name.as_str(), t.def.sandbox)).collect();
    assert_eq!(confined, [("hello", Confinement::On), ("local", Confinement::Off)]);
    // The same folder reached by another spelling of its path (a linked HOME): still the
    // registry's tool, still confined.
    let linked = tempfile::tempdir().unwrap();
    let other = linked.path().join("home");
    std::os::unix::fs::symlink(dir.path(), &other).unwrap();
    let (tools, _) = load_dirs(&[other]);
    assert!(tools.iter().any(|t| t.def.name == "hello" && t.def.sandbox == Confinement::On), "found by another path: confined");
    // `sandbox: required` in the definition stays required; the configuration's `sandbox:
    // required` makes every confined tool required.
    assert_eq!(parse(&text.replace("actions:", "sandbox: required\nactions:"), "x").unwrap().sandbox, Confinement::Required);
    assert_eq!(Confinement::On.strict(true), Confinement::Required);
    assert_eq!(Confinement::Off.strict(true), Confinement::Off);
    let e = parse(&text.replace("actions:", "sandbox: maybe\nactions:"), "x").unwrap_err();
    assert!(e[0].message.contains("`sandbox` is `true`") && e[0].line == Some(4), "{e:?}");
}

#[test]
fn what_the_definition_itself_names_is_in_the_key_or_it_is_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (conf, folder) = (dir.path().join("conf.txt"), dir.path().join("data"));
    std::fs::write(&conf, "v1").unwrap();
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("x"), "s").unwrap();
    let def = |extra: &str, command: &str, inputs: &str| {
        tool(&format!(
            "name: t\ntype: cli\ndeterministic: true\n{extra}actions:\n  go:\n    command: {command}\n    inputs:\n      conf: {{type: path, default: {}}}\n{inputs}",
            conf.display()
        ))
    };
    let none = crate::tools::JsonMap::new();
    // A default file the step leaves in place, and a file in the shell text: by content.
    let t = def("", &format!("\"cat {} {{{{ conf }}}}\"\n    shell: true", folder.join("x").display()), "");
    let read = t.reads("go", &none).programs;
    assert!(read.contains(&conf.display().to_string()) && read.contains(&folder.join("x").display().to_string()), "{read:?}");
    let given: crate::tools::JsonMap = json!({"conf": "/elsewhere"}).as_object().unwrap().clone();
    assert!(!t.reads("go", &given).programs.contains(&conf.display().to_string()), "given: the default is not read");
    assert!(t.deterministic("go", &none));
    // `~/` and `$HOME/` are the home folder (here the definition's own HOME).
    let home = def(&format!("env: {{HOME: {}}}\n", dir.path().display()), "\"cat ~/conf.txt $HOME/data/x\"\n    shell: true", "");
    let read = home.reads("go", &given).programs;
    assert!(read.contains(&conf.display().to_string()) && read.contains(&folder.join("x").display().to_string()), "{read:?}");
    // What the key cannot see: not cached.
    let cwd = def("", "[cat, '{{ conf }}']\n    cwd: /tmp", "");
    let path = def("env: {PATH: /opt/bin2}\n", "[cat, '{{ conf }}']", "");
    let listed = def("", &format!("[ls, {}]", folder.display()), "");
    for (t, why) in [(cwd, "its own working folder"), (path, "its own PATH"), (listed, "a folder it names")] {
        assert!(!t.deterministic("go", &none), "{why}");
    }
}
