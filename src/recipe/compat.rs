//! What a recipe written for LocalForge 0.x would do differently here: said as warnings by
//! `validate`, never errors.

use super::model::{Recipe, Step};
use crate::diag::Diagnostic;

/// Warnings for a recipe that looks written for 0.x (it uses nothing 0.x lacked): each
/// `script` step that does not say `allow_failure` now fails on a non-zero exit, where 0.x
/// went on. A recipe using `depends_on`, `when`, `resources`, `parallel` or an `outputs:`
/// mapping was written for this version, and gets none.
pub fn warnings_0x(r: &Recipe) -> Vec<Diagnostic> {
    let steps: Vec<&Step> = all_steps(&r.steps);
    let new_style = r.outputs.is_some()
        || steps.iter().any(|s| s.depends_on.is_some() || s.when.is_some() || s.resources.is_some() || s.inputs.contains_key("parallel"));
    if new_style {
        return Vec::new();
    }
    steps
        .into_iter()
        .filter(|s| s.tool_action().is_some_and(|(t, _)| t == "script") && !s.inputs.contains_key("allow_failure"))
        .map(|s| {
            Diagnostic::new(format!(
                "step `{}`: a `script` step now fails when its program exits non-zero (in LocalForge 0.x the run went on)",
                s.id
            ))
            .in_file(&r.file)
            .at(s.line, s.col)
            .hint("add `allow_failure: true` to its inputs to keep 0.x's behaviour, or `allow_failure: false` to say a failure should stop the run")
        })
        .collect()
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
    fn a_0x_style_script_step_is_warned_about_and_a_new_recipe_is_not() {
        let old = "name: r\nsteps:\n  - {id: a, tool: script, action: run, inputs: {command: 'exit 1'}}\n  - {id: b, tool: script, action: run, inputs: {command: x, allow_failure: true}}\n";
        let (r, _) = crate::recipe::parse_str(old, "r.yaml").unwrap();
        let w = warnings_0x(&r);
        assert_eq!(w.len(), 1);
        assert!(w[0].message.starts_with("step `a`: a `script` step now fails") && w[0].line == Some(3));
        let new = format!("{old}  - {{id: c, tool: file_ops, action: mkdir, depends_on: [a], inputs: {{path: x}}}}\n");
        let (r, _) = crate::recipe::parse_str(&new, "r.yaml").unwrap();
        assert!(warnings_0x(&r).is_empty());
    }
}
