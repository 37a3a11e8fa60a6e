"""Built-in Python tool plugins: each `*_tool.py` module here defines
`TOOL_NAME`, `TOOL_ACTIONS` and `handle(action, inputs, ctx) -> dict`.
Dropping a 0.x-style file into this folder still works."""
