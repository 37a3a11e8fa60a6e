"""The web dashboard (issue 18) in a real browser: Playwright (PyPI) driving Debian's
`chromium` (Playwright's own browser downloads cannot be reached here), against
`localforge ui` started as a subprocess on 127.0.0.1 in a scratch home. Without
Playwright or chromium the browser tests are skipped unless LOCALFORGE_REQUIRE_TOOLS=1."""

import contextlib
import functools
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, process_alive

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytest.importorskip("starlette")

HELLO_IMAGE = """\
name: hello-image
description: Greet and draw a small picture (FFmpeg, no services)
inputs:
  - {name: name, type: string, default: world}
  - {name: color, type: string, default: orange, choices: [orange, teal, purple]}
steps:
  - id: greet
    tool: file_ops
    action: write
    inputs: {path: "{{ workflow.run_dir }}/greeting.md", content: "# Hello, {{ inputs.name }}!\\n"}
  - id: picture
    tool: script
    action: run
    inputs:
      command: "ffmpeg -loglevel error -y -f lavfi -i color=c={{ inputs.color }}:s=96x64 -frames:v 1 {{ workflow.run_dir }}/picture.png"
"""
SLEEPY = """\
name: sleepy
description: Sleeps until cancelled
inputs:
  - {name: pidfile, type: string, required: true}
steps:
  - id: nap
    tool: script
    action: run
    inputs: {command: "sleep 300 & echo $! > {{ inputs.pidfile }}; wait"}
"""
GATED = """\
name: gated
description: Asks before writing
steps:
  - id: ask
    type: approval_gate
    message: Write the file?
    options: [approve, reject]
    default_action: reject
  - id: write
    tool: file_ops
    action: write
    inputs: {path: "{{ workflow.run_dir }}/approved.txt", content: "yes\\n"}
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ui(lf):
    (lf.work / "recipes").mkdir()
    for name, text in (("hello-image", HELLO_IMAGE), ("sleepy", SLEEPY), ("gated", GATED)):
        (lf.work / "recipes" / f"{name}.yaml").write_text(text)
    with serving(lf) as server:
        yield server


@contextlib.contextmanager
def serving(lf, *args):
    """`localforge ui` on a free port in the scratch home, with `args` added."""
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "localforge", "ui", "--port", str(port), *args],
        cwd=lf.work,
        env=lf.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
    assert m, line + proc.stderr.read()

    class Server:
        base, token, lf_, pid = m.group(1), m.group(2), lf, proc.pid

        def get(self, path, headers=None):
            return _request(self.base + path, headers=headers or {})

        def post(self, path, body=None, headers=None):
            return _request(self.base + path, data=json.dumps(body or {}).encode(), headers=headers or {}, method="POST")

    try:
        yield Server()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _request(url, data=None, headers=None, method="GET"):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


# --- security: no browser needed ---------------------------------------------------------


def test_every_action_needs_the_token_and_csrf(ui):
    json_body = {"Content-Type": "application/json"}
    for path in ("/api/runs", "/api/runs/x/cancel", "/api/runs/x/resume", "/api/runs/x/approve"):
        assert ui.post(path, {"recipe": "sleepy"}, json_body)[0] == 403, path
    assert ui.get("/api/runs")[0] == 403 and ui.get("/")[0] == 403
    assert ui.get("/?token=wrong")[0] == 403
    # With the cookie but without the CSRF header (what a forged form would send): refused.
    port = ui.base.rsplit(":", 1)[1]
    cookie = {"Cookie": f"lf_token_{port}={ui.token}; lf_csrf_{port}=abc", **json_body}
    # The cookies are named per port: a token cookie of another port's server is not this one's.
    other = {"Cookie": f"lf_token_1={ui.token}; lf_csrf_1=abc", "X-CSRF-Token": "abc", "Origin": ui.base, **json_body}
    assert ui.post("/api/runs", {"recipe": "hello-image"}, other)[0] == 403
    assert ui.post("/api/runs", {"recipe": "hello-image"}, cookie)[0] == 403
    # Cross-origin, even with both tokens: refused.
    forged = {**cookie, "X-CSRF-Token": "abc", "Origin": "http://evil.example"}
    assert ui.post("/api/runs", {"recipe": "hello-image"}, forged)[0] == 403
    # Same origin, both tokens: accepted.
    ok = {**cookie, "X-CSRF-Token": "abc", "Origin": ui.base}
    status, body = ui.post("/api/runs", {"recipe": "hello-image"}, ok)
    assert status == 201, body
    # A foreign Host (DNS rebinding) is refused before anything else.
    assert ui.get("/api/runs", {"Host": "evil.example", "Authorization": f"Bearer {ui.token}"})[0] == 421


def test_asset_paths_cannot_leave_the_run_folder(ui, lf):
    auth = {"Authorization": f"Bearer {ui.token}", "Content-Type": "application/json"}
    status, body = ui.post("/api/runs", {"recipe": "hello-image"}, auth)
    run_id = json.loads(body)["run_id"]
    deadline = time.time() + 60
    while json.loads(ui.get(f"/api/runs/{run_id}", auth)[1]).get("status", "running") == "running" and time.time() < deadline:
        time.sleep(0.2)
    assert ui.get(f"/files/{run_id}/picture.png", auth)[0] == 200
    (lf.home / "secret.txt").write_text("secret")
    run_dir = lf.runs / run_id
    (run_dir / "link.txt").symlink_to(lf.home / "secret.txt")
    # What a run wrote is served sandboxed: an SVG or HTML an LLM made cannot run script here.
    (run_dir / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    (run_dir / "page.html").write_text("<script>fetch('/api/runs')</script>")
    req = urllib.request.Request(f"{ui.base}/files/{run_id}/logo.svg", headers=auth)
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Security-Policy"].startswith("sandbox") and r.headers["X-Content-Type-Options"] == "nosniff"
    req = urllib.request.Request(f"{ui.base}/files/{run_id}/page.html", headers=auth)
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Disposition"].startswith("attachment"), "markup is only downloaded"
    for bad in (
        "../../../secret.txt",
        "..%2F..%2F..%2Fsecret.txt",
        "%2e%2e/%2e%2e/secret.txt",
        "link.txt",
        "/etc/passwd",
        "output/../../x",
    ):
        status, body = ui.get(f"/files/{run_id}/{bad}", auth)
        assert status == 404 and b"secret" not in body, bad


def test_only_recipes_in_the_recipe_folders_can_be_started(ui, lf):
    auth = {"Authorization": f"Bearer {ui.token}", "Content-Type": "application/json"}
    elsewhere = lf.home / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mine.yaml").write_text(GATED.replace("name: gated", "name: mine"))
    (lf.work / "recipes" / "link.yaml").symlink_to(elsewhere / "mine.yaml")
    refused = {}
    for ref in (str(elsewhere / "mine.yaml"), "../home/elsewhere/mine.yaml", "recipes/../../home/elsewhere/mine.yaml", "link", "mine"):
        status, body = ui.post("/api/runs", {"recipe": ref}, auth)
        assert status in (400, 403), (ref, body)
        refused[ref] = (status, json.loads(body)["error"])
    assert refused[str(elsewhere / "mine.yaml")][0] == 403
    assert "outside the recipe folders" in refused[str(elsewhere / "mine.yaml")][1]
    assert "add its folder with `localforge ui --recipes DIR`" in refused[str(elsewhere / "mine.yaml")][1]
    assert "`..`" in refused["../home/elsewhere/mine.yaml"][1] and "`..`" in refused["recipes/../../home/elsewhere/mine.yaml"][1]
    assert refused["link"] == (403, refused["link"][1]) and f"is a link ({lf.work / 'recipes' / 'link.yaml'})" in refused["link"][1]
    assert "no recipe named `mine`; the Recipes page lists them" in refused["mine"][1]
    assert not (lf.db.exists() and sqlite3.connect(lf.db).execute("SELECT count(*) FROM runs").fetchone()[0])
    names = [r["name"] for r in json.loads(ui.get("/api/recipes", auth)[1])["recipes"]]
    assert "gated" in names and "mine" not in names
    # By name and by the path the page sends: started.
    gated = next(r for r in json.loads(ui.get("/api/recipes", auth)[1])["recipes"] if r["name"] == "gated")
    assert ui.post("/api/runs", {"recipe": gated["path"]}, auth)[0] == 201
    assert ui.post("/api/runs", {"recipe": "hello-image"}, auth)[0] == 201


def test_recipes_flag_widens_the_recipe_folders(lf):
    elsewhere = lf.home / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mine.yaml").write_text(GATED.replace("name: gated", "name: mine"))
    with serving(lf, "--recipes", str(elsewhere)) as ui:
        auth = {"Authorization": f"Bearer {ui.token}", "Content-Type": "application/json"}
        names = [r["name"] for r in json.loads(ui.get("/api/recipes", auth)[1])["recipes"]]
        status, body = ui.post("/api/runs", {"recipe": str(elsewhere / "mine.yaml")}, auth)
        assert "mine" in names and status == 201, body
    bad = subprocess.run([sys.executable, "-m", "localforge", "ui", "--port", "0", "--recipes", str(lf.home / "nope")],
                         cwd=lf.work, env=lf.env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode != 0 and f"recipe folder `{lf.home / 'nope'}` does not exist" in bad.stderr


def _finished_run(ui, auth):
    status, body = ui.post("/api/runs", {"recipe": "hello-image"}, auth)
    assert status == 201, body
    run_id = json.loads(body)["run_id"]
    deadline = time.time() + 60
    while json.loads(ui.get(f"/api/runs/{run_id}", auth)[1]).get("status", "running") == "running" and time.time() < deadline:
        time.sleep(0.2)
    return run_id


def test_bad_queries_and_paths_are_400s_with_a_reason(ui, lf):
    auth = {"Authorization": f"Bearer {ui.token}", "Content-Type": "application/json"}
    for bad in ("abc", "-1", "0", "1.5", "%00"):
        status, body = ui.get(f"/api/runs?limit={bad}", auth)
        assert status == 400 and "`limit` must be a whole number from 1 to 1000" in json.loads(body)["error"], (bad, body)
    assert ui.get("/api/runs?limit=5000", auth)[0] == 200, "a large limit is capped, not refused"
    run_id = _finished_run(ui, auth)
    status, body = ui.get(f"/files/{run_id}/greeting.md%00.png", auth)
    assert status == 400 and json.loads(body)["error"] == "a file path may not contain a NUL byte"
    status, body = ui.get(f"/api/runs/{run_id}/log/greet%00", auth)
    assert status == 400 and "NUL byte" in json.loads(body)["error"]
    assert ui.get(f"/api/runs/{run_id}%00", auth)[0] == 404


def test_a_hard_link_in_a_run_folder_is_neither_listed_nor_served(ui, lf):
    auth = {"Authorization": f"Bearer {ui.token}", "Content-Type": "application/json"}
    run_id = _finished_run(ui, auth)
    secret = lf.home / "secret.txt"
    secret.write_text("secret")
    run_dir = lf.runs / run_id
    os.link(secret, run_dir / "hard.txt")  # the same file system: tmp_path holds both
    status, body = ui.get(f"/files/{run_id}/hard.txt", auth)
    assert status == 403 and b"secret" not in body
    assert json.loads(body)["error"] == "`hard.txt` has other names (hard links) and is not served"
    listed = [f["path"] for f in json.loads(ui.get(f"/api/runs/{run_id}", auth)[1])["files"]]
    assert "greeting.md" in listed and "hard.txt" not in listed
    assert ui.get(f"/files/{run_id}/greeting.md", auth) == (200, b"# Hello, world!\n")


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def test_the_step_log_of_a_huge_log_is_its_tail_read_from_the_end(ui, lf):
    """Issue 28, item 5: a 1 GB log (sparse: no disk used) gives its last 64 KB without the
    server reading it all (its peak memory barely moves) and without blocking other pages."""
    auth = {"Authorization": f"Bearer {ui.token}"}
    run_id = _finished_run(ui, {**auth, "Content-Type": "application/json"})
    log = lf.runs / run_id / "logs" / "greet.1.stdout.log"
    log.parent.mkdir(exist_ok=True)
    with open(log, "wb") as f:
        f.seek(1 << 30)
        f.write(b"x" * 70000 + "the end é\n".encode())
    assert ui.get("/api/runs?limit=1", auth)[0] == 200
    before = _peak_rss_mb(ui.pid)
    status, body = ui.get(f"/api/runs/{run_id}/log/greet", auth)
    doc = json.loads(body)
    assert status == 200 and doc["text"].endswith("the end é\n") and doc["end"] == doc["size"] == (1 << 30) + 70000 + 11
    assert len(doc["text"].encode()) <= 65536 and doc["text"].startswith("x"), "the tail, from a line start or cut within the one long line"
    assert _peak_rss_mb(ui.pid) - before < 200, "the log was not read whole"


# --- in the browser ------------------------------------------------------------------------


def test_no_response_can_be_framed(ui, lf):
    """Clickjacking (issue 30): every response, API, static, refusal, error and run file,
    says it may not be framed; a run file keeps its own sandbox policy, with that added."""
    auth = {"Authorization": f"Bearer {ui.token}"}
    status, body = ui.post("/api/runs", {"recipe": "hello-image"}, {**auth, "Content-Type": "application/json"})
    run_id = json.loads(body)["run_id"]
    _finished = time.time() + 60
    while json.loads(ui.get(f"/api/runs/{run_id}", auth)[1]).get("status", "running") == "running" and time.time() < _finished:
        time.sleep(0.2)
    for path, headers, expected in (
        ("/", auth, 200),
        ("/api/runs", auth, 200),
        ("/static/app.js", {}, 200),
        ("/api/runs", {}, 403),
        ("/nowhere", auth, 404),
        (f"/files/{run_id}/picture.png", auth, 200),
    ):
        req = urllib.request.Request(ui.base + path, headers=headers)
        try:
            r = urllib.request.urlopen(req, timeout=30)
        except urllib.error.HTTPError as e:
            r = e
        with r:
            assert r.status == expected, path
            csp = r.headers["Content-Security-Policy"] or ""
            assert r.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in csp, (path, dict(r.headers))
            assert r.headers.get_all("X-Frame-Options") == ["DENY"] and r.headers["X-Content-Type-Options"] == "nosniff", path
            if path.startswith("/files/"):
                assert csp.startswith("sandbox"), csp


@contextlib.contextmanager
def browser_page(ui, **context_options):
    """A Chromium page signed in to `ui` and on its runs list; skipped without Chromium."""
    if not CHROMIUM:
        if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
            raise RuntimeError("chromium is required (LOCALFORGE_REQUIRE_TOOLS=1)")
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(f"{ui.base}/?token={ui.token}")
        pg.wait_for_selector("#runs")
        yield pg
        context.close()
        browser.close()


@pytest.fixture
def page(ui):
    with browser_page(ui) as pg:
        yield pg


def _start_from_form(page, recipe, fill=None):
    page.click("a[data-nav=recipes]")
    page.click(f"tr[data-recipe='{recipe}'] a.button")
    page.wait_for_selector("#run-form")
    for name, value in (fill or {}).items():
        field = page.locator(f"#in-{name}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.click("#start")
    page.wait_for_url(re.compile(r"#/runs/\d{8}-\d{6}-[0-9a-f]+$"))
    return page.url.rsplit("/", 1)[1]


def test_start_from_the_form_watch_it_go_green_and_see_its_image(page, ui):
    page.goto(f"{ui.base}/#/runs")
    run_id = _start_from_form(page, "hello-image", {"name": "browser"})
    page.wait_for_selector("#run-status [data-status=completed]")
    for step in ("greet", "picture"):
        assert page.get_attribute(f"g.node[data-step={step}]", "data-status") == "completed"
    page.click("#assets-link")
    img = page.wait_for_selector("img.asset[alt='picture.png']")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img)
    assert img.evaluate("img => img.naturalWidth") == 96
    assert "Hello, browser!" in page.inner_text("[data-file='greeting.md']")
    page.goto(f"{ui.base}/#/runs")
    page.wait_for_selector(f"tr[data-run='{run_id}'] [data-status=completed]")


def test_the_page_works_under_its_content_security_policy(page, ui):
    """The page sends a CSP that allows only this origin's script, style, images and API,
    and every view still renders under it: no violation is reported, and an injected inline
    handler does not run."""
    violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    response = page.reload()
    page.wait_for_selector("#runs")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "'unsafe-inline'" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and response.headers["x-frame-options"] == "DENY"
    _start_from_form(page, "hello-image", {"name": "csp"})
    page.wait_for_selector("#run-status [data-status=completed]")
    label = page.locator("g.node[data-step=greet] text.label")
    assert label.evaluate("t => [getComputedStyle(t).fill, getComputedStyle(t).fontWeight]") == ["rgb(255, 255, 255)", "600"]
    page.click("#assets-link")
    img = page.wait_for_selector("img.asset[alt='picture.png']")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img)
    page.wait_for_selector("[data-file='greeting.md'] :text('Hello, csp!')")
    page.click("a[data-nav=machine]")
    gauge = page.wait_for_selector("svg.gauge rect")
    assert gauge.evaluate("r => getComputedStyle(r).fill") != "rgb(0, 0, 0)", "the gauge is styled by app.css"
    assert violations == []
    page.evaluate("""() => { window.ran = false; const d = document.createElement("div");
        d.innerHTML = '<img src="data:,x" onerror="window.ran = true">'; document.body.append(d); }""")
    page.wait_for_function("() => true")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.ran") is False
    assert any("script-src" in v for v in violations), violations


def test_a_page_on_another_port_cannot_frame_the_dashboard(page, ui, tmp_path):
    """The attack issue 30 confirmed: a page served from 127.0.0.1 on another port frames
    the dashboard, whose cookie the browser sends. The browser now shows nothing in the frame."""
    import http.server
    import threading

    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "index.html").write_text(f'<iframe id="f" src="{ui.base}/#/runs" width="800" height="600"></iframe>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "evil"))
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        page.wait_for_selector("#f")
        page.wait_for_timeout(1500)
        framed = [f for f in page.frames if f != page.main_frame]
        assert framed, "the iframe was not made"
        for f in framed:
            assert f.query_selector("#runs") is None, f"the dashboard rendered inside another page's frame ({f.url})"
    finally:
        evil.shutdown()
        evil.server_close()


def test_steps_turn_green_live(page, ui, lf):
    """The page updates from server-sent events: a step still running is blue, then green."""
    gate = lf.work / "go"
    (lf.work / "recipes" / "slow.yaml").write_text(
        "name: slow\nsteps:\n"
        f"  - {{id: wait, tool: script, action: run, inputs: {{command: 'while [ ! -e {gate} ]; do sleep 0.1; done'}}}}\n"
        "  - {id: after, tool: file_ops, action: write, inputs: {path: '{{ workflow.run_dir }}/done.txt', content: done}}\n"
    )
    _start_from_form(page, "slow")
    page.wait_for_selector("g.node[data-step=wait][data-status=running]")
    assert page.get_attribute("g.node[data-step=after]", "data-status") == "pending"
    gate.write_text("")
    page.wait_for_selector("g.node[data-step=after][data-status=completed]")
    page.wait_for_selector("#run-status [data-status=completed]")


def test_cancel_a_sleeping_run_from_the_page(page, ui, lf):
    pidfile = lf.work / "sleep.pid"
    _start_from_form(page, "sleepy", {"pidfile": str(pidfile)})
    page.wait_for_selector("g.node[data-step=nap][data-status=running]")
    deadline = time.time() + 30
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    page.once("dialog", lambda d: d.accept())  # the page asks before it cancels
    page.click("#cancel")
    page.wait_for_selector("#run-status [data-status=cancelled]")
    deadline = time.time() + 10
    while process_alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not process_alive(pid), "the step's child process was stopped"


def test_answer_an_approval_gate_from_the_page(page, ui, lf):
    run_id = _start_from_form(page, "gated")
    page.wait_for_selector("[data-approve=ask][data-answer=approve]").click()
    page.wait_for_selector("#run-status [data-status=completed]")
    assert (lf.runs / run_id / "approved.txt").read_text() == "yes\n"


def test_screenshot_of_a_batch_resize_run(page, ui, lf, tmp_path):
    """The README's screenshot: the run page of batch-resize. With LOCALFORGE_UPDATE_SCREENSHOTS=1
    it is written to docs/screenshots/ (checked in); otherwise to a scratch folder."""
    image = pytest.importorskip("PIL.Image")
    pics = lf.work / "pictures"
    pics.mkdir()
    for i, color in enumerate(["#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00", "#0ca678"]):
        image.new("RGB", (640, 480), color).save(pics / f"photo-{i}.png")
    run_id = _start_from_form(page, "batch-resize", {"source": str(pics), "width": "128"})
    page.wait_for_selector("#run-status [data-status=completed]")
    page.wait_for_selector("svg.gantt")
    out = REPO / "docs" / "screenshots" if os.environ.get("LOCALFORGE_UPDATE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "run-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    page.click("#assets-link")
    page.wait_for_selector("img.asset")
    assert len(page.query_selector_all("img.asset")) >= 6
    assert Path(lf.runs / run_id).is_dir()


def test_a_remote_address_needs_allow_remote(lf):
    proc = lf("ui", "--host", "0.0.0.0", "--port", "0", check=2)
    assert "--host 0.0.0.0 is not a loopback address" in proc.stderr and "--allow-remote" in proc.stderr


def test_without_the_ui_extra_it_says_what_to_install(lf):
    code = "import sys; sys.modules['uvicorn'] = None; from localforge.frontends.cli import main; sys.exit(main(['ui']))"
    proc = subprocess.run([sys.executable, "-c", code], env=lf.env, cwd=lf.work, capture_output=True, text=True, timeout=60)
    assert (
        proc.returncode == 2
        and "the dashboard needs uvicorn" in proc.stderr
        and "pip install 'starlette>=0.36' 'uvicorn>=0.27'" in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_the_machine_page_and_the_timeline_name_each_card(lf):
    """Issue 33 on a fake machine of two cards (`LOCALFORGE_FAKE_GPUS`): the machine page gives
    each card its number and the instance that serves from it (a stand-in Ollama on
    127.0.0.1, as in tests/test_gpu_services.py); the timeline says which card each attempt used."""
    from conftest import serve
    from test_gpu_services import TWO, fake_ollama

    with serve(fake_ollama(loaded=["llama3.1:8b"])) as first:
        lf.env["LOCALFORGE_FAKE_GPUS"] = TWO
        lf.write("localforge.yaml", f"services:\n  ollama:\n    instances:\n      - {{host: '{first}', gpu: 1}}\n")
        rec = lf.write(
            "card.yaml",
            "name: card\nsteps:\n  - {id: big, tool: script, action: run, resources: {vram_gb: 30, split: true}, inputs: {command: 'true'}}\n",
        )
        run_id = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)["run_id"]
        with serving(lf) as server, browser_page(server) as page:
            page.click("a[data-nav=machine]")
            page.wait_for_selector("[data-gpu='1']")
            assert page.inner_text("[data-gpu='1']") == "serves ollama#0 · loaded: llama3.1:8b", "the first (only) instance, on card 1"
            assert "GPU 0 RTX 4090" in page.inner_text("#view") and page.locator("[data-gpu='0']").count() == 0
            page.goto(f"{server.base}/#/runs/{run_id}")
            title = page.wait_for_selector("g[data-attempt='big#1'] title", state="attached")
            assert title.text_content().startswith("big ⚡ GPU 0+1: completed")
