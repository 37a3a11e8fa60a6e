//! Every setting `localforge.yaml` may hold, with what it means: `config.schema.json` is
//! written from these (`crate::schema`), and a test checks that every setting the engine
//! reads (the defaults, the `LOCALFORGE_*` variables, the keys it looks up) is here.
//! Other keys are kept (0.x files carry their own) and ignored.

use crate::key::{Key, Shape};

pub const TOP: &[Key] = &[
    Key::new("workspace", Shape::Text, "The workspace folder (default `~/localforge-workspace`)."),
    Key::new("output_dir", Shape::Text, "Where recipes put their results by convention (default `~/localforge-workspace/output`)."),
    Key::new("run_dir", Shape::Text, "Where each run gets its folder `RUN_DIR/RUN_ID/` (default `~/localforge-workspace/runs`)."),
    Key::new("tool_dirs", Shape::TextList, "Folders of your own tools: Python plugins (`*_tool.py`) and YAML definitions (`*.yaml`)."),
    Key::new(
        "services",
        Shape::Def("services"),
        "The services steps talk to, by name: `ollama`, `sd`, `comfyui`, `blender`, `ffmpeg`, ...",
    ),
    Key::new("persistence", Shape::Def("persistence"), "The run history: on or off, and where its SQLite file is."),
    Key::new("resources", Shape::Def("configResources"), "What the scheduler plans with instead of what it finds."),
    Key::new("max_parallel", Shape::Count { min: 0, max: u32::MAX }, "How many steps may run at once (default: the number of cores)."),
    Key::new("executor", Shape::Def("executor"), "Where steps run: `local` (default), `ray`, `ray:HOST:PORT`, or a mapping (docs/ray.md)."),
    Key::new("cache", Shape::Def("cacheSettings"), "The step cache: on or off, its folder and its size (docs/cache.md)."),
    Key::new(
        "registries",
        Shape::Mapping,
        "Tool registries beside the shipped `community` one, by name: a git URL, a folder or an HTTP URL (docs/registry.md).",
    ),
    Key::new("mcp", Shape::Mapping, "The MCP server: `recipe_folders`, more folders whose recipes it may run (docs/mcp.md)."),
    Key::new("ui", Shape::Mapping, "The dashboard: `recipe_folders`, more folders whose recipes it may run."),
    Key::new(
        "sandbox",
        Shape::Word(&["auto", "required"]),
        "`required`: a program that runs confined (a registry's tool, `sandbox: true`) is refused where the kernel cannot confine it, instead of running unconfined (docs/security.md).",
    ),
];

pub const PERSISTENCE: &[Key] = &[
    Key::new("enabled", Shape::Bool, "Record runs in the history (default true)."),
    Key::new("db_path", Shape::Text, "The history's SQLite file (default `~/.localforge/runs.db`)."),
];

pub const RESOURCES: &[Key] = &[Key::new(
    "vram_gb",
    Shape::Number { min: 0.0, max: f64::INFINITY },
    "The VRAM to plan with, in GB, instead of what NVML reports (a GPU LocalForge cannot see).",
)];

pub const CACHE: &[Key] = &[
    Key::new("enabled", Shape::Bool, "Serve unchanged deterministic steps from the cache (default true)."),
    Key::new("dir", Shape::Text, "The cache's folder (default `~/.localforge/cache`)."),
    Key::new(
        "max_gb",
        Shape::Number { min: 0.0, max: f64::INFINITY },
        "The cache's size limit in GB; least recently used entries go first.",
    ),
];

pub const EXECUTOR: &[Key] = &[
    Key::new("kind", Shape::Word(&["local", "ray"]), "`local` (this machine) or `ray` (a Ray cluster)."),
    Key::new("address", Shape::Text, "The Ray cluster's HOST:PORT (default `auto`: the cluster this machine is part of)."),
    Key::new("shared_dir", Shape::Bool, "Run folders are on storage every node mounts at the same path: nothing is copied."),
    Key::new(
        "inline_mb",
        Shape::Number { min: 0.0, max: f64::INFINITY },
        "The largest file that travels with a step through Ray's object store (default 64).",
    ),
];

/// Settings of a service; a service may hold others (they go to its tool).
pub const SERVICE: &[Key] = &[
    Key::new("host", Shape::Text, "The service's URL (`http://localhost:11434`)."),
    Key::new(
        "api",
        Shape::Word(&["ollama", "openai"]),
        "The API it speaks: `openai` for an OpenAI-compatible server (llama.cpp, vLLM, LM Studio).",
    ),
    Key::new("default_model", Shape::Text, "The model a step uses when it names none."),
    Key::new("timeout", Shape::Number { min: 0.0, max: f64::INFINITY }, "Seconds a request may take."),
    Key::new("path", Shape::Text, "The program (`blender`, `ffmpeg`), when it is not on PATH."),
    Key::new("venv_dir", Shape::Text, "The Python environment the service's scripts run in (MusicGen, ACE-Step)."),
    Key::new(
        "instances",
        Shape::ListOf("serviceInstance"),
        "Several servers of this service, each on its own GPU (`[{host: ..., gpu: 0}, {host: ..., gpu: 1}]`): a step goes to the one on \
         the card the scheduler gives it. Without it the service is one server at `host`, over every card.",
    ),
];

/// One instance of a service (`services.NAME.instances[]`).
pub const SERVICE_INSTANCE: &[Key] = &[
    Key::new("host", Shape::Text, "The instance's URL (`http://127.0.0.1:11435`)."),
    Key::new(
        "gpu",
        Shape::Any,
        "The card it serves from: an index or a UUID (as `system` lists them), or a list of them; none: every card.",
    ),
];
