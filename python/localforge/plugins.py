"""Finding Python tool plugins (the 0.x contract: `TOOL_NAME`, `TOOL_ACTIONS`,
`handle(action, inputs, ctx) -> dict`).

Searched in order: the built-in `localforge.tools` (`compat/tools/*_tool.py`); the
folders in the config's `tool_dirs` and `~/.localforge/tools/`; installed packages
that declare the `localforge.tools` entry-point group. User files load as
submodules of `localforge.tools`, so 0.x relative imports such as
`from ..engine.config import get_config` keep working. A module that fails to
import does not hide the others: it is reported as broken with its error.
"""

import importlib
import importlib.util
import re
import sys
import traceback
from pathlib import Path

from localforge._project import install

_NAME_RE = re.compile(r"""^TOOL_NAME\s*=\s*['"]([^'"]+)['"]""", re.M)
GROUP = "localforge.tools"


def _static_name(path: Path, fallback: str) -> str:
    """TOOL_NAME read from the file's text, for naming a module that fails to import."""
    try:
        m = _NAME_RE.search(path.read_text(errors="replace"))
    except OSError:
        m = None
    return m.group(1) if m else fallback


def _check(module, source):
    """(plugin dict, None) for a valid module, else (None, error text); (None, None) for a
    0.x module kept only to be imported (`LOCALFORGE_SHIM`)."""
    if getattr(module, "LOCALFORGE_SHIM", False):
        return None, None
    name = getattr(module, "TOOL_NAME", None)
    actions = getattr(module, "TOOL_ACTIONS", None)
    handle = getattr(module, "handle", None)
    if not isinstance(name, str) or not name:
        return None, "defines no TOOL_NAME (text)"
    if not isinstance(actions, (list, tuple)) or not all(isinstance(a, str) for a in actions):
        return None, "TOOL_ACTIONS must be a list of action names"
    if not callable(handle):
        return None, "defines no handle(action, inputs, ctx) function"
    doc = (module.__doc__ or "").strip().splitlines()
    # `file`: the module's own file, where `source` says where it came from (an entry
    # point's name): the step cache's version of the plugin is read from there.
    plugin = {"name": name, "actions": list(actions), "module": module, "source": source, "file": getattr(module, "__file__", None),
              "description": doc[0] if doc else "",
              "native": getattr(module, "TOOL_NATIVE_VALUES", False) is True,
              "deterministic": getattr(module, "TOOL_DETERMINISTIC", False) is True}  # fmt: skip
    missing = getattr(module, "TOOL_MISSING", None)
    if callable(missing):
        plugin["missing"] = list(missing())
    inputs = getattr(module, "TOOL_INPUTS", None)
    if inputs is not None:
        problem = _inputs_problem(inputs, plugin["actions"])
        if problem:
            return None, problem
        plugin["inputs"] = inputs
    return plugin, None


INPUT_SPEC_KEYS = {"type", "required", "default", "choices", "description"}


def _inputs_problem(inputs, actions):
    """Why `TOOL_INPUTS` (action -> input name -> {type, required, default, choices,
    description}, as a YAML tool's `inputs`) is malformed, or None."""
    if not isinstance(inputs, dict):
        return "TOOL_INPUTS must be a dict: action -> {input name -> {type, required, default, choices, description}}"
    for action, specs in inputs.items():
        if action not in actions:
            return f"TOOL_INPUTS names action `{action}`, which is not in TOOL_ACTIONS"
        if not isinstance(specs, dict):
            return f"TOOL_INPUTS[{action!r}] must be a dict of input name -> spec"
        for name, spec in specs.items():
            where = f"TOOL_INPUTS[{action!r}][{name!r}]"
            if not isinstance(spec, dict) or set(spec) - INPUT_SPEC_KEYS:
                return f"{where} must be a dict with keys among {', '.join(sorted(INPUT_SPEC_KEYS))}"
            kind = spec.get("type", "string")
            if kind not in INPUT_TYPES:
                from localforge._suggest import did_you_mean

                hint = did_you_mean(str(kind), INPUT_TYPES) or "the types are string, integer, number, boolean, path, list, object"
                return f"{where} has type {kind!r}, which is no input type; {hint}"
            if not isinstance(spec.get("required", False), bool):
                return f"{where}: `required` must be True or False"
            if spec.get("choices") is not None and not isinstance(spec["choices"], list):
                return f"{where}: `choices` must be a list"
    return None


# The input types' names (`recipe::InputType::parse`).
INPUT_TYPES = ("string", "str", "text", "integer", "int", "number", "float", "boolean", "bool", "path", "file", "list", "array",
               "object", "dict", "mapping")  # fmt: skip


# Modules 0.x depended on, so its plugins import them freely: `localforge[compat]` brings them.
COMPAT_MODULES = {"requests": "requests", "yaml": "PyYAML"}


def _error_text(exc: BaseException) -> str:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if top in COMPAT_MODULES:
            return f"import failed: {last} (0.x installed {COMPAT_MODULES[top]} for its plugins: {install('compat')})"
        if not top.startswith("localforge"):
            return f"import failed: {last} (install it into this environment: pip install {top})"
    return f"import failed: {last}"


def _load_file(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def discover(tool_dirs=None, needed=None):
    """(plugins, broken): dicts for the engine. Later sources never replace
    earlier ones; the engine reports a name clash naming both files. With
    `needed` (tool names), installed entry points are scanned only when the
    folders do not provide them all (the scan reads every installed package)."""
    import localforge.tools as builtin_pkg

    plugins, broken = [], []

    def add(load, path, fallback_name, source):
        try:
            module = load()
        except (Exception, SystemExit) as exc:  # a plugin's import error must not stop the others
            broken.append(
                {"name": _static_name(path, fallback_name) if path else fallback_name, "source": source, "error": _error_text(exc)}
            )
            return
        plugin, error = _check(module, source)
        if plugin:
            plugins.append(plugin)
        elif error:
            broken.append({"name": getattr(module, "TOOL_NAME", None) or fallback_name, "source": source, "error": error})

    builtin_dir = Path(builtin_pkg.__file__).parent
    for path in sorted(builtin_dir.glob("*_tool.py")):
        add(lambda p=path: importlib.import_module(f"localforge.tools.{p.stem}"), path, path.stem[:-5], str(path))

    seen = {builtin_dir.resolve()}
    for folder in tool_dirs or []:
        folder = Path(folder)
        if not folder.is_dir() or folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        # Helpers beside a plugin import as in 0.x, where they lived in the tools package:
        # `from ._image_utils import x` and `from localforge.tools._image_utils import x`.
        if str(folder) not in builtin_pkg.__path__:
            builtin_pkg.__path__.append(str(folder))
        for path in sorted(folder.glob("*_tool.py")):
            module_name = f"localforge.tools.{path.stem}"
            if module_name in sys.modules:
                module_name = f"localforge.tools._user_{abs(hash(str(path))):x}_{path.stem}"
            add(lambda p=path, n=module_name: _load_file(p, n), path, path.stem[:-5], str(path))

    found = {p["name"] for p in plugins} | {b["name"] for b in broken}
    if needed is not None and set(needed) <= found:
        return plugins, broken
    for ep in _entry_points():
        add(ep.load, None, ep.name, f"entry point `{ep.name}` ({ep.value})")
    return plugins, broken


def _entry_points():
    from importlib.metadata import entry_points

    eps = entry_points()
    if hasattr(eps, "select"):
        return list(eps.select(group=GROUP))
    return list(eps.get(GROUP, []))  # Python 3.9


def for_engine(needed=None, tool_dirs=None):
    """Plugins and broken ones for the configured tool folders (`tool_dirs`, as the engine
    read them; else the configuration's), as `_core` takes them."""
    if tool_dirs is None:
        from localforge.engine.config import get_config

        tool_dirs = get_config().tool_dirs
    return discover(tool_dirs, needed)
