"""A stand-in for Ollama, for the tests and benchmarks that route LLM steps (Ollama itself
cannot run here: no model weights). It answers Ollama's documented API (`/api/version`,
`/api/tags`, `/api/ps`, `/api/generate`) and records the model of each generation it was
asked for, which is where the real scheduler sent each step."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

MODELS = ["llama3.1:8b", "qwen2.5:7b"]


def handler(models=MODELS, loaded=(), delay: float = 0.0) -> type:
    """A request handler class serving `models`, with `loaded` in memory; each generation
    takes `delay` seconds; `.asked` lists the models generations asked for, in order."""

    class Ollama(BaseHTTPRequestHandler):
        asked: list = []
        lock = threading.Lock()

        def log_message(self, *args):
            pass

        def do_GET(self):
            docs = {
                "/api/version": {"version": "0.12.3"},
                "/api/tags": {"models": [{"name": m, "size": 4920753328} for m in models]},
                "/api/ps": {"models": [{"name": m, "size_vram": 6 * 2**30} for m in loaded]},
            }
            self._send(200 if self.path in docs else 404, docs.get(self.path, {"error": "not found"}))

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with Ollama.lock:
                Ollama.asked.append(body["model"])
            time.sleep(delay)
            self._send(200, {"model": body["model"], "response": "ok", "done": True, "eval_count": 1, "prompt_eval_count": 1})

        def _send(self, code, doc):
            data = (json.dumps(doc) + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Ollama
