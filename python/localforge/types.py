"""The shapes of what the API returns: plain dicts, described as TypedDicts so
editors and type checkers know their keys. JSON output of the CLI has the same
shapes (`run --json` is a `RunResult`, `history --json` a list of `RunSummary`).
"""

from typing import Any, Literal, Optional, TypedDict, Union

Status = Literal["completed", "failed", "cancelled"]


class StepResult(TypedDict):
    status: Literal["completed", "failed", "cancelled", "skipped", "not_run"]
    outputs: dict[str, Any]
    error: Optional[str]
    attempts: int
    started_at: Optional[str]
    ended_at: Optional[str]


class RunResult(TypedDict):
    """A run's report (`localforge.run`, `Run.wait`, `run --json`)."""

    run_id: str
    recipe: str
    status: Status
    outputs: dict[str, Any]
    steps: dict[str, StepResult]
    run_dir: str
    error: Optional[str]
    started_at: str
    ended_at: str
    duration_s: float
    warnings: list[str]


class Problem(TypedDict):
    """One problem in a recipe, an input or a preflight check (`.errors` of an exception too)."""

    file: Optional[str]
    line: Optional[int]
    column: Optional[int]
    message: str
    hint: Optional[str]


class RunStarted(TypedDict):
    type: Literal["run_started"]
    run_id: str
    recipe: str
    run_dir: str
    resumed: bool
    plan: list[list[str]]


class StepStarted(TypedDict):
    type: Literal["step_started"]
    step: str
    attempt: int
    tool: str
    action: str
    gpus: list[int]  # the machine's GPUs the step runs on, by number (empty: none)


class StepProgress(TypedDict):
    type: Literal["step_progress"]
    step: str
    done: Optional[int]
    total: Optional[int]
    unit: str


class StepLog(TypedDict):
    type: Literal["step_log"]
    step: str
    level: str
    message: str


class StepFinished(TypedDict):
    type: Literal["step_finished"]
    step: str
    status: Literal["completed", "failed", "cancelled", "kept", "skipped"]
    attempt: int
    elapsed_s: float
    outputs: dict[str, Any]
    error: Optional[str]


class ApprovalRequested(TypedDict):
    type: Literal["approval_requested"]
    step: str
    message: str
    options: list[str]
    default: str


class Note(TypedDict):
    type: Literal["note"]
    message: str


class PreflightNote(TypedDict):
    """What the preflight check noted (before the run starts; the terminal shows it)."""

    type: Literal["preflight_note"]
    message: str


class RunFinished(TypedDict):
    type: Literal["run_finished"]
    run_id: str
    status: Status
    duration_s: float
    error: Optional[str]


Event = Union[RunStarted, StepStarted, StepProgress, StepLog, StepFinished, ApprovalRequested, Note, PreflightNote, RunFinished]


class PlanStep(TypedDict):
    id: str
    tool: str
    action: str
    depends_on: list[str]
    resources: Optional[dict[str, Any]]
    needs: Optional[dict[str, Any]]
    never_fits: Optional[str]
    gpus: list[int]  # the cards it would run on, by number, on an idle machine
    on_gpu: bool
    estimated_s: float
    on_failure: str
    when: Optional[str]
    cache: dict[str, Any]  # {"cache": "hit" | "miss" | "off" | "unknown", "from": run id, "why": ...}


class Plan(TypedDict):
    """`localforge.plan` / `run --dry-run --json`."""

    recipe: str
    valid: bool
    sequential: bool
    inputs: dict[str, Any]
    levels: list[list[str]]
    critical_path: list[str]
    critical_path_s: float
    capacity: dict[str, Any]  # cpu, ram_gb, vram_gb, gpus: [{index, vendor, name, uuid, vram_gb}]
    steps: list[PlanStep]
    preflight: dict[str, Any]


class RunSummary(TypedDict):
    """A row of `localforge.history`."""

    run_id: str
    recipe: str
    status: Literal["running", "completed", "failed", "cancelled", "interrupted"]
    started_at: str
    ended_at: Optional[str]
    duration_s: Optional[float]


class LogFile(TypedDict):
    """One of an attempt's output logs: which stream, where, how big."""

    channel: Literal["stdout", "stderr"]
    path: str
    bytes: int


class Attempt(TypedDict):
    step_id: str
    attempt: int
    status: str
    tool: Optional[str]
    action: Optional[str]
    inputs: Any
    outputs: Any
    error: Optional[str]
    error_detail: Optional[str]
    started_at: str
    ended_at: Optional[str]
    cached_from: Optional[str]
    gpus: list[int]  # the machine's GPUs it ran on, by number (empty: none)
    logs: list[LogFile]


class RunListing(RunSummary):
    """A row of `localforge.runs`: a run and how far it got."""

    steps_done: int
    steps_total: Optional[int]
    waiting: int


class RunPage(TypedDict):
    """`localforge.runs`: one page of the runs found, how many in all, every recipe name."""

    runs: list[RunListing]
    total: int
    recipes: list[str]


class LogPiece(TypedDict):
    """`localforge.step_log`: a piece of what an attempt printed (bytes `start`..`end` of
    `size`); a `running` attempt's log grows: read on from `end`."""

    step: str
    attempt: int
    status: str
    channel: Literal["stdout", "stderr"]
    path: str
    text: str
    start: int
    end: int
    size: int


class LogHit(TypedDict):
    """A line of a log holding the text searched for (`localforge.search_step_log`)."""

    line: int
    offset: int
    text: str


class RunDetail(RunSummary):
    """`localforge.history_show`: a run with every attempt and event."""

    recipe_path: Optional[str]
    recipe_hash: Optional[str]
    inputs: Any
    outputs: Any
    error: Optional[str]
    run_dir: Optional[str]
    steps: list[Attempt]
    events: list[dict[str, Any]]
    llm_calls: list[dict[str, Any]]


class ToolInfo(TypedDict):
    name: str
    kind: Literal["native", "python", "yaml"]
    actions: list[str]
    available: bool
    missing: list[str]
    services: list[str]  # the configured services its calls use by default (`ollama`, `sd`, ...)
    source: str
    description: str


class RecipeEntry(TypedDict):
    name: str
    description: str
    group: str
    path: str
    source: str


class SystemReport(TypedDict):
    """`localforge.system` (`system --json`)."""

    hardware: dict[str, Any]
    services: dict[str, dict[str, Any]]
    tools: dict[str, dict[str, Any]]
    recommendations: list[dict[str, Any]]
    advice: list[dict[str, Any]]


class HealthReport(TypedDict):
    services: dict[str, dict[str, Any]]
    tools: dict[str, dict[str, Any]]


class ModelFit(TypedDict):
    """A row of `localforge.model_table`: an LLM profile measured against this machine."""

    model: str
    tasks: list[str]
    params_b: float
    quant: str
    context: int
    vram_gb: float
    kv_cache_gb: dict[str, float]  # by OLLAMA_KV_CACHE_TYPE: f16, q8_0, q4_0
    fits: bool
    runs_on: Literal["gpu", "cpu"]


class YamlError(TypedDict):
    message: str
    line: Optional[int]
    column: Optional[int]
    hint: Optional[str]


class ParsedYaml(TypedDict, total=False):
    """`localforge.parse_yaml`: `value` and `positions` (JSON Pointer -> [line, column]), or `error`."""

    value: Any
    positions: dict[str, list[int]]
    error: YamlError


class CacheStats(TypedDict):
    """`localforge.cache_stats` (docs/cache.md)."""

    dir: str
    entries: int
    bytes: int
    max_bytes: int
    oldest_use: Optional[str]
    newest_use: Optional[str]
    by_tool: dict[str, int]


class ToolDefinition(TypedDict, total=False):
    """`localforge.tool_definition`: `problems`, plus the rest when the definition is valid."""

    errors: list[Problem]
    problems: list[Problem]  # the same list as `errors` (its first name)
    refused: list[dict[str, Any]]
    name: str
    document: dict[str, Any]
    argv: dict[str, Any]
    confinement: Any


class ConfigInfo(TypedDict):
    """`localforge.config`: the merged settings and the paths they resolve to."""

    raw: dict[str, Any]
    file: Optional[str]
    workspace: str
    run_dir: str
    db_path: str
    persistence_enabled: bool
    tool_dirs: list[str]


class RecipeInfo(TypedDict):
    """`localforge.recipe_info`: a recipe's summary, read without full validation."""

    name: str
    description: Optional[str]
    version: Optional[str]
    inputs: Any
    steps: int
    outputs: Any


class CallResult(TypedDict, total=False):
    """`localforge.api.call_step`: how a tool call run here for another machine's run ended."""

    outputs: dict[str, Any]
    error: str
    detail: Optional[str]
    cancelled: bool
    logs: list[list[str]]
    llm_calls: list[dict[str, Any]]


# A JSON document (a JSON Schema, a recipe's YAML as JSON): a mapping of any JSON values.
JsonDocument = dict[str, Any]
