"""Features built on the public API (`localforge.api`), used by the front ends:

seed            knowledge seeds: playbooks that make this machine better (find, check, verify)
skills          seeds exported as agent skills
agentconfig     an agent's config (CLAUDE.md, AGENTS.md, ...) for this machine
schemacheck     checking a document against the JSON Schemas LocalForge ships
tool_registry/  sharing YAML tools: registries, install, update, publish
system_report   the machine report as text (`localforge system`, `health`)

Nothing here imports a front end.
"""
