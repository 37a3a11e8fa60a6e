//! The recipe as the engine uses it, after parsing.

use serde::Serialize;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// A parsed recipe. Positions are kept where later checks report errors.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// The path as the user gave it (for messages).
    pub file: String,
    /// The absolute path.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, hex (resume refuses a changed recipe).
    pub hash: String,
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    pub inputs: Vec<InputSpec>,
    /// The `outputs:` mapping to render after the run (a list is documentation only).
    pub outputs: Option<Map<String, Value>>,
    /// What the `outputs:` templates read, where.
    pub output_refs: Vec<SiteRef>,
    /// What the `cleanup:` paths read, where (rendered after the run, as outputs are).
    pub cleanup_refs: Vec<SiteRef>,
    pub config: Map<String, Value>,
    pub templates: Map<String, Value>,
    pub steps: Vec<Step>,
    /// Recipe-wide fallback refinement steps.
    pub refinement: Vec<Step>,
    pub cleanup: Cleanup,
    pub resources: Option<Resources>,
    pub max_iterations: u32,
    pub timeout_minutes: Option<f64>,
    /// `cache: false` turns the step cache off for every step that does not say otherwise.
    pub cache: Option<bool>,
}

impl Recipe {
    /// Every step that can run: top-level steps and the refinement steps they may call.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().flat_map(|s| std::iter::once(s).chain(s.children())).chain(self.refinement.iter())
    }

    /// Every tool name the recipe uses, batch sub-steps included.
    pub fn tool_names(&self) -> std::collections::BTreeSet<&str> {
        fn walk<'a>(s: &'a Step, out: &mut std::collections::BTreeSet<&'a str>) {
            if let Some((tool, _)) = s.tool_action() {
                out.insert(tool);
            }
            for sub in s.batch.iter().flatten().chain(s.children()) {
                walk(sub, out);
            }
        }
        let mut out = std::collections::BTreeSet::new();
        for s in self.steps.iter().chain(&self.refinement) {
            walk(s, &mut out);
        }
        out
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The refinement steps for a failed step: its own, else a `type: refinement`
    /// step triggered by it, else the recipe's.
    pub fn refinement_for(&self, id: &str) -> Option<&[Step]> {
        if let Some(step) = self.step(id) {
            if let Some(own) = &step.refinement {
                return Some(own);
            }
        }
        let triggered = self.steps.iter().find_map(|s| match &s.kind {
            StepKind::Refinement { trigger, steps } if trigger_target(trigger) == id => Some(steps.as_slice()),
            _ => None,
        });
        triggered.or(if self.refinement.is_empty() { None } else { Some(&self.refinement) })
    }
}

/// `"gen.failed"` and `"gen"` both name step `gen`.
pub fn trigger_target(trigger: &str) -> &str {
    trigger.strip_suffix(".failed").unwrap_or(trigger)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Number,
    Integer,
    Boolean,
    Path,
    List,
    Object,
}

impl InputType {
    pub const NAMES: &'static [&'static str] = &["string", "number", "integer", "boolean", "path", "list", "object"];

    /// Every spelling `parse` accepts (the names, then their aliases), for the schema.
    pub const SPELLINGS: &'static [&'static str] = &[
        "string", "number", "integer", "boolean", "path", "list", "object", "str", "text", "float", "int", "bool", "file", "array", "dict",
        "mapping",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" | "str" | "text" => Self::String,
            "number" | "float" => Self::Number,
            "integer" | "int" => Self::Integer,
            "boolean" | "bool" => Self::Boolean,
            "path" | "file" => Self::Path,
            "list" | "array" => Self::List,
            "object" | "dict" | "mapping" => Self::Object,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// One declared input.
#[derive(Debug, Clone, Serialize)]
pub struct InputSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: InputType,
    pub required: bool,
    pub default: Option<Value>,
    pub description: Option<String>,
    pub choices: Option<Vec<Value>>,
    /// A path that must exist when the run starts: a required `path` input without a
    /// default, unless the spec says `must_exist: false` (a path the run creates).
    pub must_exist: bool,
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    Abort,
    Skip,
    Retry,
    Refine,
}

impl OnFailure {
    pub const NAMES: &'static [&'static str] = &["abort", "skip", "retry", "refine"];
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Tool { tool: String, action: String },
    Approval { message: String, options: Vec<String>, default_action: String },
    Refinement { trigger: String, steps: Vec<Step> },
}

/// A step, as written in the recipe (templates not yet rendered).
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub kind: StepKind,
    /// Inputs to render and pass to the tool (`workflow_steps` of a batch removed).
    pub inputs: Map<String, Value>,
    /// Where each of `inputs` is named in the file, for the check against the tool's inputs.
    pub input_keys: Vec<InputKey>,
    pub on_failure: OnFailure,
    pub retry_count: u32,
    pub retry_delay: f64,
    pub gate: bool,
    pub refinement: Option<Vec<Step>>,
    /// `None`: not written. `Some(vec![])`: a root.
    pub depends_on: Option<Vec<String>>,
    pub when: Option<String>,
    pub timeout: Option<f64>,
    pub resources: Option<Resources>,
    /// `cache: true | false`: always / never take this step from the step cache.
    pub cache: Option<bool>,
    /// `batch.foreach` sub-steps, rendered per item.
    pub batch: Option<Vec<Step>>,
    /// Settings written that its `on_failure` makes do nothing (`retry_count` without
    /// `retry`, `refinement` without `refine`), with where: `validate` warns of them.
    pub idle: Vec<(&'static str, usize, usize)>,
    /// Template references with their positions, for checks before the run.
    pub refs: Vec<SiteRef>,
    pub line: usize,
    pub col: usize,
}

impl Step {
    pub fn tool_action(&self) -> Option<(&str, &str)> {
        match &self.kind {
            StepKind::Tool { tool, action } => Some((tool, action)),
            _ => None,
        }
    }

    /// Refinement steps attached to this step (its own, or a refinement step's body).
    pub fn children(&self) -> impl Iterator<Item = &Step> {
        let own = self.refinement.iter().flatten();
        let body = match &self.kind {
            StepKind::Refinement { steps, .. } => steps.as_slice(),
            _ => &[],
        };
        own.chain(body.iter())
    }

    pub fn is_refinement(&self) -> bool {
        matches!(self.kind, StepKind::Refinement { .. })
    }
}

/// An input's name as a step writes it, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct InputKey {
    pub name: String,
    pub line: usize,
    pub col: usize,
}

/// A name a template reads, and where that template is in the file.
#[derive(Debug, Clone)]
pub struct SiteRef {
    pub reference: crate::template::Reference,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Cleanup {
    pub on_success: Vec<CleanupAction>,
    pub on_failure: Vec<CleanupAction>,
}

#[derive(Debug, Clone)]
pub enum CleanupAction {
    Delete { path: String },
    Preserve { path: String, reason: Option<String> },
    Move { source: String, destination: String },
}

/// What a step holds while it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Resources {
    pub gpu: Option<bool>,
    /// The card it must run on (`gpu: 1`, `gpu: GPU-…`): an index or a UUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// May spread its VRAM over several cards (`split: true`, as llama.cpp's tensor split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<bool>,
    pub vram_gb: Option<f64>,
    pub ram_gb: Option<f64>,
    pub cpu: Option<u32>,
}
