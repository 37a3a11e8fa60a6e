"""The 0.x engine namespace, kept for plugins: `localforge.engine.config` (the configuration),
and the deprecated shims `runner` (ToolRegistry, WorkflowRunner), `persistence`
(PersistenceLayer, read side) and `system_info` (SystemInfo), each over `localforge.api`."""
