//! `validate`'s warnings about the step cache: `cache: true` on a step whose tool does not
//! say its calls are deterministic. LocalForge then sees only part of what the step depends
//! on and does (its inputs, the files and programs they name, the run folder): a hit could
//! differ from a fresh run if the step reads or writes anything else.

use crate::diag::Diagnostic;
use crate::recipe::{Recipe, Step};
use crate::tools::Registry;

pub fn warnings(r: &Recipe, tools: &Registry) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut visit = |s: &Step| {
        let Some((tool, action)) = s.tool_action() else { return };
        let Some(t) = tools.get(tool) else { return };
        if s.cache != Some(true) || t.deterministic(action, &s.inputs) {
            return;
        }
        let d = if t.renders_0x() {
            Diagnostic::new(format!("step `{}`: `cache: true` has no effect: `{tool}` is a 0.x plugin, which renders its own inputs", s.id))
                .hint("remove `cache: true`, or give the plugin `TOOL_DETERMINISTIC = True` and `TOOL_INPUTS`")
        } else {
            Diagnostic::new(format!(
                "step `{}`: `cache: true` on {tool}.{action}, whose effects LocalForge cannot all see: a hit gives back its outputs \
                 and what it changed in the run folder, not what it reads or writes anywhere else",
                s.id
            ))
            .hint(
                "keep it only if the step reads nothing but its inputs, the files they name, the programs it runs and its \
                 environment, and writes only into the run folder; otherwise remove `cache: true`",
            )
        };
        out.push(d.in_file(&r.file).at(s.line, s.col));
    };
    for s in &r.steps {
        visit(s);
        s.batch.iter().flatten().for_each(&mut visit);
        s.children().for_each(&mut visit);
    }
    out
}
