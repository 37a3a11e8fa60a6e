"""One service instance per GPU (issue 33): `services.ollama.instances`, each on a card of a
fake machine (`LOCALFORGE_FAKE_GPUS`). Ollama cannot run here (no model weights), so each
instance is a stand-in on 127.0.0.1 that answers Ollama's documented API (`/api/version`,
`/api/tags`, `/api/ps`, `/api/generate`; tests/ollama_standin.py), and records which models it was
asked for: that is where the real scheduler routed each LLM step."""

import json

import pytest

import ollama_standin
from conftest import serve
from ollama_standin import MODELS
from test_gpus import NVIDIA_2x24 as TWO

FOUR = json.dumps(
    [
        {"vendor": "nvidia", "name": "RTX 4090", "vram_gb": 24, "uuid": "GPU-aaaa0000"},
        {"vendor": "nvidia", "name": "RTX 3060", "vram_gb": 12, "uuid": "GPU-cccc2222"},
        {"vendor": "amd", "name": "Radeon RX 7900 XTX", "vram_gb": 24, "uuid": "5f1c2a8b9d0e4f13"},
        {"vendor": "amd", "name": "Radeon RX 7800 XT", "vram_gb": 16},
    ]
)


def fake_ollama(loaded=()):
    """A stand-in Ollama with `loaded` models in memory; `asked` lists the models of its generations."""
    return ollama_standin.handler(MODELS, loaded)


def llm_steps(models, parallel=True):
    out = ["name: llm\nsteps:\n"]
    for i, m in enumerate(models):
        after = "    depends_on: []\n" if parallel else ""
        out.append(f"  - id: s{i}\n    tool: ollama\n    action: generate\n{after}    inputs: {{prompt: hi, model: '{m}'}}\n")
    return "".join(out)


def configure(lf, cards, instances):
    lf.env["LOCALFORGE_FAKE_GPUS"] = cards
    listed = "".join(f"      - {{host: '{url}', gpu: {gpu}}}\n" for url, gpu in instances)
    lf.write("localforge.yaml", f"max_parallel: 8\nservices:\n  ollama:\n    instances:\n{listed}")


def switches(asked):
    """How many times an instance had to load a model other than the one it had."""
    return sum(1 for i, m in enumerate(asked) if i == 0 or asked[i - 1] != m)


def on_cards(lf, run_id):
    detail = json.loads(lf("history", "show", run_id, "--json", check=0).stdout)
    return {s["step_id"]: s["gpus"] for s in detail["steps"]}


@pytest.mark.parametrize("parallel", [True, False])
def test_each_instance_keeps_the_model_it_has_loaded(lf, parallel):
    a, b = fake_ollama(loaded=["llama3.1:8b"]), fake_ollama(loaded=["qwen2.5:7b"])
    with serve(a) as first, serve(b) as second:
        configure(lf, TWO, [(first, 0), (second, 1)])
        models = MODELS * 4
        report = json.loads(lf("run", lf.write("llm.yaml", llm_steps(models, parallel)), "--json", check=0).stdout)
    assert report["status"] == "completed"
    assert a.asked == ["llama3.1:8b"] * 4 and b.asked == ["qwen2.5:7b"] * 4
    cards = on_cards(lf, report["run_id"])
    assert all(cards[f"s{i}"] == [0 if m == "llama3.1:8b" else 1] for i, m in enumerate(models)), cards


def test_two_models_new_to_both_instances_each_settle_on_one(lf):
    a, b = fake_ollama(), fake_ollama()
    with serve(a) as first, serve(b) as second:
        configure(lf, TWO, [(first, "GPU-aaaa0000"), (second, "GPU-bbbb1111")])
        lf("run", lf.write("llm.yaml", llm_steps(MODELS * 8, parallel=False)), "--json", check=0)
    assert sorted([a.asked[0], b.asked[0]]) == MODELS, "each instance got one model"
    assert len(a.asked) + len(b.asked) == 16 and switches(a.asked) + switches(b.asked) == 2, (a.asked, b.asked)


def test_instances_on_two_of_four_cards_serve_only_from_them_and_a_pinned_step_goes_to_its_own(lf):
    a, b = fake_ollama(), fake_ollama()
    with serve(a) as first, serve(b) as second:
        configure(lf, FOUR, [(first, 2), (second, 3)])
        text = llm_steps(["llama3.1:8b", "qwen2.5:7b", "llama3.1:8b"]) + (
            "  - id: pinned\n    tool: ollama\n    action: generate\n    depends_on: [s0, s1, s2]\n"
            "    resources: {gpu: 3}\n    inputs: {prompt: hi, model: 'llama3.1:8b'}\n"
        )
        report = json.loads(lf("run", lf.write("llm.yaml", text), "--json", check=0).stdout)
    cards = on_cards(lf, report["run_id"])
    assert {c for g in cards.values() for c in g} <= {2, 3}, cards
    assert cards["pinned"] == [3] and b.asked[-1] == "llama3.1:8b", "pinned to card 3: its instance answers"
    assert len(a.asked) + len(b.asked) == 4


def test_system_lists_each_instance_and_the_card_it_serves_from(lf):
    a, b = fake_ollama(loaded=["llama3.1:8b"]), fake_ollama()
    with serve(a) as first, serve(b) as second:
        configure(lf, TWO, [(first, 0), (second, 1)])
        doc = json.loads(lf("system", "--json", check=0).stdout)
        text = lf("system", check=0).stdout
    assert doc["services"]["ollama#0"]["url"] == first and doc["services"]["ollama#1"]["url"] == second
    gpus = doc["hardware"]["gpus"]
    assert gpus[0]["instances"] == ["ollama#0"] and gpus[1]["instances"] == ["ollama#1"]
    assert gpus[0]["loaded"] == ["llama3.1:8b"] and gpus[1]["loaded"] == []
    assert "GPU 0 RTX 4090: 24.0 GB VRAM, 24.0 GB free; serves ollama#0 (loaded: llama3.1:8b)" in text
    assert "GPU 1 RTX 3090: 24.0 GB VRAM, 24.0 GB free; serves ollama#1" in text


def test_agent_config_lists_each_card_with_its_instance_and_how_to_pick_one(lf):
    a, b = fake_ollama(loaded=["qwen2.5:7b"]), fake_ollama()
    with serve(a) as first, serve(b) as second:
        configure(lf, TWO, [(first, 0), (second, 1)])
        text = lf("agent-config", "generate", "--format", "claude", check=0).stdout
    assert "- GPUs: 2; a step runs on one card (`resources: {gpu: N}` picks it, `split: true` spreads it)" in text
    assert "  - GPU 0: RTX 4090 (24 GB VRAM, 24 GB free; serves ollama#0 (loaded: qwen2.5:7b))" in text
    assert "  - GPU 1: RTX 3090 (24 GB VRAM, 24 GB free; serves ollama#1)" in text
