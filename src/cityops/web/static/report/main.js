// Resident portal (公众随手拍): report with photo and map pin, follow by private link, rate after closure,
// and a public map of recent cases (anonymised by the server).
import { api, clearSession, errorText, saveSession, session } from "../common/api.js";
import { initI18n, languageSwitch, t } from "../common/i18n.js";
import { escapeHtml, when } from "../common/format.js";
import { upload } from "../common/tus.js";

const L = window.L;
const app = document.getElementById("app");
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
let config;

function header() {
  const s = session();
  app.innerHTML = `<header class="topbar"><h1>${t("app.portal")}</h1><span class="spacer"></span>
    ${s ? `<span>${escapeHtml(s.user.display_name)}</span><button class="secondary" id="logout">${t("logout")}</button>` : ""}
    <span id="lang-slot"></span></header><main id="view"></main>`;
  app.querySelector("#lang-slot").append(languageSwitch());
  app.querySelector("#logout")?.addEventListener("click", () => { clearSession(); location.hash = ""; route(); });
  return app.querySelector("#view");
}

function rateButtons(prefix) {
  return ["satisfied", "basically_satisfied", "dissatisfied"].map((s) => `<button class="secondary" data-rate="${s}" data-prefix="${prefix}">${t(`satisfaction.${s}`)}</button>`).join(" ");
}

async function followView(code) {
  const view = header();
  let c;
  try { c = await api(`/api/v1/public/follow/${encodeURIComponent(code)}`); } catch (e) { view.innerHTML = `<p class="error">${errorText(e)}</p>`; return; }
  view.innerHTML = `<div class="card" id="follow">
      <h3>${escapeHtml(c.title)} <span class="badge">${t(`status.${c.status}`)}</span></h3>
      <div class="muted">${t("report.code")} ${c.case_no} · ${when(c.created_at)}</div>
      ${c.address ? `<div>${escapeHtml(c.address)}</div>` : ""}
      <ol class="timeline">${c.timeline.map((e) => `<li>${t(`action.${e.action}`)} <span class="muted">${when(e.at)}</span></li>`).join("")}</ol>
      ${c.satisfaction ? `<p>${t("form.satisfaction")}: ${t(`satisfaction.${c.satisfaction}`)}</p>` : ""}
      ${c.can_rate ? `<p>${t("report.rate")}</p><div class="row">${rateButtons("follow")}</div><div class="error" role="alert"></div>` : ""}
    </div>`;
  view.querySelectorAll("[data-rate]").forEach((b) => b.addEventListener("click", async () => {
    try { await api(`/api/v1/public/follow/${encodeURIComponent(code)}/rating`, { method: "POST", body: { satisfaction: b.dataset.rate } }); followView(code); }
    catch (e) { view.querySelector(".error").textContent = errorText(e); }
  }));
}

function signInView(view) {
  view.insertAdjacentHTML("beforeend", `<div class="card"><h3>${t("login.title")} / ${t("report.register")}</h3>
    <form id="auth"><label>${t("login.username")}</label><input name="username" required autocomplete="username">
    <label>${t("login.password")}</label><input name="password" type="password" required minlength="8" autocomplete="current-password">
    <label>${t("report.display_name")}</label><input name="display_name">
    <div class="error" role="alert"></div>
    <div class="row"><button type="submit" name="mode" value="login">${t("login.submit")}</button>
    <button type="submit" class="secondary" name="mode" value="register">${t("report.register")}</button></div></form></div>
    <div class="card"><h3>${t("report.follow")}</h3><form id="follow-form" class="row"><input name="code" placeholder="${t("report.code")}" required><button>${t("report.follow")}</button></form></div>`);
  view.querySelector("#auth").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const mode = e.submitter?.value || "login";
    try {
      const body = { username: f.get("username"), password: f.get("password") };
      if (mode === "register") body.display_name = f.get("display_name") || f.get("username");
      saveSession(await api(`/api/v1/auth/${mode}`, { method: "POST", body }));
      route();
    } catch (ex) { e.target.querySelector(".error").textContent = errorText(ex); }
  });
  view.querySelector("#follow-form").addEventListener("submit", (e) => { e.preventDefault(); location.hash = `follow=${new FormData(e.target).get("code")}`; });
}

async function publicMap(view) {
  view.insertAdjacentHTML("beforeend", `<div class="card"><h3>${t("report.public_map")}</h3><div id="public-map" style="height:260px"></div></div>`);
  const map = L.map(view.querySelector("#public-map"), { maxZoom: 19 }).setView(config.center, config.zoom - 1);
  if (config.tile_url) L.tileLayer(config.tile_url, { attribution: config.tile_attribution }).addTo(map);
  const grids = await api("/api/v1/geo/layers/grid");
  const g = L.geoJSON(grids, { style: { color: "#7a8da3", weight: 1, fillOpacity: 0.03 } }).addTo(map);
  if (grids.features.length) map.fitBounds(g.getBounds());
  for (const c of await api("/api/v1/public/cases")) {
    L.circleMarker([c.lat, c.lon], { radius: 6, color: "#fff", weight: 1, fillOpacity: 0.9, fillColor: c.state === "closed" ? "#2fbf71" : "#f0524f" })
      .bindTooltip(`${escapeHtml(c.title)} · ${c.created_on}`).addTo(map);
  }
}

async function reportView(view) {
  const cats = (await api("/api/v1/catalog/categories?edition=GB/T 47678.5-2026")).filter((c) => c.level === "subclass");
  view.insertAdjacentHTML("beforeend", `<form class="card" id="report-form">
    <h3>${t("report.title")}</h3>
    <label>${t("report.photo")}</label><input type="file" name="photo" accept="image/*,video/*" capture="environment">
    <div class="progress" hidden><div></div></div><div class="muted" id="progress-text"></div>
    <label>${t("report.where")}</label><div id="pin-map" style="height:240px"></div>
    <button type="button" class="secondary bigbtn" id="locate">${t("report.locate")}</button>
    <label>${t("report.description")}</label><textarea name="description" rows="2" maxlength="4000"></textarea>
    <div class="row" id="suggest"></div>
    <label>${t("report.category")}</label><select name="category" required>${cats.map((c) => `<option value="${c.kind}:${c.code}">${escapeHtml(c.name)}</option>`).join("")}</select>
    <label>${t("report.phone")}</label><input name="phone" inputmode="tel" pattern="[0-9+\\- ]{3,32}">
    <div class="error" role="alert"></div>
    <button type="submit" class="bigbtn">${t("report.submit")}</button></form>
    <div id="result"></div><div class="card"><h3>${t("report.mine")}</h3><div id="mine"></div></div>`);
  const form = view.querySelector("#report-form");
  const map = L.map(view.querySelector("#pin-map"), { maxZoom: 19 }).setView(config.center, config.zoom);
  if (config.tile_url) L.tileLayer(config.tile_url, { attribution: config.tile_attribution }).addTo(map);
  const grids = await api("/api/v1/geo/layers/grid");
  const gl = L.geoJSON(grids, { style: { color: "#7a8da3", weight: 1, fillOpacity: 0.03 } }).addTo(map);
  if (grids.features.length) map.fitBounds(gl.getBounds());
  let pin = null;
  const place = (lat, lon) => { if (pin) pin.setLatLng([lat, lon]); else pin = L.marker([lat, lon]).addTo(map); map.panTo([lat, lon]); };
  map.on("click", (e) => place(e.latlng.lat, e.latlng.lng));
  view.querySelector("#locate").addEventListener("click", () => navigator.geolocation.getCurrentPosition(
    (p) => place(p.coords.latitude, p.coords.longitude), (err) => { form.querySelector(".error").textContent = err.message; }, { enableHighAccuracy: true, timeout: 10000 }));
  form.description.addEventListener("input", () => {
    const text = form.description.value;
    const hits = cats.filter((c) => text.includes(c.name) || c.keywords.some((k) => k && text.includes(k))).slice(0, 3);
    view.querySelector("#suggest").innerHTML = hits.map((c) => `<button type="button" class="secondary" data-cat="${c.kind}:${c.code}">${t("report.suggest")}: ${escapeHtml(c.name)}</button>`).join("");
    view.querySelectorAll("[data-cat]").forEach((b) => b.addEventListener("click", () => { form.category.value = b.dataset.cat; }));
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = form.querySelector(".error");
    err.textContent = "";
    if (!pin) { err.textContent = t("report.where"); return; }
    const [kind, code] = form.category.value.split(":");
    const { lat, lng } = pin.getLatLng();
    const key = form.dataset.key || (form.dataset.key = uuid());
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const body = { lat, lon: lng, category_code: code, category_kind: kind, description: form.description.value };
      if (form.phone.value) body.reporter_phone = form.phone.value;
      const c = await api("/api/v1/cases", { method: "POST", body, headers: { "Idempotency-Key": key } });
      const file = form.photo.files[0];
      if (file) {
        const bar = form.querySelector(".progress"); bar.hidden = false;
        const id = await upload(file, { onProgress: (sent, total) => {
          const pct = total ? Math.round((sent / total) * 100) : 100;
          bar.firstElementChild.style.width = `${pct}%`;
          view.querySelector("#progress-text").textContent = t("upload.progress", { pct });
        } });
        await api(`/api/v1/cases/${c.id}/evidence`, { method: "POST", body: { upload_id: id, role: "resident_photo", lat, lon: lng, device_time: new Date().toISOString() } });
      }
      const link = `${location.origin}/report#follow=${c.follow_code}`;
      view.querySelector("#result").innerHTML = `<div class="card" id="sent"><p>${t("report.sent", { no: c.case_no })}</p><a href="${link}">${escapeHtml(link)}</a></div>`;
      form.reset(); delete form.dataset.key;
      mine(view);
    } catch (ex) {
      err.textContent = errorText(ex);
    } finally { submit.disabled = false; }
  });
  mine(view);
}

async function mine(view) {
  const box = view.querySelector("#mine");
  const page = await api("/api/v1/cases?page_size=20");
  box.innerHTML = page.items.map((c) => `<div class="card" data-case="${c.id}"><strong>${escapeHtml(c.title)}</strong> <span class="badge">${t(`status.${c.status}`)}</span>
    <div class="muted">${c.case_no} · ${when(c.created_at)}</div>
    ${c.allowed_actions.includes("evaluate") ? `<div class="row">${rateButtons(c.id)}</div>` : ""}
    ${c.follow_code ? `<a href="#follow=${c.follow_code}">${t("report.follow")}</a>` : ""}</div>`).join("") || `<p class="muted">—</p>`;
  box.querySelectorAll("[data-rate]").forEach((b) => b.addEventListener("click", async () => {
    await api(`/api/v1/cases/${b.dataset.prefix}/actions`, { method: "POST", body: { action: "evaluate", satisfaction: b.dataset.rate } });
    mine(view);
  }));
}

async function route() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("follow")) { followView(hash.get("follow")); return; }
  const view = header();
  if (!session()) { signInView(view); await publicMap(view); return; }
  await reportView(view);
}

async function main() {
  await initI18n();
  config = await api("/api/v1/ui/config");
  window.addEventListener("hashchange", route);
  route();
}

main();
