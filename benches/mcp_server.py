"""The MCP server's latency, measured with the official SDK's client over stdio.

1. `tools/list` with 50 recipes in ./recipes (plus the built-in ones): the first
   call (every recipe parsed) and the following ones (recipes cached by mtime
   and size), each the median of `--repeat` calls.
2. `run_recipe` of the hello recipe over stdio (the server already running),
   against the same run through the CLI (`python -m localforge run
   hello-localforge --json`, a new process each time, as an agent shelling out
   pays) and through `localforge.run` in this process.

History and run folders go to a scratch HOME (`--dir`, default a temp folder).

    python benches/mcp_server.py [--recipes 50] [--repeat 20] [--dir /dev/shm/x]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def ms(xs) -> str:
    return f"{statistics.median(xs) * 1000:.1f} ms (min {min(xs) * 1000:.1f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipes", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--dir", default=None)
    ns = ap.parse_args()
    scratch = Path(ns.dir or tempfile.mkdtemp(prefix="lf-mcp-bench-"))
    (scratch / "recipes").mkdir(parents=True, exist_ok=True)
    os.environ["HOME"] = str(scratch)
    os.chdir(scratch)
    import anyio
    from mcp import Client, StdioServerParameters

    import localforge
    from localforge.catalog import resolve

    hello = Path(resolve("hello-localforge")).read_text()
    for i in range(ns.recipes):
        (scratch / "recipes" / f"r{i:02}.yaml").write_text(hello.replace("name: hello-localforge", f"name: bench-{i:02}"))
    params = StdioServerParameters(command=sys.executable, args=["-m", "localforge", "mcp"], env=dict(os.environ), cwd=str(scratch))

    async def over_stdio():
        async with Client(params) as c:
            t = time.perf_counter()
            tools = (await c.list_tools(cache_mode="bypass")).tools
            first = time.perf_counter() - t
            lists = []
            for _ in range(ns.repeat):
                t = time.perf_counter()
                await c.list_tools(cache_mode="bypass")
                lists.append(time.perf_counter() - t)
            runs = []
            for _ in range(ns.repeat):
                t = time.perf_counter()
                r = await c.call_tool("run_recipe", {"recipe": "hello-localforge"})
                runs.append(time.perf_counter() - t)
                assert r.structured_content["status"] == "completed"
            return len(tools), first, lists, runs

    count, first, lists, mcp_runs = anyio.run(over_stdio)
    cli = []
    for _ in range(ns.repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "localforge", "run", "hello-localforge", "--json"], check=True, capture_output=True)
        cli.append(time.perf_counter() - t)
    api = []
    for _ in range(ns.repeat):
        t = time.perf_counter()
        localforge.run("hello-localforge")
        api.append(time.perf_counter() - t)
    print(f"tools/list, {count} tools ({ns.recipes} recipes + built-in): first {first * 1000:.1f} ms, then {ms(lists)}")
    print(f"hello-localforge: run_recipe over stdio {ms(mcp_runs)}; CLI process {ms(cli)}; localforge.run in-process {ms(api)}")
    if ns.dir is None:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
