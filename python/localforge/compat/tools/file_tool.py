"""0.x's `localforge.tools.file_tool`, kept for plugins that call it directly:
`handle(action, inputs, ctx)` runs the engine's `file_ops` tool. Deprecated: use a
`file_ops` step, or `localforge.run()`."""

from localforge.engine._shim import call_tool, deprecated

LOCALFORGE_SHIM = True  # not a tool of its own: plugin discovery skips it
TOOL_NAME = "file_ops"
TOOL_ACTIONS = ["copy", "copy_multiple", "move", "delete", "mkdir", "list", "read", "write", "exists"]

deprecated("localforge.tools.file_tool", "a `file_ops` step")


def handle(action: str, inputs: dict, ctx=None) -> dict:
    return call_tool("file_ops", action, inputs)
