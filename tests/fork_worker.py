"""Run by test_api's fork test as a script: the parent runs a recipe (starting the
engine), then a `multiprocessing` pool of the start method named on the command line
runs the same recipe in a child. Prints one JSON line: what each child returned or raised."""

import json
import multiprocessing
import sys

import localforge
from localforge import errors


def child(recipe: str) -> dict:
    try:
        result = localforge.run(recipe, quiet=True)
        return {"status": result["status"], "run_id": result["run_id"]}
    except errors.LocalForgeError as e:
        return {"error": type(e).__name__, "message": str(e)}


if __name__ == "__main__":
    recipe, method = sys.argv[1], sys.argv[2]
    first = localforge.run(recipe, quiet=True)
    with multiprocessing.get_context(method).Pool(1) as pool:
        out = pool.apply_async(child, (recipe,)).get(timeout=60)
    print(json.dumps({"parent": first["status"], "child": out}))
