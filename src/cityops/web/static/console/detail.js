// Case detail: facts, clocks, timeline, evidence, and a form for every action the caller's role allows.
import { api, errorText } from "../common/api.js";
import { language, t } from "../common/i18n.js";
import { clockRemaining, countdown, escapeHtml, lightOf, toast, when } from "../common/format.js";

const MEASURES = ["on_the_spot_fix", "rectification_order", "warning", "fine", "confiscation", "referral", "other"];
const KINDS = ["return", "extend", "suspend", "void"];
const SATISFACTION = ["satisfied", "basically_satisfied", "dissatisfied"];

const options = (values, label, selected) => values.map((v) => `<option value="${escapeHtml(v.value ?? v)}" ${String(v.value ?? v) === String(selected) ? "selected" : ""}>${escapeHtml(label(v))}</option>`).join("");

export class Detail {
  constructor(el, { map, onChange }) {
    this.el = el; this.map = map; this.onChange = onChange; this.caseId = null;
    this.cache = {};
  }

  async lookup(key, path) {
    if (!this.cache[key]) this.cache[key] = api(path).catch(() => []);
    return this.cache[key];
  }

  refreshIf(id) { if (this.caseId === id) this.open(id, { keepForm: true }); }

  async open(id, { keepForm = false } = {}) {
    this.caseId = id;
    let c;
    try { c = await api(`/api/v1/cases/${id}`); } catch (e) { toast(errorText(e)); return; }
    if (keepForm && this.el.querySelector(".form")) return; // do not wipe a form being filled in
    this.c = c; this.fetchedAt = Date.now();
    const depts = await this.lookup("departments", "/api/v1/departments");
    const dept = depts.find((d) => d.id === c.department_id);
    const clock = (k, label) => {
      if (!k) return "";
      const rem = clockRemaining(k, this.fetchedAt);
      return `<dt>${label}</dt><dd><span class="badge light-${lightOf(k, rem)}">${k.light === "paused" ? t("clock.paused") : countdown(rem)}</span> <span class="muted">${k.name !== "case" ? t(`step.${k.name}`) + " · " : ""}${when(k.due_at)}</span></dd>`;
    };
    this.el.hidden = false;
    this.el.innerHTML = `
      <h3>${escapeHtml(c.title)} <span class="badge">${t(`status.${c.status}`)}</span></h3>
      <div class="muted">${c.case_no} · ${t(`channel.${c.channel}`)}</div>
      <dl>
        <dt>${t("detail.category")}</dt><dd>${escapeHtml(c.category_code || "—")} ${escapeHtml(categoryName(c.category_name, c.category_name_en))}</dd>
        <dt>${t("detail.address")}</dt><dd>${escapeHtml(c.address || `${c.lat.toFixed(5)}, ${c.lon.toFixed(5)}`)}</dd>
        <dt>${t("detail.grid")}</dt><dd>${escapeHtml([c.street, c.community, c.grid].filter(Boolean).join(" / ") || "—")}</dd>
        <dt>${t("detail.department")}</dt><dd>${escapeHtml(dept ? dept.name : "—")}</dd>
        <dt>${t("detail.reporter")}</dt><dd>${escapeHtml(c.reporter_name || "—")} ${escapeHtml(c.reporter_phone || "")}</dd>
        <dt>${t("detail.created")}</dt><dd>${when(c.created_at)}</dd>
        ${clock(c.step_clock, t("clock.step"))}${clock(c.case_clock, t("clock.case"))}
      </dl>
      ${c.description ? `<p>${escapeHtml(c.description)}</p>` : ""}
      <div class="actions">${c.allowed_actions.map((a) => `<button data-action="${a}" class="${a === "void" || a === "reject" ? "danger" : a === "escalate" ? "secondary" : ""}">${t(`action.${a}`)}</button>`).join("")}</div>
      <div id="action-form"></div>
      <h4>${t("detail.evidence")}</h4><div class="gallery" id="gallery"></div>
      <h4>${t("detail.timeline")}</h4>
      <ol class="timeline">${c.timeline.map((e) => `<li><strong>${t(`action.${e.action}`)}</strong> → ${t(`status.${e.to_status}`)} <span class="muted">${when(e.at)} ${escapeHtml(e.actor_name || "")}</span>${e.note ? `<div>${escapeHtml(e.note)}</div>` : ""}${e.data && e.data.far_from_case ? `<div class="error">⚠ ${Math.round(e.data.distance_m)} m</div>` : ""}</li>`).join("")}</ol>`;
    this.el.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", () => this.form(b.dataset.action)));
    this.map.focus(c.lat, c.lon);
    this.loadEvidence(c);
    this.onChange(c);
  }

  async loadEvidence(c) {
    const gallery = this.el.querySelector("#gallery");
    try {
      const page = await api(`/api/v1/cases/${c.id}/evidence`);
      // Images need the token, so they are fetched as blobs (an <img src> cannot send the Authorization header).
      const thumbs = await Promise.all(page.items.map(async (e) => {
        const d = e.derivatives.find((x) => x.kind === "thumb" || x.kind === "poster") || e.derivatives[0];
        if (!d) return "";
        const r = await api(d.url, { raw: true });
        const src = r.ok ? URL.createObjectURL(await r.blob()) : "";
        return `<figure data-evidence="${e.id}" title="${escapeHtml(e.role)}${e.flags?.length ? " ⚠ " + escapeHtml(e.flags.join(", ")) : ""}"><img alt="${escapeHtml(e.role)}" src="${src}"><figcaption class="muted">${escapeHtml(e.role)}</figcaption></figure>`;
      }));
      gallery.innerHTML = thumbs.join("") || `<span class="muted">—</span>`;
    } catch { gallery.innerHTML = `<span class="muted">—</span>`; }
  }

  async form(action) {
    const c = this.c;
    const box = this.el.querySelector("#action-form");
    let fields = "";
    if (action === "send_verify") {
      const inspectors = await this.lookup("inspectors", "/api/v1/users?role=inspector");
      fields = `<label>${t("form.inspector")}</label><select name="inspector_id">${options(inspectors.map((u) => ({ value: u.id, name: u.display_name })), (u) => u.name)}</select>`;
    } else if (action === "verify") {
      fields = `<label><input type="checkbox" name="confirmed" checked> ${t("form.confirmed")}</label>`;
    } else if (action === "file") {
      const cats = (await this.lookup("categories", "/api/v1/catalog/categories")).filter((x) => x.level === "subclass" && x.edition === "GB/T 47678.5-2026");
      fields = `<label>${t("form.category")}</label><select name="category_code">${options(cats.map((x) => ({ value: `${x.kind}:${x.code}`, label: `${x.code} ${categoryName(x.name, x.name_en)}` })), (x) => x.label, c.category_code ? `event:${c.category_code}` : "")}</select>`;
    } else if (action === "dispatch" || action === "assign") {
      const depts = await this.lookup("departments", "/api/v1/departments");
      const officers = await this.lookup("officers", "/api/v1/users?role=officer");
      fields = action === "dispatch" ? `<label>${t("form.department")}</label><select name="department_id">${options(depts.map((d) => ({ value: d.id, label: d.name })), (d) => d.label)}</select>` : "";
      fields += `<label>${t("form.officer")}</label><select name="officer_id"><option value="">—</option>${options(officers.filter((o) => action === "dispatch" || o.department_id === c.department_id).map((o) => ({ value: o.id, label: o.display_name, dept: o.department_id })), (o) => o.label)}</select>`;
      if (action === "dispatch") fields += `<div id="reco"></div>`;
    } else if (action === "handle") {
      fields = `<label>${t("form.measure")}</label><select name="measure">${options(MEASURES, (m) => t(`measure.${m}`))}</select>
        <label>¥</label><input name="fine_amount" type="number" min="0" step="1">`;
    } else if (action === "check") {
      fields = `<label><input type="checkbox" name="passed" checked> ${t("form.passed")}</label>`;
    } else if (action === "evaluate") {
      fields = `<label>${t("form.satisfaction")}</label><select name="satisfaction">${options(SATISFACTION, (s) => t(`satisfaction.${s}`))}</select>`;
    } else if (action === "request") {
      fields = `<label>${t("form.kind")}</label><select name="kind">${options(KINDS, (k) => t(`kind.${k}`))}</select>
        <label>${t("form.reason")}</label><input name="reason" required>
        <label>${t("form.extra")}</label><input name="extra_value" type="number" min="0.5" step="0.5">`;
    }
    box.innerHTML = `<form class="form" data-form="${action}"><strong>${t(`action.${action}`)}</strong>${fields}
      <label>${t("form.note")}</label><textarea name="note" rows="2"></textarea>
      <div class="error" role="alert"></div>
      <div class="row"><button type="submit">${t("form.submit")}</button><button type="button" class="secondary" data-cancel>${t("form.cancel")}</button></div></form>`;
    const form = box.querySelector("form");
    form.querySelector("[data-cancel]").addEventListener("click", () => { box.innerHTML = ""; });
    form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(action, form); });
    if (action === "dispatch") this.recommend(form);
  }

  async recommend(form) {
    const slot = form.querySelector("#reco");
    let recs;
    try { recs = await api(`/api/v1/tracking/cases/${this.c.id}/recommendations?limit=5`); } catch { return; }
    const items = recs.officers || [];
    if (!items.length) return;
    slot.innerHTML = `<label>${t("dispatch.recommended")}</label><ul class="reco">${items.map((r) => `
      <li><span>${escapeHtml(r.display_name)} · ${t("dispatch.eta", { min: Math.round(r.eta_minutes) })}
      <span class="${r.makes_deadline ? "status-online" : "status-offline"}">${r.makes_deadline ? t("dispatch.makes_it") : t("dispatch.late")}</span></span>
      <button type="button" data-officer="${r.officer_id}">${t("dispatch.one_click")}</button></li>`).join("")}</ul>`;
    slot.querySelectorAll("[data-officer]").forEach((b) => b.addEventListener("click", async () => {
      try {
        await api(`/api/v1/tracking/cases/${this.c.id}/dispatch`, { method: "POST", body: { officer_id: Number(b.dataset.officer), expected_version: this.c.version } });
        toast(`${t("action.dispatch")} ✓`);
        this.open(this.c.id);
      } catch (e) { form.querySelector(".error").textContent = errorText(e); }
    }));
  }

  async submit(action, form) {
    const f = new FormData(form);
    const body = { action, expected_version: this.c.version };
    const note = f.get("note"); if (note) body.note = note;
    for (const k of ["inspector_id", "department_id", "officer_id"]) if (f.get(k)) body[k] = Number(f.get(k));
    if (action === "verify") body.confirmed = f.get("confirmed") === "on";
    if (action === "check") body.passed = f.get("passed") === "on";
    if (action === "file" && f.get("category_code")) { const [kind, code] = f.get("category_code").split(":"); body.category_code = code; body.category_kind = kind; }
    if (action === "handle") { body.handling = { measure: f.get("measure") }; if (f.get("fine_amount")) body.handling.fine_amount = Number(f.get("fine_amount")); }
    if (action === "evaluate") body.satisfaction = f.get("satisfaction");
    if (action === "request") { body.kind = f.get("kind"); body.reason = f.get("reason"); if (f.get("extra_value")) { body.extra_value = Number(f.get("extra_value")); body.extra_unit = "urgent_hours"; } }
    try {
      await api(`/api/v1/cases/${this.c.id}/actions`, { method: "POST", body });
      toast(`${t(`action.${action}`)} ✓`);
      this.open(this.c.id);
    } catch (e) {
      form.querySelector(".error").textContent = errorText(e);
    }
  }
}

// The catalog's English name in the English UI, where it has one; the standard's Chinese name otherwise.
function categoryName(zh, en) { return (language() === "en" && en) || zh || ""; }
