//! Reading one step (and the steps nested in it) from its YAML node.

use super::fields::{shown, Reader};
use super::limits;
use super::model::{InputKey, OnFailure, Resources, SiteRef, Step, StepKind};
use crate::diag::{did_you_mean, list_names};
use crate::template::references;
use crate::yaml::{Node, NodeValue};

use super::keys::{self, STEP_TYPES};

/// Where a list of steps sits, for messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nest {
    Top,
    Refinement,
    Batch,
}

impl Reader<'_> {
    pub fn steps(&mut self, node: &Node, what: &str, nest: Nest) -> Vec<Step> {
        let Some(items) = self.expect_seq(node, what) else { return Vec::new() };
        items.iter().enumerate().filter_map(|(i, item)| self.step(item, i + 1, what, nest)).collect()
    }

    fn step(&mut self, node: &Node, index: usize, list: &str, nest: Nest) -> Option<Step> {
        if node.as_map().is_none() {
            self.error(
                node,
                format!("item {index} of {list} must be a mapping (a step), found {}", node.kind()),
                Some("a step looks like `- id: my_step` followed by `tool:`, `action:` and `inputs:`".into()),
            );
            return None;
        }
        let id = self.text(node, "id", &format!("item {index} of {list}"), true)?;
        let what = format!("step `{id}`");
        if !valid_id(&id) {
            self.error(
                node.get("id").unwrap_or(node),
                format!("invalid step id `{id}`"),
                Some("ids start with a letter or `_` and hold only letters, digits, `_` and `-`".into()),
            );
        }
        self.check_keys(node, keys::STEP, &what);
        let name = self.text(node, "name", &what, false).unwrap_or_else(|| id.clone());
        let ty = self.text(node, "type", &what, false).unwrap_or_else(|| "tool".into());
        let mut inputs_node = node.get("inputs").filter(|n| !n.is_null());
        if let Some(n) = inputs_node {
            inputs_node = self.expect_map(n, &format!("`inputs` of {what}"));
        }
        let mut batch = None;
        let kind = match ty.as_str() {
            "tool" => {
                let tool = self.text(node, "tool", &what, true).unwrap_or_default();
                let action = self.text(node, "action", &what, true).unwrap_or_default();
                if tool == "batch" && action == "foreach" {
                    batch = Some(self.batch_steps(node, inputs_node, &what));
                }
                for key in ["message", "options", "default_action", "trigger", "steps"] {
                    if let Some(k) = node.get(key) {
                        self.error(
                            k,
                            format!("`{key}` does not apply to tool {what}"),
                            Some(format!("`{key}` belongs to `type: approval_gate` or `type: refinement` steps")),
                        );
                    }
                }
                StepKind::Tool { tool, action }
            }
            "approval_gate" => self.approval(node, &what),
            "refinement" => {
                let trigger = self.text(node, "trigger", &what, true).unwrap_or_default();
                let steps = match node.get("steps") {
                    Some(s) => self.steps(s, &format!("`steps` of {what}"), Nest::Refinement),
                    None => {
                        self.error(node, format!("refinement {what} is missing required key `steps`"), None);
                        Vec::new()
                    }
                };
                StepKind::Refinement { trigger, steps }
            }
            other => {
                let hint =
                    did_you_mean(other, STEP_TYPES.iter().copied()).unwrap_or_else(|| format!("step types are {}", list_names(STEP_TYPES)));
                self.error(node.get("type").unwrap_or(node), format!("unknown step type `{other}` in {what}"), Some(hint));
                return None;
            }
        };
        let on_failure = self.on_failure(node, &what);
        let refinement = node.get("refinement").and_then(|r| {
            let r = self.expect_map(r, &format!("`refinement` of {what}"))?;
            self.check_keys(r, keys::REFINEMENT, &format!("`refinement` of {what}"));
            r.get("steps").map(|s| self.steps(s, &format!("`refinement.steps` of {what}"), Nest::Refinement))
        });
        if nest == Nest::Batch && node.get("depends_on").is_some() {
            self.error(node, format!("{what} is inside `workflow_steps`, which run in order; `depends_on` does not apply"), None);
        }
        let idle = [("retry_count", OnFailure::Retry), ("retry_delay", OnFailure::Retry), ("refinement", OnFailure::Refine)]
            .into_iter()
            .filter(|(_, needs)| on_failure != *needs)
            .filter_map(|(key, _)| node.get(key).map(|n| (key, n.line, n.col)))
            .collect();
        let mut step = Step {
            idle,
            name,
            kind,
            inputs: inputs_node.map(|n| json_map_without(n, batch.is_some().then_some("workflow_steps"))).unwrap_or_default(),
            input_keys: inputs_node.map(|n| input_keys(n, batch.is_some().then_some("workflow_steps"))).unwrap_or_default(),
            on_failure,
            retry_count: self.count(node, "retry_count", &what, limits::RETRY_COUNT).unwrap_or(1),
            retry_delay: self.number(node, "retry_delay", &what, 0.0, limits::RETRY_DELAY_S).unwrap_or(0.0),
            gate: self.boolean(node, "gate", &what).unwrap_or(false),
            refinement,
            depends_on: self.text_list(node, "depends_on", &what),
            when: self.when(node, &what),
            timeout: self.number(node, "timeout", &what, 0.001, limits::TIMEOUT_S),
            resources: node.get("resources").and_then(|r| self.resources(r, &what)),
            cache: self.boolean(node, "cache", &what),
            batch,
            refs: Vec::new(),
            line: node.line,
            col: node.col,
            id,
        };
        if let Some(n) = inputs_node {
            self.collect_refs(n, &mut step.refs, true);
        }
        for key in ["when", "message"] {
            if let Some(n) = node.get(key) {
                self.collect_refs(n, &mut step.refs, false);
            }
        }
        Some(step)
    }

    fn approval(&mut self, node: &Node, what: &str) -> StepKind {
        let message = self.text(node, "message", what, false).unwrap_or_else(|| "Approve to continue?".into());
        let options =
            self.text_list(node, "options", what).filter(|o| !o.is_empty()).unwrap_or_else(|| vec!["approve".into(), "reject".into()]);
        let default_action = self.text(node, "default_action", what, false).unwrap_or_else(|| options[0].clone());
        if !options.contains(&default_action) {
            self.error(
                node.get("default_action").unwrap_or(node),
                format!("`default_action` `{default_action}` of {what} is not among its options"),
                Some(format!("options are {}", list_names(&options))),
            );
        }
        for key in ["tool", "action", "trigger", "steps"] {
            if let Some(k) = node.get(key) {
                self.error(k, format!("`{key}` does not apply to approval_gate {what}"), None);
            }
        }
        StepKind::Approval { message, options, default_action }
    }

    fn batch_steps(&mut self, node: &Node, inputs: Option<&Node>, what: &str) -> Vec<Step> {
        let Some(inputs) = inputs else {
            self.error(node, format!("batch.foreach {what} needs `inputs` with `items` and `workflow_steps`"), None);
            return Vec::new();
        };
        if inputs.get("items").is_none() {
            self.error(
                inputs,
                format!("batch.foreach {what} is missing `inputs.items`"),
                Some("`items` is a list, or a template that gives one".into()),
            );
        }
        match inputs.get("workflow_steps") {
            Some(ws) => {
                let steps = self.steps(ws, &format!("`workflow_steps` of {what}"), Nest::Batch);
                if steps.is_empty() && ws.as_seq().is_some_and(|s| s.is_empty()) {
                    self.error(ws, format!("`workflow_steps` of {what} is empty"), None);
                }
                steps
            }
            None => {
                self.error(inputs, format!("batch.foreach {what} is missing `inputs.workflow_steps`"), None);
                Vec::new()
            }
        }
    }

    fn on_failure(&mut self, node: &Node, what: &str) -> OnFailure {
        let Some(text) = self.text(node, "on_failure", what, false) else { return OnFailure::Abort };
        match text.as_str() {
            "abort" => OnFailure::Abort,
            "skip" | "continue" => OnFailure::Skip,
            "retry" => OnFailure::Retry,
            "refine" => OnFailure::Refine,
            other => {
                let hint = did_you_mean(other, OnFailure::NAMES.iter().copied())
                    .unwrap_or_else(|| format!("`on_failure` is one of {}", list_names(OnFailure::NAMES)));
                self.error(node.get("on_failure").unwrap_or(node), format!("invalid `on_failure` value `{other}` in {what}"), Some(hint));
                OnFailure::Abort
            }
        }
    }

    fn when(&mut self, node: &Node, what: &str) -> Option<String> {
        let n = node.get("when")?;
        match &n.value {
            // Text with no template in it is always true but for these words: `when:
            // inputs.enabled` (the braces forgotten) would run the step whatever it says.
            NodeValue::Str(s)
                if !s.contains("{{")
                    && !s.contains("{%")
                    && !crate::template::CONSTANT_WORDS.contains(&s.trim().to_ascii_lowercase().as_str()) =>
            {
                self.error(
                    n,
                    format!("`when` in {what} is the text `{s}`, which is not a template: it would always be true"),
                    Some(format!("write the expression in braces: `when: \"{{{{ {} }}}}\"`", s.trim())),
                );
                None
            }
            NodeValue::Str(s) => Some(s.clone()),
            NodeValue::Bool(b) => Some(b.to_string()),
            _ => {
                self.error(n, format!("`when` in {what} must be a template expression, found {}", shown(n)), None);
                None
            }
        }
    }

    pub fn resources(&mut self, node: &Node, what: &str) -> Option<Resources> {
        let what = format!("`resources` of {what}");
        let node = self.expect_map(node, &what)?;
        self.check_keys(node, keys::RESOURCES, &what);
        let (gpu, card) = self.gpu_card(node, "gpu", &what);
        Some(Resources {
            gpu,
            card,
            split: self.boolean(node, "split", &what),
            vram_gb: self.number(node, "vram_gb", &what, 0.0, f64::MAX),
            ram_gb: self.number(node, "ram_gb", &what, 0.0, f64::MAX),
            cpu: self.count(node, "cpu", &what, u32::MAX),
        })
    }

    /// Template references in every string under `node`, with syntax errors reported.
    pub(super) fn collect_refs(&mut self, node: &Node, out: &mut Vec<SiteRef>, skip_workflow_steps: bool) {
        match &node.value {
            NodeValue::Str(s) => match references(s) {
                Ok(refs) => {
                    out.extend(refs.into_iter().map(|reference| SiteRef { reference, line: node.line, col: node.col }));
                    for (kind, name) in crate::template::refs::unknown_filters(s) {
                        let hint = did_you_mean(&name, crate::template::refs::COMMON_FILTERS.iter().copied()).unwrap_or_else(|| {
                            format!("the {kind}s are minijinja's built-in ones plus basename, stem, dirname, suffix, abspath, shell_quote")
                        });
                        self.error(node, format!("unknown template {kind} `{name}`"), Some(hint));
                    }
                }
                Err(e) => self.error(node, format!("template syntax error: {e}"), Some(format!("in `{s}`"))),
            },
            NodeValue::Seq(items) => items.iter().for_each(|i| self.collect_refs(i, out, false)),
            NodeValue::Map(pairs) => {
                for (k, v) in pairs {
                    if !(skip_workflow_steps && k.as_str() == Some("workflow_steps")) {
                        self.collect_refs(v, out, false);
                    }
                }
            }
            _ => {}
        }
    }
}

fn json_map_without(node: &Node, skip: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
    node.as_map()
        .unwrap_or_default()
        .iter()
        .filter(|(k, _)| skip.is_none() || k.as_str() != skip)
        .map(|(k, v)| (k.key_text(), v.to_json()))
        .collect()
}

fn input_keys(node: &Node, skip: Option<&str>) -> Vec<InputKey> {
    node.as_map()
        .unwrap_or_default()
        .iter()
        .filter(|(k, _)| skip.is_none() || k.as_str() != skip)
        .map(|(k, _)| InputKey { name: k.key_text(), line: k.line, col: k.col })
        .collect()
}

/// `[A-Za-z_][A-Za-z0-9_-]*`
pub fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
