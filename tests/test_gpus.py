"""Every GPU in the box (issue 33), through the CLI on fake machines of 1, 2 and 4 cards
(`LOCALFORGE_FAKE_GPUS`, read by the engine's discovery): where the real scheduler puts
each step, what its real process is told (each step prints the variables it got),
split reservations, preflight's refusals, and what events, history and `--dry-run` say."""

import json

import pytest

NVIDIA_2x24 = json.dumps(
    [
        {"vendor": "nvidia", "name": "RTX 4090", "vram_gb": 24, "uuid": "GPU-aaaa0000"},
        {"vendor": "nvidia", "name": "RTX 3090", "vram_gb": 24, "uuid": "GPU-bbbb1111"},
    ]
)
# Mixed sizes and vendors: two NVIDIA cards, then two AMD ones (the second without a UUID).
MIXED_4 = json.dumps(
    [
        {"vendor": "nvidia", "name": "RTX 4090", "vram_gb": 24, "uuid": "GPU-aaaa0000"},
        {"vendor": "nvidia", "name": "RTX 3060", "vram_gb": 12, "uuid": "GPU-cccc2222"},
        {"vendor": "amd", "name": "Radeon RX 7900 XTX", "vram_gb": 24, "uuid": "5f1c2a8b9d0e4f13"},
        {"vendor": "amd", "name": "Radeon RX 7600", "vram_gb": 8},
    ]
)
ONE = json.dumps([{"vendor": "nvidia", "name": "RTX 4090", "vram_gb": 24, "uuid": "GPU-aaaa0000"}])

SHOW = 'echo "CUDA=${CUDA_VISIBLE_DEVICES-} ROCR=${ROCR_VISIBLE_DEVICES-} HIP=${HIP_VISIBLE_DEVICES-}"'


def step(sid, resources, wait_for=None, after=()):
    """A script step that prints the GPU variables it got; with `wait_for`, it also waits
    (up to 10 s) for that step to have started, so the two must run at the same time."""
    wait = f"; for i in $(seq 200); do [ -e {wait_for}.here ] && exit 0; sleep 0.05; done; exit 1" if wait_for else ""
    return (
        f"  - id: {sid}\n    tool: script\n    action: run\n    depends_on: [{', '.join(after)}]\n"
        f"    resources: {resources}\n    inputs: {{command: '{SHOW}; touch {sid}.here{wait}'}}\n"
    )


def recipe(lf, *steps, name="gpus"):
    return lf.write(f"{name}.yaml", f"name: {name}\nsteps:\n" + "".join(steps))


def machine(lf, cards):
    lf.env["LOCALFORGE_FAKE_GPUS"] = cards
    lf.write("localforge.yaml", "max_parallel: 8\n")


def printed(report, sid):
    return report["steps"][sid]["outputs"]["stdout"].strip()


def history_gpus(lf, run_id):
    detail = json.loads(lf("history", "show", run_id, "--json", check=0).stdout)
    return {s["step_id"]: s["gpus"] for s in detail["steps"]}


def test_two_16_gb_steps_run_at_once_on_two_24_gb_cards_each_pinned_to_its_own(lf):
    machine(lf, NVIDIA_2x24)
    rec = recipe(lf, step("a", "{vram_gb: 16}", wait_for="b"), step("b", "{vram_gb: 16}", wait_for="a"))
    proc = lf("run", rec, "--json", check=0)
    report = json.loads(proc.stdout)
    seen = sorted([printed(report, "a"), printed(report, "b")])
    assert seen == ["CUDA=GPU-aaaa0000 ROCR= HIP=", "CUDA=GPU-bbbb1111 ROCR= HIP="]
    on = history_gpus(lf, report["run_id"])
    assert sorted(on["a"] + on["b"]) == [0, 1]
    card_of_a = "GPU-aaaa0000" if on["a"] == [0] else "GPU-bbbb1111"
    assert printed(report, "a") == f"CUDA={card_of_a} ROCR= HIP=", "the history names the card the process was given"
    assert f"▶ a (script.run) on GPU {on['a'][0]}" in proc.stderr
    text = lf("history", "show", report["run_id"], check=0).stdout
    assert f"script.run  on GPU {on['b'][0]}" in text


def test_a_40_gb_step_on_two_24_gb_cards_is_refused_unless_it_may_split(lf):
    machine(lf, NVIDIA_2x24)
    proc = lf("run", recipe(lf, step("big", "{vram_gb: 40}")), check=2)
    assert (
        "step `big`: `script.run` needs ~40.0 GB of VRAM (declared in `resources`); the roomiest of the 2 GPUs has 24.0 GB free"
        in proc.stderr
    )
    assert "add `split: true` to its `resources`" in proc.stderr and "48.0 GB together" in proc.stderr
    assert not (lf.work / "big.here").exists(), "nothing ran"
    report = json.loads(lf("run", recipe(lf, step("big", "{vram_gb: 40, split: true}"), name="split"), "--json", check=0).stdout)
    assert printed(report, "big") == "CUDA=GPU-aaaa0000,GPU-bbbb1111 ROCR= HIP="
    assert history_gpus(lf, report["run_id"]) == {"big": [0, 1]}
    too_big = recipe(lf, step("huge", "{vram_gb: 60, split: true}"), name="huge")
    assert "the 2 GPUs have 48.0 GB free" in lf("run", too_big, check=2).stderr


def test_four_mixed_cards_pinned_by_index_and_uuid_nvidia_and_amd_variables(lf):
    machine(lf, MIXED_4)
    rec = recipe(
        lf,
        step("by_index", "{gpu: 1, vram_gb: 4}"),
        step("by_uuid", "{gpu: 5f1c2a8b9d0e4f13}"),
        step("small_amd", "{gpu: 3, vram_gb: 2}"),
        step("best_fit", "{vram_gb: 10}", after=["by_index"]),
        step("across", "{vram_gb: 40, split: true}", after=["by_index", "by_uuid", "small_amd", "best_fit"]),
    )
    report = json.loads(lf("run", rec, "--json", check=0).stdout)
    assert printed(report, "by_index") == "CUDA=GPU-cccc2222 ROCR= HIP="
    assert printed(report, "by_uuid") == "CUDA= ROCR=GPU-5f1c2a8b9d0e4f13 HIP=0", "AMD by UUID through ROCr; HIP counts within it"
    assert printed(report, "small_amd") == "CUDA= ROCR=1 HIP=0", "no UUID: AMD's own number for the card"
    assert printed(report, "best_fit") == "CUDA=GPU-cccc2222 ROCR= HIP=", "10 GB fits 12 GB best"
    # 40 GB over the two roomiest cards, one NVIDIA and one AMD: each told of its own.
    assert printed(report, "across") == "CUDA=GPU-aaaa0000 ROCR=GPU-5f1c2a8b9d0e4f13 HIP=0"
    assert history_gpus(lf, report["run_id"]) == {"by_index": [1], "by_uuid": [2], "small_amd": [3], "best_fit": [1], "across": [0, 2]}


def test_a_card_the_machine_does_not_have_is_refused_with_the_cards_it_has(lf):
    machine(lf, MIXED_4)
    proc = lf("run", recipe(lf, step("x", "{gpu: 7}"), step("y", "{gpu: GPU-nope}")), check=2)
    assert "step `x` asks for GPU `7` (`resources.gpu`), which this machine does not have" in proc.stderr
    assert "step `y` asks for GPU `GPU-nope`" in proc.stderr
    assert (
        "0 (RTX 4090, GPU-aaaa0000), 1 (RTX 3060, GPU-cccc2222), 2 (Radeon RX 7900 XTX, 5f1c2a8b9d0e4f13), 3 (Radeon RX 7600)"
        in proc.stderr
    )
    proc = lf("run", recipe(lf, step("z", "{vram_gb: 20, gpu: 1}"), name="pinned"), check=2)
    assert "needs ~20.0 GB of VRAM (declared in `resources`); GPU 1 (RTX 3060) has 12.0 GB free" in proc.stderr


def test_dry_run_says_which_card_each_step_would_use(lf):
    machine(lf, MIXED_4)
    rec = recipe(lf, step("a", "{vram_gb: 20}"), step("b", "{gpu: 3}"), step("c", "{cpu: 1}"), step("d", "{vram_gb: 40, split: true}"))
    plan = json.loads(lf("run", rec, "--dry-run", "--json", check=0).stdout)
    on = {s["id"]: s["gpus"] for s in plan["steps"]}
    assert on == {"a": [0], "b": [3], "c": [], "d": [0, 2]}
    assert [(g["index"], g["vendor"], g["vram_gb"]) for g in plan["capacity"]["gpus"]] == [
        (0, "nvidia", 24.0),
        (1, "nvidia", 12.0),
        (2, "amd", 24.0),
        (3, "amd", 8.0),
    ]
    text = lf("run", rec, "--dry-run", check=0).stdout
    assert "GPU 0 24.0 GB, GPU 1 12.0 GB, GPU 2 24.0 GB, GPU 3 8.0 GB" in text
    assert "on GPU 0 + GPU 2" in text and "on GPU 3" in text


def test_one_card_runs_as_before_nothing_set_and_no_card_in_the_progress(lf):
    machine(lf, ONE)
    proc = lf("run", recipe(lf, step("a", "{vram_gb: 8}"), step("b", "{vram_gb: 8}")), "--json", check=0)
    report = json.loads(proc.stdout)
    assert printed(report, "a") == printed(report, "b") == "CUDA= ROCR= HIP="
    assert "▶ a (script.run) on GPU 0" in proc.stderr, "the one card is still named"
    assert history_gpus(lf, report["run_id"]) == {"a": [0], "b": [0]}


def test_a_plugin_sees_its_card_in_ctx(lf):
    folder = lf.work / "mytools"
    folder.mkdir()
    (folder / "cards_tool.py").write_text(
        "TOOL_NAME = 'cards'\nTOOL_ACTIONS = ['show']\n"
        "def handle(action, inputs, ctx):\n"
        "    return {'gpus': [(g['index'], g['vendor'], g['uuid']) for g in ctx.gpus], 'env': ctx.gpu_env}\n"
    )
    machine(lf, NVIDIA_2x24)
    lf.write("localforge.yaml", f"max_parallel: 8\ntool_dirs: [{folder}]\n")
    rec = lf.write(
        "plugin.yaml",
        "name: plugin\nsteps:\n"
        "  - {id: hold, tool: script, action: run, depends_on: [], resources: {vram_gb: 20}, inputs: {command: 'sleep 1'}}\n"
        "  - {id: p, tool: cards, action: show, depends_on: [], resources: {vram_gb: 8}}\n"
        "  - {id: cpu, tool: cards, action: show, depends_on: [p, hold]}\n",
    )
    report = json.loads(lf("run", rec, "--json", check=0).stdout)
    # `hold` goes first (file order) to card 0; 8 GB then fits card 1 only.
    assert report["steps"]["p"]["outputs"] == {"gpus": [[1, "nvidia", "GPU-bbbb1111"]], "env": {"CUDA_VISIBLE_DEVICES": "GPU-bbbb1111"}}
    assert report["steps"]["cpu"]["outputs"] == {"gpus": [], "env": {}}


@pytest.mark.parametrize("cards", [NVIDIA_2x24, MIXED_4])
def test_steps_without_gpu_work_are_not_pinned(lf, cards):
    machine(lf, cards)
    report = json.loads(lf("run", recipe(lf, step("c", "{cpu: 1}")), "--json", check=0).stdout)
    assert printed(report, "c") == "CUDA= ROCR= HIP="
    assert history_gpus(lf, report["run_id"]) == {"c": []}
