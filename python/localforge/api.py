"""The public Python API: run recipes from your own code, blocking or with
asyncio, watch their events, answer approval gates, cancel them; and the
reads the CLI makes (plan, validate, history, system, tools, recipes).

Every front end — the `python -m localforge` CLI, the MCP server, the web
dashboard — goes through these functions. Results are plain dicts described
by the TypedDicts in `localforge.types`. Errors are `localforge.errors`.
"""

from __future__ import annotations

import collections
import os

from localforge import errors

# Annotations only (they are not evaluated: `from __future__ import annotations`): `typing`
# and the TypedDicts would cost `localforge run` ~3 ms to import. Type checkers read the
# name `TYPE_CHECKING` as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import weakref
    from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
    from typing import Any, Callable, Optional, Union

    from localforge.types import (
        CacheStats,
        CallResult,
        ConfigInfo,
        Event,
        HealthReport,
        JsonDocument,
        LogHit,
        LogPiece,
        ModelFit,
        ParsedYaml,
        Plan,
        Problem,
        RecipeEntry,
        RecipeInfo,
        RunDetail,
        RunPage,
        RunResult,
        RunSummary,
        SystemReport,
        ToolDefinition,
        ToolInfo,
    )

    Recipe = Union[str, "os.PathLike[str]"]
    OnEvent = Callable[[Event], Any]
    Approve = Callable[[Event], Any]  # True, False or an option (or an awaitable of one, for arun)
    # Where steps run: "local", "ray", "ray:ADDRESS", an executor object, or None (the configuration's).
    Executor = Optional[Union[str, Any]]


def _core():
    from localforge import _core

    return _core


def _plugins(needed=None, tool_dirs=None):
    """Python plugins, found only when a recipe names a tool that is not native (in the
    configured `tool_dirs`, which the engine passes)."""
    from localforge.plugins import for_engine

    return for_engine(needed, tool_dirs)


def _recipe_path(recipe: Recipe) -> str:
    """A recipe file, or a built-in / ./recipes recipe by name (`hello-localforge`)."""
    from localforge import catalog

    try:
        return catalog.resolve(os.fspath(recipe))
    except catalog.NotFound as e:
        err = errors.RecipeError(f"{e.message}\n  hint: {e.hint}")
        err.errors = [{"file": None, "line": None, "column": None, "message": e.message, "hint": e.hint}]
        raise err from None


def _inputs(inputs: Optional[Mapping[str, Any]]) -> dict:
    """Values of the recipe's declared inputs: native values, or text as from `-i k=v`."""
    return dict(inputs or {})


def _options(
    *, auto_approve: bool = False, force: bool = False, quiet: bool = True, cache: bool = True, refresh: Sequence[str] = (), **watch: bool
) -> dict[str, Any]:
    """The run options the engine takes (`engine::Options`), from the API's keywords;
    `watch`: `events` (the caller reads the events) and `answers` (it answers the gates)."""
    return {"auto_approve": auto_approve, "force": force, "quiet": quiet, "no_cache": not cache, "refresh": list(refresh), **watch}


def _start(recipe: Recipe, inputs: Optional[Mapping[str, Any]], executor: Executor, options: dict[str, Any]):
    """Check, preflight and start a recipe in the engine: its `RunHandle`."""
    return _core().start_run(_recipe_path(recipe), _inputs(inputs), options, plugins=_plugins, executor=_executor(executor))


# The runs this process started, by id, while anyone holds them: `cancel` and `answer`
# reach them directly (their history row may not be written yet); other runs through the
# history.
_LIVE: Optional[weakref.WeakValueDictionary[str, Run]] = None


def _live() -> weakref.WeakValueDictionary[str, Run]:
    # Made on first use: `localforge run` waits for its run without a `Run`, and does not
    # import `weakref` for it.
    global _LIVE
    if _LIVE is None:
        import weakref

        _LIVE = weakref.WeakValueDictionary()
    return _LIVE


class Run:
    """A run going on in the engine (from `start` or `start_resume`).

    `events()` iterates its events (a plain `for`, or `async for`), `approve()`
    answers its approval gates, `cancel()` stops it, `wait()` / `await
    wait_async()` return its report. The run goes on whether or not anyone reads
    its events; they are kept until read.
    """

    def __init__(self, handle):
        self._handle = handle
        _live()[handle.id] = self

    @property
    def id(self) -> str:
        """The run's id: its history row and its folder's name."""
        return self._handle.id

    def events(self) -> _Events:
        """The run's events in order, each a dict with a `type` (see `localforge.types.Event`).
        Ends after `run_finished`. Works with `for` and with `async for`."""
        return _Events(self._handle)

    def approve(self, step: str, answer: Union[bool, str] = True) -> str:
        """Answer approval gate `step`: True (go on), False (its rejecting option), or an
        option by name. Returns the option chosen. LookupError if `step` is not waiting
        (never asked, answered, or withdrawn because the run stopped); ValueError if
        `answer` is not one of its options."""
        return self._handle.approve(step, answer)

    def waiting_approvals(self) -> list[str]:
        """The approval gates waiting for an answer now."""
        return self._handle.waiting_approvals()

    def cancel(self) -> None:
        """Stop the run: running steps and their processes stop, `cleanup.on_failure` runs,
        the history says `cancelled`. Returns at once; `wait()` for the report."""
        self._handle.cancel()

    def done(self) -> bool:
        return self._handle.done()

    def wait(self, timeout: Optional[float] = None) -> Optional[RunResult]:
        """The run's report once it ends (`None` if `timeout` seconds pass first).
        Ctrl-C while waiting cancels the run, as in the CLI."""
        return self._handle.wait(timeout)

    async def wait_async(self) -> RunResult:
        """`wait()` for asyncio. Cancelling the awaiting task cancels the run and waits
        for it to stop (its processes, cleanup and history) before re-raising."""
        import asyncio

        try:
            return await self._handle.wait_async()
        except asyncio.CancelledError:
            self.cancel()
            await asyncio.shield(self._handle.wait_async())
            raise

    def __repr__(self) -> str:
        return f"<localforge.Run {self.id} ({'ended' if self.done() else 'running'})>"


class _Events:
    """Iterator over a run's events, sync or async."""

    def __init__(self, handle):
        self._handle = handle
        self._buffer: collections.deque = collections.deque()
        self._ended = False

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        while not self._buffer:
            if self._ended:
                raise StopIteration
            batch = self._handle.next_events(0.1)  # short waits, so Ctrl-C gets through
            if batch is None:
                self._ended = True
            else:
                self._buffer.extend(batch)
        return self._buffer.popleft()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if self._ended:
                raise StopAsyncIteration
            batch = await self._handle.next_events_async()
            if batch is None:
                self._ended = True
            else:
                self._buffer.extend(batch)
        return self._buffer.popleft()


def start(
    recipe: Recipe,
    inputs: Optional[Mapping[str, Any]] = None,
    *,
    auto_approve: bool = False,
    force: bool = False,
    quiet: bool = True,
    cache: bool = True,
    refresh: Sequence[str] = (),
    executor: Executor = None,
) -> Run:
    """Check, preflight and start a recipe (a file, or a built-in recipe's name); return
    at once with the running `Run`. Approval gates wait for `Run.approve` unless
    `auto_approve`. Raises RecipeError / InputError / ResourceError before anything runs.
    `quiet=False` also prints the CLI's progress lines on stderr. `cache=False` takes
    nothing from the step cache (`run --no-cache`); `refresh` names steps that run again,
    with every step after them (`run --refresh`). `executor`: where the steps run —
    `"local"`, `"ray"`, `"ray:ADDRESS"` (`localforge.executors`); None: the configuration's
    `executor`, else this machine."""
    options = _options(auto_approve=auto_approve, force=force, quiet=quiet, cache=cache, refresh=refresh, events=True, answers=True)
    return Run(_start(recipe, inputs, executor, options))


def start_resume(run_id: str, *, auto_approve: bool = False, force: bool = False, quiet: bool = True, executor: Executor = None) -> Run:
    """`start` for an earlier run that failed, was cancelled or interrupted (`resume`)."""
    options = _options(auto_approve=auto_approve, force=force, quiet=quiet, events=True, answers=True)
    return Run(_core().start_resume(run_id, options, plugins=_plugins, executor=_executor(executor)))


def _executor(spec: Executor):
    """Where the steps run, as the engine asks once it has read the configuration: `spec`,
    else the configuration's `executor` setting, else here (None)."""

    def choose(configured: Any):
        from localforge import executors

        return executors.resolve(configured if spec is None else spec)

    return choose


def call_step(
    request: Mapping[str, Any],
    inputs: Mapping[str, Any],
    *,
    log: Optional[Callable[[str, str], Any]] = None,
    progress: Optional[Callable[[Optional[int], Optional[int], str], Any]] = None,
    stop: Optional[Callable[[], bool]] = None,
    llm_call: Optional[Callable[[dict], Any]] = None,
) -> CallResult:
    """Run one step's tool call on this machine for a run driven from another one (the Ray
    executor's worker side). `request` is what the driver's engine sends: tool, action, the
    tool's fingerprint (a different version here refuses the call), run and step ids, the
    run's folders (already this machine's paths). Returns `{"outputs", "logs"}`, or
    `{"error", "detail", "logs"}`, or `{"cancelled": True}`. `log(level, message)` and
    `progress(done, total, unit)` and `llm_call(call)` hear the call as it goes (then `logs`
    and `llm_calls` stay empty); `stop()`, asked every 100 ms, stops it (KeyboardInterrupt)
    and its processes."""
    from localforge.executors import worker

    return worker.call_step(request, inputs, log=log, progress=progress, stop=stop, llm_call=llm_call)


def _follow(run: Run, on_event: Optional[OnEvent], approve: Optional[Approve]) -> RunResult:
    """Hand each event to `on_event`, answer gates with `approve`, then the report."""
    handle = run._handle
    try:
        # Batches straight from the handle: this loop runs once per event of every step.
        while (batch := handle.next_events(0.1)) is not None:  # short waits, so Ctrl-C gets through
            if on_event is not None:
                for event in batch:
                    on_event(event)
            if approve is not None:
                for event in batch:
                    if event["type"] == "approval_requested":
                        _answer(run, event, approve(event))
    except KeyboardInterrupt:
        run.cancel()  # as in the CLI: stop the run, then report it
    except BaseException:
        run.cancel()
        run.wait()
        raise
    report = run.wait()
    assert report is not None  # no timeout: it returns once the run has ended
    return report


def _blocking(start, on_event: Optional[OnEvent], approve: Optional[Approve], check: bool) -> RunResult:
    """Start a run (`start(events, answers)` gives its handle) and wait for its report,
    following its events when someone listens."""
    watch = on_event is not None or approve is not None
    handle = start(watch, approve is not None)
    report = _follow(Run(handle), on_event, approve) if watch else handle.wait()
    return _checked(report, check)


def _answer(run: Run, event: Mapping[str, Any], answer) -> None:
    """Answer a gate; one withdrawn meanwhile (the run was cancelled or timed out) needs none."""
    try:
        run.approve(event["step"], answer)
    except LookupError:
        pass


def _checked(report: RunResult, check: bool) -> RunResult:
    if check and report["status"] != "completed":
        failed = next((sid for sid, s in report["steps"].items() if s["status"] == "failed"), None)
        cls = errors.CancelledError if report["status"] == "cancelled" else errors.ToolError
        e = cls(report.get("error") or f"run {report['run_id']} {report['status']}")
        e.result, e.step = report, failed
        e.errors = [{"file": None, "line": None, "column": None, "message": report.get("error") or "", "hint": None}]
        raise e
    return report


def run(
    recipe: Recipe,
    inputs: Optional[Mapping[str, Any]] = None,
    *,
    auto_approve: bool = False,
    force: bool = False,
    on_event: Optional[OnEvent] = None,
    approve: Optional[Approve] = None,
    quiet: bool = True,
    check: bool = False,
    cache: bool = True,
    refresh: Sequence[str] = (),
    executor: Executor = None,
) -> RunResult:
    """Run a recipe (a file, or a built-in recipe's name) and return its report
    (`localforge.types.RunResult`, the `run --json` document).

    `on_event(event)` is called with every event, in order. `approve(event)` answers
    approval gates (True, False or an option); without it, gates take their default
    (`auto_approve`, or no terminal) or ask on the terminal. Ctrl-C stops the run as
    in the CLI and the report says `cancelled`. `check=True` raises ToolError for a
    failed run and CancelledError for a cancelled one. `cache`, `refresh` and `executor` as in `start`."""
    options = _options(auto_approve=auto_approve, force=force, quiet=quiet, cache=cache, refresh=refresh)

    def start(events: bool, answers: bool):
        return _start(recipe, inputs, executor, {**options, "events": events, "answers": answers})

    return _blocking(start, on_event, approve, check)


def resume(
    run_id: str,
    *,
    auto_approve: bool = False,
    force: bool = False,
    on_event: Optional[OnEvent] = None,
    approve: Optional[Approve] = None,
    quiet: bool = True,
    check: bool = False,
    executor: Executor = None,
) -> RunResult:
    """Continue a failed, cancelled or interrupted run in its own folder and history row
    (completed steps keep their outputs); `force` if its recipe changed. As `run`."""

    def start(events: bool, answers: bool):
        options = _options(auto_approve=auto_approve, force=force, quiet=quiet, events=events, answers=answers)
        return _core().start_resume(run_id, options, plugins=_plugins, executor=_executor(executor))

    return _blocking(start, on_event, approve, check)


async def arun(
    recipe: Recipe,
    inputs: Optional[Mapping[str, Any]] = None,
    *,
    auto_approve: bool = False,
    force: bool = False,
    on_event: Optional[OnEvent] = None,
    approve: Optional[Approve] = None,
    quiet: bool = True,
    check: bool = False,
    cache: bool = True,
    refresh: Sequence[str] = (),
    executor: Executor = None,
) -> RunResult:
    """`run` for asyncio: the engine works without holding the GIL or blocking the
    event loop. `on_event` and `approve` may be coroutine functions. Cancelling the
    task — even while the run is still starting — cancels the run (steps and their
    processes stopped, `cleanup.on_failure` run, history `cancelled`) and re-raises
    `asyncio.CancelledError`; so does an exception from `on_event` or `approve`."""
    import asyncio  # here, not at the top: the CLI never pays for importing it
    import inspect

    watch = on_event is not None or approve is not None

    options = _options(
        auto_approve=auto_approve, force=force, quiet=quiet, cache=cache, refresh=refresh, events=watch, answers=approve is not None
    )

    def begin():
        return _start(recipe, inputs, executor, options)

    starting = asyncio.get_running_loop().run_in_executor(None, begin)
    try:
        handle = await asyncio.shield(starting)
    except asyncio.CancelledError:
        # Cancelled while the run starts (preflight can take seconds): stop it once it exists.
        starting.add_done_callback(lambda f: f.cancelled() or f.exception() or f.result().cancel())
        raise
    run = Run(handle)
    try:
        if watch:
            async for event in run.events():
                if on_event is not None and inspect.isawaitable(done := on_event(event)):
                    await done
                if approve is not None and event["type"] == "approval_requested":
                    answer = approve(event)
                    _answer(run, event, await answer if inspect.isawaitable(answer) else answer)
    except BaseException:
        run.cancel()
        await asyncio.shield(handle.wait_async())
        raise
    return _checked(await run.wait_async(), check)


def plan(
    recipe: Recipe, inputs: Optional[Mapping[str, Any]] = None, *, force: bool = False, cache: bool = True, refresh: Sequence[str] = ()
) -> Plan:
    """What `run --dry-run` shows (`localforge.types.Plan`): levels, critical path,
    capacity, each step's reservation and needs, and `cache` (would the step cache serve
    it: hit, miss, off, unknown); preflight problems raise ResourceError unless `force`."""
    options = _options(force=force, cache=cache, refresh=refresh)
    return _core().plan_recipe(_recipe_path(recipe), _inputs(inputs), options, plugins=_plugins)


def validate(*recipes: Recipe) -> list[Problem]:
    """Every problem in the recipes (`localforge.types.Problem`: file, line, column,
    message, hint); empty when all are valid."""
    return _core().validate([_recipe_path(r) for r in recipes], plugins=_plugins)


def validate_warnings(*recipes: Recipe) -> list[Problem]:
    """What recipes written for LocalForge 0.x would do differently here (a `script` step that
    now fails on a non-zero exit, ...), and `cache: true` on a step whose effects the step
    cache cannot all see, each with its place and a hint."""
    return _core().validate_warnings([_recipe_path(r) for r in recipes], plugins=_plugins)


def history(limit: int = 20) -> list[RunSummary]:
    """The newest runs, newest first (`localforge.types.RunSummary`)."""
    return _core().history(limit)


def history_show(run_id: str) -> Optional[RunDetail]:
    """One run with its steps' attempts and events (`localforge.types.RunDetail`), or None."""
    return _core().history_show(run_id)


def run_status(run_id: str) -> Optional[str]:
    """A run's status alone (`running`, `completed`, ...; `interrupted` when its process
    died), or None if there is no such run: read by its key, cheap to ask often."""
    return _core().run_status(run_id)


def runs(
    *,
    status: Optional[str] = None,
    recipe: Optional[str] = None,
    since: Optional[str] = None,
    until: Optional[str] = None,
    text: Optional[str] = None,
    offset: int = 0,
    limit: int = 50,
) -> RunPage:
    """A page of the runs in the history, newest first, found over the whole history:
    `status`, `recipe`, started `since`/`until` (ISO dates or times), `text` in the run's
    id, recipe or error. Returns the page, how many runs match in all, and every recipe
    name in the history (`localforge.types.RunPage`)."""
    if offset < 0 or not 1 <= limit <= 1000:
        raise errors.UsageError(f"`offset` must be 0 or more and `limit` from 1 to 1000 (found {offset}, {limit})")
    query = {"status": status, "recipe": recipe, "since": since, "until": until, "text": text, "offset": offset, "limit": limit}
    return _core().query_runs(query)


def history_version() -> int:
    """A number that changes whenever a run, in any process, writes to the history: ask it
    now and then and reload what you show only when it moved (the dashboard does)."""
    return _core().history_version()


def _channel(channel: str) -> str:
    if channel not in ("stdout", "stderr"):
        raise errors.UsageError(f"`channel` is `stdout` or `stderr`, not `{channel}`")
    return channel


def step_log(
    run_id: str, step: str, *, attempt: Optional[int] = None, channel: str = "stdout", offset: int = -65536, limit: int = 65536
) -> Optional[LogPiece]:
    """What a step's program printed, kept per attempt (`attempt`: None for the newest):
    up to `limit` bytes from byte `offset` (negative: back from the end, from a whole
    line), as `text` with the bytes it covers and the log's size; a log of any size is
    read without loading it. None when the history has no such run, step or attempt."""
    return _core().step_log(run_id, step, attempt, _channel(channel), offset, limit)


def search_step_log(
    run_id: str, step: str, text: str, *, attempt: Optional[int] = None, channel: str = "stdout", limit: int = 200
) -> Optional[list[LogHit]]:
    """The lines of a step's log holding `text` (any case), with their numbers and byte
    offsets, at most `limit`. None when the history has no such run, step or attempt."""
    return _core().search_step_log(run_id, step, text, attempt, _channel(channel), limit)


def cancel(run_id: str) -> None:
    """Stop a running run, whichever process on this machine runs it (the CLI, another
    program's API, the MCP server): its running steps stop and it ends `cancelled`, as on
    Ctrl-C. Raises RecipeError when there is no such run or it has ended."""
    here = _live().get(run_id)
    if here is not None and not here.done():
        return here.cancel()
    _core().control_run(run_id, {"action": "cancel"})


def answer(run_id: str, step: str, answer: Union[bool, str] = True) -> None:
    """Answer the approval gate `step` of a running run, whichever process runs it:
    `True` (go on), `False` (take its rejecting option) or one of its options. A gate that
    nobody waits on (`--auto-approve`, no terminal) has taken its default already."""
    if not isinstance(answer, (bool, str)):
        raise errors.UsageError("answer with True, False or one of the gate's options")
    here = _live().get(run_id)
    if here is not None and not here.done():
        here.approve(step, answer)
        return
    _core().control_run(run_id, {"action": "answer", "step": step, "answer": answer})


def system(binaries: Optional[Sequence[str]] = None) -> SystemReport:
    """Hardware, services, tools, recommended models, tuning advice (`system --json`);
    `binaries` are looked up too, with their versions, under `tools`."""
    return _core().system_report(list(binaries) if binaries else None)


def model_table() -> list[ModelFit]:
    """Every LLM LocalForge has a profile of, measured against this machine, smallest first:
    `model`, `tasks`, `params_b`, `quant`, `context`, `vram_gb`, `kv_cache_gb` (by cache
    type: f16, q8_0, q4_0), `fits`, `runs_on`."""
    return _core().model_table()


def parse_yaml(text: str) -> ParsedYaml:
    """A YAML text as `{"value": ..., "positions": {json_pointer: [line, column]}}`, or
    `{"error": {"message", "line", "column", "hint"}}` when it is not valid YAML. The same
    parser as recipes (no PyYAML needed)."""
    return _core().parse_yaml(text)


def cache_stats() -> CacheStats:
    """The step cache (docs/cache.md): `dir`, `entries`, `bytes` (each stored file once),
    `max_bytes` (`cache.max_gb`), `oldest_use`, `newest_use`, `by_tool`."""
    return _core().cache_stats()


def cache_clear(older_than_s: Optional[float] = None) -> int:
    """Remove step cache entries — all, or those not used for `older_than_s` seconds —
    and the files only they held; returns how many entries were removed."""
    return _core().cache_clear(older_than_s)


def tool_definition(path: Recipe, shared: bool = False) -> ToolDefinition:
    """A YAML tool definition checked with the same checker as local YAML tools:
    `{"errors": [...]}` (file, line, column, message, hint), plus `name`, `document`
    (the YAML as JSON) and `refused` when it is valid. `shared`: `refused` lists why it may
    not be shared through a registry (docs/registry.md), each with message and hint.
    `errors` is the same list as `problems`, under the name `validate` and every exception use."""
    doc = _core().tool_definition(os.fspath(path), shared)
    doc["errors"] = doc["problems"]
    return doc


def render_template(text: str, context: Mapping[str, Any]) -> str:
    """Render `text` with `context` in the recipes' template environment (minijinja, strict
    about undefined names). Raises `localforge.errors.TemplateError` naming the line."""
    return _core().render_template(text, dict(context))


def config() -> ConfigInfo:
    """The merged configuration: `raw` (every setting, from the files and `LOCALFORGE_*`),
    `file` (the file read, if any), `workspace`, `run_dir` and `db_path`."""
    return _core().config()


def health() -> HealthReport:
    """Services and command-line tools: running/found, version (`health --json`)."""
    return _core().health_report()


def list_tools(schema: bool = False, only: Sequence[str] = ()) -> list[ToolInfo]:
    """Every tool with its kind, actions and whether it can be used here; with `schema`,
    also `inputs`: each action's input JSON Schema (None where the tool does not declare it).
    `only`: these tools (`ollama`) or actions (`ollama.generate`) alone; a name that is
    neither raises `localforge.errors.UsageError` saying which ones there are."""
    tools = _core().list_tools(plugins=_plugins, schema=schema)
    if not only:
        return tools
    if isinstance(only, str):
        only = [only]
    by_name = {t["name"]: t for t in tools}
    wanted: dict[str, Optional[set]] = {}
    for name in only:
        tool, _, action = name.partition(".")
        t = by_name.get(tool)
        if t is None:
            from localforge._suggest import did_you_mean

            hint = did_you_mean(tool, by_name) or f"tools: {', '.join(by_name)}"
            raise errors.UsageError(f"no tool `{tool}`", hint=hint)
        if action and action not in t["actions"]:
            raise errors.UsageError(f"tool `{tool}` has no action `{action}`", hint=f"its actions: {', '.join(t['actions'])}")
        if tool in wanted and wanted[tool] is None:
            continue
        wanted[tool] = None if not action else (wanted.get(tool) or set()) | {action}
    out = []
    for name, actions in wanted.items():
        t = dict(by_name[name])
        if actions is not None:
            t["actions"] = [a for a in t["actions"] if a in actions]
            if isinstance(t.get("inputs"), dict):
                t["inputs"] = {a: v for a, v in t["inputs"].items() if a in actions}
        out.append(t)
    return out  # type: ignore[return-value]


def schema(kind: str = "recipe", local: bool = True) -> JsonDocument:
    """The JSON Schema (draft 2020-12) of `kind`: `recipe`, `tool` (YAML tool definitions) or
    `config` (localforge.yaml). The recipe schema is specialised to the tools usable here
    (`tool` and `action` are theirs, each action's `inputs` typed) unless `local=False`,
    which gives the one shipped in `localforge/data/schemas/`."""
    return _core().schema_document(kind, local=local, plugins=_plugins)


def recipe_document(recipe: Recipe) -> Optional[JsonDocument]:
    """A recipe as its YAML says it (`name`, `inputs`, `steps`, ... nothing rendered or checked),
    or None if it cannot be read as YAML."""
    return _core().recipe_document(_recipe_path(recipe))


def recipe_info(recipe: Recipe) -> Optional[RecipeInfo]:
    """A recipe's name, description, version, inputs and step count, or None if unreadable."""
    return _core().recipe_info(_recipe_path(recipe))


def list_recipes(folder: Optional[Recipe] = None) -> list[RecipeEntry]:
    """Recipes (`localforge.types.RecipeEntry`): the built-in ones and ./recipes, each
    once, or those under `folder`."""
    from pathlib import Path

    from localforge import catalog

    search = None if folder is None else [(Path(folder), os.fspath(folder))]
    out: list[RecipeEntry] = []
    for f, root, source in catalog.catalog(search):
        info = _core().recipe_info(str(f))
        if info is None:
            continue
        group = f.parent.relative_to(root).as_posix()
        out.append(
            {
                "name": info["name"],
                "description": info.get("description") or "",
                "group": "" if group == "." else group,
                "path": str(f),
                "source": source,
            }
        )
    return out


from localforge import __all__ as __all__  # noqa: E402  (the package lists the API it exports lazily)
