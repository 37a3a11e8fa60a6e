"""Two 1000-step runs at once on one history database both complete, with
every step recorded (0.x failed with "database is locked")."""

import json
import sqlite3
import subprocess
import sys

from conftest import REPO


def _chain(n, path):
    subprocess.run([sys.executable, REPO / "benches" / "gen_chain.py", str(n), path], check=True)


def test_two_long_runs_share_one_database(lf, tmp_path):
    rec = tmp_path / "chain.yaml"
    _chain(1000, rec)
    procs = [lf.popen("run", rec, "--json", "-q") for _ in range(2)]
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        docs.append(json.loads(out))
    con = sqlite3.connect(lf.db)
    for doc in docs:
        assert doc["status"] == "completed"
        (status,) = con.execute("SELECT status FROM runs WHERE run_id = ?", (doc["run_id"],)).fetchone()
        assert status == "completed"
        # Both runs fill the same step cache keys at once: each step either ran or came
        # from the other run's entries, and every one is recorded.
        (n,) = con.execute("SELECT count(*) FROM steps WHERE run_id = ? AND status IN ('completed', 'cached')", (doc["run_id"],)).fetchone()
        assert n == 1000
    assert docs[0]["run_id"] != docs[1]["run_id"]
