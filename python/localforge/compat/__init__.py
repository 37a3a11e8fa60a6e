"""LocalForge 0.x's namespaces, kept for the plugins written for it:

engine/   `engine.config.get_config()`, the configuration API plugins use (current), and
          the deprecated shims `runner`, `persistence` and `system_info` over the API
tools/    the built-in Python tools, and the namespace plugins from the tool folders load
          into (so 0.x relative imports such as `from ..engine.config import ...` work)
clients/  0.x's service clients (deprecated)

They import under their 0.x names — `localforge.engine`, `localforge.tools`,
`localforge.clients` — because `localforge/__init__.py` adds this folder to the package's
path. Never as `localforge.compat.engine` and so on: that would load a second copy of
each module (with its own `get_config()` cache), so this package offers no children.
"""

__path__ = []
