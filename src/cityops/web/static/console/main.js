// PC dispatch console (调度端): the district on a map, the case queue with live countdowns, case detail and actions.
import { api, clearSession, session } from "../common/api.js";
import { initI18n, languageSwitch, t } from "../common/i18n.js";
import { Live } from "../common/live.js";
import { ensureLogin } from "../common/login.js";
import { CaseMap } from "./map.js";
import { Queue } from "./queue.js";
import { Detail } from "./detail.js";

const STAFF = ["dispatcher", "shift_lead", "intake", "commander", "inspector", "department", "admin"];

async function main() {
  await initI18n();
  const app = document.getElementById("app");
  await ensureLogin(app, { allowed: STAFF });
  const s = session();
  const config = await api("/api/v1/ui/config");
  app.innerHTML = `
    <div class="console">
      <header class="topbar">
        <h1>${t("app.title")}</h1>
        <span id="live" class="muted"></span>
        <span class="spacer"></span>
        <a href="/console/wall" class="muted" target="_blank">${t("app.wall")}</a>
        <span id="now" class="muted"></span>
        <span>${s.user.display_name}</span>
        <span id="lang-slot"></span>
        <button class="secondary" id="logout">${t("logout")}</button>
      </header>
      <div class="alerts" id="alerts" aria-live="polite"></div>
      <div id="map" role="region" aria-label="map"></div>
      <aside class="side">
        <h2>${t("queue.title")} <span class="badge" id="queue-count">0</span></h2>
        <ul class="queue" id="queue"></ul>
        <section class="detail" id="detail" hidden></section>
      </aside>
    </div>`;
  app.querySelector("#lang-slot").append(languageSwitch());
  app.querySelector("#logout").addEventListener("click", async () => {
    try { await api("/api/v1/auth/logout", { method: "POST" }); } catch { /* signed out anyway */ }
    clearSession(); location.reload();
  });
  const tick = () => { app.querySelector("#now").textContent = new Date().toLocaleTimeString(document.documentElement.lang, { hour12: false }); };
  tick(); setInterval(tick, 1000);

  const map = new CaseMap(app.querySelector("#map"), config);
  await map.loadLayers();
  const detail = new Detail(app.querySelector("#detail"), { map, onChange: (c) => queue.upsert(c) });
  const queue = new Queue(app.querySelector("#queue"), app.querySelector("#queue-count"), app.querySelector("#alerts"), {
    onSelect: (id) => detail.open(id),
    onRender: (cases) => map.showCases(cases, (id) => detail.open(id)),
  });
  setInterval(() => queue.tick(), 1000);

  const live = new Live(["cases", "alerts", "positions"], {
    status: (st) => { app.querySelector("#live").textContent = t(`live.${st}`); },
    snapshot: (topic, items) => {
      if (topic === "cases") queue.replace(items);
      if (topic === "alerts") queue.setAlerts(items);
      if (topic === "positions") map.showOfficers(items);
    },
    event: async (topic, ev) => {
      if (topic === "positions") { map.updateOfficer(ev); return; }
      if (topic === "alerts" && ev.type !== "case.escalated") { queue.addAlert(ev); return; }
      if (ev.case_id) {
        try {
          const c = await api(`/api/v1/cases/${ev.case_id}/clocks`);
          queue.upsert(c);
          if (topic === "alerts") queue.addAlert({ ...ev, case: c });
          detail.refreshIf(ev.case_id);
        } catch { queue.remove(ev.case_id); }
      }
    },
  });
  live.start();
  window.cityops = { queue, map, detail, live }; // handy for the browser tests and the curious
}

main();
