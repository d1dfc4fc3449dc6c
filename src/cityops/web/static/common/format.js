// Countdowns and times. The server sends remaining seconds of countable time; between refreshes the display
// counts down with the wall clock (exact for continuous units, close enough inside office hours).
import { t, language } from "./i18n.js";

export function clockRemaining(clock, fetchedAt) {
  if (!clock || clock.remaining_seconds === null || clock.remaining_seconds === undefined) return null;
  if (clock.light === "paused") return clock.remaining_seconds;
  return clock.remaining_seconds - (Date.now() - fetchedAt) / 1000;
}

export function lightOf(clock, remaining) {
  if (!clock) return "none";
  if (clock.light === "paused") return "paused";
  if (remaining !== null && remaining <= 0) return "red";
  return clock.light;
}

export function countdown(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const neg = seconds < 0;
  let s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (n) => String(n).padStart(2, "0");
  const body = d ? `${d}${t("unit.day")} ${pad(h)}:${pad(m)}` : `${pad(h)}:${pad(m)}:${pad(s)}`;
  return neg ? `${t("clock.overdue")} ${body}` : body;
}

export function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(language() === "en" ? "en-GB" : "zh-CN", { hour12: false });
}

export function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

export function toast(message, ms = 3500) {
  const el = document.createElement("div");
  el.className = "toast";
  el.setAttribute("role", "status");
  el.textContent = message;
  document.body.append(el);
  setTimeout(() => el.remove(), ms);
}
