//! Every key a recipe may hold, at each level, with what it means: the parser accepts
//! exactly these, and `recipe.schema.json` is written from them (`crate::schema`).

use super::limits;
use crate::key::{Key, Shape};

const ON_FAILURE: &[&str] = &["abort", "skip", "continue", "retry", "refine"];
pub const STEP_TYPES: &[&str] = &["tool", "approval_gate", "refinement"];

pub const TOP: &[Key] = &[
    Key::new("name", Shape::Text, "The recipe's name, shown in `localforge list`, the progress lines and the history."),
    Key::new("version", Shape::Text, "The recipe's own version (text; `1.0` is read as \"1.0\")."),
    Key::new("description", Shape::Text, "What the recipe does, shown by `localforge list` and to agents."),
    Key::new(
        "inputs",
        Shape::ListOf("input"),
        "The values a run takes (`-i name=value`): each with a name, a type, and whether it is required.",
    ),
    Key::new(
        "outputs",
        Shape::Def("outputs"),
        "What the run reports: a mapping of name to template (`{{ steps.render.outputs.path }}`), or a list documenting them.",
    ),
    Key::new(
        "config",
        Shape::Def("recipeConfig"),
        "Free-form values templates read as `{{ config.NAME }}`; `max_iterations` bounds refinement, `timeout_minutes` the whole run.",
    ),
    Key::new("templates", Shape::Mapping, "Named text snippets templates read as `{{ templates.NAME }}`."),
    Key::new("steps", Shape::ListOf("step"), "The steps, run in file order unless `depends_on` says otherwise. Required."),
    Key::new("refinement", Shape::Def("refinement"), "Steps `on_failure: refine` runs when a failed step has no refinement of its own."),
    Key::new("cleanup", Shape::Def("cleanup"), "What to delete, keep or move when the run ends (`on_success`, `on_failure`)."),
    Key::new("resources", Shape::Def("resources"), "What every step holds while it runs, unless it declares its own `resources`."),
    Key::new("cache", Shape::Bool, "Whether the step cache may serve this recipe's steps (a step's own `cache` overrides it)."),
];

pub const CONFIG: &[Key] = &[
    Key::new(
        "max_iterations",
        Shape::Count { min: 0, max: limits::MAX_ITERATIONS },
        "How many refinement rounds `on_failure: refine` may take (default 3).",
    ),
    Key::new(
        "timeout_minutes",
        Shape::Number { min: 0.0, max: limits::TIMEOUT_S / 60.0 },
        "The whole run's time limit, in minutes; it is cancelled when it passes.",
    ),
];

pub const INPUT: &[Key] = &[
    Key::new("name", Shape::Text, "The input's name: `-i NAME=value`, and `{{ inputs.NAME }}` in templates. Required."),
    Key::new("type", Shape::Word(super::InputType::SPELLINGS), "The value's type; a value given as text is converted to it (default `string`)."),
    Key::new("required", Shape::Bool, "Whether a run must be given this input (default false)."),
    Key::new("default", Shape::Any, "The value when none is given; it must have the input's type."),
    Key::new("description", Shape::Text, "What the input is for, shown by `run --list-inputs`, forms and agents."),
    Key::new("choices", Shape::Any, "A list of the values allowed."),
    Key::new(
        "must_exist",
        Shape::Bool,
        "For a `path`: whether it must exist before the run (default: yes for a required path without a default whose name does not say it is an output).",
    ),
];

pub const STEP: &[Key] = &[
    Key::new(
        "id",
        Shape::Text,
        "The step's id: unique, letters, digits, `_` and `-`; `{{ steps.ID.outputs.NAME }}` reads its outputs. Required.",
    ),
    Key::new("name", Shape::Text, "A name for logs and the history (default: the id)."),
    Key::new("description", Shape::Text, "What the step does (for people; not used by the run)."),
    Key::new(
        "type",
        Shape::Word(STEP_TYPES),
        "`tool` (the default): call a tool; `approval_gate`: ask a person; `refinement`: steps run to fix a failed step.",
    ),
    Key::new("tool", Shape::Text, "The tool to call (`localforge list-tools`); `batch` runs `workflow_steps` for each item."),
    Key::new("action", Shape::Text, "The tool's action to call."),
    Key::new("inputs", Shape::Any, "The action's inputs: values and templates, rendered just before the step runs."),
    Key::new(
        "on_failure",
        Shape::Word(ON_FAILURE),
        "What a failure does: `abort` the run (default), `skip` the step, `retry` it, or `refine` it.",
    ),
    Key::new("retry_count", Shape::Count { min: 0, max: limits::RETRY_COUNT }, "Extra attempts for `on_failure: retry` (default 1)."),
    Key::new(
        "retry_delay",
        Shape::Number { min: 0.0, max: limits::RETRY_DELAY_S },
        "Seconds before a retry, doubled each attempt (default 0).",
    ),
    Key::new("gate", Shape::Bool, "When true, outputs saying `passed: false` fail the step with the tool's `failures`."),
    Key::new("refinement", Shape::Def("refinement"), "Steps `on_failure: refine` runs before trying this step again."),
    Key::new(
        "depends_on",
        Shape::TextList,
        "Ids of the steps this one waits for; `[]` makes it start at once. Without it: the step before it.",
    ),
    Key::new("when", Shape::Condition, "A template expression; when false the step is skipped (status `skipped`)."),
    Key::new(
        "timeout",
        Shape::Number { min: 0.001, max: limits::TIMEOUT_S },
        "Seconds the step may take; then it and every process it started are stopped.",
    ),
    Key::new("resources", Shape::Def("resources"), "What the step holds while it runs: CPU slots, RAM, the GPU and its VRAM."),
    Key::new(
        "cache",
        Shape::Bool,
        "Whether the step cache may serve this step (default: the tool says whether its action is deterministic).",
    ),
    Key::new("message", Shape::Text, "For `approval_gate`: the question shown (a template)."),
    Key::new("options", Shape::TextList, "For `approval_gate`: the answers offered (default `[approve, reject]`)."),
    Key::new(
        "default_action",
        Shape::Text,
        "For `approval_gate`: the answer taken with `--auto-approve` or no terminal (default: the first option).",
    ),
    Key::new("trigger", Shape::Text, "For `refinement`: the step whose failure runs these steps (`ID` or `ID.failed`)."),
    Key::new("steps", Shape::ListOf("step"), "For `refinement`: the steps to run."),
];

pub const RESOURCES: &[Key] = &[
    Key::new(
        "gpu",
        Shape::Card,
        "Needs a GPU (with no `vram_gb` it has a card to itself); or the card it must run on, by index (`0` is the first) or UUID.",
    ),
    Key::new(
        "vram_gb",
        Shape::Number { min: 0.0, max: f64::INFINITY },
        "VRAM held, in GB, on one card: GPU steps run side by side while theirs fit.",
    ),
    Key::new("split", Shape::Bool, "May spread `vram_gb` over several cards (llama.cpp's tensor split) when no one card holds it."),
    Key::new("ram_gb", Shape::Number { min: 0.0, max: f64::INFINITY }, "RAM held, in GB."),
    Key::new("cpu", Shape::Count { min: 0, max: u32::MAX }, "CPU slots held, out of `max_parallel` (default 1)."),
];

pub const REFINEMENT: &[Key] = &[
    Key::new("steps", Shape::ListOf("step"), "The steps to run before the failed step is tried again. Required."),
    Key::new(
        "max_iterations",
        Shape::Count { min: 0, max: u32::MAX },
        "Read by 0.x; LocalForge takes the bound from `config.max_iterations`.",
    ),
];

pub const CLEANUP: &[Key] = &[
    Key::new("on_success", Shape::ListOf("cleanupAction"), "What to do when the run completes."),
    Key::new("on_failure", Shape::ListOf("cleanupAction"), "What to do when the run fails or is cancelled."),
];

pub const CLEANUP_ACTIONS: &[&str] = &["delete", "preserve", "move"];

pub const CLEANUP_ACTION: &[Key] = &[
    Key::new(
        "action",
        Shape::Word(CLEANUP_ACTIONS),
        "`delete` a path, `preserve` it (kept, with a reason), or `move` source to destination. Required.",
    ),
    Key::new("path", Shape::Text, "For `delete` and `preserve`: the path (a template)."),
    Key::new("reason", Shape::Text, "For `preserve`: why it is kept."),
    Key::new("source", Shape::Text, "For `move`: what to move (a template)."),
    Key::new("destination", Shape::Text, "For `move`: where to (a template)."),
];

/// `batch.foreach` inputs the engine reads itself (the rest go to no tool).
pub const BATCH_INPUTS: &[Key] = &[
    Key::new("items", Shape::Any, "The items: a list, or a template that gives one. Required."),
    Key::new(
        "workflow_steps",
        Shape::ListOf("batchStep"),
        "The steps run for each item, in order; `{{ item }}` and `{{ item_index }}` are the item. Required.",
    ),
    Key::new("parallel", Shape::Count { min: 1, max: u32::MAX }, "How many items run at once (default 1); results stay in item order."),
];
