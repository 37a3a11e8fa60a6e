//! Validation against the tools: an input the action does not take is refused where
//! it is written, with the name meant; open actions and tools that do not say are not checked.

use super::{parse_str, validate, ToolCatalog};
use crate::tools::cli::{parse, CliTool};
use crate::tools::Registry;
use std::sync::Arc;

/// `fmt.pick`: a YAML tool whose action takes `input`, `filter` and `output`.
const FMT: &str = "name: fmt\ntype: cli\nactions:\n  pick:\n    command: [cat, '{{ input }}']\n    inputs:\n      input: {type: path, required: true}\n      filter: {type: string}\n      output: {type: path}\n";

fn tools() -> Registry {
    let mut r = Registry::native();
    r.add(Arc::new(CliTool { def: parse(FMT, "fmt.yaml").unwrap() })).unwrap();
    r
}

/// Every problem validation finds in `text`, as the CLI prints them.
fn problems(text: &str, tools: &dyn ToolCatalog) -> Vec<String> {
    let (recipe, parsed) = parse_str(text, "r.yaml").unwrap_or_else(|d| panic!("{d:?}"));
    assert!(parsed.is_empty(), "{parsed:?}");
    validate(&recipe, tools).iter().map(ToString::to_string).collect()
}

#[test]
fn a_misspelled_input_of_a_native_tool_is_refused_where_it_is_written() {
    let text =
        "name: r\nsteps:\n  - id: w\n    tool: file_ops\n    action: write\n    inputs:\n      path: out.txt\n      contnet: hello\n";
    assert_eq!(
        problems(text, &tools()),
        ["r.yaml:8:7: `file_ops.write` has no input `contnet` (step `w`)\n  hint: did you mean `content`?"]
    );
    // Another tool, another misspelling, in a flow mapping.
    let text = "name: r\nsteps:\n  - {id: s, tool: script, action: run, inputs: {comand: 'true'}}\n";
    assert_eq!(problems(text, &tools()), ["r.yaml:3:49: `script.run` has no input `comand` (step `s`)\n  hint: did you mean `command`?"]);
    // Nothing close: the inputs there are.
    let text = "name: r\nsteps:\n  - {id: d, tool: file_ops, action: delete, inputs: {path: x, recursive: true}}\n";
    assert_eq!(
        problems(text, &tools()),
        ["r.yaml:3:63: `file_ops.delete` has no input `recursive` (step `d`)\n  hint: `file_ops.delete` takes `path`"]
    );
}

#[test]
fn a_misspelled_input_of_a_yaml_tool_action_is_refused() {
    let text = "name: r\nsteps:\n  - id: p\n    tool: fmt\n    action: pick\n    inputs: {input: a.txt, fitler: x}\n";
    assert_eq!(problems(text, &tools()), ["r.yaml:6:28: `fmt.pick` has no input `fitler` (step `p`)\n  hint: did you mean `filter`?"]);
}

#[test]
fn batch_sub_steps_and_refinement_steps_are_checked_too() {
    let text = r#"name: r
steps:
  - id: each
    tool: batch
    action: foreach
    inputs:
      items: [a, b]
      workflow_steps:
        - {id: one, tool: file_ops, action: write, inputs: {path: "{{ item }}.txt", contnet: x}}
        - {id: two, tool: fmt, action: pick, inputs: {input: "{{ item }}", fitler: y}}
  - id: gen
    tool: script
    action: run
    on_failure: refine
    inputs: {command: 'true'}
    refinement:
      steps:
        - {id: fix, tool: file_ops, action: mkdir, inputs: {pth: x}}
"#;
    assert_eq!(
        problems(text, &tools()),
        [
            "r.yaml:9:85: `file_ops.write` has no input `contnet` (step `one`)\n  hint: did you mean `content`?",
            "r.yaml:10:76: `fmt.pick` has no input `fitler` (step `two`)\n  hint: did you mean `filter`?",
            "r.yaml:18:61: `file_ops.mkdir` has no input `pth` (step `fix`)\n  hint: did you mean `path`?",
        ]
    );
}

#[test]
fn what_a_tool_really_reads_passes() {
    // 0.x spellings the tools still read, templated values, every input of each action.
    let text = r#"name: r
inputs: [{name: dir, type: string, default: /tmp}]
steps:
  - {id: s, tool: script, action: run, inputs: {command: [echo, hi], working_dir: "{{ inputs.dir }}", env: {A: b}, stdin: x, timeout: 5, allow_failure: true, args: [x]}}
  - {id: w, tool: file_ops, action: write, inputs: {path: a.txt, content: {k: 1}, append: true, encoding: utf-8}}
  - {id: r, tool: file_ops, action: read, inputs: {path: a.txt, max_chars: 10, max_bytes: 10, encoding: ascii}}
  - {id: c, tool: file_ops, action: copy_multiple, inputs: {copies: [{source: a, destination: b}], sources: [a], destination: d}}
  - {id: p, tool: fmt, action: pick, inputs: {input: a.txt, filter: x, output: b.txt}}
  - {id: b, tool: batch, action: foreach, inputs: {items: [1], parallel: 1, workflow_steps: [{id: x, tool: file_ops, action: list, inputs: {path: ., pattern: "*"}}]}}
"#;
    assert_eq!(problems(text, &tools()), Vec::<String>::new());
}

/// A catalog where `api.send` passes any input on, `old` says nothing of its inputs,
/// and `strict.go` takes `a` alone.
struct Catalog;

impl ToolCatalog for Catalog {
    fn actions(&self, tool: &str) -> Option<Vec<String>> {
        match tool {
            "api" => Some(vec!["send".into()]),
            "old" | "strict" => Some(vec!["go".into()]),
            _ => None,
        }
    }
    fn tool_names(&self) -> Vec<String> {
        vec!["api".into(), "old".into(), "strict".into()]
    }
    fn inputs(&self, tool: &str, _action: &str) -> Option<Vec<String>> {
        (tool == "strict").then(|| vec!["a".into()])
    }
}

#[test]
fn open_actions_and_tools_that_do_not_say_are_not_checked() {
    let text = "name: r\nsteps:\n  - {id: a, tool: api, action: send, inputs: {anything: 1}}\n  - {id: b, tool: old, action: go, inputs: {whatever: 2}}\n  - {id: c, tool: strict, action: go, inputs: {a: 1, b: 2}}\n";
    assert_eq!(problems(text, &Catalog), ["r.yaml:5:54: `strict.go` has no input `b` (step `c`)\n  hint: `strict.go` takes `a`"]);
}

#[test]
fn the_registry_checks_only_closed_tables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("localforge.yaml"), "services: {}\n").unwrap();
    let r = Registry::configured(&crate::config::Config::from_file(&dir.path().join("localforge.yaml")).unwrap());
    // img2img passes other inputs to the WebUI; the LLM takes its model options by name.
    assert!(r.inputs("ollama", "generate").is_some_and(|n| n.iter().any(|i| i == "temperature") && !n.iter().any(|i| i == "sytem")));
    assert_eq!(r.inputs("sd_client", "img2img"), None);
    assert!(r.inputs("sd_client", "txt2img").is_some_and(|n| n.iter().any(|i| i == "override_settings")));
    assert_eq!(r.inputs("batch", "foreach"), None);
    assert_eq!(r.inputs("file_ops", "write").unwrap(), ["path", "content", "append", "encoding"]);
    assert!(r.inputs("script", "run").unwrap().iter().any(|i| i == "working_dir"), "0.x's name for `cwd`");
}

#[test]
fn a_misspelled_step_key_suggests_the_key_meant() {
    let text = "name: r\nsteps:\n  - {id: a, tool: script, action: run, retires: 3, inputs: {command: 'true'}}\n";
    let diags = parse_str(text, "r.yaml").unwrap().1;
    assert_eq!(diags[0].to_string(), "r.yaml:3:40: unknown key `retires` in step `a`\n  hint: did you mean `retry_count`?");
}

#[test]
fn resources_gpu_is_true_false_a_cards_index_or_its_uuid_and_split_is_a_flag() {
    let parsed = |value: &str| {
        let text = format!("name: r\nsteps:\n  - {{id: s, tool: script, action: run, resources: {{gpu: {value}, split: true}}, inputs: {{command: 'true'}}}}\n");
        parse_str(&text, "r.yaml")
    };
    let gpu_of = |value: &str| parsed(value).map(|(r, _)| r.steps[0].resources.clone().unwrap());
    let r = gpu_of("0").unwrap();
    assert_eq!((r.gpu, r.card.as_deref(), r.split), (Some(true), Some("0"), Some(true)), "`0` is the first card, not false");
    assert_eq!(gpu_of("GPU-8f2c").unwrap().card.as_deref(), Some("GPU-8f2c"));
    assert_eq!((gpu_of("true").unwrap().gpu, gpu_of("true").unwrap().card), (Some(true), None));
    assert_eq!((gpu_of("no").unwrap().gpu, gpu_of("no").unwrap().card), (Some(false), None));
    let bad = match parsed("-1") {
        Ok((_, parsed)) | Err(parsed) if !parsed.is_empty() => parsed[0].to_string(),
        _ => String::new(),
    };
    assert!(bad.contains("`gpu` in `resources` of step `s` must be true, false, a card's index or its UUID, found `-1`"), "{bad}");
}

#[test]
fn a_when_that_is_text_without_a_template_is_refused_where_it_is_written() {
    let text = "name: r\ninputs: [{name: enabled, type: boolean, default: false}]\nsteps:\n  - {id: s, tool: script, action: run, when: inputs.enabled, inputs: {command: 'true'}}\n";
    let d = match parse_str(text, "r.yaml") {
        Ok((_, found)) => found,
        Err(found) => found,
    };
    let shown: Vec<String> = d.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["r.yaml:4:46: `when` in step `s` is the text `inputs.enabled`, which is not a template: it would always be true\n  hint: write the expression in braces: `when: \"{{ inputs.enabled }}\"`"]
    );
    for fine in ["'false'", "no", "'off'", "none", "true", "\"{{ inputs.enabled }}\"", "\"{% if inputs.enabled %}yes{% endif %}\""] {
        let text = text.replace("when: inputs.enabled", &format!("when: {fine}"));
        assert!(parse_str(&text, "r.yaml").is_ok_and(|(_, p)| p.is_empty()), "{fine}");
    }
}

#[test]
fn a_batch_sub_steps_own_refinement_is_validated() {
    let text = "name: r\nsteps:\n  - id: each\n    tool: batch\n    action: foreach\n    inputs:\n      items: [1]\n      workflow_steps:\n        - id: w\n          tool: file_ops\n          action: write\n          on_failure: refine\n          inputs: {path: a.txt, content: x}\n          refinement:\n            steps:\n              - {id: fix, tool: file_ops, action: write, inputs: {path: a.txt, contnet: y}}\n";
    let found = problems(text, &tools());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("`file_ops.write` has no input `contnet` (step `fix`)"), "{found:?}");
}

#[test]
fn outputs_and_cleanup_read_only_what_the_recipe_has() {
    let text = "name: r\ninputs: [{name: keep, type: path, default: /tmp}]\noutputs: {o: \"{{ inputs.mgs }}\", p: \"{{ templates.greet }}\"}\ntemplates: {greeting: hi}\ncleanup:\n  on_success:\n    - {action: preserve, path: \"{{ inputs.kep }}\"}\n    - {action: delete, path: \"{{ steps.w.outputs.path }}\"}\n    - {action: delete, path: \"{{ steps.x.outputs.path }}\"}\nsteps:\n  - {id: w, tool: file_ops, action: write, inputs: {path: a.txt, content: x}}\n";
    let found = problems(text, &tools());
    let messages: Vec<&str> = found.iter().map(|p| p.split('\n').next().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "r.yaml:3:14: recipe output reads undeclared input `inputs.mgs`",
            "r.yaml:3:37: recipe output reads `templates.greet`, which the recipe does not define",
            "r.yaml:7:32: cleanup reads undeclared input `inputs.kep`",
            "r.yaml:9:30: cleanup reads `steps.x`, but there is no step `x`",
        ]
    );
    assert!(found[0].contains("did you mean `keep`?") || found[0].contains("`inputs` has `keep`"), "{found:?}");
}
