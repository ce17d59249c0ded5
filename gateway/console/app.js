// The operators' console: polls the gateway's console API once a second and draws what it gets.
// No framework and no CDN: this file is served by the gateway itself.
"use strict";

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token") || "";

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  if (!r.ok) throw new Error(r.status + " " + (await r.text()));
  return r.json();
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    cells.forEach((c) => cell(tr, c));
    return tr;
  }));
}

function registryState(r) {
  if (!r.serving || r.breaker === "open") return "down";
  if (r.breaker === "half-open" || (r.recent.calls > 0 && r.recent.errors / r.recent.calls > 0.1)) return "degraded";
  return "up";
}

function drawRegistries(list) {
  const map = document.getElementById("registries");
  map.replaceChildren(...list.map((r) => {
    const div = document.createElement("div");
    div.className = "registry " + registryState(r);
    div.dataset.registry = r.name;
    div.dataset.state = registryState(r);
    const calls = r.recent.calls;
    const rate = calls ? (100 * r.recent.errors / calls).toFixed(1) : "0.0";
    div.innerHTML = "<b></b>";
    div.querySelector("b").textContent = r.name;
    div.append(
      (r.serving ? "serving" : "not serving") + " · breaker " + r.breaker,
      document.createElement("br"),
      calls + " calls/min · " + rate + "% errors",
      document.createElement("br"),
      "p50 " + (r.recent.p50_us / 1000).toFixed(1) + " ms · p99 " + (r.recent.p99_us / 1000).toFixed(1) + " ms",
    );
    return div;
  }));
}

function chart(id, series, colours) {
  const c = document.getElementById(id);
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1, ...series.flat());
  const n = Math.max(2, ...series.map((s) => s.length));
  g.fillStyle = "#6b7280";
  g.font = "11px sans-serif";
  g.fillText(max.toFixed(max < 10 ? 1 : 0), 4, 12);
  series.forEach((s, k) => {
    g.strokeStyle = colours[k];
    g.lineWidth = 2;
    g.beginPath();
    s.forEach((v, i) => {
      const x = (i / (n - 1)) * (c.width - 10) + 5;
      const y = c.height - 5 - (v / max) * (c.height - 20);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  });
}

async function poll() {
  try {
    const o = await api("api/overview");
    drawRegistries(o.registries);
    chart("throughput", [o.timeline.map((s) => s.calls), o.timeline.map((s) => s.errors)], ["#12355b", "#c62828"]);
    chart("latency", [o.timeline.map((s) => s.p50_us / 1000), o.timeline.map((s) => s.p99_us / 1000)], ["#1f8a4c", "#c98a06"]);
    fill(document.querySelector("#errors tbody"), o.errors.slice(0, 8).map((e) => [
      e.received_at, e.request_id, e.client, e.method, e.subject, e.code, e.took_ms.toFixed(1)]));
    const box = document.getElementById("outbox");
    if (o.outbox) {
      const b = o.outbox;
      box.className = b.dead_letters > 0 ? "alert" : "";
      box.dataset.dead = b.dead_letters;
      const n = (count, one, many) => count + " " + (count === 1 ? one : many);
      box.textContent = n(b.open_pledges, "contract", "contracts") + " not yet decided · " +
        n(b.undelivered_notices, "bank notice", "bank notices") + " unacknowledged (oldest " +
        b.oldest_notice_age_s + " s) · " + n(b.dead_letters, "dead letter", "dead letters") +
        " (OperatorService.ListOutbox / RedriveOutbox)";
    }
    document.getElementById("status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("status").textContent = "cannot reach the gateway: " + e.message;
  }
}

async function search(id) {
  const tbody = document.querySelector("#journal tbody");
  try {
    const found = await api("api/journal?request_id=" + encodeURIComponent(id));
    fill(tbody, found.records.map((r) => [r.seq, r.kind, r.request_id, r.client, r.method, r.subject, r.outcome, r.note]));
    if (!found.records.length) fill(tbody, [["", "", "no record with request id " + id]]);
  } catch (e) {
    fill(tbody, [["", "", e.message]]);
  }
}

document.getElementById("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  search(document.getElementById("request-id").value.trim());
});

poll();
setInterval(poll, 1000);
if (params.get("request_id")) {
  document.getElementById("request-id").value = params.get("request_id");
  search(params.get("request_id"));
}
