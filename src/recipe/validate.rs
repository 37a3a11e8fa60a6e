//! Checks that need more than the file: tools and actions, and references between
//! steps and inputs (the plan's own checks, such as cycles, are `plan::build`'s).

use super::model::{trigger_target, Recipe, SiteRef, Step, StepKind};
use crate::diag::{did_you_mean, list_names, Diagnostic};
use std::collections::HashMap;

/// What the validator needs to know about tools.
pub trait ToolCatalog {
    /// The actions of `tool`, or `None` when no such tool exists.
    fn actions(&self, tool: &str) -> Option<Vec<String>>;
    /// Every tool name (for suggestions).
    fn tool_names(&self) -> Vec<String>;
    /// Whether the registry LocalForge ships has a tool of this name (`tools install` adds it).
    fn installable(&self, _tool: &str) -> bool {
        false
    }
    /// Why `tool` cannot be used here (a failed import, say), if it cannot.
    fn unavailable(&self, _tool: &str) -> Option<String> {
        None
    }
    /// The tool renders its inputs as 0.x did (a 0.x Python plugin): unknown names are its own.
    fn renders_0x(&self, _tool: &str) -> bool {
        false
    }
    /// Every input `action` of `tool` takes, when it takes no others: a step naming another
    /// is refused. `None` when any input goes: the tool does not say (a 0.x plugin without
    /// `TOOL_INPUTS`), or the action passes the others on (to an API).
    fn inputs(&self, _tool: &str, _action: &str) -> Option<Vec<String>> {
        None
    }
}

const ROOTS: &[&str] = &["inputs", "steps", "config", "templates", "workflow", "temp_dir", "timestamp"];
const WORKFLOW_KEYS: &[&str] = &["run_id", "run_dir", "name"];
/// Names minijinja itself defines, or that templates define locally.
const BUILTINS: &[&str] = &[
    "loop",
    "range",
    "dict",
    "namespace",
    "debug",
    "lipsum",
    "cycler",
    "joiner",
    "self",
    "super",
    "caller",
    "varargs",
    "kwargs",
    "none",
    "true",
    "false",
];

/// Every problem in a parsed recipe, besides those found while parsing.
pub fn validate(recipe: &Recipe, tools: &dyn ToolCatalog) -> Vec<Diagnostic> {
    let mut ids: HashMap<&str, Option<usize>> = recipe.all_steps().map(|s| (s.id.as_str(), None)).collect();
    for (i, s) in recipe.steps.iter().enumerate().filter(|(_, s)| !s.is_refinement()) {
        let slot = ids.entry(s.id.as_str()).or_default();
        if slot.is_none() {
            *slot = Some(i); // the first of duplicate ids; duplicates are reported separately
        }
    }
    let mut v = Validator { recipe, tools, diags: Vec::new(), ids };
    v.unique_ids();
    let sequential = recipe.steps.iter().all(|s| s.depends_on.is_none());
    for (i, step) in recipe.steps.iter().enumerate() {
        v.step(step, &Place::Top { index: i, sequential });
        if let StepKind::Refinement { trigger, steps } = &step.kind {
            let target = trigger_target(trigger);
            if recipe.step(target).is_none() {
                let ids = recipe.steps.iter().map(|s| s.id.as_str());
                v.error(
                    step.line,
                    step.col,
                    format!("refinement step `{}` is triggered by unknown step `{target}`", step.id),
                    did_you_mean(target, ids),
                );
            }
            for child in steps {
                v.step(child, &Place::Refinement);
            }
        }
        for child in step.refinement.iter().flatten() {
            v.step(child, &Place::Refinement);
        }
    }
    for child in &recipe.refinement {
        v.step(child, &Place::Refinement);
    }
    v.outputs();
    v.diags.sort_by_key(|d| (d.line, d.column));
    v.diags
}

#[derive(Clone)]
enum Place {
    Top {
        index: usize,
        sequential: bool,
    },
    Refinement,
    /// Inside a batch: the owner's place, and the sub-steps before this one.
    Batch {
        owner: Box<Place>,
        earlier: Vec<String>,
    },
}

struct Validator<'a> {
    recipe: &'a Recipe,
    tools: &'a dyn ToolCatalog,
    diags: Vec<Diagnostic>,
    /// Every step id: its index among top-level runnable steps, if it is one.
    ids: HashMap<&'a str, Option<usize>>,
}

impl<'a> Validator<'a> {
    fn error(&mut self, line: usize, col: usize, message: String, hint: Option<String>) {
        self.diags.push(Diagnostic::new(message).in_file(&self.recipe.file).at(line, col).maybe_hint(hint));
    }

    fn unique_ids(&mut self) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let all: Vec<&Step> = self.recipe.all_steps().collect();
        for step in all {
            if let Some(first) = seen.insert(&step.id, step.line) {
                self.error(
                    step.line,
                    step.col,
                    format!("duplicate step id `{}` (first used on line {first})", step.id),
                    Some("step ids must be unique; rename one".into()),
                );
            }
        }
    }

    fn step(&mut self, step: &Step, place: &Place) {
        if let StepKind::Tool { tool, action } = &step.kind {
            self.tool(step, tool, action);
            if tool == "batch" {
                self.batch_parallel(step);
            }
        }
        for r in &step.refs {
            self.reference(step, r, place);
        }
        if let Some(subs) = &step.batch {
            let mut seen: Vec<String> = Vec::new();
            for sub in subs {
                if seen.contains(&sub.id) {
                    self.error(sub.line, sub.col, format!("duplicate id `{}` in `workflow_steps` of step `{}`", sub.id, step.id), None);
                }
                self.step(sub, &Place::Batch { owner: Box::new(place.clone()), earlier: seen.clone() });
                // Its refinement runs inside the item: it sees the item and its sub-steps so far.
                let mut with_it = seen.clone();
                with_it.push(sub.id.clone());
                for child in sub.refinement.iter().flatten() {
                    self.step(child, &Place::Batch { owner: Box::new(place.clone()), earlier: with_it.clone() });
                }
                seen.push(sub.id.clone());
            }
        }
    }

    /// The recipe's `outputs:` and `cleanup:` (rendered after the run: any step) read
    /// steps, inputs, `config` and `templates` keys that exist.
    fn outputs(&mut self) {
        let sites =
            self.recipe.output_refs.iter().map(|s| ("recipe output", s)).chain(self.recipe.cleanup_refs.iter().map(|s| ("cleanup", s)));
        for (what, site) in sites {
            let r = &site.reference;
            if r.guarded {
                continue;
            }
            let (Some(key), root) = (r.part(1), r.root()) else { continue };
            let known: Vec<&str> = match root {
                "steps" => self.recipe.steps.iter().map(|s| s.id.as_str()).collect(),
                "inputs" => self.recipe.inputs.iter().map(|i| i.name.as_str()).collect(),
                "config" => self.recipe.config.keys().map(String::as_str).collect(),
                "templates" => self.recipe.templates.keys().map(String::as_str).collect(),
                "workflow" => WORKFLOW_KEYS.to_vec(),
                _ => continue,
            };
            let present = match root {
                "steps" => self.ids.contains_key(key),
                _ => known.contains(&key),
            };
            if !present {
                let hint = did_you_mean(key, known.iter().copied()).unwrap_or_else(|| format!("`{root}` has {}", list_names(&known)));
                let message = match root {
                    "steps" => format!("{what} reads `steps.{key}`, but there is no step `{key}`"),
                    "inputs" => format!("{what} reads undeclared input `inputs.{key}`"),
                    "workflow" => format!("{what} reads unknown `workflow.{key}`"),
                    _ => format!("{what} reads `{root}.{key}`, which the recipe does not define"),
                };
                self.error(site.line, site.col, message, Some(hint));
            }
        }
    }

    /// `batch.foreach` with a literal `parallel` below 1 can never run an item.
    fn batch_parallel(&mut self, step: &Step) {
        let Some(p) = step.inputs.get("parallel") else { return };
        let bad = match p {
            serde_json::Value::Number(n) => n.as_i64().is_none_or(|n| n < 1),
            serde_json::Value::Bool(_) | serde_json::Value::Array(_) | serde_json::Value::Object(_) => true,
            _ => false, // text: a template, or checked at run time
        };
        if bad {
            self.error(
                step.line,
                step.col,
                format!("step `{}`: `parallel` must be a whole number of 1 or more, got {p}", step.id),
                Some("`parallel: 1` runs the items one after another; leave it out for the same".into()),
            );
        }
    }

    fn tool(&mut self, step: &Step, tool: &str, action: &str) {
        if tool.is_empty() || action.is_empty() {
            return; // already reported as missing
        }
        match self.tools.actions(tool) {
            None => {
                let names = self.tools.tool_names();
                let hint = match self.tools.installable(tool) {
                    true => format!("it is in the tool registry: install it with `localforge tools install {tool}`"),
                    false => did_you_mean(tool, names.iter().map(String::as_str))
                        .unwrap_or_else(|| format!("available tools: {}", list_names(&names))),
                };
                self.error(step.line, step.col, format!("step `{}` uses unknown tool `{tool}`", step.id), Some(hint));
            }
            Some(actions) => {
                if let Some(why) = self.tools.unavailable(tool) {
                    self.error(
                        step.line,
                        step.col,
                        format!("step `{}` uses tool `{tool}`, which cannot be used here: {why}", step.id),
                        None,
                    );
                }
                if !actions.iter().any(|a| a == action) {
                    if self.tools.unavailable(tool).is_none() {
                        let hint = did_you_mean(action, actions.iter().map(String::as_str))
                            .unwrap_or_else(|| format!("`{tool}` actions: {}", list_names(&actions)));
                        self.error(step.line, step.col, format!("tool `{tool}` has no action `{action}` (step `{}`)", step.id), Some(hint));
                    }
                } else {
                    // Even when the tool cannot run here (its program is missing), what its
                    // action takes is known: a misspelled input is told now, not after the install.
                    self.inputs(step, tool, action);
                }
            }
        }
    }

    /// Inputs the action does not take: a misspelled one would otherwise be dropped
    /// (`contnet:` writing an empty file) or fail only when the step starts.
    fn inputs(&mut self, step: &Step, tool: &str, action: &str) {
        let names = match (tool, self.tools.inputs(tool, action)) {
            // `batch.foreach` is the engine's own: its inputs are the recipe language's.
            ("batch", _) => crate::recipe::keys::BATCH_INPUTS.iter().map(|k| k.name.to_string()).collect(),
            (_, Some(names)) => names,
            _ => return,
        };
        for key in step.input_keys.iter().filter(|k| !names.contains(&k.name) && !crate::template::has_template(&k.name)) {
            let hint = did_you_mean(&key.name, names.iter().map(String::as_str)).unwrap_or_else(|| match names.is_empty() {
                true => format!("`{tool}.{action}` takes no inputs"),
                false => format!("`{tool}.{action}` takes {}", list_names(&names)),
            });
            self.error(key.line, key.col, format!("`{tool}.{action}` has no input `{}` (step `{}`)", key.name, step.id), Some(hint));
        }
    }

    fn reference(&mut self, step: &Step, site: &SiteRef, place: &Place) {
        let r = &site.reference;
        if r.guarded {
            return;
        }
        let (line, col) = (site.line, site.col);
        let root = r.root();
        let batch_earlier = match place {
            Place::Batch { earlier, .. } => Some(earlier),
            _ => None,
        };
        if BUILTINS.contains(&root) {
            return;
        }
        match root {
            "inputs" => {
                let Some(name) = r.part(1) else { return };
                let names: Vec<&str> = self.recipe.inputs.iter().map(|i| i.name.as_str()).collect();
                if !names.contains(&name) {
                    let hint =
                        did_you_mean(name, names.iter().copied()).unwrap_or_else(|| format!("declared inputs: {}", list_names(&names)));
                    self.error(line, col, format!("step `{}` uses undeclared input `inputs.{name}`", step.id), Some(hint));
                }
            }
            "config" | "templates" => {
                let Some(key) = r.part(1) else { return };
                let map = if root == "config" { &self.recipe.config } else { &self.recipe.templates };
                if !map.contains_key(key) {
                    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                    self.error(
                        line,
                        col,
                        format!("step `{}` uses `{root}.{key}`, which the recipe does not define", step.id),
                        did_you_mean(key, keys.iter().copied()).or_else(|| Some(format!("`{root}` has {}", list_names(&keys)))),
                    );
                }
            }
            "workflow" => {
                if let Some(key) = r.part(1).filter(|k| !WORKFLOW_KEYS.contains(k)) {
                    self.error(
                        line,
                        col,
                        format!("step `{}` uses unknown `workflow.{key}`", step.id),
                        Some(format!("`workflow` has {}", list_names(WORKFLOW_KEYS))),
                    );
                }
            }
            "steps" => {
                let Some(target) = r.part(1) else { return };
                self.step_reference(step, target, place, line, col);
            }
            "temp_dir" | "timestamp" => {}
            "item" | "item_index" if batch_earlier.is_some() => {}
            other if batch_earlier.is_some_and(|e| e.iter().any(|x| x == other)) => {}
            // 0.x left a name it did not know as written; a 0.x plugin may resolve it itself.
            _ if step.tool_action().is_some_and(|(t, _)| self.tools.renders_0x(t)) => {}
            other => {
                let mut names: Vec<&str> = ROOTS.to_vec();
                if let Some(e) = batch_earlier {
                    names.extend(["item", "item_index"]);
                    names.extend(e.iter().map(String::as_str));
                }
                let hint =
                    did_you_mean(other, names.iter().copied()).unwrap_or_else(|| format!("templates can use {}", list_names(&names)));
                self.error(line, col, format!("step `{}` uses unknown name `{other}` in a template", step.id), Some(hint));
            }
        }
    }

    fn step_reference(&mut self, step: &Step, target: &str, place: &Place, line: usize, col: usize) {
        let mut place = place;
        if let Place::Batch { owner, earlier } = place {
            if earlier.iter().any(|e| e == target) {
                return;
            }
            place = owner;
        }
        let steps = &self.recipe.steps;
        let Some(&top_index) = self.ids.get(target) else {
            let ids: Vec<&str> = self.recipe.all_steps().map(|s| s.id.as_str()).collect();
            let hint = did_you_mean(target, ids.iter().copied()).unwrap_or_else(|| format!("step ids: {}", list_names(&ids)));
            self.error(line, col, format!("step `{}` refers to unknown step `steps.{target}`", step.id), Some(hint));
            return;
        };
        let Place::Top { index, sequential } = place else { return };
        if target == steps[*index].id {
            self.error(
                line,
                col,
                format!("step `{}` refers to its own outputs (`steps.{target}`)", step.id),
                Some("a step can only read the outputs of steps that ran before it".into()),
            );
            return;
        }
        if *sequential {
            if let Some(j) = top_index {
                if j > *index {
                    self.error(
                        line,
                        col,
                        format!("step `{}` refers to `steps.{target}`, which runs after it (forward reference)", step.id),
                        Some(format!(
                            "move `{target}` before `{}`, or add `depends_on: [{target}]` to make the order explicit",
                            steps[*index].id
                        )),
                    );
                }
            }
        }
    }
}
