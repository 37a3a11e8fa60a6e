"""The Ray executor against local runs, whole process (`localforge run`), on clusters of
local processes started by `localforge ray-node` (tests/raycluster.py, 127.0.0.1):

    .venv/bin/python benches/ray_fanout.py [--only overhead,batch,scale,fanout]
        [--tree NAME=PYTHONPATH ...]        # several trees: measured one after the other, same run

- overhead: chains of 20 and 220 trivial steps (`script: true`, each after the last),
  locally and on one node: what a step costs (the slope) and what a run costs once.
- batch:    a 1,000-item `batch.foreach` of trivial steps, `parallel` = slots, locally and
  on one node (as many CPUs as slots): the time against the local one.
- scale:    a 10,000-item batch on one node: the driver's peak memory (its maxrss), the
  items the history holds; then the same batch cancelled (SIGINT) after 5 s: how long
  until the driver exits and until no task holds anything on the cluster.
- fanout:   200 independent `sleep 0.5` steps, 4 slots per machine: locally, on one node
  and on two (the speed-up).
- floor:    Ray's own cost, without LocalForge: 1,000 calls that return at once, 4 in
  flight, as a task, a streaming task (as the executor's), an actor call and a streaming
  actor call: wall time per call and the driver's CPU per call; and the batch's floor: a
  new driver importing Ray, connecting, making one actor per slot and running 1,000
  `sh -c true` through them, one actor call each (the best of 3), against `batch`'s local run.

`--tree`: which LocalForge the driver and the nodes import (a checkout's `python/`
folder, with its built `_core`), to compare before and after in one run: each section is
measured for every tree in turn. Results go to docs/benchmarks.md by hand.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from raycluster import Cluster  # noqa: E402

SLEEP = 0.5
TRIVIAL = "{command: 'true'}"


def chain(n: int) -> str:
    out = ["name: chain", "steps:"]
    for i in range(n):
        out += [f"  - id: s{i}", "    tool: script", "    action: run", f"    inputs: {TRIVIAL}"]
    return "\n".join(out) + "\n"


def batch(n: int, parallel: int) -> str:
    return f"""name: batch
steps:
  - id: each
    tool: batch
    action: foreach
    inputs:
      items: "{{{{ range({n}) | list }}}}"
      parallel: {parallel}
      workflow_steps:
        - {{id: t, tool: script, action: run, inputs: {TRIVIAL}}}
"""


def fanout(n: int) -> str:
    out = ["name: fan-out", "steps:"]
    for i in range(n):
        out += [f"  - id: s{i}", "    tool: script", "    action: run", "    depends_on: []", f"    inputs: {{command: 'sleep {SLEEP}'}}"]
    return "\n".join(out) + "\n"


def run(path: Path, env: dict, *extra: str, cancel_after: float = 0.0) -> dict:
    """One `localforge run`: its wall time, its peak memory (MB, from its own rusage), its
    report; with `cancel_after`, SIGINT then, and the time from the signal to its exit."""
    cmd = [sys.executable, "-m", "localforge", "run", str(path), "--json", "-q", "--no-cache", *extra]
    out: dict = {}
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=path.parent, stdout=stdout, stderr=stderr, text=True)
        if cancel_after:
            time.sleep(cancel_after)
            out["signalled"] = time.perf_counter()
            proc.send_signal(signal.SIGINT)
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0  # reaped above
        out["took"] = time.perf_counter() - t
        if cancel_after:
            out["exit_s"] = time.perf_counter() - out["signalled"]
        out["maxrss_mb"] = usage.ru_maxrss / 1024
        stdout.seek(0)
        stderr.seek(0)
        try:
            out["report"] = json.loads(stdout.read())
        except json.JSONDecodeError:
            raise SystemExit(f"{' '.join(cmd)} printed no report:\n{stderr.read()[-3000:]}") from None
    return out


def history_items(env: dict, cwd: Path, run_id: str) -> int:
    cmd = [sys.executable, "-m", "localforge", "history", "show", run_id, "--json"]
    detail = json.loads(subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True).stdout)
    return sum(1 for s in detail["steps"] if s["step_id"].startswith("each[") and s["status"] == "completed")


FLOOR = """
import json, resource, sys, threading, time
import ray

ray.init(address=sys.argv[1], logging_level="ERROR")


@ray.remote(max_retries=0)
def task(x):
    return x


@ray.remote(max_retries=0, num_returns="streaming")
def streaming(x):
    yield x


@ray.remote(max_concurrency=4, num_cpus=0)
class Actor:
    def call(self, x):
        return x

    @ray.method(num_returns="streaming")
    def streaming(self, x):
        yield x


actor = Actor.remote()
ray.get(actor.call.remote(0))


def drive(submit, wait, n=1000):
    slots = threading.Semaphore(4)

    def one(i):
        with slots:
            wait(submit(i))

    before, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    after, took = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"wall_ms": took / n * 1000, "driver_cpu_ms": cpu / n * 1000}


every = lambda gen: [ray.get(r) for r in gen]  # noqa: E731
kinds = {"task": (lambda i: task.remote(i), ray.get), "streaming task": (lambda i: streaming.remote(i), every),
         "actor call": (lambda i: actor.call.remote(i), ray.get), "streaming actor call": (lambda i: actor.streaming.remote(i), every)}
for submit, wait in kinds.values():
    drive(submit, wait, 100)  # workers started
print(json.dumps({name: drive(submit, wait) for name, (submit, wait) in kinds.items()}))
"""


# The least a batch of 1,000 trivial items can cost over Ray with one actor call per item,
# without LocalForge: a new driver (as each `localforge run` is) imports Ray, connects, makes
# one actor per slot and keeps `slots` calls in flight, each running `sh -c true` in the actor.
BATCH_FLOOR = """
import json, subprocess, sys, threading, time
t0 = float(sys.argv[2])
import ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
connected = time.time() - t0


@ray.remote(num_cpus=1, max_concurrency=2)
class Slot:
    def run(self, cmd):
        return subprocess.run(cmd, shell=True).returncode


slots, n = int(sys.argv[3]), 1000
free = [Slot.remote() for _ in range(slots)]
lock, done = threading.Lock(), threading.Event()
unsent, unanswered, first = [n], [n], []


def send(actor):
    with lock:
        if not unsent[0]:
            return
        unsent[0] -= 1
    actor.run.remote("true").future().add_done_callback(lambda f: heard(actor))


def heard(actor):
    with lock:
        if not first:
            first.append(time.time() - t0)
        unanswered[0] -= 1
        if not unanswered[0]:
            done.set()
    send(actor)


for a in free:
    send(a)
done.wait()
print(json.dumps({"connected_s": connected, "first_answer_s": first[0], "total_s": time.time() - t0}))
"""


def floor(c: Cluster) -> dict:
    out = subprocess.run([sys.executable, "-c", FLOOR, c.address], env=c.env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    rounds = []
    for _ in range(3):
        cmd = [sys.executable, "-c", BATCH_FLOOR, c.address, repr(time.time()), str(c.cpus)]
        out = subprocess.run(cmd, env=c.env, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        rounds.append(json.loads(out.stdout.strip().splitlines()[-1]))
    res["batch floor (Ray and sh only)"] = min(rounds, key=lambda r: r["total_s"])
    return res


def measure(tree: str, only: set, root: Path, slots: int) -> dict:
    res: dict = {}
    work = root / Path(tree).name.replace("/", "_")
    work.mkdir(parents=True, exist_ok=True)

    def cluster(nodes: int, name: str) -> Cluster:
        c = Cluster(work / name, plugins=REPO / "tests" / "fixtures" / "ray", cpus=slots)
        c.env["PYTHONPATH"] = tree
        return c

    if only & {"overhead", "batch", "scale", "floor"}:
        c = cluster(1, "one")
        env = dict(c.env, LOCALFORGE_MAX_PARALLEL=str(slots))
        try:
            c.start(1)
            ray = ("--executor", f"ray:{c.address}")
            if "floor" in only:
                res["floor"] = floor(c)
            if "overhead" in only:
                # Per step: the slope between a chain of 20 and one of 220 (what a run costs
                # once, connecting to the cluster, cancels out), with Ray and without.
                short, long = work / "chain20.yaml", work / "chain220.yaml"
                short.write_text(chain(20))
                long.write_text(chain(220))
                run(short, env, *ray)  # the node starts its workers
                slope = {}
                for name, extra in (("local", ()), ("ray", ray)):
                    a, b = run(short, env, *extra)["took"], run(long, env, *extra)["took"]
                    slope[name] = (b - a) / 200 * 1000
                    slope[f"{name}_start_s"] = a - 20 * slope[name] / 1000
                res["overhead"] = {**slope, "added_ms": slope["ray"] - slope["local"]}
            if "batch" in only:
                p = work / "batch.yaml"
                p.write_text(batch(1000, slots))
                local, remote = run(p, env)["took"], run(p, env, *ray)["took"]
                res["batch"] = {"local_s": local, "ray_s": remote, "ratio": remote / local}
            if "scale" in only:
                p = work / "scale.yaml"
                p.write_text(batch(10_000, slots))
                done = run(p, env, *ray)
                items = history_items(env, work, done["report"]["run_id"])
                stopped = run(p, env, *ray, cancel_after=5.0)
                idle_at = None
                for _ in range(100):
                    if c.idle():
                        idle_at = time.perf_counter() - stopped["signalled"]
                        break
                    time.sleep(0.1)
                res["scale"] = {"took_s": done["took"], "driver_mb": done["maxrss_mb"], "items": items,
                                "status": done["report"]["status"], "cancel_exit_s": stopped["exit_s"],
                                "cancel_idle_s": idle_at, "cancel_status": stopped["report"]["status"]}  # fmt: skip
        finally:
            c.stop()
    if "fanout" in only:
        p = work / "fanout.yaml"
        p.write_text(fanout(200))
        rows = {}
        for nodes in (0, 1, 2):
            c = cluster(nodes, f"fan{nodes}")
            env = dict(c.env, LOCALFORGE_MAX_PARALLEL=str(4))
            c.cpus = 4
            try:
                if nodes:
                    c.start(nodes)
                    run(p, env, "--executor", f"ray:{c.address}")
                    took = run(p, env, "--executor", f"ray:{c.address}")["took"]
                else:
                    took = run(p, env)["took"]
            finally:
                c.stop()
            slots_all = 4 * max(nodes, 1)
            ideal = 200 * SLEEP / slots_all
            rows[nodes] = {"slots": slots_all, "ideal_s": ideal, "took_s": took, "per_step_ms": (took - ideal) / (200 / slots_all) * 1000}
        res["fanout"] = rows
    return res


def main() -> None:
    # Started from a background job (`cmd &`), this process inherits SIGINT ignored and so
    # would every `localforge run` it starts: the cancel it sends would do nothing.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    p = argparse.ArgumentParser()
    p.add_argument("--only", default="overhead,batch,scale,fanout,floor")
    p.add_argument("--tree", action="append", default=[], metavar="NAME=PYTHONPATH")
    p.add_argument("--slots", type=int, default=4)
    ns = p.parse_args()
    trees = dict(t.split("=", 1) for t in ns.tree) or {"this": str(REPO / "python")}
    only = set(ns.only.split(","))
    root = Path(tempfile.mkdtemp(prefix="lf-raybench-"))
    # Section by section, each tree in turn: what the machine is doing meanwhile weighs on both alike.
    results: dict = {name: {} for name in trees}
    for section in [s for s in ("floor", "overhead", "batch", "scale", "fanout") if s in only]:
        for name, path in trees.items():
            results[name].update(measure(path, {section}, root / name / section, ns.slots))
    print(f"{os.cpu_count()} cores, {ns.slots} slots; Ray clusters of local processes\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
