use super::*;
use crate::recipe::parse_str;

fn plan(yaml: &str) -> Result<Plan, Vec<Diagnostic>> {
    let (recipe, diags) = parse_str(yaml, "t.yaml").unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    build(&recipe)
}

const TOOL: &str = "tool: file_ops\n    action: mkdir";

#[test]
fn sequential_recipe_runs_in_file_order() {
    let p = plan(&format!("name: t\nsteps:\n  - id: a\n    {TOOL}\n  - id: b\n    {TOOL}\n  - id: c\n    {TOOL}\n")).unwrap();
    assert!(p.sequential);
    assert_eq!(p.order, [0, 1, 2]);
    assert_eq!(p.deps, [vec![], vec![0], vec![1]]);
}

#[test]
fn depends_on_and_references_make_edges() {
    let y = format!(
        "name: t\nsteps:\n  - id: a\n    {TOOL}\n  - id: b\n    depends_on: []\n    {TOOL}\n  - id: c\n    depends_on: [a]\n    {TOOL}\n    inputs:\n      path: '{{{{ steps.b.outputs.created }}}}'\n"
    );
    let p = plan(&y).unwrap();
    assert!(!p.sequential);
    assert_eq!(p.deps[2], vec![0, 1]);
    assert_eq!(p.levels(), vec![vec![0, 1], vec![2]]);
}

#[test]
fn cycles_are_named() {
    let y = format!("name: t\nsteps:\n  - id: a\n    depends_on: [b]\n    {TOOL}\n  - id: b\n    depends_on: [a]\n    {TOOL}\n");
    let e = plan(&y).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(e[0].message.contains("steps form a cycle: `a` → `b` → `a`"), "{}", e[0].message);
}

#[test]
fn self_and_unknown_dependencies() {
    let y = format!("name: t\nsteps:\n  - id: a\n    depends_on: [a, bb]\n    {TOOL}\n  - id: b\n    depends_on: []\n    {TOOL}\n");
    let e = plan(&y).unwrap_err();
    assert!(e[0].message.contains("depends on itself"));
    assert!(e[1].message.contains("unknown step `bb`"));
}

#[test]
fn when_and_batch_sub_step_references_make_edges_and_a_step_without_depends_on_follows_the_previous_one() {
    let y = format!(
        "name: t\nsteps:\n  - id: a\n    depends_on: []\n    {TOOL}\n  - id: b\n    depends_on: []\n    {TOOL}\n  - id: c\n    depends_on: []\n    when: \"{{{{ steps.a.outputs.created }}}}\"\n    {TOOL}\n  - id: d\n    depends_on: []\n    tool: batch\n    action: foreach\n    inputs:\n      items: [1]\n      workflow_steps:\n        - id: s\n          tool: file_ops\n          action: mkdir\n          inputs: {{path: '{{{{ steps.b.outputs.created }}}}'}}\n  - id: e\n    {TOOL}\n"
    );
    let p = plan(&y).unwrap();
    assert_eq!(p.deps[2], vec![0], "`when` reads a");
    assert_eq!(p.deps[3], vec![1], "a batch sub-step reads b");
    assert_eq!(p.deps[4], vec![3], "no depends_on: after the step listed before it");
    assert_eq!(p.levels(), vec![vec![0, 1], vec![2, 3], vec![4]]);
}
