"""Placement on a machine of several GPUs (issue 33), through the real CLI on fake machines
(`LOCALFORGE_FAKE_GPUS`, which the engine's discovery reads in place of NVML and amdgpu).

1. Eight independent `script` steps (`sleep T`, argv), each holding 16 GB of VRAM, on
   2 x 24 GB: two at a time (one per card), so the ideal makespan is 4T, half of the 8T
   that one 24 GB card takes (measured too). Target: <= 1.05 x 4T.
2. Sixteen `ollama.generate` steps alternating two models, against stand-in Ollamas started
   here on 127.0.0.1 (Ollama needs weights we do not have; each answers Ollama's documented
   API and records which model each request asked for, taking D seconds): two instances,
   one per card (`services.ollama.instances`), and for comparison one instance over both.
   A model switch is a request for a model other than the one that instance served last
   (the first request of each instance counts: loading it). Target: <= 2 with two instances.
   Run one after another (no `depends_on`) and all at once (`depends_on: []`).

Makespan is the run's own `duration_s` (engine start to end, no interpreter start-up).

    python benches/gpu_placement.py [--t 1.0] [--d 0.2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import ollama_standin  # noqa: E402
from ollama_standin import MODELS  # noqa: E402

TWO = [{"vendor": "nvidia", "name": "fake 24 GB", "vram_gb": 24, "uuid": f"GPU-bench-{i}"} for i in range(2)]


def run(home: Path, recipe: Path, config: str, cards) -> dict:
    (home / "localforge.yaml").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(HOME=str(home), LOCALFORGE_FAKE_GPUS=json.dumps(cards))
    out = subprocess.run(
        [sys.executable, "-m", "localforge", "run", str(recipe), "--json", "-q"], cwd=home, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"run failed ({out.returncode}): {out.stderr}\n{out.stdout}")
    return json.loads(out.stdout)


def vram_steps(n: int, gb: float, t: float) -> str:
    steps = [
        f"  - {{id: s{i}, tool: script, action: run, depends_on: [], resources: {{vram_gb: {gb}}}, inputs: {{command: [sleep, '{t}']}}}}"
        for i in range(n)
    ]
    return "name: placement\nsteps:\n" + "\n".join(steps) + "\n"


def llm_steps(n: int, parallel: bool) -> str:
    after = " depends_on: []," if parallel else ""
    steps = [f"  - {{id: s{i}, tool: ollama, action: generate,{after} inputs: {{prompt: hi, model: '{MODELS[i % 2]}'}}}}" for i in range(n)]
    return "name: affinity\nsteps:\n" + "\n".join(steps) + "\n"


def stand_in(delay: float):
    """An Ollama stand-in on 127.0.0.1 (tests/ollama_standin.py); `asked` records each generation's model."""
    Ollama = ollama_standin.handler(MODELS, delay=delay)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ollama)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, Ollama


def switches(asked: list) -> int:
    return sum(1 for i, m in enumerate(asked) if i == 0 or asked[i - 1] != m)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--t", type=float, default=1.0, help="seconds each VRAM step sleeps")
    ap.add_argument("--d", type=float, default=0.2, help="seconds each stand-in generation takes")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        recipe = home / "placement.yaml"
        recipe.write_text(vram_steps(8, 16, a.t))
        print(f"1. 8 steps x 16 GB of VRAM, each `sleep {a.t}`")
        print(f"   {'machine':<14} {'makespan':>9} {'ideal':>7} {'ratio':>6}")
        for label, cards, ideal in (("1 x 24 GB", TWO[:1], 8 * a.t), ("2 x 24 GB", TWO, 4 * a.t)):
            report = run(home, recipe, "max_parallel: 8\n", cards)
            took = report["duration_s"]
            print(f"   {label:<14} {took:>8.2f}s {ideal:>6.2f}s {took / ideal:>6.3f}")
        print(f"2. 16 ollama.generate steps alternating {MODELS[0]} / {MODELS[1]}, {a.d}s each")
        print(f"   {'servers':<28} {'steps':<10} {'switches':>8} {'per server':>18} {'makespan':>9}")
        for parallel in (False, True):
            recipe = home / "affinity.yaml"
            recipe.write_text(llm_steps(16, parallel))
            for label in ("2 instances, one per card", "1 instance over both cards"):
                servers = [stand_in(a.d) for _ in range(2 if label.startswith("2") else 1)]
                hosts = [f"http://127.0.0.1:{s.server_address[1]}" for s, _ in servers]
                if len(hosts) == 2:
                    config = f"max_parallel: 8\nservices:\n  ollama:\n    instances:\n      - {{host: '{hosts[0]}', gpu: 0}}\n      - {{host: '{hosts[1]}', gpu: 1}}\n"
                else:
                    config = f"max_parallel: 8\nservices:\n  ollama: {{host: '{hosts[0]}'}}\n"
                report = run(home, recipe, config, TWO)
                each = [switches(h.asked) for _, h in servers]
                for s, _ in servers:
                    s.shutdown()
                    s.server_close()
                kind = "all at once" if parallel else "in order"
                print(f"   {label:<28} {kind:<10} {sum(each):>8} {str(each):>18} {report['duration_s']:>8.2f}s")


if __name__ == "__main__":
    main()
