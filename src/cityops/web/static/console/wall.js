// Full-screen command view (大屏): headline figures, refreshed on every case event and once a minute.
import { api } from "../common/api.js";
import { initI18n, t } from "../common/i18n.js";
import { Live } from "../common/live.js";
import { ensureLogin } from "../common/login.js";

const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const num = (v) => (v === null || v === undefined ? "—" : String(v));

async function main() {
  await initI18n();
  const app = document.getElementById("app");
  await ensureLogin(app);
  app.innerHTML = `<header class="topbar"><h1>${t("app.wall")}</h1><span class="spacer"></span><span id="now" class="muted"></span></header>
    <div class="wall" id="figures"></div>`;
  const figures = app.querySelector("#figures");
  async function refresh() {
    const s = await api("/api/v1/stats/today");
    const items = [["wall.today", num(s.today_cases)], ["wall.open", num(s.open_cases)], ["wall.disposal", pct(s.disposal_rate)],
      ["wall.ontime_arrival", pct(s.on_time_arrival_rate)], ["wall.avg_handling", num(s.avg_handling_minutes)], ["wall.online", num(s.online_officers)]];
    figures.innerHTML = items.map(([k, v]) => `<div class="figure" data-figure="${k}"><div class="value">${v}</div><div class="label">${t(k)}</div></div>`).join("");
  }
  await refresh();
  setInterval(refresh, 60000);
  setInterval(() => { app.querySelector("#now").textContent = new Date().toLocaleString(); }, 1000);
  let pending = null;
  new Live(["cases"], { event: () => { clearTimeout(pending); pending = setTimeout(refresh, 500); } }).start();
}

main();
