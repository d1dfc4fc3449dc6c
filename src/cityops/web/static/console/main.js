// PC dispatch console (调度端): the district on a map, the case queue with live countdowns, case detail and actions.
import { api, clearSession, errorText, session } from "../common/api.js";
import { escapeHtml } from "../common/format.js";
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
        <button class="secondary" id="replay-open">${t("replay.title")}</button>
        <a href="/console/wall" class="muted" target="_blank">${t("app.wall")}</a>
        <span id="now" class="muted"></span>
        <span>${s.user.display_name}</span>
        <span id="lang-slot"></span>
        <button class="secondary" id="logout">${t("logout")}</button>
      </header>
      <div class="alerts" id="alerts" aria-live="polite"></div>
      <div id="map" role="region" aria-label="map"></div>
      <form class="form replay" id="replay" hidden>
        <strong>${t("replay.title")}</strong>
        <select name="officer" aria-label="officer"></select>
        <input type="datetime-local" name="from" aria-label="from"> <input type="datetime-local" name="to" aria-label="to">
        <button type="submit">${t("replay.load")}</button>
        <input type="range" name="step" min="0" max="0" value="0" aria-label="time"><span id="replay-time" class="muted"></span>
        <span class="error" role="alert"></span>
      </form>
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
  setInterval(() => map.loadSegmentState(), 60000);
  setupReplay(app, map);

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

// 轨迹回放: an officer's track over a time window, with a slider that walks the marker along it.
function setupReplay(app, map) {
  const form = app.querySelector("#replay");
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  app.querySelector("#replay-open").addEventListener("click", async () => {
    form.hidden = !form.hidden;
    if (form.hidden) return;
    const officers = await api("/api/v1/users?role=officer");
    form.officer.innerHTML = officers.map((o) => `<option value="${o.id}">${escapeHtml(o.display_name)}</option>`).join("");
    const now = new Date();
    form.from.value = local(new Date(now - 2 * 3600 * 1000)); form.to.value = local(now);
  });
  let replay = null;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    form.querySelector(".error").textContent = "";
    const q = new URLSearchParams({ format: "geojson", from: new Date(form.from.value).toISOString(), to: new Date(form.to.value).toISOString() });
    try {
      replay = map.showTrack(await api(`/api/v1/tracking/officers/${form.officer.value}/track?${q}`));
    } catch (err) { form.querySelector(".error").textContent = errorText(err); return; }
    if (!replay) { form.querySelector(".error").textContent = t("replay.empty"); return; }
    form.step.max = String(replay.count - 1); form.step.value = "0";
    form.step.dispatchEvent(new Event("input"));
  });
  form.step.addEventListener("input", () => {
    if (!replay) return;
    const i = Number(form.step.value);
    replay.at(i);
    app.querySelector("#replay-time").textContent = replay.times?.[i] ? new Date(replay.times[i]).toLocaleTimeString() : "";
  });
}

main();
