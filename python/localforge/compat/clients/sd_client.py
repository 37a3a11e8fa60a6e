"""0.x's `localforge.clients.sd_client`, kept for plugins that import it: `SDClient` with
0.x's methods and result shapes, over the engine's `sd_client` tool (so requests carry the
same defaults and the history records each call). Deprecated: use an `sd_client` step."""

import base64
from pathlib import Path
from typing import Union

from localforge.engine._shim import call_tool, deprecated

deprecated("localforge.clients.sd_client", "an `sd_client` step")


class SDClient:
    def __init__(self, host: str = "http://localhost:7860", timeout: int = 120):
        self.host = host.rstrip("/")
        self.timeout = timeout

    def _call(self, action: str, **inputs) -> dict:
        return call_tool("sd_client", action, {"host": self.host, "timeout": self.timeout, **inputs})

    def check_status(self) -> bool:
        try:
            self._call("get_models")
            return True
        except RuntimeError:
            return False

    def get_models(self) -> list:
        try:
            return self._call("get_models").get("models") or []
        except RuntimeError:
            return []

    def _images(self, outputs: dict) -> dict:
        files = outputs.get("images") or []
        return {"images": [base64.b64encode(Path(f).read_bytes()).decode() for f in files], "parameters": {},
                "info": str(outputs.get("seed")), "paths": files}  # fmt: skip

    def txt2img(self, prompt: str, negative_prompt: str = "", width: int = 512, height: int = 512, steps: int = 20,
                cfg_scale: float = 7.0, sampler_name: str = "Euler a", seed: int = -1, batch_size: int = 1, n_iter: int = 1,
                **options) -> dict:  # fmt: skip
        """0.x's result: `{"images": [base64 PNG, ...], "parameters", "info"}` (plus `paths`: the files)."""
        return self._images(self._call("txt2img", prompt=prompt, negative_prompt=negative_prompt, width=width, height=height,
                                       steps=steps, cfg_scale=cfg_scale, sampler_name=sampler_name, seed=seed,
                                       batch_size=batch_size, n_iter=n_iter, **options))  # fmt: skip

    def img2img(self, prompt: str, init_image: Union[str, Path, bytes], negative_prompt: str = "", denoising_strength: float = 0.7,
                **options) -> dict:  # fmt: skip
        if isinstance(init_image, bytes) or not Path(str(init_image)).is_file():
            import tempfile

            data = init_image if isinstance(init_image, bytes) else base64.b64decode(init_image)
            with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as f:
                f.write(data)
            init_image = f.name
        return self._images(self._call("img2img", prompt=prompt, init_image=str(init_image), negative_prompt=negative_prompt,
                                       denoising_strength=denoising_strength, **options))  # fmt: skip

    @staticmethod
    def save_image(result: dict, output_path, index: int = 0) -> bool:
        images = result.get("images") or []
        if index >= len(images):
            return False
        path = Path(output_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(images[index]))
        return True

    def generate_and_save(self, prompt: str, output_path, **kw) -> bool:
        return self.save_image(self.txt2img(prompt, **kw), output_path)


def is_sd_running(host: str = "http://localhost:7860") -> bool:
    return SDClient(host).check_status()
