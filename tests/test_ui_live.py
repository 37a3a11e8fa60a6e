"""Dashboard v2 (issue 30) in a real browser (Playwright driving Debian's chromium, as
test_ui.py): a step's output live and after the run, Ctrl-C with a page open, runs of
other processes cancelled from the page, filters over 10,000 runs, the keyboard alone, and
an axe-core scan (npm, tests/a11y) of every page."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, process_alive, running_run, wait_for_pid, wait_until
from test_ui import _start_from_form, browser_page, page, serving, ui  # noqa: F401  (fixtures and helpers)

AXE = REPO / "tests" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"

TICKER = """\
name: ticker
description: Prints a numbered tick with its clock time, 40 times
steps:
  - id: tick
    tool: script
    action: run
    inputs: {command: 'for i in $(seq 1 40); do echo "tick $i $(date +%s%3N)"; sleep 0.25; done'}
"""
NOISY = """\
name: noisy
description: Says what went wrong on both streams, then fails
steps:
  - id: build
    tool: script
    action: run
    inputs: {command: 'echo "compiling part 1"; echo "warning: part 2 is old" >&2; echo "error: part 3 is missing" >&2; exit 2'}
"""


def _shot(pg, name, tmp_path):
    """A screenshot in docs/screenshots/ with LOCALFORGE_UPDATE_SCREENSHOTS=1 (checked in),
    else in a scratch folder."""
    out = REPO / "docs" / "screenshots" if os.environ.get("LOCALFORGE_UPDATE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(out / name), full_page=True)
    assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_running_steps_output_appears_line_by_line_in_order(page, ui, lf, tmp_path):  # noqa: F811
    (lf.work / "recipes" / "ticker.yaml").write_text(TICKER)
    # The page notes when each tick line shows up, to compare with when it was printed.
    _start_from_form(page, "ticker")
    page.wait_for_selector("#log-panel:not([hidden])")
    assert page.inner_text("#log-step") == "tick", "the running step's output is shown without asking"
    page.evaluate("""() => { window.seenAt = {}; const pre = document.getElementById("log-text");
        new MutationObserver(() => { for (const m of pre.textContent.matchAll(/tick (\\d+) (\\d+)/g)) window.seenAt[m[1]] ??= [Date.now(), +m[2]]; })
          .observe(pre, {childList: true, characterData: true, subtree: true}); }""")
    page.wait_for_function("() => /tick 12 /.test(document.getElementById('log-text').textContent)")
    assert page.get_attribute("g.node[data-step=tick]", "data-status") == "running", "lines arrive while the step runs"
    assert page.inner_text("#log-live") == "live"
    _shot(page, "run-page-live-log.png", tmp_path)
    page.wait_for_selector("#run-status [data-status=completed]")
    page.wait_for_function("() => /tick 40 /.test(document.getElementById('log-text').textContent)")
    ticks = [int(m) for m in re.findall(r"tick (\d+) ", page.inner_text("#log-text"))]
    assert ticks == list(range(1, 41)), ticks
    lag = sorted(seen - printed for seen, printed in page.evaluate("() => Object.values(window.seenAt)"))
    print(f"live output lag, ms: median {lag[len(lag) // 2]}, max {lag[-1]} over {len(lag)} lines")
    assert len(lag) >= 20, "most lines were seen as they came, not all at the end"


def test_a_failed_steps_stdout_and_stderr_are_there_after_the_run(page, ui, lf):  # noqa: F811
    (lf.work / "recipes" / "noisy.yaml").write_text(NOISY)
    _start_from_form(page, "noisy")
    page.wait_for_selector("#run-status [data-status=failed]")
    page.wait_for_function("() => document.getElementById('log-text').textContent.includes('compiling part 1')")
    assert page.inner_text("#log-step") == "build" and "failed" in page.inner_text("#log-attempt")
    page.click("#tab-stderr")
    page.wait_for_function("() => document.getElementById('log-text').textContent.includes('error: part 3 is missing')")
    assert "warning: part 2 is old" in page.inner_text("#log-text")
    page.fill("#log-search", "MISSING")
    page.wait_for_selector("#log-hits li button[data-offset]")
    assert "line 2" in page.inner_text("#log-hits")
    # The same output from its DAG node, after the page was left and opened again.
    page.reload()
    page.click("g.node[data-step=build]")
    page.wait_for_function("() => document.getElementById('log-text').textContent.includes('compiling part 1')")


def test_ctrl_c_with_a_run_page_open_stops_within_2_s_and_cancels_the_run(page, lf):  # noqa: F811
    """SIGINT to `localforge ui` while a page follows a run (its event and output streams
    open): the run is cancelled, its process stopped, and the server gone within 2 s."""
    (lf.work / "recipes").mkdir(exist_ok=True)
    (lf.work / "recipes" / "ticker.yaml").write_text(TICKER.replace("seq 1 40", "seq 1 400"))
    with serving(lf) as server:
        page.goto(f"{server.base}/?token={server.token}")
        page.wait_for_selector("#runs")
        run_id = _start_from_form(page, "ticker")
        page.wait_for_function("() => /tick 2 /.test(document.getElementById('log-text').textContent)")
        with sqlite3.connect(lf.db) as c:
            assert c.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0] == "running"
        t = time.monotonic()
        os.kill(server.pid, signal.SIGINT)
        wait_until("the server to exit", lambda: not process_alive(server.pid), timeout=30)
        took = time.monotonic() - t
    print(f"localforge ui stopped {took:.2f} s after SIGINT")
    assert took < 2.0, f"the server took {took:.2f} s to stop"
    with sqlite3.connect(lf.db) as c:
        assert c.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0] == "cancelled"
    left = subprocess.run(["pgrep", "-f", "seq 1 400"], capture_output=True, text=True).stdout.split()
    assert not left, f"the run's processes are gone: {left}"


def test_a_run_the_cli_started_is_cancelled_from_the_page(page, ui, lf):  # noqa: F811
    pidfile = lf.work / "cli.pid"
    proc = lf.popen("run", "recipes/sleepy.yaml", "--input", f"pidfile={pidfile}", "--json")
    pid = wait_for_pid(pidfile)
    run_id = wait_until("the CLI's run in the history", lambda: running_run(lf.db))
    page.goto(f"{ui.base}/#/runs/{run_id}")
    page.wait_for_selector("#run-status [data-status=running]")
    page.once("dialog", lambda d: d.accept())
    page.click("#cancel")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert json.loads(out)["status"] == "cancelled"
    page.wait_for_selector("#run-status [data-status=cancelled]")
    wait_until("the step's process to stop", lambda: not process_alive(pid), timeout=10)


def _fill_history(db: Path, n: int) -> None:
    """`n` finished runs of a recipe `nightly`, newer than everything already there."""
    rows = [
        (f"20261130-{i // 3600 % 24:02d}{i // 60 % 60:02d}{i % 60:02d}-{i:06x}", "nightly", "/r/nightly.yaml", "h",
         "failed" if i % 97 == 0 else "completed", "{}", f"/runs/x{i}", f"2026-11-30T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
         f"2026-11-30T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.999Z", 1, "elsewhere", 3)
        for i in range(n)
    ]  # fmt: skip
    with sqlite3.connect(db) as c:
        c.executemany(
            "INSERT INTO runs (run_id, recipe, recipe_path, recipe_hash, status, inputs, run_dir, started_at, ended_at, pid, host, steps)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def test_the_filters_find_an_old_run_among_10000(page, ui, lf, tmp_path):  # noqa: F811
    auth = {"Authorization": f"Bearer {ui.token}", "Content-Type": "application/json"}
    old = json.loads(ui.post("/api/runs", {"recipe": "hello-image"}, auth)[1])["run_id"]
    wait_until("the old run to end", lambda: json.loads(ui.get(f"/api/runs/{old}", auth)[1]).get("status") == "completed")
    with sqlite3.connect(lf.db) as c:  # the old run goes back in time, behind 10,000 newer ones
        c.execute("UPDATE runs SET started_at = '2026-10-01T08:00:00.000Z' WHERE run_id = ?", (old,))
    _fill_history(lf.db, 10_000)
    t = time.monotonic()
    status, body = ui.get("/api/runs?recipe=hello-image", auth)
    print(f"/api/runs?recipe=… over 10,001 runs: {1000 * (time.monotonic() - t):.0f} ms, {len(body)} bytes")
    assert status == 200 and [r["run_id"] for r in json.loads(body)["runs"]] == [old]
    page.goto(f"{ui.base}/#/runs")
    page.wait_for_selector("#page-of:text('1–50 of 10001')")
    _shot(page, "runs-list.png", tmp_path)
    page.select_option("#f-recipe", "hello-image")
    page.wait_for_selector(f"tr[data-run='{old}']")
    assert page.inner_text("#page-of") == "1–1 of 1"
    page.select_option("#f-recipe", "")
    page.fill("#f-text", old[-6:])
    page.wait_for_selector(f"tr[data-run='{old}']")
    page.fill("#f-text", "")
    page.select_option("#f-status", "failed")
    page.wait_for_selector("#page-of:text('1–50 of 104')")
    page.click("#next")
    page.wait_for_selector("#page-of:text('51–100 of 104')")
    page.select_option("#f-status", "")
    page.fill("#f-until", "2026-10-01")  # through that day: only the old run
    page.wait_for_selector("#page-of:text('1–1 of 1')")
    assert page.query_selector(f"tr[data-run='{old}']")


def _tab_to(pg, selector: str, limit: int = 80) -> None:
    """Press Tab until the element `selector` names has the focus."""
    for _ in range(limit):
        pg.keyboard.press("Tab")
        if pg.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_recipe_is_started_with_the_keyboard_alone(page, ui):  # noqa: F811
    page.goto(f"{ui.base}/#/runs")
    page.wait_for_selector("#runs")
    _tab_to(page, "a[href='#/recipes'].button")
    page.keyboard.press("Enter")
    page.wait_for_selector("tr[data-recipe='hello-image']")
    _tab_to(page, "tr[data-recipe='hello-image'] a.button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#run-form")
    _tab_to(page, "#in-name")
    page.keyboard.type("keys")
    _tab_to(page, "#start")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"#/runs/\d{8}-\d{6}-[0-9a-f]+$"))
    page.wait_for_selector("#run-status [data-status=completed]")
    _tab_to(page, "g.node[data-step=picture]")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('log-step').textContent === 'picture'")


@pytest.fixture
def axe_page(ui):  # noqa: F811
    """A page that may load axe-core (the dashboard's CSP would refuse the injected script)."""
    if not AXE.exists():
        if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
            raise RuntimeError("axe-core is required (npm ci in tests/a11y)")
        pytest.skip("axe-core (tests/a11y: npm ci) is not installed")
    with browser_page(ui, bypass_csp=True) as pg:
        yield pg


def _axe(pg, label: str) -> list:
    pg.add_script_tag(path=str(AXE))
    result = pg.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    print(f"axe on {label}: {[(v['id'], v['impact']) for v in result['violations']] or 'no violations'}")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    return [f"{label}: {v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}" for v in bad]


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_passes_an_axe_core_scan(axe_page, ui, lf, width):  # noqa: F811
    pg = axe_page
    pg.set_viewport_size({"width": width, "height": 900})
    (lf.work / "recipes" / "noisy.yaml").write_text(NOISY)
    auth = {"Authorization": f"Bearer {ui.token}", "Content-Type": "application/json"}
    done = json.loads(ui.post("/api/runs", {"recipe": "hello-image"}, auth)[1])["run_id"]
    failed = json.loads(ui.post("/api/runs", {"recipe": "noisy"}, auth)[1])["run_id"]
    for rid in (done, failed):
        wait_until(
            "the run to end", lambda rid=rid: json.loads(ui.get(f"/api/runs/{rid}", auth)[1]).get("status") in ("completed", "failed")
        )
    problems = []
    for label, hash_, ready in (
        ("runs", "#/runs", f"tr[data-run='{done}']"),
        ("run", f"#/runs/{failed}", "#log-text:text('compiling')"),
        ("run (completed)", f"#/runs/{done}", "#run-status [data-status=completed]"),
        ("files", f"#/runs/{done}/assets", "img.asset"),
        ("recipes", "#/recipes", "tr[data-recipe='hello-image']"),
        ("form", "#/recipes/hello-image", "#run-form"),
        ("machine", "#/machine", "svg.gauge"),
    ):
        pg.goto(f"{ui.base}/{hash_}")
        pg.wait_for_selector(ready)
        problems += _axe(pg, label)
        if width < 500:  # at phone width nothing is cut off sideways
            wide = pg.evaluate("() => document.documentElement.scrollWidth")
            if wide > width + 2:
                problems.append(f"{label}: {wide} px wide at {width} px")
    assert not problems, "\n".join(problems)


def test_ctrl_c_with_no_page_open_stops_at_once(lf):
    with serving(lf) as server:
        t = time.monotonic()
        os.kill(server.pid, signal.SIGINT)
        wait_until("the server to exit", lambda: not process_alive(server.pid), timeout=30)
        assert time.monotonic() - t < 2.0


def test_a_waiting_gate_shows_in_the_list_and_a_run_is_run_again_from_a_step(page, ui, lf):  # noqa: F811
    run_id = _start_from_form(page, "gated")
    page.wait_for_selector("[data-approve=ask]")
    page.goto(f"{ui.base}/#/runs")
    page.wait_for_selector(f"tr[data-run='{run_id}'] .badge.waiting")
    page.goto(f"{ui.base}/#/runs/{run_id}")
    page.wait_for_selector("[data-approve=ask][data-answer=approve]").click()
    page.wait_for_selector("#run-status [data-status=completed]")
    page.click("details[data-step-id=write] summary")
    page.once("dialog", lambda d: d.accept())
    page.click("button[data-rerun-from=write]")
    page.wait_for_url(re.compile(r"#/runs/(?!" + run_id + r")\d{8}-\d{6}-[0-9a-f]+$"))
    again = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("[data-approve=ask]")  # the gate asks again: only `write` was refreshed, the gate is not cached
    with sqlite3.connect(lf.db) as c:
        assert c.execute("SELECT recipe FROM runs WHERE run_id = ?", (again,)).fetchone()[0] == "gated"
