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
    throw new Error((doc.error || r.statusText) + (detail ? "\n" + detail : ""));
  }
  return doc;
}
function badge(status) { return `<span class="badge ${esc(status)}" data-status="${esc(status)}">${esc(status)}</span>`; }
function when(ts) { return ts ? new Date(ts).toLocaleString() : ""; }
function secs(s) { return s == null ? "" : s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`; }
function json(v) { return esc(JSON.stringify(v, null, 2)); }
function every(ms, fn) { const t = setInterval(fn, ms); cleanup.push(() => clearInterval(t)); }
function fail(e) { view.insertAdjacentHTML("afterbegin", `<div class="panel error" id="flash">${esc(e.message || e)}</div>`); }
const COLORS = {completed: "#2f9e44", failed: "#e03131", running: "#1c7ed6", pending: "#adb5bd", skipped: "#f08c00",
                cancelled: "#868e96", interrupted: "#ae3ec9", cached: "#0ca678", retrying: "#fab005"};

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
route();

// --- runs --------------------------------------------------------------------------------

async function runsPage() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  view.innerHTML = `<h1>Runs</h1>
    <div class="filters">
      <select id="f-status"><option value="">any status</option>${["running", "completed", "failed", "cancelled", "interrupted"]
        .map(s => `<option ${q.get("status") === s ? "selected" : ""}>${s}</option>`).join("")}</select>
      <select id="f-recipe"><option value="">any recipe</option></select>
      <a class="button" href="#/recipes">Start a run…</a>
    </div>
    <div class="panel"><table id="runs"><thead><tr><th>Status</th><th>Recipe</th><th>Started</th><th>Duration</th><th>Steps</th><th>Run</th></tr></thead><tbody></tbody></table></div>`;
  const status = document.getElementById("f-status"), recipe = document.getElementById("f-recipe");
  const recipes = new Set();
  const mine = generation;
  async function load() {
    const doc = await api(`/api/runs?limit=200&status=${encodeURIComponent(status.value)}&recipe=${encodeURIComponent(recipe.value)}`);
    if (generation !== mine) return;
    doc.runs.forEach(r => recipes.add(r.recipe));
    const chosen = recipe.value;
    recipe.innerHTML = `<option value="">any recipe</option>` + [...recipes].sort().map(r => `<option ${r === chosen ? "selected" : ""}>${esc(r)}</option>`).join("");
    document.querySelector("#runs tbody").innerHTML = doc.runs.map(r => `<tr class="link" data-run="${esc(r.run_id)}">
      <td>${badge(r.status)}</td><td>${esc(r.recipe)}</td><td>${when(r.started_at)}</td><td>${secs(r.duration_s)}</td>
      <td>${r.steps_done}/${r.steps_total}</td><td class="muted">${esc(r.run_id)}</td></tr>`).join("")
      || `<tr><td colspan="6" class="muted">No runs yet. <a href="#/recipes">Start one.</a></td></tr>`;
    document.querySelectorAll("tr[data-run]").forEach(tr => tr.onclick = () => location.hash = `#/runs/${tr.dataset.run}`);
  }
  status.onchange = recipe.onchange = load;
  await load();
  every(2000, () => load().catch(() => {}));
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
  const W = 150, H = 34, GX = 60, GY = 16;
  const pos = {};
  plan.levels.forEach((level, x) => level.forEach((id, y) => pos[id] = {x: 20 + x * (W + GX), y: 20 + y * (H + GY)}));
  const edges = [];
  plan.steps.forEach((s, i) => {
    const deps = s.depends_on.length ? s.depends_on : (plan.sequential && i > 0 ? [plan.steps[i - 1].id] : []);
    deps.forEach(d => pos[d] && pos[s.id] && edges.push([pos[d], pos[s.id]]));
  });
  const width = 40 + plan.levels.length * (W + GX), height = 40 + Math.max(...plan.levels.map(l => l.length)) * (H + GY);
  const gpu = Object.fromEntries(plan.steps.map(s => [s.id, s.needs && s.needs.gpu]));
  return `<svg class="dag" width="${width}" height="${height}" role="img" aria-label="step graph">
    ${edges.map(([a, b]) => `<path d="M${a.x + W},${a.y + H / 2} C${a.x + W + GX / 2},${a.y + H / 2} ${b.x - GX / 2},${b.y + H / 2} ${b.x},${b.y + H / 2}"/>`).join("")}
    ${plan.steps.map(s => { const p = pos[s.id]; if (!p) return ""; const st = status[s.id] || "pending";
      return `<g class="node" data-step="${esc(s.id)}" data-status="${esc(st)}"><title>${esc(s.id)}: ${esc(s.tool)}.${esc(s.action)} (${esc(st)})</title>
        <rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6" fill="${COLORS[st] || COLORS.pending}"/>
        <text class="label" x="${p.x + 8}" y="${p.y + 14}">${esc(s.id.slice(0, 20))}${gpu[s.id] ? " ⚡GPU" : ""}</text>
        <text class="sub" x="${p.x + 8}" y="${p.y + 27}">${esc((s.tool + "." + s.action).slice(0, 24))}</text></g>`; }).join("")}
  </svg>`;
}

function gantt(detail) {
  if (!detail.steps.length) return `<p class="muted">No attempts yet.</p>`;
  const t = s => new Date(s).getTime();
  const start = t(detail.started_at);
  const now = Date.now();
  const end = Math.max(...detail.steps.map(a => a.ended_at ? t(a.ended_at) : now), detail.ended_at ? t(detail.ended_at) : start + 1);
  const span = Math.max(end - start, 1), W = 760, L = 200, R = 20, H = 18;
  const gpu = Object.fromEntries(((detail.plan && detail.plan.steps) || []).map(s => [s.id, s.needs && s.needs.gpu]));
  const rows = detail.steps.slice(0, 400);
  return `<svg class="gantt" width="${L + W + R}" height="${30 + rows.length * (H + 4)}" role="img" aria-label="timeline of attempts">
    <line class="axis" x1="${L}" y1="10" x2="${L + W}" y2="10"/><text x="${L}" y="8">0 s</text><text x="${L + W - 40}" y="8">${secs(span / 1000)}</text>
    ${rows.map((a, i) => { const x = L + (t(a.started_at) - start) / span * W; const e = a.ended_at ? t(a.ended_at) : now;
      const w = Math.max(2, (e - t(a.started_at)) / span * W); const y = 20 + i * (H + 4);
      const label = `${a.step_id}${a.attempt > 1 ? ` (attempt ${a.attempt})` : ""}${gpu[a.step_id.split("[")[0]] ? " ⚡" : ""}`;
      return `<g data-attempt="${esc(a.step_id)}#${a.attempt}"><title>${esc(label)}: ${esc(a.status)}, ${secs((e - t(a.started_at)) / 1000)}</title>
        <text x="4" y="${y + 13}">${esc(label.slice(0, 30))}</text>
        <rect x="${x}" y="${y}" width="${w}" height="${H}" rx="3" fill="${COLORS[a.status] || COLORS.pending}"/></g>`; }).join("")}
  </svg>`;
}

async function runPage(id) {
  view.innerHTML = `<p class="muted">Loading run ${esc(id)}…</p>`;
  let timer = null;
  const mine = generation;
  async function render() {
    const d = await api(`/api/runs/${encodeURIComponent(id)}`);
    if (generation !== mine) return d;
    const open = new Set([...document.querySelectorAll("details[open]")].map(e => e.dataset.key));
    const byStep = {};
    d.steps.forEach(a => (byStep[a.step_id] = byStep[a.step_id] || []).push(a));
    view.innerHTML = `<h1>${esc(d.recipe)} <span id="run-status">${badge(d.status)}</span>
        <span class="muted small">${esc(d.run_id)} · started ${when(d.started_at)}${d.duration_s != null ? " · " + secs(d.duration_s) : ""}</span>
        ${d.live ? `<button id="cancel" class="danger">Cancel</button>` : ""}
        ${["failed", "cancelled", "interrupted"].includes(d.status) && !d.live ? `<button id="resume">Resume</button>` : ""}
        <a class="button" id="assets-link" href="#/runs/${encodeURIComponent(d.run_id)}/assets">Files (${d.files.length})</a></h1>
      ${d.error ? `<div class="panel error">${esc(d.error)}</div>` : ""}
      ${d.waiting.map(w => `<div class="panel approval" data-waiting="${esc(w.step)}"><b>Approval: ${esc(w.step)}</b><p>${esc(w.message || "")}</p>
        ${(w.options && w.options.length ? w.options : ["approve", "reject"]).map(o => `<button data-approve="${esc(w.step)}" data-answer="${esc(o)}">${esc(o)}</button>`).join(" ")}</div>`).join("")}
      <h2>Steps</h2><div class="panel">${dag(d)}</div>
      <h2>Timeline</h2><div class="panel">${gantt(d)}</div>
      <h2>Attempts</h2><div class="panel">${Object.entries(byStep).map(([sid, attempts]) => attempts.map(a => `
        <details data-key="${esc(sid)}#${a.attempt}" data-step-id="${esc(sid)}" ${open.has(`${sid}#${a.attempt}`) ? "open" : ""}>
          <summary>${badge(a.status)} <b>${esc(sid)}</b> <span class="muted">${esc(a.tool || "")}.${esc(a.action || "")}${a.attempt > 1 ? ` · attempt ${a.attempt}` : ""}${a.ended_at ? " · " + secs((new Date(a.ended_at) - new Date(a.started_at)) / 1000) : ""}</span></summary>
          ${a.error ? `<div class="error">${esc(a.error)}</div>` : ""}
          <div class="grid2"><div><b>Inputs</b><pre>${json(a.inputs)}</pre></div><div><b>Outputs</b><pre>${json(a.outputs)}</pre></div></div>
          <button data-log="${esc(sid)}">Log</button><pre class="log" hidden></pre>
        </details>`).join("")).join("") || `<p class="muted">No attempts yet.</p>`}</div>
      ${d.llm_calls && d.llm_calls.length ? `<h2>LLM calls</h2><div class="panel"><table><thead><tr><th>Step</th><th>Model</th><th>Prompt</th><th>Response</th><th>Tokens</th><th>Time</th></tr></thead><tbody>
        ${d.llm_calls.map(c => `<tr><td>${esc(c.step_id)}</td><td>${esc(c.model)}</td><td><pre>${esc(c.prompt)}</pre></td><td><pre>${esc(c.response)}</pre></td>
          <td>${c.prompt_tokens ?? "?"} → ${c.completion_tokens ?? "?"}</td><td>${secs(c.duration_s)}</td></tr>`).join("")}</tbody></table></div>` : ""}
      <h2>Inputs and outputs</h2><div class="panel grid2"><div><b>Inputs</b><pre>${json(d.inputs)}</pre></div><div><b>Outputs</b><pre>${json(d.outputs)}</pre></div></div>`;
    const cancel = document.getElementById("cancel");
    if (cancel) cancel.onclick = async () => { cancel.disabled = true; try { await api(`/api/runs/${encodeURIComponent(id)}/cancel`, {}); } catch (e) { fail(e); } };
    const resume = document.getElementById("resume");
    if (resume) resume.onclick = async () => { resume.disabled = true; try { const r = await api(`/api/runs/${encodeURIComponent(id)}/resume`, {}); location.hash = `#/runs/${r.run_id}`; route(); } catch (e) { fail(e); } };
    document.querySelectorAll("[data-approve]").forEach(b => b.onclick = async () => {
      b.disabled = true;
      try { await api(`/api/runs/${encodeURIComponent(id)}/approve`, {step: b.dataset.approve, answer: b.dataset.answer}); } catch (e) { fail(e); }
    });
    document.querySelectorAll("[data-log]").forEach(b => b.onclick = async () => {
      const pre = b.nextElementSibling;
      const log = await api(`/api/runs/${encodeURIComponent(id)}/log/${encodeURIComponent(b.dataset.log)}`);
      pre.textContent = [log.stdout ? "stdout:\n" + log.stdout : "", log.stderr ? "stderr:\n" + log.stderr : "",
        ...log.events.map(e => `${e.ts} ${e.level}: ${e.message}`)].filter(Boolean).join("\n") || "(no log)";
      pre.hidden = false;
    });
    return d;
  }
  const first = await render();
  if (!["completed", "failed", "cancelled", "interrupted"].includes(first.status) || first.live) {
    const es = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
    document.getElementById("conn").textContent = "live";
    es.onmessage = () => { clearTimeout(timer); timer = setTimeout(() => render().catch(fail), 120); };
    es.onerror = () => {
      // The stream ends when the run does; if it broke earlier, keep the page fresh by polling.
      es.close(); document.getElementById("conn").textContent = "";
      clearTimeout(timer); timer = setTimeout(() => render().catch(() => {}), 200);
      every(2000, async () => { const d = await render().catch(() => null); return d; });
    };
    cleanup.push(() => { es.close(); clearTimeout(timer); document.getElementById("conn").textContent = ""; });
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
  const url = f => `/files/${encodeURIComponent(id)}/${f.path.split("/").map(encodeURIComponent).join("/")}`;
  view.innerHTML = `<h1>Files of ${esc(d.recipe)} <a class="button" href="#/runs/${encodeURIComponent(id)}">Back to the run</a></h1>
    <div class="gallery">${d.files.map(f => `<div class="card" data-file="${esc(f.path)}">
      ${f.kind === "image" ? `<a href="${url(f)}" target="_blank"><img class="asset" loading="lazy" src="${url(f)}" alt="${esc(f.path)}"></a>` : ""}
      ${f.kind === "audio" ? `<audio controls preload="none" src="${url(f)}"></audio>` : ""}
      ${f.kind === "video" ? `<video controls preload="metadata" src="${url(f)}"></video>` : ""}
      ${["text", "json", "markdown"].includes(f.kind) ? `<pre class="preview" data-src="${url(f)}" data-kind="${f.kind}">…</pre>` : ""}
      <div class="name">${esc(f.path)}</div>
      <div class="muted">${(f.bytes / 1024).toFixed(1)} KB · <a href="${url(f)}?download=1">download</a></div></div>`).join("")
      || `<p class="muted">This run has not written any files.</p>`}</div>`;
  for (const pre of document.querySelectorAll("pre.preview")) {
    const r = await fetch(pre.dataset.src, {credentials: "same-origin"});
    let text = (await r.text()).slice(0, 20000);
    if (pre.dataset.kind === "json") { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* keep the text */ } }
    if (pre.dataset.kind === "markdown") { pre.outerHTML = `<div class="md">${mini(text)}</div>`; } else { pre.textContent = text; }
  }
}

// --- machine -----------------------------------------------------------------------------

function gauge(label, used, total, unit = "GB") {
  const pct = total ? Math.min(100, 100 * used / total) : 0;
  return `<div><b>${esc(label)}</b> <span class="muted">${used.toFixed(1)} of ${total.toFixed(1)} ${unit} in use</span>
    <svg class="gauge" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${pct.toFixed(0)}%"><rect width="${pct.toFixed(1)}" height="10"/></svg></div>`;
}

async function machinePage() {
  const s = await api("/api/system");
  const hw = s.hardware;
  view.innerHTML = `<h1>This machine</h1>
    <div class="grid2"><div class="panel"><h2>Hardware</h2><p>${esc(hw.cpu)} · ${hw.cpu_cores} threads · ${esc(hw.platform)} ${esc(hw.arch)}</p>
      ${gauge("RAM", hw.ram_gb - hw.ram_available_gb, hw.ram_gb)}
      ${(hw.gpus || []).map(g => gauge(`${g.name}`, g.vram_total_gb - g.vram_free_gb, g.vram_total_gb)).join("") || `<p class="muted">No GPU: ${esc(hw.gpu_note || "")}</p>`}</div>
    <div class="panel"><h2>Services</h2><table>${Object.entries(s.services).map(([n, v]) => `<tr data-service="${esc(n)}"><td>${esc(v.label)}</td>
      <td>${badge(v.running ? "completed" : "failed").replace(/>(completed|failed)</, `>${v.running ? "up" : "down"}<`)}</td><td class="muted">${esc(v.url)}${v.version ? " · " + esc(v.version) : ""}${v.models && v.models.length ? " · " + v.models.length + " models" : ""}</td></tr>`).join("")}</table></div></div>
    <div class="grid2"><div class="panel"><h2>Tools</h2><table>${Object.entries(s.tools).map(([n, t]) => `<tr><td>${t.found ? "✓" : "✗"} ${esc(n)}</td><td class="muted">${esc(t.version || (t.found ? "found" : "not found"))}</td></tr>`).join("")}</table></div>
    <div class="panel"><h2>Models that fit</h2><table>${s.recommendations.map(r => `<tr><td>${esc(r.task)}</td><td><b>${esc(r.model)}</b></td><td>~${r.vram_gb.toFixed(1)} GB</td><td>${r.fits ? "fits" : "does not fit"}</td></tr>`).join("")}</table>
      ${s.advice.map(a => `<p><code>${esc(a.setting)}</code> <span class="muted">${esc(a.why)}</span></p>`).join("")}</div></div>`;
}

// --- recipes -----------------------------------------------------------------------------

async function recipesPage() {
  const doc = await api("/api/recipes");
  view.innerHTML = `<h1>Recipes</h1><div class="panel"><table><thead><tr><th>Recipe</th><th>What it does</th><th>Inputs</th><th></th></tr></thead><tbody>
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
  view.innerHTML = `<h1>Run ${esc(r.name)}</h1><p class="muted">${esc(r.description || "")}</p>
    <form id="run-form" class="panel">${r.inputs.map(field).join("") || `<p class="muted">This recipe takes no inputs.</p>`}
    <div class="field"><label><input type="checkbox" id="use-cache" checked> take unchanged steps from the step cache</label></div>
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
      const res = await api("/api/runs", {recipe: r.path, inputs, cache: document.getElementById("use-cache").checked});
      location.hash = `#/runs/${res.run_id}`;
    }
    catch (e) { btn.disabled = false; fail(e); }
  };
}
