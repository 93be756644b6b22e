// Genesis dashboard: no framework, no CDN. Reads the control API with the bearer token
// kept in sessionStorage; refreshes every 2 s; the P&L chart is inline SVG.
"use strict";
const KEY = "genesis.token";
const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem(KEY); }

async function api(path, options = {}) {
  const headers = { Authorization: "Bearer " + token(), ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) { sessionStorage.removeItem(KEY); showLogin("the token was refused"); throw new Error("401"); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error + ": " + body.detail);
  return body;
}

function showLogin(message) {
  $("board").classList.add("hidden");
  $("login").classList.remove("hidden");
  $("error").textContent = message || "";
}

function cell(row, text) { const td = document.createElement("td"); td.textContent = text ?? ""; row.appendChild(td); }

function fill(table, columns, rows) {
  table.replaceChildren();
  const head = table.insertRow();
  for (const c of columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
  for (const r of rows) { const tr = table.insertRow(); tr.dataset.row = "1"; for (const c of columns) cell(tr, r[c]); }
}

const COLORS = ["#1a73e8", "#e8710a", "#137333", "#9334e6", "#c5221f", "#12b5cb"];

function chart(trades) {
  const series = {};
  for (const t of trades) {
    const s = (series[t.strategy_id] ||= [[t.closed_ns, 0]]);
    s.push([t.closed_ns, s[s.length - 1][1] + Number(t.net_pnl)]);
  }
  const all = Object.values(series).flat();
  const W = 480, H = 180, P = 30;
  const svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="' + W + '" height="' + H + '" role="img" aria-label="cumulative P&L per strategy">'];
  if (all.length) {
    const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs) || 1, y0 = Math.min(0, ...ys), y1 = Math.max(0, ...ys);
    const x = (v) => P + (W - 2 * P) * (x1 === x0 ? 1 : (v - x0) / (x1 - x0));
    const y = (v) => H - P - (H - 2 * P) * (y1 === y0 ? 0.5 : (v - y0) / (y1 - y0));
    svg.push('<line x1="' + P + '" x2="' + (W - P) + '" y1="' + y(0) + '" y2="' + y(0) + '" stroke="#bbb"/>');
    Object.entries(series).forEach(([name, pts], i) => {
      const d = pts.map((p, j) => (j ? "L" : "M") + x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join("");
      svg.push('<path class="pnl-line" d="' + d + '" fill="none" stroke="' + COLORS[i % COLORS.length] + '" stroke-width="1.5"/>');
      svg.push('<text x="' + (P + 4) + '" y="' + (14 + 13 * i) + '" fill="' + COLORS[i % COLORS.length] + '"></text>');
    });
    svg.push('<text x="2" y="' + (P - 6) + '">' + y1.toFixed(2) + '</text><text x="2" y="' + (H - 4) + '">' + y0.toFixed(2) + "</text>");
  } else {
    svg.push('<text x="' + P + '" y="' + H / 2 + '">no completed trades yet</text>');
  }
  svg.push("</svg>");
  $("pnl-chart").innerHTML = svg.join("");
  // legend text set with textContent: strategy ids never become markup
  const labels = $("pnl-chart").querySelectorAll("text[fill]");
  Object.keys(series).forEach((name, i) => { if (labels[i]) labels[i].textContent = name; });
}

async function refresh() {
  const [health, risk, perf, positions, orders, alerts] = await Promise.all([
    api("/health"), api("/api/v1/risk/status"), api("/api/v1/performance/metrics"),
    api("/api/v1/positions"), api("/api/v1/orders?limit=20"), api("/api/v1/alerts?limit=20"),
  ]);
  $("health-status").textContent = health.status;
  $("health-status").className = health.status;
  $("health-reasons").replaceChildren(...health.reasons.map((r) => { const li = document.createElement("li"); li.textContent = r; return li; }));
  $("equity").textContent = "equity " + perf.equity + " · events " + health.events + " · " + health.mode;
  $("kill-state").textContent = risk.kill_switch.engaged ? "ENGAGED (" + risk.kill_switch.reason + ")" : "clear";
  $("kill-state").className = risk.kill_switch.engaged ? "CRITICAL" : "HEALTHY";
  chart(perf.trades);
  fill($("strategies"), ["strategy_id", "trades", "realized_pnl", "unrealized_pnl", "win_rate"],
    Object.entries(perf.strategies).map(([id, s]) => ({ strategy_id: id, ...s })));
  fill($("positions"), ["account_id", "instrument_id", "strategy_id", "qty", "avg_open_px", "unrealized_pnl"], positions);
  fill($("orders"), ["client_order_id", "instrument_id", "side", "type", "quantity", "price", "status"], orders);
  fill($("alerts"), ["severity", "name", "message"], alerts);
}

async function start() {
  $("login").classList.add("hidden");
  $("board").classList.remove("hidden");
  try { await refresh(); } catch (e) { if (e.message !== "401") $("equity").textContent = String(e); }
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $("token").value.trim());
  $("token").value = "";
  start();
});
$("kill").addEventListener("click", () => $("kill-confirm").classList.remove("hidden"));
$("cancel-kill").addEventListener("click", () => $("kill-confirm").classList.add("hidden"));
$("confirm-kill").addEventListener("click", async () => {
  $("kill-confirm").classList.add("hidden");
  try { await api("/api/v1/risk/global/kill-switch?reason=" + encodeURIComponent("dashboard"), { method: "POST" }); }
  catch (e) { $("equity").textContent = String(e); }
  refresh().catch(() => {});
});

if (token()) start(); else showLogin();
setInterval(() => { if (token()) refresh().catch(() => {}); }, 2000);
