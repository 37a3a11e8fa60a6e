//! Recipe text to a `Recipe`, with every problem in the file found in one pass.

use super::fields::Reader;
use super::inputs;
use super::limits;
use super::model::{Cleanup, CleanupAction, InputSpec, InputType, Recipe};
use super::step::Nest;
use crate::diag::{did_you_mean, list_names, Diagnostic};
use crate::yaml::{self, Node};
use std::path::Path;

use super::keys;

/// Read and parse a recipe file. Diagnostics name `file` as given.
pub fn load(path: &Path) -> Result<(Recipe, Vec<Diagnostic>), Vec<Diagnostic>> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        let hint =
            (e.kind() == std::io::ErrorKind::NotFound).then(|| "check the path; `localforge list` shows the recipes it knows".to_string());
        vec![Diagnostic::new(format!("cannot read recipe: {e}")).in_file(&file).maybe_hint(hint)]
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        vec![Diagnostic::new(format!("the file is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()))
            .in_file(&file)
            .hint("a recipe is a YAML text file; is this the right file?")]
    })?;
    if text.contains('\0') {
        return Err(vec![Diagnostic::new("the file holds NUL bytes; it is not a YAML text file").in_file(&file)]);
    }
    let mut recipe = parse_str(text, &file)?;
    recipe.0.path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    recipe.0.hash = crate::digest::sha256_hex(&bytes);
    Ok(recipe)
}

/// Parse recipe text. `Err` when nothing usable could be read; otherwise the
/// recipe (best effort) and the problems found in it.
pub fn parse_str(text: &str, file: &str) -> Result<(Recipe, Vec<Diagnostic>), Vec<Diagnostic>> {
    let root = match yaml::parse(text) {
        Err(d) => return Err(vec![d.in_file(file)]),
        Ok(None) => {
            return Err(vec![Diagnostic::new("the recipe file is empty")
                .in_file(file)
                .hint("a recipe is a YAML mapping with at least `name` and `steps`; see recipes/TEMPLATE.yaml")])
        }
        Ok(Some(root)) => root,
    };
    if root.as_map().is_none() {
        return Err(vec![Diagnostic::new(format!("a recipe must be a YAML mapping at the top level, found {}", root.kind()))
            .in_file(file)
            .at(root.line, root.col)
            .hint("start the file with `name:` and `steps:` keys")]);
    }
    let mut r = Reader::new(file);
    r.check_keys(&root, keys::TOP, "the recipe");
    let name = r.text(&root, "name", "the recipe", true).unwrap_or_default();
    let config = root.get("config").and_then(|c| r.expect_map(c, "`config`"));
    let max_iterations = config.and_then(|c| r.count(c, "max_iterations", "`config`", limits::MAX_ITERATIONS)).unwrap_or(3);
    let timeout_minutes = config.and_then(|c| r.number(c, "timeout_minutes", "`config`", 0.0, limits::TIMEOUT_S / 60.0));
    let steps = match root.get("steps") {
        Some(s) => {
            let steps = r.steps(s, "`steps`", Nest::Top);
            if s.as_seq().is_some_and(<[Node]>::is_empty) {
                r.error(s, "`steps` is empty; the recipe would do nothing", None);
            }
            steps
        }
        None => {
            r.error(&root, "the recipe is missing required key `steps`", Some("add a `steps:` list; see recipes/TEMPLATE.yaml".into()));
            Vec::new()
        }
    };
    let outputs = root.get("outputs").and_then(|n| r.outputs(n));
    // What the `outputs:` templates read, with their places: checked before the run like a step's.
    let mut output_refs = Vec::new();
    if let Some(n) = root.get("outputs").filter(|_| outputs.is_some()) {
        r.collect_refs(n, &mut output_refs, false);
    }
    let templates = root.get("templates").and_then(|t| r.expect_map(t, "`templates`")).map(json_map).unwrap_or_default();
    let refinement = root.get("refinement").map(|n| r.recipe_refinement(n)).unwrap_or_default();
    let cleanup = root.get("cleanup").map(|n| r.cleanup(n)).unwrap_or_default();
    let mut cleanup_refs = Vec::new();
    if let Some(n) = root.get("cleanup") {
        r.collect_refs(n, &mut cleanup_refs, false);
    }
    let inputs = root.get("inputs").map(|n| r.input_specs(n)).unwrap_or_default();
    let resources = root.get("resources").and_then(|n| r.resources(n, "the recipe"));
    let cache = r.boolean(&root, "cache", "the recipe");
    let recipe = Recipe {
        cache,
        file: file.to_string(),
        path: file.into(),
        hash: String::new(),
        version: r.text(&root, "version", "the recipe", false),
        description: r.text(&root, "description", "the recipe", false),
        inputs,
        outputs,
        output_refs,
        cleanup_refs,
        config: config.map(json_map).unwrap_or_default(),
        templates,
        refinement,
        cleanup,
        resources,
        name,
        steps,
        max_iterations,
        timeout_minutes,
    };
    Ok((recipe, r.diags))
}

fn json_map(node: &Node) -> serde_json::Map<String, serde_json::Value> {
    match node.to_json() {
        serde_json::Value::Object(m) => m,
        _ => Default::default(),
    }
}

impl Reader<'_> {
    fn input_specs(&mut self, node: &Node) -> Vec<InputSpec> {
        let Some(items) = self.expect_seq(node, "`inputs`") else { return Vec::new() };
        let mut specs: Vec<InputSpec> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let what = format!("input {}", i + 1);
            if self.expect_map(item, &format!("item {} of `inputs`", i + 1)).is_none() {
                continue;
            }
            let Some(name) = self.text(item, "name", &what, true) else { continue };
            let what = format!("input `{name}`");
            self.check_keys(item, keys::INPUT, &what);
            if specs.iter().any(|s| s.name == name) {
                self.error(item, format!("input `{name}` is declared twice"), None);
            }
            let type_text = self.text(item, "type", &what, false).unwrap_or_else(|| "string".into());
            let ty = InputType::parse(&type_text).unwrap_or_else(|| {
                let hint = did_you_mean(&type_text, InputType::NAMES.iter().copied())
                    .unwrap_or_else(|| format!("input types are {}", list_names(InputType::NAMES)));
                self.error(item.get("type").unwrap_or(item), format!("unknown type `{type_text}` for {what}"), Some(hint));
                InputType::String
            });
            let choices = item.get("choices").and_then(|c| {
                let list = self.expect_seq(c, &format!("`choices` of {what}"))?;
                Some(list.iter().map(Node::to_json).collect::<Vec<_>>())
            });
            let mut spec = InputSpec {
                required: self.boolean(item, "required", &what).unwrap_or(false),
                description: self.text(item, "description", &what, false),
                default: None,
                choices,
                must_exist: false,
                line: item.line,
                name,
                ty,
            };
            if let Some(d) = item.get("default").filter(|d| !d.is_null()) {
                match inputs::check(&spec, &d.to_json()) {
                    Ok(v) => spec.default = Some(v),
                    Err(e) => self.error(d, format!("default of {what} (type `{}`): {e}", ty.name()), None),
                }
            }
            // A path the caller must hand in names something that exists, unless the recipe says it is
            // made by the run — or its name says so (`output_path`, `out_dir`, `destination`: 0.x
            // recipes declare their outputs as `type: path` inputs, with no `must_exist`).
            let made_by_run = self.boolean(item, "must_exist", &what).map(|b| !b);
            let required_path = spec.required && spec.default.is_none() && !names_an_output(&spec.name);
            spec.must_exist = ty == InputType::Path && !made_by_run.unwrap_or(!required_path);
            specs.push(spec);
        }
        specs
    }

    fn outputs(&mut self, node: &Node) -> Option<serde_json::Map<String, serde_json::Value>> {
        match &node.value {
            yaml::NodeValue::Map(_) => Some(json_map(node)),
            yaml::NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if item.as_map().is_none() || item.get("name").is_none() {
                        self.error(item, format!("item {} of `outputs` must be a mapping with `name`", i + 1), None);
                    }
                }
                None
            }
            yaml::NodeValue::Null => None,
            _ => {
                self.error(
                    node,
                    format!("`outputs` must be a list (documentation) or a mapping of name: template, found {}", node.kind()),
                    None,
                );
                None
            }
        }
    }

    fn recipe_refinement(&mut self, node: &Node) -> Vec<super::model::Step> {
        let Some(node) = self.expect_map(node, "`refinement`") else { return Vec::new() };
        self.check_keys(node, keys::REFINEMENT, "`refinement`");
        match node.get("steps") {
            Some(s) => self.steps(s, "`refinement.steps`", Nest::Refinement),
            None => {
                self.error(node, "`refinement` is missing required key `steps`", None);
                Vec::new()
            }
        }
    }

    fn cleanup(&mut self, node: &Node) -> Cleanup {
        let Some(node) = self.expect_map(node, "`cleanup`") else { return Cleanup::default() };
        self.check_keys(node, keys::CLEANUP, "`cleanup`");
        Cleanup {
            on_success: node.get("on_success").map(|n| self.cleanup_actions(n, "`cleanup.on_success`")).unwrap_or_default(),
            on_failure: node.get("on_failure").map(|n| self.cleanup_actions(n, "`cleanup.on_failure`")).unwrap_or_default(),
        }
    }

    fn cleanup_actions(&mut self, node: &Node, what: &str) -> Vec<CleanupAction> {
        let Some(items) = self.expect_seq(node, what) else { return Vec::new() };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let w = format!("item {} of {what}", i + 1);
            if self.expect_map(item, &w).is_none() {
                continue;
            }
            self.check_keys(item, keys::CLEANUP_ACTION, &w);
            let action = self.text(item, "action", &w, true).unwrap_or_default();
            let a = match action.as_str() {
                "delete" => self.text(item, "path", &w, true).map(|path| CleanupAction::Delete { path }),
                "preserve" => self
                    .text(item, "path", &w, true)
                    .map(|path| CleanupAction::Preserve { path, reason: self.text(item, "reason", &w, false) }),
                "move" => match (self.text(item, "source", &w, true), self.text(item, "destination", &w, true)) {
                    (Some(source), Some(destination)) => Some(CleanupAction::Move { source, destination }),
                    _ => None,
                },
                "" => None,
                other => {
                    let names = keys::CLEANUP_ACTIONS;
                    let hint =
                        did_you_mean(other, names.iter().copied()).unwrap_or_else(|| format!("cleanup actions are {}", list_names(names)));
                    self.error(item.get("action").unwrap_or(item), format!("unknown cleanup action `{other}`"), Some(hint));
                    None
                }
            };
            out.extend(a);
        }
        out
    }
}

/// An input name that says the run makes the path: `output`, `output_path`, `out_dir`,
/// `destination`, `save_to`, `report_output`, ...
fn names_an_output(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("output")
        || n.starts_with("out_")
        || n == "out"
        || n.starts_with("dest")
        || n.starts_with("save")
        || n.ends_with("_output")
        || n.ends_with("_out")
}
