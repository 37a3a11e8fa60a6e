// LocalForge dashboard: a hash-routed page over the JSON API in localforge/ui/app.py.
// No framework and no build step; everything it needs ships in the wheel.
"use strict";

const view = document.getElementById("view");
let cleanup = [];            // what the current page must stop when we leave it (timers, event streams)
let generation = 0;          // bumped on every navigation: a late render of a page left behind draws nothing

// --- helpers -----------------------------------------------------------------------------

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function cookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : "";
}
async function api(path, body) {
  const opts = {credentials: "same-origin", headers: {}};
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers["Content-Type"] = "application/json";
    opts.headers["X-CSRF-Token"] = cookie(`lf_csrf_${location.port || "80"}`);
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const doc = await r.json().catch(() => ({}));
  if (!r.ok) {
    const detail = (doc.errors || []).map(e => (e.line ? `line ${e.line}: ` : "") + e.message + (e.hint ? ` (${e.hint})` : "")).join("\n");
    // Each problem once: the list when there is one (the message repeats it), else the message.
    throw new Error(detail || doc.error || r.statusText);
  }
  return doc;
}
function badge(status) { return `<span class="badge ${esc(status)}" data-status="${esc(status)}">${esc(status)}</span>`; }
function when(ts) { return ts ? new Date(ts).toLocaleString() : ""; }
function secs(s) { return s == null ? "" : s < 0.1 ? "< 0.1 s" : s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`; }
function size(n) { return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`; }
function cut(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
function json(v) { return esc(JSON.stringify(v, null, 2)); }
function every(ms, fn) { const t = setInterval(fn, ms); cleanup.push(() => clearInterval(t)); }
function fail(e) {
  // One error box at a time, replaced by the next and gone when the page changes.
  document.getElementById("flash")?.remove();
  view.insertAdjacentHTML("afterbegin", `<div class="panel error" id="flash" role="alert">${esc(e.message || e)}</div>`);
}
// White text on each of these has a contrast of at least 4.5:1 (WCAG AA); pending is drawn
// light with dark text and a dashed edge, so no status is told by colour alone.
const COLORS = {completed: "#1e7b34", failed: "#c92a2a", running: "#1864ab", pending: "#e9ecef", skipped: "#9c4f00",
                cancelled: "#5c5f66", interrupted: "#862e9c", cached: "#08715a", queued: "#5c5f66"};

// --- router ------------------------------------------------------------------------------

async function route() {
  cleanup.forEach(f => f()); cleanup = [];
  generation += 1;
  const parts = (location.hash.replace(/^#\/?/, "") || "runs").split("/").map(decodeURIComponent);
  document.querySelectorAll("[data-nav]").forEach(a => a.classList.toggle("active", a.dataset.nav === parts[0]));
  try {
    if (parts[0] === "runs" && parts[1] && parts[2] === "assets") await assetsPage(parts[1]);
    else if (parts[0] === "runs" && parts[1]) await runPage(parts[1]);
    else if (parts[0] === "recipes" && parts[1]) await formPage(parts.slice(1).join("/"));
    else if (parts[0] === "recipes") await recipesPage();
    else if (parts[0] === "machine") await machinePage();
    else await runsPage();
  } catch (e) { view.innerHTML = ""; fail(e); }
}
window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", route);  // after the whole script: the constants below exist then

// --- runs --------------------------------------------------------------------------------

const STATUSES = ["running", "completed", "failed", "cancelled", "interrupted"];
const PAGE = 50;

async function runsPage() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  document.title = "Runs · LocalForge";
  view.innerHTML = `<h1>Runs</h1>
    <form class="filters" id="filters" role="search" aria-label="filter runs">
      <label>Status <select id="f-status" name="status"><option value="">any</option>${STATUSES
        .map(s => `<option ${q.get("status") === s ? "selected" : ""}>${s}</option>`).join("")}</select></label>
      <label>Recipe <select id="f-recipe" name="recipe"><option value="">any</option></select></label>
      <label>Text <input id="f-text" name="text" type="search" size="18" value="${esc(q.get("text") || "")}" placeholder="run id, recipe, error"></label>
      <label>From <input id="f-since" name="since" type="date" value="${esc(q.get("since") || "")}"></label>
      <label>To <input id="f-until" name="until" type="date" value="${esc(q.get("until") || "")}"></label>
      <a class="button" href="#/recipes">Start a run…</a>
    </form>
    <div class="panel"><table id="runs"><caption class="sr-only">Runs, newest first</caption>
      <thead><tr><th scope="col">Status</th><th scope="col">Recipe</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Steps</th><th scope="col">Run</th></tr></thead><tbody></tbody></table>
      <nav class="pager" aria-label="pages of runs"><button id="prev" type="button">Newer</button> <span id="page-of" aria-live="polite"></span> <button id="next" type="button">Older</button></nav></div>`;
  const el = id => document.getElementById(id);
  const filters = {status: el("f-status"), recipe: el("f-recipe"), text: el("f-text"), since: el("f-since"), until: el("f-until")};
  let offset = parseInt(q.get("offset") || "0", 10) || 0, wanted = q.get("recipe") || "", shown = "";
  const mine = generation;
  function query() {
    const p = new URLSearchParams();
    for (const [k, f] of Object.entries(filters)) if (f.value) p.set(k, f.value);
    return p;
  }
  async function load() {
    const p = query(); p.set("offset", offset); p.set("limit", PAGE);
    const doc = await api(`/api/runs?${p}`);
    if (generation !== mine) return;
    const chosen = filters.recipe.value || wanted;
    const options = `<option value="">any</option>` + doc.recipes.map(r => `<option ${r === chosen ? "selected" : ""}>${esc(r)}</option>`).join("");
    if (filters.recipe.innerHTML !== options) filters.recipe.innerHTML = options;
    wanted = "";
    const rows = doc.runs.map(r => `<tr data-run="${esc(r.run_id)}">
      <td>${badge(r.status)}${r.waiting ? ` <span class="badge waiting">waiting for approval</span>` : ""}</td><td><a href="#/runs/${encodeURIComponent(r.run_id)}">${esc(r.recipe)}</a></td><td>${when(r.started_at)}</td>
      <td>${secs(r.duration_s)}</td><td>${r.steps_done}/${r.steps_total ?? "?"}</td><td class="muted">${esc(r.run_id)}</td></tr>`).join("")
      || `<tr><td colspan="6" class="muted">${doc.total || Object.values(filters).some(f => f.value) ? "No runs match." : `No runs yet. <a href="#/recipes">Start one.</a>`}</td></tr>`;
    if (rows !== shown) { document.querySelector("#runs tbody").innerHTML = rows; shown = rows; }
    el("page-of").textContent = doc.total ? `${offset + 1}–${offset + doc.runs.length} of ${doc.total}` : "";
    el("prev").disabled = offset === 0;
    el("next").disabled = offset + doc.runs.length >= doc.total;
  }
  function refilter() {
    offset = 0;
    const p = query();
    history.replaceState(null, "", `#/runs${p.toString() ? "?" + p : ""}`);
    load().catch(fail);
  }
  for (const f of Object.values(filters)) f.addEventListener(f.type === "search" ? "input" : "change", refilter);
  el("filters").onsubmit = ev => { ev.preventDefault(); refilter(); };
  el("prev").onclick = () => { offset = Math.max(0, offset - PAGE); load().catch(fail); };
  el("next").onclick = () => { offset += PAGE; load().catch(fail); };
  await load();
  watchHistory(() => load());
}

// One stream per page for "the history changed": the server checks once for every page.
function watchHistory(onChange) {
  let timer = null;
  const es = new EventSource("/api/changes");
  es.onmessage = () => { clearTimeout(timer); timer = setTimeout(() => onChange().catch(() => {}), 100); };
  es.onopen = () => connected(true);
  es.onerror = () => connected(false);
  cleanup.push(() => { es.close(); clearTimeout(timer); });
}

function connected(yes) {
  const c = document.getElementById("conn");
  c.textContent = yes ? "" : "disconnected: reconnecting…";
  c.classList.toggle("offline", !yes);
}

function stepStatus(detail) {
  // The latest attempt of each step; a batch's items roll up into their step when it has no row of its own.
  const rank = {failed: 5, running: 4, interrupted: 4, cancelled: 3, pending: 2, completed: 1, cached: 1, skipped: 0};
  const latest = {}, out = {}, items = {};
  for (const a of detail.steps) latest[a.step_id] = a.status;
  for (const [id, s] of Object.entries(latest)) {
    const top = id.split("[")[0];
    if (id === top) out[top] = s; else (items[top] = items[top] || []).push(s);
  }
  for (const [top, list] of Object.entries(items)) {
    if (!(top in out)) out[top] = list.reduce((a, b) => ((rank[b] ?? 2) > (rank[a] ?? 2) ? b : a));
  }
  return out;
}

function dag(detail) {
  const plan = detail.plan;
  if (!plan || plan.error || !plan.steps) return `<p class="muted">No plan to draw${plan && plan.error ? `: ${esc(plan.error)}` : ""}.</p>`;
  const status = stepStatus(detail);
  // A step not started whose dependencies are done, while the run goes on, waits for a
  // CPU/GPU slot (or starts in a moment): queued.
  if (detail.status === "running") {
    const ok = new Set(["completed", "cached", "skipped"]);
    plan.steps.forEach((s, i) => {
      const deps = s.depends_on.length ? s.depends_on : (plan.sequential && i > 0 ? [plan.steps[i - 1].id] : []);
      if (!status[s.id] && deps.every(dep => ok.has(status[dep]))) status[s.id] = "queued";
    });
  }
  const W = 150, H = 34, GX = 60, GY = 16;
  const pos = {};
  plan.levels.forEach((level, x) => level.forEach((id, y) => pos[id] = {x: 20 + x * (W + GX), y: 20 + y * (H + GY)}));
  const edges = [];
  plan.steps.forEach((s, i) => {
    const deps = s.depends_on.length ? s.depends_on : (plan.sequential && i > 0 ? [plan.steps[i - 1].id] : []);
    deps.forEach(d => pos[d] && pos[s.id] && edges.push([pos[d], pos[s.id]]));
  });
  const width = 40 + plan.levels.length * (W + GX), height = 40 + Math.max(...plan.levels.map(l => l.length)) * (H + GY);
  const gpu = Object.fromEntries(plan.steps.map(s => [s.id, s.on_gpu]));
  return `<svg class="dag" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="group" aria-label="step graph: choose a step to see its output">
    ${edges.map(([a, b]) => `<path d="M${a.x + W},${a.y + H / 2} C${a.x + W + GX / 2},${a.y + H / 2} ${b.x - GX / 2},${b.y + H / 2} ${b.x},${b.y + H / 2}"/>`).join("")}
    ${plan.steps.map(s => { const p = pos[s.id]; if (!p) return ""; const st = status[s.id] || "pending";
      const what = s.action ? `${s.tool}.${s.action}` : s.tool === "approval_gate" ? "approval gate" : s.tool;
      return `<g class="node ${st === "pending" ? "pending" : ""}" data-step="${esc(s.id)}" data-status="${esc(st)}" tabindex="0" role="button"
          aria-label="${esc(s.id)}, ${esc(what)}, ${esc(st)}: show its output"><title>${esc(s.id)}: ${esc(what)} (${esc(st)})</title>
        <rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6" fill="${COLORS[st] || COLORS.pending}"/>
        <text class="label" x="${p.x + 8}" y="${p.y + 14}">${esc(cut(s.id, gpu[s.id] ? 15 : 20))}${gpu[s.id] ? " ⚡GPU" : ""}</text>
        <text class="sub" x="${p.x + 8}" y="${p.y + 27}">${esc(cut(what, 24))}</text></g>`; }).join("")}
  </svg>`;
}

// A `batch.foreach` step's items (`STEP[i].SUB`) as one row: from the first item's start
// to the last one's end, with the status that matters most and how many there are.
function grouped(steps) {
  const rank = {failed: 6, running: 5, interrupted: 4, cancelled: 3, completed: 1, cached: 1, skipped: 0};
  const out = [], batches = {};
  for (const a of steps) {
    const top = a.step_id.split("[")[0];
    if (top === a.step_id) { out.push(a); continue; }
    let g = batches[top];
    if (!g) { g = batches[top] = {step_id: top, attempt: 1, status: a.status, started_at: a.started_at, ended_at: a.ended_at, items: 0, seen: new Set()}; out.push(g); }
    g.seen.add(a.step_id.split("]")[0]); g.items = g.seen.size;
    if (a.started_at < g.started_at) g.started_at = a.started_at;
    g.ended_at = !a.ended_at || !g.ended_at ? null : (a.ended_at > g.ended_at ? a.ended_at : g.ended_at);
    if ((rank[a.status] ?? 2) > (rank[g.status] ?? 2)) g.status = a.status;
  }
  return out;
}

function gantt(detail) {
  if (!detail.steps.length) return `<p class="muted">No attempts yet.</p>`;
  const t = s => new Date(s).getTime();
  const start = t(detail.started_at);
  const now = Date.now();
  const end = Math.max(...detail.steps.map(a => a.ended_at ? t(a.ended_at) : now), detail.ended_at ? t(detail.ended_at) : start + 1);
  const span = Math.max(end - start, 1), W = 760, L = 200, R = 20, H = 18;
  const gpu = Object.fromEntries(((detail.plan && detail.plan.steps) || []).map(s => [s.id, s.on_gpu]));
  const rows = grouped(detail.steps).slice(0, 400);
  return `<svg class="gantt" width="${L + W + R}" height="${30 + rows.length * (H + 4)}" viewBox="0 0 ${L + W + R} ${30 + rows.length * (H + 4)}" role="img" aria-label="timeline of attempts">
    <line class="axis" x1="${L}" y1="10" x2="${L + W}" y2="10"/><text x="${L}" y="8">0 s</text><text x="${L + W - 40}" y="8">${secs(span / 1000)}</text>
    ${rows.map((a, i) => { const x = L + (t(a.started_at) - start) / span * W; const e = a.ended_at ? t(a.ended_at) : now;
      const w = Math.max(2, (e - t(a.started_at)) / span * W); const y = 20 + i * (H + 4);
      const label = `${a.step_id}${a.items ? ` (${a.items} items)` : a.attempt > 1 ? ` (attempt ${a.attempt})` : ""}${a.gpus && a.gpus.length ? ` ⚡ GPU ${a.gpus.join("+")}` : gpu[a.step_id.split("[")[0]] ? " ⚡" : ""}`;
      return `<g data-attempt="${esc(a.step_id)}#${a.attempt}"><title>${esc(label)}: ${esc(a.status)}, ${secs((e - t(a.started_at)) / 1000)}</title>
        <text x="4" y="${y + 13}">${esc(cut(label, 30))}</text>
        <rect x="${x}" y="${y}" width="${w}" height="${H}" rx="3" fill="${COLORS[a.status] || COLORS.pending}"/></g>`; }).join("")}
  </svg>`;
}

const TERMINAL = ["completed", "failed", "cancelled", "interrupted"];

// Set `el`'s content only when it changed: what the user opened, scrolled or focused stays.
function put(el, html) { if (el && el.dataset.html !== html) { el.innerHTML = html; el.dataset.html = html; } }

function header(d) {
  return `${esc(d.recipe)} <span id="run-status">${badge(d.status)}</span>
    <span class="muted small">${esc(d.run_id)} · started ${when(d.started_at)}${d.duration_s != null ? " · " + secs(d.duration_s) : ""}${
      d.resumed_at ? ` (own running time; the timeline spans every start since ${when(d.started_at)})` : ""}</span>
    ${d.live ? `<button id="cancel" class="danger" type="button">Cancel</button>` : ""}
    ${["failed", "cancelled", "interrupted"].includes(d.status) && !d.live ? `<button id="resume" type="button">Resume</button>` : ""}
    ${TERMINAL.includes(d.status) && d.recipe_path ? `<button id="rerun" type="button" title="a new run of this recipe with the same inputs">Run again</button>` : ""}
    <a class="button" id="assets-link" href="#/runs/${encodeURIComponent(d.run_id)}/assets">Files (${d.files.length})</a>`;
}

function attempts(d) {
  const byStep = {};
  const items = {};
  d.steps.forEach(a => {
    const top = a.step_id.split("[")[0];
    if (top !== a.step_id) (items[top] = items[top] || []).push(a);
    else (byStep[a.step_id] = byStep[a.step_id] || []).push(a);
  });
  const itemRows = Object.entries(items).map(([top, list]) => `<details data-key="${esc(top)}[items]" class="items">
    <summary>${badge(grouped(list)[0].status)} <b>${esc(top)}</b> <span class="muted">${grouped(list)[0].items} items, ${list.length} attempts</span></summary>
    ${list.map(a => `<div class="item">${badge(a.status)} ${esc(a.step_id)} ${a.error ? `<span class="${a.status === "cancelled" ? "muted" : "error"}">${esc(a.error)}</span>` : ""}
      <button type="button" data-log="${esc(a.step_id)}" data-attempt="${a.attempt}">Output</button></div>`).join("")}</details>`).join("");
  return itemRows + Object.entries(byStep).map(([sid, list]) => list.map(a => `
    <details data-key="${esc(sid)}#${a.attempt}" data-step-id="${esc(sid)}">
      <summary>${badge(a.status)} <b>${esc(sid)}</b> <span class="muted">${esc(a.tool || "")}${a.action ? "." + esc(a.action) : ""}${a.attempt > 1 ? ` · attempt ${a.attempt}` : ""}${
        a.ended_at ? " · " + secs((new Date(a.ended_at) - new Date(a.started_at)) / 1000) : ""}</span></summary>
      ${a.error ? `<div class="${a.status === "cancelled" ? "muted" : "error"}">${esc(a.error)}</div>` : ""}
      <div class="grid2"><div><b>Inputs</b><pre>${json(a.inputs)}</pre></div><div><b>Outputs</b><pre>${json(a.outputs)}</pre></div></div>
      <button type="button" data-log="${esc(sid)}" data-attempt="${a.attempt}">Output of this attempt</button>
      ${TERMINAL.includes(d.status) && d.recipe_path && a.attempt === list[list.length - 1].attempt ? `<button type="button" data-rerun-from="${esc(sid)}">Run again from here</button>` : ""}
    </details>`).join("")).join("") || (itemRows ? "" : `<p class="muted">No attempts yet.</p>`);
}

async function runPage(id) {
  view.innerHTML = `<h1 id="run-head"><span class="muted">Loading run ${esc(id)}…</span></h1>
    <p id="run-clock" class="muted small" aria-hidden="true"></p>
    <div id="run-error" role="alert"></div><div id="run-waiting" aria-live="polite"></div>
    <h2>Steps</h2><div class="panel" id="run-dag"></div>
    <section class="panel" id="log-panel" aria-labelledby="log-title" hidden>
      <div class="log-head"><h2 id="log-title">Output of <span id="log-step"></span> <span id="log-attempt" class="muted"></span></h2>
        <div role="tablist" aria-label="stream"><button type="button" role="tab" id="tab-stdout" data-channel="stdout" aria-selected="true">stdout</button><button
          type="button" role="tab" id="tab-stderr" data-channel="stderr" aria-selected="false">stderr</button></div>
        <label>Search <input id="log-search" type="search" size="16"></label> <span id="log-live" class="muted" aria-live="polite"></span></div>
      <ol id="log-hits" class="hits" hidden></ol>
      <pre id="log-text" class="log" tabindex="0" aria-label="output"></pre>
    </section>
    <h2>Timeline</h2><div class="panel" id="run-gantt"></div>
    <h2>Attempts</h2><div class="panel" id="run-attempts"></div>
    <div id="run-llm"></div>
    <h2>Inputs and outputs</h2><div class="panel grid2" id="run-io"></div>`;
  const el = x => document.getElementById(x);
  const mine = generation;
  const log = {step: null, attempt: null, channel: "stdout", es: null, chosen: false};
  let last = null;

  async function render() {
    const d = await api(`/api/runs/${encodeURIComponent(id)}`);
    if (generation !== mine) return d;
    last = d;
    document.title = `${d.recipe} · ${d.status} · LocalForge`;
    put(el("run-head"), header(d));
    put(el("run-error"), d.error && d.status !== "cancelled" ? `<div class="panel error">${esc(d.error)}</div>`
      : d.status === "cancelled" ? `<div class="panel note">Cancelled${d.error && d.error !== "cancelled" ? ": " + esc(d.error) : ""}.</div>` : "");
    put(el("run-waiting"), d.waiting.map(w => `<div class="panel approval" data-waiting="${esc(w.step)}"><b>Waiting for approval: ${esc(w.step)}</b><p>${esc(w.message || "")}</p>
      ${(w.options && w.options.length ? w.options : ["approve", "reject"]).map(o => `<button type="button" data-approve="${esc(w.step)}" data-answer="${esc(o)}">${esc(o)}</button>`).join(" ")}</div>`).join(""));
    put(el("run-dag"), dag(d));
    put(el("run-gantt"), gantt(d));
    put(el("run-attempts"), attempts(d));
    put(el("run-llm"), d.llm_calls && d.llm_calls.length ? `<h2>LLM calls</h2><div class="panel"><table><thead><tr><th>Step</th><th>Model</th><th>Prompt</th><th>Response</th><th>Tokens</th><th>Time</th></tr></thead><tbody>
        ${d.llm_calls.map(c => `<tr><td>${esc(c.step_id)}</td><td>${esc(c.model)}</td><td><pre>${esc(c.prompt)}</pre></td><td><pre>${esc(c.response)}</pre></td>
          <td>${c.prompt_tokens ?? "?"} → ${c.completion_tokens ?? "?"}</td><td>${secs(c.duration_s)}</td></tr>`).join("")}</tbody></table></div>` : "");
    put(el("run-io"), `<div><b>Inputs</b><pre>${json(d.inputs)}</pre></div><div><b>Outputs</b><pre>${json(d.outputs)}</pre></div>`);
    // Until a step is chosen, the output shown is the running step's, else a failed one's.
    if (!log.chosen) {
      const pick = d.steps.slice().reverse().find(a => a.status === "running" && a.tool !== "approval_gate")
        || d.steps.slice().reverse().find(a => a.status === "failed") || null;
      if (pick && pick.step_id !== log.step) showLog(pick.step_id, null, false);
    }
    return d;
  }

  function showLog(step, attempt, chosen) {
    log.step = step; log.attempt = attempt; log.chosen = log.chosen || chosen;
    el("log-panel").hidden = false;
    el("log-step").textContent = step;
    document.querySelectorAll("g.node").forEach(n => n.classList.toggle("selected", n.dataset.step === step));
    follow().catch(fail);
    if (chosen) el("log-panel").scrollIntoView({block: "nearest"});
  }

  async function follow() {
    if (log.es) { log.es.close(); log.es = null; }
    const pre = el("log-text"), live = el("log-live");
    const base = `/api/runs/${encodeURIComponent(id)}/log/${encodeURIComponent(log.step)}`;
    const q = new URLSearchParams({channel: log.channel});
    if (log.attempt) q.set("attempt", log.attempt);
    let piece;
    try { piece = await api(`${base}?${q}`); } catch (e) { pre.textContent = "(no output yet)"; piece = null; }
    const shown = {step: log.step, channel: log.channel, attempt: log.attempt};
    if (piece) {
      el("log-attempt").textContent = `attempt ${piece.attempt} · ${piece.status}`;
      pre.textContent = (piece.start > 0 ? `… ${(piece.start / 1024).toFixed(0)} KB earlier not shown …\n` : "") + (piece.text || "");
      if (!piece.text && piece.start === 0) pre.textContent = piece.status === "running" ? "" : "(it printed nothing)";
      pre.scrollTop = pre.scrollHeight;
    }
    const running = !piece || piece.status === "running" || (last && last.status === "running");
    if (!running) { live.textContent = ""; return; }
    if (piece) { q.set("offset", piece.end); q.set("attempt", log.attempt || piece.attempt); if (!log.attempt) q.delete("attempt"); }
    const es = new EventSource(`${base}/stream?${q}`);
    log.es = es;
    live.textContent = "live";
    es.onmessage = ev => {
      if (shown.step !== log.step || shown.channel !== log.channel) return;
      const m = JSON.parse(ev.data);
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      if (m.type === "attempt") { pre.textContent += `\n── attempt ${m.attempt} ──\n`; el("log-attempt").textContent = `attempt ${m.attempt} · running`; }
      else if (m.type === "end") { es.close(); live.textContent = ""; if (m.status) el("log-attempt").textContent = `attempt ${m.attempt} · ${m.status}`; return; }
      else {
        if (pre.textContent === "(no output yet)") pre.textContent = "";
        pre.textContent += m.text;
        if (pre.textContent.length > 2_000_000) pre.textContent = "… earlier output not shown …\n" + pre.textContent.slice(-1_000_000);
      }
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    };
    es.onerror = () => { live.textContent = "reconnecting…"; };
    es.onopen = () => { live.textContent = "live"; };
  }

  async function search(text) {
    const hits = el("log-hits");
    if (!text) { hits.hidden = true; hits.innerHTML = ""; return; }
    const q = new URLSearchParams({channel: log.channel, q: text});
    if (log.attempt) q.set("attempt", log.attempt);
    const r = await api(`/api/runs/${encodeURIComponent(id)}/log/${encodeURIComponent(log.step)}?${q}`).catch(() => ({hits: []}));
    hits.innerHTML = r.hits.length ? r.hits.map(h => `<li><button type="button" class="link" data-offset="${h.offset}">line ${h.line}</button> ${esc(h.text)}</li>`).join("")
      : `<li class="muted">No line holds “${esc(text)}”.</li>`;
    hits.hidden = false;
  }

  // One set of handlers for the whole page (its parts are redrawn, the handlers stay).
  view.addEventListener("click", async ev => {
    const t = ev.target.closest("button, g.node");
    if (!t || generation !== mine) return;
    if (t.id === "cancel") {
      if (!confirm(`Cancel run ${id}? Its running steps are stopped.`)) return;
      t.disabled = true;
      try { await api(`/api/runs/${encodeURIComponent(id)}/cancel`, {}); } catch (e) { t.disabled = false; fail(e); }
    } else if (t.id === "rerun" || t.dataset.rerunFrom) {
      const from = t.dataset.rerunFrom;
      if (from && !confirm(`Run ${last.recipe} again with the same inputs, from step ${from} on (earlier steps from the step cache where they can be)?`)) return;
      t.disabled = true;
      try {
        const r = await api("/api/runs", {recipe: last.recipe_path, inputs: last.inputs || {}, refresh: from ? [from] : []});
        location.hash = `#/runs/${r.run_id}`;
      } catch (e) { t.disabled = false; fail(e); }
    } else if (t.id === "resume") {
      t.disabled = true;
      try { const r = await api(`/api/runs/${encodeURIComponent(id)}/resume`, {}); location.hash = `#/runs/${r.run_id}`; } catch (e) { t.disabled = false; fail(e); }
    } else if (t.dataset.approve) {
      t.disabled = true;
      try { await api(`/api/runs/${encodeURIComponent(id)}/approve`, {step: t.dataset.approve, answer: t.dataset.answer}); } catch (e) { t.disabled = false; fail(e); }
    } else if (t.dataset.log) {
      showLog(t.dataset.log, parseInt(t.dataset.attempt, 10) || null, true);
    } else if (t.matches("g.node")) {
      showLog(t.dataset.step, null, true);
    } else if (t.dataset.channel) {
      log.channel = t.dataset.channel;
      document.querySelectorAll("[role=tab]").forEach(b => b.setAttribute("aria-selected", String(b === t)));
      follow().catch(fail);
      search(el("log-search").value).catch(() => {});
    } else if (t.dataset.offset) {
      const q = new URLSearchParams({channel: log.channel, offset: t.dataset.offset});
      if (log.attempt) q.set("attempt", log.attempt);
      const piece = await api(`/api/runs/${encodeURIComponent(id)}/log/${encodeURIComponent(log.step)}?${q}`);
      el("log-text").textContent = piece.text; el("log-text").scrollTop = 0;
    }
  });
  view.addEventListener("keydown", ev => {
    const node = ev.target.closest && ev.target.closest("g.node");
    if (node && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); showLog(node.dataset.step, null, true); }
  });
  let searching = null;
  el("log-search").addEventListener("input", ev => { clearTimeout(searching); searching = setTimeout(() => search(ev.target.value).catch(() => {}), 250); });
  cleanup.push(() => { if (log.es) log.es.close(); clearTimeout(searching); });

  const first = await render();
  // Running steps tick between events: their clocks and timeline bars grow.
  const tick = () => {
    if (!last || last.status !== "running") { el("run-clock").textContent = ""; return; }
    put(el("run-gantt"), gantt(last));
    el("run-clock").textContent = `running for ${secs((Date.now() - new Date(last.resumed_at || last.started_at)) / 1000)}`;
  };
  tick();
  every(1000, tick);
  if (!TERMINAL.includes(first.status) || first.live) {
    let timer = null;
    const es = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
    es.onopen = () => connected(true);
    es.onmessage = () => { clearTimeout(timer); timer = setTimeout(() => render().catch(() => {}), 120); };
    es.onerror = () => {
      // The stream ends with the run; if the server went away, the browser reconnects by itself.
      connected(es.readyState !== EventSource.CLOSED && last && !TERMINAL.includes(last.status) ? false : true);
      clearTimeout(timer); timer = setTimeout(() => render().then(d => { if (TERMINAL.includes(d.status)) { es.close(); connected(true); } }).catch(() => connected(false)), 300);
    };
    cleanup.push(() => { es.close(); clearTimeout(timer); connected(true); });
  }
}

// --- assets ------------------------------------------------------------------------------

function mini(md) {
  // A small Markdown subset: headings, bold, code, lists; everything escaped first.
  return esc(md).replace(/^### (.*)$/gm, "<h3>$1</h3>").replace(/^## (.*)$/gm, "<h2>$1</h2>").replace(/^# (.*)$/gm, "<h1>$1</h1>")
    .replace(/\*\*(.+?)\*\*/g, "<b>$1</b>").replace(/`([^`]+)`/g, "<code>$1</code>").replace(/^[-*] (.*)$/gm, "• $1").replace(/\n/g, "<br>");
}

async function assetsPage(id) {
  const d = await api(`/api/runs/${encodeURIComponent(id)}`);
  document.title = `Files of ${d.recipe} · LocalForge`;
  const url = f => `/files/${encodeURIComponent(id)}/${f.path.split("/").map(encodeURIComponent).join("/")}`;
  view.innerHTML = `<h1>Files of ${esc(d.recipe)} <a class="button" href="#/runs/${encodeURIComponent(id)}">Back to the run</a></h1>
    <div class="gallery">${d.files.map(f => `<div class="card" data-file="${esc(f.path)}">
      ${f.kind === "image" ? `<a href="${url(f)}" target="_blank"><img class="asset" loading="lazy" src="${url(f)}" alt="${esc(f.path)}"></a>` : ""}
      ${f.kind === "audio" ? `<audio controls preload="none" src="${url(f)}"></audio>` : ""}
      ${f.kind === "video" ? `<video controls preload="metadata" src="${url(f)}"></video>` : ""}
      ${["text", "json", "markdown"].includes(f.kind) ? `<pre class="preview" data-src="${url(f)}" data-kind="${f.kind}">…</pre>` : ""}
      <div class="name">${esc(f.path)}</div>
      <div class="muted">${size(f.bytes)} · <a href="${url(f)}?download=1">download</a></div></div>`).join("")
      || `<p class="muted">This run has not written any files.</p>`}</div>`;
  // Previews load when they scroll into view, a few at a time, not 300 one after another.
  const load = async pre => {
    const r = await fetch(pre.dataset.src, {credentials: "same-origin", headers: {Range: "bytes=0-19999"}});
    let text = (await r.text()).slice(0, 20000);
    if (pre.dataset.kind === "json") { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* keep the text */ } }
    if (pre.dataset.kind === "markdown") { pre.outerHTML = `<div class="md">${mini(text)}</div>`; } else { pre.textContent = text; }
  };
  const seen = new IntersectionObserver(entries => entries.forEach(e => {
    if (e.isIntersecting) { seen.unobserve(e.target); load(e.target).catch(() => { e.target.textContent = "(could not be read)"; }); }
  }), {rootMargin: "200px"});
  document.querySelectorAll("pre.preview").forEach(pre => seen.observe(pre));
  cleanup.push(() => seen.disconnect());
}

// --- machine -----------------------------------------------------------------------------

function gauge(label, used, total, unit = "GB") {
  const pct = total ? Math.min(100, 100 * used / total) : 0;
  return `<div><b>${esc(label)}</b> <span class="muted">${used.toFixed(1)} of ${total.toFixed(1)} ${unit} in use</span>
    <svg class="gauge" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${pct.toFixed(0)}%"><rect width="${pct.toFixed(1)}" height="10"/></svg></div>`;
}

// One card: its VRAM in use; on a machine of several, its number, the service instances that
// serve from it and what they have loaded there (`system --json`: gpus[].instances, .loaded).
function gpuGauge(g, several) {
  const label = several ? `GPU ${g.index} ${g.name}` : g.name;
  const serves = several && g.instances && g.instances.length
    ? `<p class="muted" data-gpu="${g.index}">serves ${esc(g.instances.join(", "))}${g.loaded && g.loaded.length ? ` · loaded: ${esc(g.loaded.join(", "))}` : ""}</p>` : "";
  return gauge(label, g.vram_total_gb - g.vram_free_gb, g.vram_total_gb) + serves;
}

async function machinePage() {
  document.title = "This machine · LocalForge";
  const s = await api("/api/system");
  const hw = s.hardware;
  view.innerHTML = `<h1>This machine</h1>
    <div class="grid2"><div class="panel"><h2>Hardware</h2><p>${esc(hw.cpu)} · ${hw.cpu_cores} threads · ${esc(hw.platform)} ${esc(hw.arch)}</p>
      ${gauge("RAM", hw.ram_gb - hw.ram_available_gb, hw.ram_gb)}
      ${(hw.gpus || []).map(g => gpuGauge(g, (hw.gpus || []).length > 1)).join("") || `<p class="muted">No GPU: ${esc(hw.gpu_note || "")}</p>`}</div>
    <div class="panel"><h2>Services</h2><table>${Object.entries(s.services).map(([n, v]) => `<tr data-service="${esc(n)}"><td>${esc(v.label)}</td>
      <td>${badge(v.running ? "completed" : "failed").replace(/>(completed|failed)</, `>${v.running ? "up" : "down"}<`)}</td><td class="muted">${esc(v.url)}${v.version ? " · " + esc(v.version) : ""}${v.models && v.models.length ? " · " + v.models.length + " models" : ""}</td></tr>`).join("")}</table></div></div>
    <div class="grid2"><div class="panel"><h2>Tools</h2><table>${Object.entries(s.tools).map(([n, t]) => `<tr><td>${t.found ? "✓" : "✗"} ${esc(n)}</td><td class="muted">${esc(t.version || (t.found ? "found" : "not found"))}</td></tr>`).join("")}</table></div>
    <div class="panel"><h2>Models that fit</h2><table>${s.recommendations.map(r => `<tr><td>${esc(r.task)}</td><td><b>${esc(r.model)}</b></td><td>~${r.vram_gb.toFixed(1)} GB</td><td>${r.fits ? "fits" : "does not fit"}</td></tr>`).join("")}</table>
      ${s.advice.map(a => `<p><code>${esc(a.setting)}</code> <span class="muted">${esc(a.why)}</span></p>`).join("")}</div></div>`;
}

// --- recipes -----------------------------------------------------------------------------

async function recipesPage() {
  document.title = "Recipes · LocalForge";
  const doc = await api("/api/recipes");
  view.innerHTML = `<h1>Recipes</h1><div class="panel"><table><thead><tr><th>Recipe</th><th>What it does</th><th>Inputs</th><th><span class="sr-only">Start</span></th></tr></thead><tbody>
    ${doc.recipes.map(r => `<tr data-recipe="${esc(r.name)}"><td><b>${esc(r.name)}</b><div class="muted">${esc(r.source || "")}</div></td><td>${esc(r.description || "")}</td>
      <td class="muted">${r.inputs.map(i => `${esc(i.name)}: ${esc(i.type || "string")}`).join(", ") || "none"}</td>
      <td><a class="button" href="#/recipes/${encodeURIComponent(r.name)}">Run…</a></td></tr>`).join("")}</tbody></table></div>`;
}

function field(i) {
  const id = `in-${i.name}`, v = i.default;
  const req = i.required && (v === undefined || v === null);
  let control;
  if (i.choices && i.choices.length) control = `<select id="${id}" name="${esc(i.name)}">${i.choices.map(c => `<option ${c === v ? "selected" : ""}>${esc(c)}</option>`).join("")}</select>`;
  else if (i.type === "boolean") control = `<input type="checkbox" id="${id}" name="${esc(i.name)}" ${v ? "checked" : ""}>`;
  else if (i.type === "integer" || i.type === "number") control = `<input type="number" id="${id}" name="${esc(i.name)}" ${i.type === "number" ? 'step="any"' : ""} value="${esc(v ?? "")}" ${req ? "required" : ""}>`;
  else if (i.type === "list" || i.type === "object") control = `<textarea id="${id}" name="${esc(i.name)}" ${req ? "required" : ""}>${v == null ? "" : esc(JSON.stringify(v))}</textarea>`;
  else control = `<input type="text" id="${id}" name="${esc(i.name)}" size="60" value="${esc(v ?? "")}" ${req ? "required" : ""}>`;
  return `<div class="field"><label for="${id}">${esc(i.name)}${req ? " *" : ""} <span class="muted">(${esc(i.type || "string")})</span></label>${control}
    ${i.description ? `<div class="hint">${esc(i.description)}</div>` : ""}</div>`;
}

async function formPage(name) {
  const doc = await api("/api/recipes");
  const r = doc.recipes.find(x => x.name === name);
  if (!r) throw new Error(`no recipe ${name}`);
  document.title = `Run ${r.name} · LocalForge`;
  view.innerHTML = `<h1>Run ${esc(r.name)}</h1><p class="muted">${esc(r.description || "")}</p>
    <form id="run-form" class="panel">${r.inputs.map(field).join("") || `<p class="muted">This recipe takes no inputs.</p>`}
    <div class="field"><label><input type="checkbox" id="use-cache" checked> take unchanged steps from the step cache</label></div>
    <div class="field"><label><input type="checkbox" id="force"> run even if the preflight check finds a problem (<code>--force</code>)</label></div>
    <button id="start" class="primary" type="submit">Start</button></form>`;
  document.getElementById("run-form").onsubmit = async ev => {
    ev.preventDefault();
    const inputs = {};
    for (const i of r.inputs) {
      const el = document.getElementById(`in-${i.name}`);
      if (i.type === "boolean") inputs[i.name] = el.checked;
      else if (el.value === "") continue;
      else if (i.type === "integer") inputs[i.name] = parseInt(el.value, 10);
      else if (i.type === "number") inputs[i.name] = parseFloat(el.value);
      else if (i.type === "list" || i.type === "object") { try { inputs[i.name] = JSON.parse(el.value); } catch (e) { fail(`${i.name}: not JSON (${e.message})`); return; } }
      else inputs[i.name] = el.value;
    }
    const btn = document.getElementById("start");
    btn.disabled = true;
    try {
      const res = await api("/api/runs", {recipe: r.path, inputs, cache: document.getElementById("use-cache").checked, force: document.getElementById("force").checked});
      location.hash = `#/runs/${res.run_id}`;
    }
    catch (e) { btn.disabled = false; fail(e); }
  };
}
