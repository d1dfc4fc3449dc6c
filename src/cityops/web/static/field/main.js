// Officer / inspector field app (客户端): tasks with countdowns, accept → go → arrive → photos → handle → feed back,
// new reports with photo + GPS (脚板+手指), positions while on duty; everything through the offline outbox.
import { api, clearSession, errorText, session } from "../common/api.js";
import { initI18n, languageSwitch, t } from "../common/i18n.js";
import { clockRemaining, countdown, escapeHtml, lightOf, toast } from "../common/format.js";
import { ensureLogin } from "../common/login.js";
import { outbox } from "./outbox.js";

const app = document.getElementById("app");
const MEASURES = ["on_the_spot_fix", "rectification_order", "warning", "fine", "confiscation", "referral", "other"];
const OPEN = ["verifying", "dispatched", "accepted", "en_route", "on_scene", "handled", "fed_back"];
let me; let tasks = []; let fetchedAt = Date.now(); let lastFix = null; let tracker = null;

function isOfficer() { return me.user.roles.includes("officer"); }

async function loadTasks() {
  try {
    const q = OPEN.map((s) => `status=${s}`).join("&");
    const page = await api(`/api/v1/cases?${q}&page_size=100`);
    tasks = page.items.filter((c) => (isOfficer() ? c.officer_id === me.user.id || (c.officer_id === null && c.status === "dispatched")
      : (c.status === "verifying" && c.inspector_id === me.user.id) || c.status === "fed_back"));
    fetchedAt = Date.now();
    localStorage.setItem("cityops.tasks", JSON.stringify(tasks));
  } catch {
    tasks = JSON.parse(localStorage.getItem("cityops.tasks") || "[]"); // offline: what we saw last
  }
  render();
}

function taskCard(c) {
  const clock = c.step_clock || c.case_clock;
  const rem = clockRemaining(clock, fetchedAt);
  const light = lightOf(clock, rem);
  const acts = c.allowed_actions.filter((a) => ["accept", "depart", "arrive", "handle", "feed_back", "verify", "check"].includes(a));
  return `<div class="card" data-case="${c.id}">
    <div class="row"><h3>${escapeHtml(c.title)}</h3><span class="badge">${t(`status.${c.status}`)}</span><span class="spacer"></span>
      <span class="countdown ${light}" data-clock>${clock ? countdown(rem) : ""}</span></div>
    <div class="muted">${c.case_no} · ${escapeHtml(c.address || c.grid || "")}</div>
    ${c.description ? `<div>${escapeHtml(c.description)}</div>` : ""}
    <div class="row">
      <a class="badge" href="geo:${c.lat},${c.lon}?q=${c.lat},${c.lon}" data-navigate>${t("field.navigate")}</a>
      <label class="badge">${t("field.photo_before")}<input type="file" accept="image/*,video/*" capture="environment" data-photo="before" hidden></label>
      <label class="badge">${t("field.photo_after")}<input type="file" accept="image/*,video/*" capture="environment" data-photo="after" hidden></label>
    </div>
    ${acts.includes("handle") ? `<label>${t("form.measure")}</label><select data-measure>${MEASURES.map((m) => `<option value="${m}">${t(`measure.${m}`)}</option>`).join("")}</select>` : ""}
    ${acts.map((a) => `<button class="bigbtn" data-act="${a}">${t(`action.${a}`)}</button>`).join("")}
  </div>`;
}

function render() {
  const view = app.querySelector("#tasks");
  if (!view) return;
  view.innerHTML = tasks.length ? tasks.map(taskCard).join("") : `<p class="muted">${t("field.no_tasks")}</p>`;
  view.querySelectorAll("[data-act]").forEach((b) => b.addEventListener("click", () => act(Number(b.closest("[data-case]").dataset.case), b.dataset.act, b.closest(".card"))));
  view.querySelectorAll("[data-photo]").forEach((inp) => inp.addEventListener("change", async () => {
    const caseId = Number(inp.closest("[data-case]").dataset.case);
    for (const f of inp.files) await outbox.evidence(caseId, f, inp.dataset.photo, fixMeta());
    toast(`${t("detail.evidence")} +${inp.files.length}`);
  }));
}

function fixMeta() {
  const meta = { device_time: new Date().toISOString() };
  if (lastFix) { meta.lat = lastFix.lat; meta.lon = lastFix.lon; }
  return meta;
}

async function act(caseId, action, card) {
  const body = { action, ...(lastFix ? { lat: lastFix.lat, lon: lastFix.lon } : {}) };
  if (action === "handle") body.handling = { measure: card.querySelector("[data-measure]").value };
  if (action === "verify") body.confirmed = true;
  if (action === "check") body.passed = true;
  await outbox.action(caseId, body);
  // Optimistic: show the move at once; the list is reloaded once the outbox has sent it.
  const c = tasks.find((x) => x.id === caseId);
  if (c) { c.allowed_actions = []; c.status = { accept: "accepted", depart: "en_route", arrive: "on_scene", handle: "handled", feed_back: "fed_back", verify: "verified", check: "checked" }[action] || c.status; }
  render();
}

async function syncStatus() {
  const items = await outbox.all();
  const el = app.querySelector("#outbox");
  if (!el) return;
  const failed = items.filter((e) => e.state === "failed");
  el.textContent = !navigator.onLine ? t("field.offline") : items.length ? t("field.outbox", { n: items.length }) : t("field.synced");
  el.className = navigator.onLine ? "muted" : "status-offline";
  app.querySelector("#failed").innerHTML = failed.map((e) => `<div class="error">${escapeHtml(e.kind)} · ${escapeHtml(e.error)}</div>`).join("");
  if (!items.length && navigator.onLine) loadTasks();
}

function reportForm() {
  const box = app.querySelector("#report");
  box.innerHTML = `<form class="card" id="new-report"><h3>${t("field.report")}</h3>
    <input type="file" name="photo" accept="image/*,video/*" capture="environment">
    <label>${t("report.category")}</label><select name="category" id="cat"></select>
    <label>${t("report.description")}</label><textarea name="description" rows="2"></textarea>
    <div class="muted" id="gps"></div><button class="bigbtn">${t("report.submit")}</button></form>`;
  api("/api/v1/catalog/categories?edition=GB/T 47678.5-2026").then((cats) => {
    box.querySelector("#cat").innerHTML = cats.filter((c) => c.level === "subclass").map((c) => `<option value="${c.kind}:${c.code}">${escapeHtml(c.name)}</option>`).join("");
  }).catch(() => {});
  box.querySelector("form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!lastFix) { toast(t("report.where")); return; }
    const f = new FormData(e.target);
    const [kind, code] = String(f.get("category")).split(":");
    const ref = `r-${Date.now()}`;
    await outbox.report(ref, { lat: lastFix.lat, lon: lastFix.lon, category_code: code, category_kind: kind, description: f.get("description") });
    const photo = e.target.photo.files[0];
    if (photo) await outbox.evidence(ref, photo, "before", fixMeta());
    e.target.reset();
    toast(t("field.outbox", { n: (await outbox.all()).length }));
  });
}

// Positions while on duty: the phone's GPS over the tracking stream (batched when the socket is down).
function startTracking() {
  if (tracker || !navigator.geolocation) return;
  let ws = null; let pending = [];
  const device = `web-${me.user.id}`;
  const connect = () => {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${proto}://${location.host}/api/v1/tracking/stream?token=${encodeURIComponent(session().access_token)}`);
    ws.onopen = () => { if (pending.length) { ws.send(JSON.stringify(pending)); pending = []; } };
    ws.onclose = () => { ws = null; if (tracker) setTimeout(connect, 3000); };
  };
  connect();
  tracker = navigator.geolocation.watchPosition((p) => {
    lastFix = { lat: p.coords.latitude, lon: p.coords.longitude };
    const fix = { device_id: device, lat: p.coords.latitude, lon: p.coords.longitude, at: new Date(p.timestamp).toISOString(),
      accuracy_m: p.coords.accuracy, ...(p.coords.speed !== null ? { speed_mps: p.coords.speed } : {}), ...(p.coords.heading !== null ? { bearing: p.coords.heading } : {}) };
    const gps = app.querySelector("#gps");
    if (gps) gps.textContent = `GPS ${lastFix.lat.toFixed(5)}, ${lastFix.lon.toFixed(5)} ±${Math.round(p.coords.accuracy)} m`;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(fix)); else pending.push(fix);
    if (pending.length > 500) pending = pending.slice(-500);
  }, () => {}, { enableHighAccuracy: true, maximumAge: 5000 });
}

function stopTracking() { if (tracker !== null) navigator.geolocation.clearWatch(tracker); tracker = null; }

async function setDuty(on) {
  try { await api(`/api/v1/tracking/officers/${me.user.id}/duty`, { method: "PUT", body: { on_duty: on } }); } catch (e) { toast(errorText(e)); }
  localStorage.setItem("cityops.duty", on ? "1" : "0");
  if (on) startTracking(); else stopTracking();
  app.querySelector("#duty").textContent = on ? t("field.off_duty") : t("field.on_duty");
}

async function main() {
  await initI18n();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/field/sw.js", { scope: "/field" }).catch(() => {});
  me = await ensureLogin(app, { allowed: ["officer", "inspector"] });
  app.innerHTML = `<header class="topbar"><h1>${t("app.field")}</h1><span class="spacer"></span>
      <span>${escapeHtml(me.user.display_name)}</span><span id="lang-slot"></span><button class="secondary" id="logout">${t("logout")}</button></header>
    <div class="row"><button id="duty" class="bigbtn"></button></div>
    <div id="outbox" class="muted" role="status"></div><div id="failed"></div>
    <h2>${t("field.tasks")}</h2><div id="tasks"></div><div id="report"></div>`;
  app.querySelector("#lang-slot").append(languageSwitch());
  app.querySelector("#logout").addEventListener("click", () => { stopTracking(); clearSession(); location.reload(); });
  const onDuty = localStorage.getItem("cityops.duty") === "1";
  app.querySelector("#duty").textContent = onDuty ? t("field.off_duty") : t("field.on_duty");
  app.querySelector("#duty").addEventListener("click", () => setDuty(localStorage.getItem("cityops.duty") !== "1"));
  if (onDuty) startTracking();
  else navigator.geolocation?.getCurrentPosition((p) => { lastFix = { lat: p.coords.latitude, lon: p.coords.longitude }; }, () => {});
  reportForm();
  outbox.listeners.add(syncStatus);
  window.addEventListener("online", syncStatus); window.addEventListener("offline", syncStatus);
  await loadTasks(); syncStatus();
  setInterval(() => {
    for (const el of app.querySelectorAll("[data-case]")) {
      const c = tasks.find((x) => x.id === Number(el.dataset.case));
      const clock = c && (c.step_clock || c.case_clock);
      if (clock) { const rem = clockRemaining(clock, fetchedAt); const s = el.querySelector("[data-clock]"); s.textContent = countdown(rem); s.className = `countdown ${lightOf(clock, rem)}`; }
    }
  }, 1000);
  setInterval(() => { if (navigator.onLine) loadTasks(); }, 30000);
  window.cityopsField = { outbox, loadTasks };
}

main();
