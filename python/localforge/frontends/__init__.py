"""The ways in, each a client of the public API and the services, and nothing more:

cli/         `python -m localforge` / `localforge`: argparse, printing, exit codes
mcp_server/  `localforge mcp`: the MCP server (stdio and Streamable HTTP)
ui/          `localforge ui`: the web dashboard
"""
