//! Every key a YAML tool definition may hold, with what it means: `def.rs` accepts exactly
//! these, and `tool.schema.json` is written from them (`crate::schema`).

use crate::key::{Key, Shape};

pub const TOP: &[Key] = &[
    Key::new("name", Shape::Text, "The tool's name, as recipes write it in `tool:`. Required."),
    Key::new("version", Shape::Text, "The definition's version (registries list and compare it)."),
    Key::new("type", Shape::Word(&["cli"]), "The kind of tool: `cli` (a command-line program), the only one."),
    Key::new("description", Shape::Text, "What the tool does, shown by `list-tools` and to agents."),
    Key::new("actions", Shape::Def("toolActions"), "The actions: a mapping of action name to the command it runs. Required."),
    Key::new("requirements", Shape::Def("toolRequirements"), "What the machine needs: the program, how to install it, VRAM."),
    Key::new("env", Shape::Def("env"), "Environment variables for every action (NAME: value)."),
    Key::new("tags", Shape::Any, "Words a registry search finds the tool by."),
    Key::new("license", Shape::Text, "The definition's license (SPDX), for registries."),
    Key::new("author", Shape::Text, "Who wrote the definition, for registries."),
    Key::new("homepage", Shape::Text, "The program's home page, for registries."),
    Key::new("example", Shape::Def("toolExample"), "One call a registry runs against the real program to check the definition."),
    Key::new("deterministic", Shape::Flag, "Same inputs and files give the same result: the step cache may serve its calls."),
    Key::new(
        "sandbox",
        Shape::FlagOr(&["required"]),
        "Confine the program (Linux Landlock): it reads anything, writes only its output paths' folders, the run's temp folder and its cache folder. `true`: where the kernel can; `required`: or refuse to run. Always on for registry tools.",
    ),
    Key::new("network", Shape::Flag, "A confined program may open and accept TCP connections (without it, it may not)."),
];

pub const REQUIREMENTS: &[Key] = &[
    Key::new("binary", Shape::Text, "The program the actions run; the tool is unavailable without it on PATH."),
    Key::new("install_hint", Shape::Text, "How to install the program (shown when it is missing)."),
    Key::new("install_hints", Shape::Mapping, "How to install it per platform (`debian`, `macos`, ...), for registries."),
    Key::new(
        "min_vram_gb",
        Shape::Number { min: 0.0, max: f64::INFINITY },
        "VRAM a call needs, in GB: preflight and the scheduler plan with it.",
    ),
];

pub const ACTION: &[Key] = &[
    Key::new("description", Shape::Text, "What the action does."),
    Key::new(
        "command",
        Shape::Def("toolCommand"),
        "The command: a list of words (each a template), or text split into words; with `shell: true`, a shell line. Required.",
    ),
    Key::new("shell", Shape::Flag, "Run `command` with `sh -c`; every value is shell-quoted."),
    Key::new("inputs", Shape::Def("toolInputs"), "The action's inputs, by name: type, required, default, choices."),
    Key::new("outputs", Shape::Def("toolOutputs"), "The action's outputs, by name: a template, or `{path: template}` for a file it makes."),
    Key::new("parse", Shape::Word(&["json", "lines"]), "Read standard output as JSON, or as a list of lines."),
    Key::new("timeout", Shape::Number { min: 0.0, max: f64::INFINITY }, "Seconds the command may run."),
    Key::new("cwd", Shape::Text, "The folder the command runs in (a template; default the run's temp folder)."),
    Key::new("env", Shape::Def("env"), "Environment variables for this action (NAME: value)."),
];

pub const INPUT: &[Key] = &[
    Key::new("type", Shape::Word(crate::recipe::InputType::SPELLINGS), "The value's type (default `string`)."),
    Key::new("required", Shape::Flag, "Whether a call must give it."),
    Key::new("default", Shape::Any, "The value when none is given."),
    Key::new("choices", Shape::Any, "A list of the values allowed."),
    Key::new("description", Shape::Text, "What the input is for (hover text, `list-tools`)."),
    Key::new("output", Shape::Flag, "The path is a file the command makes (its folder is created, and it is checked afterwards)."),
];

pub const EXAMPLE: &[Key] = &[
    Key::new("action", Shape::Text, "The action the example calls. Required."),
    Key::new("inputs", Shape::Mapping, "Its inputs (paths relative to the example's folder)."),
    Key::new("files", Shape::Mapping, "Files written first: relative name to text (or `base64:` and the bytes)."),
    Key::new("expect", Shape::Def("toolExpect"), "What the call must produce."),
];

pub const EXPECT: &[Key] = &[
    Key::new("files", Shape::Any, "Files that must exist afterwards."),
    Key::new("outputs", Shape::Mapping, "Outputs that must have these values."),
];
