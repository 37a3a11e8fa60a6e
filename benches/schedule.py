"""Scheduler makespan against its lower bounds, through the real CLI.

1. DAGs of `script` steps that run `sleep T` (argv, no shell), widths 1, 4, 16, 64: each of
   `w` branches is two CPU steps in a chain (2T) beside one GPU step (T, 6 GB
   of VRAM), all joined by a last step. The lower bound is
   max(critical path, sum of the GPU steps' durations):
   - "fits": VRAM for every GPU step at once (`resources.vram_gb` = 6w) and
     `max_parallel` = 2w + 1: bound = critical path = 2T.
   - "GPU-bound": 8 GB of VRAM, so GPU steps take turns: bound = max(2T, wT).
2. Eight independent `ollama.generate` steps of one model against a stand-in
   Ollama (started here on 127.0.0.1; Ollama needs weights we do not have)
   that serves 4 requests at once, each taking D seconds, like
   OLLAMA_NUM_PARALLEL=4: about 2 rounds (2D), not 8.

Makespan is the run's own `duration_s` (engine start to end, no interpreter
start-up).

    python benches/schedule.py [--t 1.0] [--widths 1,4,16,64] [--cases fits,GPU-bound]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def dag(w: int, t: float) -> str:
    lines = ["name: makespan", "steps:"]
    for i in range(w):
        lines += [
            f"  - {{id: c{i}a, tool: script, action: run, depends_on: [], inputs: {{command: [sleep, '{t}']}}}}",
            f"  - {{id: c{i}b, tool: script, action: run, depends_on: [c{i}a], inputs: {{command: [sleep, '{t}']}}}}",
            f"  - {{id: g{i}, tool: script, action: run, depends_on: [], resources: {{gpu: true, vram_gb: 6}},"
            f" inputs: {{command: [sleep, '{t}']}}}}",
        ]
    deps = ", ".join([f"c{i}b" for i in range(w)] + [f"g{i}" for i in range(w)])
    lines.append(f"  - {{id: end, tool: script, action: run, depends_on: [{deps}], inputs: {{command: [true]}}}}")
    return "\n".join(lines) + "\n"


def run(home: Path, recipe: Path, config: str) -> dict:
    (home / "localforge.yaml").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["HOME"] = str(home)
    out = subprocess.run(
        [sys.executable, "-m", "localforge", "run", str(recipe), "--json", "-q"], cwd=home, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"run failed ({out.returncode}): {out.stderr}\n{out.stdout}")
    return json.loads(out.stdout)


class Slots(BaseHTTPRequestHandler):
    """Ollama's documented endpoints; /api/generate holds one of 4 slots for D seconds."""

    slots = threading.Semaphore(4)
    delay = 1.0

    def log_message(self, *args):
        pass

    def do_GET(self):
        docs = {
            "/api/version": {"version": "0.12.3"},
            "/api/tags": {"models": [{"name": "llama3.2:3b", "size": 2019393189}]},
            "/api/ps": {"models": []},
        }
        self._send(docs.get(self.path, {}))

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with Slots.slots:
            time.sleep(Slots.delay)
        self._send({"model": body["model"], "response": "ok", "done": True, "eval_count": 1, "prompt_eval_count": 1})

    def _send(self, doc):
        data = (json.dumps(doc) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--t", type=float, default=1.0)
    ap.add_argument("--widths", default="1,4,16,64")
    ap.add_argument("--cases", default="fits,GPU-bound", help="which of fits, GPU-bound to run")
    ns = ap.parse_args()
    t = ns.t
    print("| width | case | bound (s) | makespan (s) | over bound |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        home = Path(d)
        for w in map(int, ns.widths.split(",")):
            recipe = home / f"dag{w}.yaml"
            recipe.write_text(dag(w, t))
            for case, config, bound in (
                ("fits", f"max_parallel: {2 * w + 1}\nresources: {{vram_gb: {6 * w}}}\n", 2 * t),
                ("GPU-bound", f"max_parallel: {2 * w + 1}\nresources: {{vram_gb: 8}}\n", max(2 * t, w * t)),
            ):
                if case not in ns.cases.split(","):
                    continue
                took = run(home, recipe, config)["duration_s"]
                print(f"| {w} | {case} | {bound:.2f} | {took:.2f} | {100 * (took - bound) / bound:+.1f}% |")
        server = ThreadingHTTPServer(("127.0.0.1", 0), Slots)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        host = f"http://127.0.0.1:{server.server_address[1]}"
        steps = "\n".join(
            f"  - {{id: ask{i}, tool: ollama, action: generate, depends_on: [], inputs: {{prompt: 'q{i}', model: 'llama3.2:3b'}}}}"
            for i in range(8)
        )
        llm = home / "llm.yaml"
        llm.write_text(f"name: eight\nsteps:\n{steps}\n")
        took = run(home, llm, f"max_parallel: 8\nresources: {{vram_gb: 8}}\nservices:\n  ollama: {{host: '{host}'}}\n")["duration_s"]
        print(f"\n8 LLM steps, stand-in with 4 slots of {Slots.delay:.1f}s: {took:.2f}s = {took / Slots.delay:.2f} rounds (serial: 8)")
        server.shutdown()


if __name__ == "__main__":
    main()
