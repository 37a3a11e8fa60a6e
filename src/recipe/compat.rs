//! What a recipe written for LocalForge 0.x would do differently here: said as warnings by
//! `validate`, never errors.

use super::model::{Recipe, Step};
use crate::diag::Diagnostic;

/// The warning for a recipe that looks written for 0.x — it says its `version:`, as 0.x's
/// template had every recipe do, and uses nothing 0.x lacked (`depends_on`, `when`,
/// `resources`, `parallel`, an `outputs:` mapping) — with `script` steps that do not say
/// `allow_failure`: they now fail on a non-zero exit, where 0.x went on. One warning for
/// the recipe, at its first such step, naming them all; a recipe written for this version
/// gets none.
pub fn warnings_0x(r: &Recipe) -> Vec<Diagnostic> {
    let steps: Vec<&Step> = all_steps(&r.steps);
    let new_style = r.outputs.is_some()
        || steps.iter().any(|s| s.depends_on.is_some() || s.when.is_some() || s.resources.is_some() || s.inputs.contains_key("parallel"));
    if new_style || r.version.is_none() {
        return Vec::new();
    }
    let scripts: Vec<&Step> = steps
        .into_iter()
        .filter(|s| s.tool_action().is_some_and(|(t, _)| t == "script") && !s.inputs.contains_key("allow_failure"))
        .collect();
    let Some(first) = scripts.first() else { return Vec::new() };
    let ids = crate::diag::list_names(&scripts.iter().map(|s| s.id.as_str()).collect::<Vec<_>>());
    let (noun, verb) = if scripts.len() == 1 { ("step", "fails") } else { ("steps", "fail") };
    vec![Diagnostic::new(format!(
        "this recipe looks written for LocalForge 0.x: its `script` {noun} {ids} now {verb} when the program exits non-zero, where 0.x went on"
    ))
    .in_file(&r.file)
    .at(first.line, first.col)
    .hint("in each, add `allow_failure: true` to its inputs to go on as 0.x did, or `allow_failure: false` to stop the run (either one says it, and this warning goes)")]
}

/// A warning for each setting a step writes that its `on_failure` makes do nothing: a
/// `retry_count` or `retry_delay` without `on_failure: retry`, a `refinement` without
/// `on_failure: refine` (the step fails once, as it would without them).
pub fn idle_settings(r: &Recipe) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for s in all_steps(&r.steps).into_iter().chain(r.refinement.iter()) {
        for (key, line, col) in &s.idle {
            let wanted = if *key == "refinement" { "refine" } else { "retry" };
            out.push(
                Diagnostic::new(format!("step `{}` sets `{key}`, which does nothing without `on_failure: {wanted}`", s.id))
                    .in_file(&r.file)
                    .at(*line, *col)
                    .hint(format!("add `on_failure: {wanted}` to the step, or remove `{key}`")),
            );
        }
    }
    out
}

fn all_steps(steps: &[Step]) -> Vec<&Step> {
    let mut out = Vec::new();
    for s in steps {
        out.push(s);
        out.extend(all_steps(s.batch.as_deref().unwrap_or_default()));
        for c in s.children() {
            out.extend(all_steps(std::slice::from_ref(c)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_or_refinement_setting_its_on_failure_ignores_is_warned_about() {
        let text = "name: r\nsteps:\n  - {id: a, tool: script, action: run, retry_count: 3, inputs: {command: x}}\n  - {id: b, tool: script, action: run, on_failure: retry, retry_count: 3, retry_delay: 1, inputs: {command: x}}\n  - id: c\n    tool: script\n    action: run\n    on_failure: skip\n    inputs: {command: x}\n    refinement:\n      steps: [{id: fix, tool: script, action: run, inputs: {command: y}}]\n";
        let (r, _) = crate::recipe::parse_str(text, "r.yaml").unwrap();
        let w: Vec<String> = idle_settings(&r).iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            [
                "r.yaml:3:53: step `a` sets `retry_count`, which does nothing without `on_failure: retry`\n  hint: add `on_failure: retry` to the step, or remove `retry_count`",
                "r.yaml:11:7: step `c` sets `refinement`, which does nothing without `on_failure: refine`\n  hint: add `on_failure: refine` to the step, or remove `refinement`",
            ]
        );
    }

    #[test]
    fn a_0x_recipe_is_warned_about_once_and_a_new_one_not_at_all() {
        let old = "name: r\nversion: \"1.0\"\nsteps:\n  - {id: a, tool: script, action: run, inputs: {command: 'exit 1'}}\n  - {id: b, tool: script, action: run, inputs: {command: x, allow_failure: true}}\n  - {id: c, tool: script, action: run, inputs: {command: y}}\n";
        let (r, _) = crate::recipe::parse_str(old, "r.yaml").unwrap();
        let w = warnings_0x(&r);
        assert_eq!(w.len(), 1, "once for the recipe");
        assert_eq!(w[0].message, "this recipe looks written for LocalForge 0.x: its `script` steps `a`, `c` now fail when the program exits non-zero, where 0.x went on");
        assert_eq!(w[0].line, Some(4), "at the first of them");
        let new = format!("{old}  - {{id: d, tool: file_ops, action: mkdir, depends_on: [a], inputs: {{path: x}}}}\n");
        let (r, _) = crate::recipe::parse_str(&new, "r.yaml").unwrap();
        assert!(warnings_0x(&r).is_empty(), "uses what 0.x lacked");
        let (r, _) = crate::recipe::parse_str(&old.replace("version: \"1.0\"\n", ""), "r.yaml").unwrap();
        assert!(warnings_0x(&r).is_empty(), "a recipe without 0.x's `version:` is a new one");
    }
}
