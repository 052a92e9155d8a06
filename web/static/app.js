// jobledger's web interface: the job list kept live from /api/events, and metric plots
// (uPlot) with threshold bands, min/median/max bands for many series, a scope selector and
// zoom that asks for a finer resolution. Text from the server is only ever set as
// textContent, never as HTML, except the job list's own server-rendered (escaped) rows.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

// ---- the job list: live ---------------------------------------------------------------

function liveList(results) {
  const live = $("#live");
  let pending = 0;
  let timer = null;
  const source = new EventSource(results.dataset.events);
  source.addEventListener("open", () => {
    document.body.dataset.live = "open";
    live.textContent = "live";
  });
  source.addEventListener("error", () => {
    document.body.dataset.live = "reconnecting";
    live.textContent = "reconnecting…";
  });
  const changed = () => {
    pending += 1;
    clearTimeout(timer);
    // A burst of starts becomes one refresh.
    timer = setTimeout(refresh, 300);
  };
  for (const kind of ["started", "stopped", "lagged"]) source.addEventListener(kind, changed);
  async function refresh() {
    const n = pending;
    pending = 0;
    const res = await fetch(location.href, { credentials: "same-origin" });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = $("#results", doc);
    if (!fresh) return;
    // The rows are this server's own page, escaped when it was rendered.
    results.replaceChildren(...fresh.childNodes);
    const now = new Date().toISOString().slice(11, 19);
    $("#live").textContent = `live · ${n} change${n === 1 ? "" : "s"} at ${now} UTC`;
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  }
}

// ---- efficiency -----------------------------------------------------------------------

async function efficiency(box) {
  const res = await fetch(box.dataset.url, { credentials: "same-origin" });
  const body = await res.json().catch(() => ({}));
  box.replaceChildren();
  if (!res.ok) {
    box.append(el("p", body.error || `efficiency not available (${res.status})`, "muted"));
    return;
  }
  const t = el("table", null, "facts");
  const row = (k, v) => {
    const tr = el("tr");
    tr.append(el("th", k), el("td", v));
    t.append(tr);
  };
  const pct = (v) => (v === null || v === undefined ? "—" : `${v.toFixed(1)} %`);
  if (body.cpu) row("CPU used", pct(body.cpu.percent));
  if (body.memory) {
    row("Memory, most on a node", `${body.memory.maxUsedGb.toFixed(1)} GB`);
    if (body.memory.percent !== null && body.memory.percent !== undefined) row("Memory of requested", pct(body.memory.percent));
  }
  for (const g of body.gpus || []) row(`GPU ${g.hostname}/${g.id}`, pct(g.utilizationPercent));
  if (body.time) row("Walltime used", pct(body.time.percent));
  row("From", body.source);
  box.append(t);
  if ((body.notes || []).length) {
    const ul = el("ul", null, "notes");
    for (const n of body.notes) ul.append(el("li", n));
    box.append(ul);
  }
}

// ---- plots ----------------------------------------------------------------------------

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
// Above this many series a plot shows min, median and max instead of one line each.
const BAND_ABOVE = 8;
// About this many points across a plot; zooming in asks for as many over the window.
const POINTS = 720;

function resolutionFor(span) {
  return Math.max(60, Math.ceil(span / POINTS / 60) * 60);
}

function unitOf(u) {
  if (!u) return "";
  return `${u.prefix || ""}${u.base || ""}`;
}

// Background bands for a metric's thresholds: alert, caution and normal ranges.
function thresholdBands(th) {
  return (u) => {
    if (!th || th.alert === null || th.caution === null || th.alert === undefined) return;
    const top = th.peak || u.scales.y.max;
    const ranges = th.lowerIsBetter
      ? [[0, th.caution, "rgba(45,164,78,0.10)"], [th.caution, th.alert, "rgba(212,167,44,0.16)"], [th.alert, top, "rgba(207,34,46,0.12)"]]
      : [[0, th.alert, "rgba(207,34,46,0.12)"], [th.alert, th.caution, "rgba(212,167,44,0.16)"], [th.caution, top, "rgba(45,164,78,0.10)"]];
    const ctx = u.ctx;
    ctx.save();
    for (const [lo, hi, color] of ranges) {
      const y0 = u.valToPos(Math.max(lo, u.scales.y.min), "y", true);
      const y1 = u.valToPos(Math.min(hi, u.scales.y.max), "y", true);
      if (!(y0 > y1)) continue;
      ctx.fillStyle = color;
      ctx.fillRect(u.bbox.left, y1, u.bbox.width, y0 - y1);
    }
    ctx.restore();
  };
}

// Per timestep: min, median and max over the series, ignoring gaps.
function bands(series, len) {
  const lo = new Array(len), mid = new Array(len), hi = new Array(len);
  const col = [];
  for (let i = 0; i < len; i++) {
    col.length = 0;
    for (const s of series) {
      const v = s.data[i];
      if (v !== null && v !== undefined) col.push(v);
    }
    if (!col.length) { lo[i] = mid[i] = hi[i] = null; continue; }
    col.sort((a, b) => a - b);
    lo[i] = col[0];
    hi[i] = col[col.length - 1];
    mid[i] = col[Math.floor(col.length / 2)];
  }
  return [lo, mid, hi];
}

function label(s) {
  return s.id !== undefined && s.id !== null && s.id !== "" ? `${s.hostname}/${s.id}` : s.hostname;
}

function plotOne(box, metric, scope, answer, start, th, view, onZoom) {
  const series = answer.series || [];
  const len = series.reduce((m, s) => Math.max(m, s.data.length), 0);
  const step = answer.timestep;
  const xs = Array.from({ length: len }, (_, i) => start + i * step);
  const data = [xs];
  const lines = [{}];
  if (series.length > BAND_ABOVE) {
    const [lo, mid, hi] = bands(series, len);
    data.push(lo, mid, hi);
    lines.push({ label: "min", stroke: "#9ab" }, { label: "median", stroke: "#1f77b4", width: 2 }, { label: "max", stroke: "#9ab" });
  } else {
    series.forEach((s, i) => {
      data.push(s.data);
      lines.push({ label: label(s), stroke: PALETTE[i % PALETTE.length] });
    });
  }
  const card = el("div", null, "plot");
  card.dataset.metric = metric;
  card.dataset.series = String(series.length);
  card.dataset.lines = String(lines.length - 1);
  const unit = unitOf(answer.unit);
  card.append(el("h3", `${metric} (${scope}${unit ? ", " + unit : ""})${series.length > BAND_ABOVE ? ` · ${series.length} series: min / median / max` : ""}`));
  box.append(card);
  const width = Math.max(320, Math.min(560, Math.floor((box.clientWidth || 1100) / 2) - 24));
  const opts = {
    width,
    height: 200,
    series: lines,
    scales: { x: { time: true, ...(view ? { min: view[0], max: view[1] } : {}) }, y: { range: (u, lo, hi) => [Math.min(0, lo), Math.max(hi, th && th.peak ? th.peak : hi) * 1.05 || 1] } },
    axes: [{}, { size: 60 }],
    legend: { show: series.length <= BAND_ABOVE },
    cursor: { drag: { x: true, y: false } },
    hooks: {
      drawClear: [thresholdBands(th)],
      setSelect: [(u) => {
        if (u.select.width < 5) return;
        const a = u.posToVal(u.select.left, "x");
        const b = u.posToVal(u.select.left + u.select.width, "x");
        onZoom([a, b]);
      }],
    },
  };
  // eslint-disable-next-line no-undef
  new uPlot(opts, data, card);
}

function statisticsTable(answers) {
  const body = $("#statistics tbody");
  if (!body) return;
  body.replaceChildren();
  for (const metric of Object.keys(answers).sort()) {
    const node = answers[metric].node;
    if (!node || !node.series || !node.series.length) continue;
    const st = node.series.map((s) => s.statistics).filter(Boolean);
    if (!st.length) continue;
    const min = Math.min(...st.map((s) => s.min));
    const max = Math.max(...st.map((s) => s.max));
    const avg = st.reduce((a, s) => a + s.avg, 0) / st.length;
    const tr = el("tr");
    tr.append(el("td", metric), el("td", unitOf(node.unit)), el("td", min.toFixed(2)), el("td", avg.toFixed(2)), el("td", max.toFixed(2)));
    body.append(tr);
  }
}

function plots(box) {
  const start = Number(box.dataset.start);
  const stop = box.dataset.stop ? Number(box.dataset.stop) : Math.floor(Date.now() / 1000);
  const th = JSON.parse(box.dataset.thresholds || "{}");
  const scopeSelect = $("#scope");
  let view = null;
  let generation = 0;

  async function draw() {
    const mine = ++generation;
    const scope = scopeSelect ? scopeSelect.value : "node";
    const span = view ? view[1] - view[0] : stop - start;
    const url = new URL(box.dataset.metrics, location.href);
    url.searchParams.set("scope", scope);
    url.searchParams.set("resolution", String(resolutionFor(span)));
    box.dataset.state = "loading";
    const res = await fetch(url, { credentials: "same-origin" });
    const answers = await res.json().catch(() => ({}));
    if (mine !== generation) return;
    box.replaceChildren();
    if (!res.ok) {
      box.append(el("p", answers.error || `metrics not available (${res.status})`, "muted"));
      box.dataset.state = "failed";
      return;
    }
    if (scope === "node" || !box.dataset.statsDone) {
      statisticsTable(answers);
      box.dataset.statsDone = "1";
    }
    let drawn = 0;
    for (const metric of Object.keys(answers).sort()) {
      const answer = answers[metric][scope];
      if (!answer || !answer.series || !answer.series.length) continue;
      plotOne(box, metric, scope, answer, start, th[metric], view, (w) => { view = w; draw(); });
      drawn += 1;
    }
    if (!drawn) box.append(el("p", `No samples at ${scope} scope.`, "muted"));
    box.dataset.drawn = String(drawn);
    box.dataset.resolution = url.searchParams.get("resolution");
    box.dataset.state = "drawn";
    // From the start of the navigation: page, scripts, the metrics' answer and drawing.
    document.body.dataset.plotsMs = String(Math.round(performance.now()));
  }
  if (scopeSelect) scopeSelect.addEventListener("change", draw);
  const unzoom = $("#unzoom");
  if (unzoom) unzoom.addEventListener("click", () => { view = null; draw(); });
  draw();
}

document.addEventListener("DOMContentLoaded", () => {
  const results = $("#results[data-events]");
  if (results && results.dataset.events && window.EventSource) liveList(results);
  const eff = $("#efficiency[data-url]");
  if (eff) efficiency(eff);
  const box = $("#plots[data-metrics]");
  if (box) plots(box);
});
