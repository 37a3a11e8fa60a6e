"""0.x's `localforge.engine.persistence`, kept for plugins that read the run history:
`PersistenceLayer` / `get_persistence()` with 0.x's read methods and shapes, over
`localforge.history()` / `history_show()`. The engine writes the history itself, so
0.x's writing methods (`start_run`, `complete_step`, ...) are not offered: a plugin's
results reach the history as its step's outputs. Deprecated: use `localforge.history()`."""

from typing import Optional

from localforge.engine._shim import deprecated
from localforge.errors import InvalidValue

deprecated("localforge.engine.persistence", "localforge.history() / localforge.history_show()")


def _run(summary: dict, detail: Optional[dict] = None) -> dict:
    d = detail or {}
    return {
        "id": summary["run_id"],
        "recipe_name": summary["recipe"],
        "recipe_path": d.get("recipe_path"),
        "status": summary["status"],
        "inputs": d.get("inputs") or {},
        "outputs": {s["step_id"]: {"outputs": s["outputs"]} for s in d.get("steps", []) if s["status"] == "completed"},
        "error_message": d.get("error"),
        "started_at": summary["started_at"],
        "completed_at": summary.get("ended_at"),
        "created_at": summary["started_at"],
        "run_directory": d.get("run_dir"),
    }


class PersistenceLayer:
    """The run history (the configured database; another `db_path` is refused, not ignored)."""

    def __init__(self, db_path: Optional[str] = None):
        from localforge import api

        configured = api.config()["db_path"]
        if db_path is not None and str(db_path) != str(configured):
            raise InvalidValue(f"the history is {configured} (persistence.db_path in localforge.yaml); {db_path} cannot be opened here")
        self.db_path = configured

    def get_run(self, run_id: str) -> Optional[dict]:
        from localforge import api

        detail = api.history_show(run_id)
        return None if detail is None else _run(detail, detail)

    def list_runs(self, project_id=None, status: Optional[str] = None, limit: int = 50) -> list[dict]:
        from localforge import api

        rows = api.history(limit if status is None else max(limit, 1000))
        if status is not None:
            rows = [r for r in rows if r["status"] == status][:limit]
        return [_run(r) for r in rows]

    def get_completed_steps(self, run_id: str) -> dict:
        from localforge import api

        detail = api.history_show(run_id) or {"steps": []}
        return {s["step_id"]: s["outputs"] for s in detail["steps"] if s["status"] == "completed"}

    def get_stats(self, project_id=None) -> dict:
        from localforge import api

        rows = api.history(100_000)
        return {"runs": {"total": len(rows), "completed": sum(r["status"] == "completed" for r in rows),
                         "failed": sum(r["status"] == "failed" for r in rows)}}  # fmt: skip


_layer: Optional[PersistenceLayer] = None


def get_persistence(db_path: Optional[str] = None) -> PersistenceLayer:
    global _layer
    if _layer is None:
        _layer = PersistenceLayer(db_path)
    return _layer
