// The case queue: open cases sorted by urgency (red, then yellow, then least time left), with ticking countdowns.
import { t } from "../common/i18n.js";
import { clockRemaining, countdown, escapeHtml, lightOf } from "../common/format.js";

const CLOSED = new Set(["closed", "evaluated", "voided"]);
const RANK = { red: 0, yellow: 1, green: 2, paused: 3, none: 4 };

function urgentClock(c) {
  // The clock that runs out first decides the colour in the queue.
  const clocks = [c.step_clock, c.case_clock].filter(Boolean);
  let best = null;
  for (const k of clocks) {
    const rem = clockRemaining(k, c._fetchedAt);
    if (best === null || (rem !== null && rem < best.rem)) best = { clock: k, rem };
  }
  return best;
}

export class Queue {
  constructor(list, count, alerts, { onSelect, onRender }) {
    this.list = list; this.count = count; this.alertsEl = alerts;
    this.onSelect = onSelect; this.onRender = onRender;
    this.cases = new Map(); this.alerts = new Map(); this.selected = null;
  }

  replace(items) {
    this.cases.clear();
    const now = Date.now();
    for (const c of items) this.cases.set(c.id, { ...c, _fetchedAt: now });
    this.render();
  }

  upsert(c) {
    if (CLOSED.has(c.status)) this.cases.delete(c.id);
    else this.cases.set(c.id, { ...c, _fetchedAt: Date.now() });
    this.render();
  }

  remove(id) { this.cases.delete(id); this.render(); }

  setAlerts(items) {
    this.alerts.clear();
    for (const c of items) this.alerts.set(`case:${c.id}`, { kind: c.escalation_level > 0 ? "escalated" : "overdue", id: c.id, text: `${c.case_no} ${c.title}` });
    this.renderAlerts();
  }

  addAlert(ev) {
    if (ev.case) {
      this.alerts.set(`case:${ev.case_id}`, { kind: "escalated", id: ev.case_id, text: `${ev.case.case_no} ${ev.case.title}` });
    } else {
      const kind = ev.type === "position.alarm" || ev.alarm === "sos" ? "sos" : ev.type?.includes("offline") ? "offline" : "escalated";
      this.alerts.set(`${ev.type}:${ev.device_id ?? ev.officer_id ?? ev.case_id}`, { kind, id: ev.case_id, text: ev.name || ev.officer_name || ev.device_name || "" });
    }
    this.renderAlerts();
  }

  renderAlerts() {
    this.alertsEl.innerHTML = [...this.alerts.values()].map((a) =>
      `<span class="alert" data-id="${a.id ?? ""}">⚠ ${t(`alerts.${a.kind}`)} · ${escapeHtml(a.text)}</span>`).join("");
    this.alertsEl.querySelectorAll(".alert").forEach((el) => el.addEventListener("click", () => el.dataset.id && this.onSelect(Number(el.dataset.id))));
  }

  sorted() {
    return [...this.cases.values()].map((c) => {
      const u = urgentClock(c);
      return { c, light: u ? lightOf(u.clock, u.rem) : "none", rem: u ? u.rem : Infinity };
    }).sort((a, b) => (RANK[a.light] - RANK[b.light]) || (a.rem - b.rem) || (b.c.id - a.c.id));
  }

  render() {
    const rows = this.sorted();
    this.count.textContent = rows.length;
    this.list.innerHTML = rows.length ? "" : `<li class="muted">${t("queue.empty")}</li>`;
    for (const { c, light, rem } of rows) {
      const li = document.createElement("li");
      li.className = `${light}${this.selected === c.id ? " selected" : ""}`;
      li.dataset.caseId = c.id;
      li.innerHTML = `
        <span><strong>${escapeHtml(c.title)}</strong> <span class="badge">${t(`status.${c.status}`)}</span></span>
        <span class="countdown ${light}" data-countdown>${countdown(rem === Infinity ? null : rem)}</span>
        <span class="no">${c.case_no} · ${escapeHtml(c.grid || c.address || "")}</span>
        <span class="muted">${c.step_clock ? t(`step.${c.step_clock.name}`) : ""}</span>`;
      li.addEventListener("click", () => { this.selected = c.id; this.onSelect(c.id); this.render(); });
      this.list.append(li);
    }
    this.onRender([...this.cases.values()]);
  }

  tick() {
    for (const li of this.list.querySelectorAll("li[data-case-id]")) {
      const c = this.cases.get(Number(li.dataset.caseId));
      if (!c) continue;
      const u = urgentClock(c);
      const el = li.querySelector("[data-countdown]");
      if (u && el) {
        const light = lightOf(u.clock, u.rem);
        el.textContent = countdown(u.rem);
        el.className = `countdown ${light}`;
        li.className = `${light}${this.selected === c.id ? " selected" : ""}`;
      }
    }
  }
}
