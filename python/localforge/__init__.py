"""LocalForge: run recipes of local AI workers (Ollama, Stable Diffusion, Blender, FFmpeg, any CLI) on your own machine.

The engine is Rust (`localforge._core`); this package is its Python face: the
`python -m localforge` command line, the 0.x tool-plugin contract, and helpers.
Importing it is cheap: the engine is loaded on first use.
"""

__version__ = "0.1.0"
