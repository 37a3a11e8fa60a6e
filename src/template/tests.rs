use super::*;
use serde_json::json;
use std::sync::Arc;

fn scope() -> Scope {
    let steps = Arc::new(StepTable::default());
    steps.set("list", crate::status::StepStatus::Completed, &json!({"files": ["a.txt", "b.txt"], "count": 2}));
    let templates = json!({"greet": "hi", "hello": "{{ templates.greet }} {{ inputs.name }}", "bad": "{{ inputs.nope }}"});
    let parts = RunParts {
        inputs: to_value(&json!({"name": "world", "n": 3})),
        config: to_value(&json!({"max_iterations": 3})),
        templates: templates.as_object().unwrap().clone(),
        workflow: to_value(&json!({"run_id": "r1", "run_dir": "/tmp/r1", "name": "t"})),
        temp_dir: to_value(&json!("/tmp/r1/temp")),
    };
    Scope::new(RunScope::new(parts, steps))
}

#[test]
fn whole_expression_keeps_native_type() {
    let s = scope();
    assert_eq!(render_str("{{ steps.list.outputs.files }}", &s).unwrap(), json!(["a.txt", "b.txt"]));
    assert_eq!(render_str("{{ inputs.n }}", &s).unwrap(), json!(3));
    assert_eq!(render_str("{{ inputs.n + 1 }}", &s).unwrap(), json!(4));
    assert_eq!(render_str("{{ inputs.n }}\n", &s).unwrap(), json!("3\n"));
}

#[test]
fn text_around_expression_gives_text_and_json_for_containers() {
    let s = scope();
    assert_eq!(render_str("hello {{ inputs.name }}", &s).unwrap(), json!("hello world"));
    assert_eq!(render_str("files={{ steps.list.outputs.files }}", &s).unwrap(), json!(r#"files=["a.txt","b.txt"]"#));
}

#[test]
fn unknown_output_key_names_existing_keys() {
    let e = render_str("{{ steps.list.outputs.filez }}", &scope()).unwrap_err();
    assert_eq!(
        e.message,
        "`steps.list.outputs.filez` is undefined; `steps.list.outputs` has `files`, `count` (in `{{ steps.list.outputs.filez }}`)"
    );
}

#[test]
fn unknown_step_lists_finished_steps() {
    let e = render_str("x {{ steps.ghost.outputs.path }}", &scope()).unwrap_err();
    assert!(e.message.starts_with("`steps.ghost` is undefined; steps finished so far: `list`"), "{}", e.message);
}

#[test]
fn unknown_input_is_an_error_not_none() {
    let e = render_str("{{ inputs.missing }}", &scope()).unwrap_err();
    assert!(e.message.contains("`inputs.missing` is undefined; `inputs` has `name`, `n`"), "{}", e.message);
}

#[test]
fn default_opts_out() {
    assert_eq!(render_str("{{ inputs.missing | default('x') }}", &scope()).unwrap(), json!("x"));
}

#[test]
fn conditions() {
    let s = scope();
    assert!(render_condition("{{ inputs.n > 2 }}", &s).unwrap());
    assert!(!render_condition("{{ steps.list.outputs.count == 5 }}", &s).unwrap());
    assert!(!render_condition("false", &s).unwrap());
    // Every word a `when` may be written as without a template reads as YAML means it.
    for word in super::CONSTANT_WORDS {
        let truthy = ["true", "1", "yes", "on"].contains(word);
        assert_eq!(render_condition(word, &s).unwrap(), truthy, "`{word}`");
        assert_eq!(render_condition(&word.to_uppercase(), &s).unwrap(), truthy, "`{word}` in capitals");
    }
}

#[test]
fn nested_values_render() {
    let v = render_value(&json!({"a": ["{{ inputs.n }}", {"b": "{{ templates.greet }}!"}]}), &scope()).unwrap();
    assert_eq!(v, json!({"a": [3, {"b": "hi!"}]}));
}

#[test]
fn templates_are_rendered_when_used() {
    assert_eq!(render_str("{{ templates.hello }}!", &scope()).unwrap(), json!("hi world!"));
    let e = render_str("{{ templates.bad }}", &scope()).unwrap_err();
    assert!(e.message.starts_with("`templates.bad`: `inputs.nope` is undefined"), "{}", e.message);
}

/// The fast path for plain substitutions must render exactly as minijinja does.
#[test]
fn plain_substitutions_render_like_minijinja() {
    let s = scope();
    let root = s.value();
    let cases = [
        "{{ inputs.name }}",
        "{{inputs.name}}",
        "x {{ inputs.n }} y",
        "{{ steps.list.outputs.files }}",
        "files={{ steps.list.outputs.files }}",
        "{{ steps.list.status }}/{{ steps.list.outputs.count }}\n",
        "{{ workflow }}",
        "a }} b",
        "{{ config.max_iterations }}{{ temp_dir }}",
        "{{ true }}",
    ];
    for case in cases {
        let fast = render_str(case, &s).unwrap();
        let reference = match single_expression(case) {
            Some(expr) => serde_json::to_value(env().compile_expression(expr).unwrap().eval(root.clone()).unwrap()).unwrap(),
            None => serde_json::Value::String(env().render_str(case, root.clone()).unwrap()),
        };
        assert_eq!(fast, reference, "{case}");
    }
    // Names that do not resolve give minijinja's own diagnosis.
    assert!(render_str("x {{ inputs.missing }}", &s).unwrap_err().message.contains("`inputs.missing` is undefined"));
    let refs = references("{{ steps.a.outputs.path }}-{{ inputs.x }}-{{ steps.a.outputs.path }}").unwrap();
    assert_eq!(refs.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["inputs.x", "steps.a.outputs.path"]);
}

#[test]
fn a_runaway_template_stops_quickly_with_a_clear_error() {
    let s = scope();
    // 10^10 iterations: only the fuel limit ends it (no timed assertion: the error is the proof).
    let e = render_str("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", &s).unwrap_err();
    assert!(e.message.contains("did too much work"), "{}", e.message);
    // Ordinary templates are far below the limit.
    assert_eq!(render_str("{% for i in range(1000) %}{{ i }}{% endfor %}", &s).unwrap().as_str().unwrap().len(), 2890);
}

#[test]
fn documents_render_with_their_context_and_errors_name_the_line() {
    let ctx = serde_json::json!({"hw": {"ram_gb": 16.0}, "models": [{"model": "a", "fits": true}, {"model": "b", "fits": false}]});
    let text = "RAM {{ hw.ram_gb }} GB\n{% for m in models if m.fits %}- {{ m.model }}\n{% endfor %}";
    assert_eq!(super::render_document(text, &ctx).unwrap(), "RAM 16.0 GB\n- a\n");
    let e = super::render_document("ok\n\n{{ hw.vram_gb }}\n", &ctx).unwrap_err();
    assert_eq!(e.line, Some(3), "{e:?}");
}
