// Message catalogues: one JSON file per language; zh-CN by default, English on request (?lang=en or the switch).
const SUPPORTED = ["zh-CN", "en"];
let messages = {};
let current = "zh-CN";

export function language() { return current; }

export async function initI18n() {
  const asked = new URLSearchParams(location.search).get("lang") || localStorage.getItem("cityops.lang") || "zh-CN";
  current = SUPPORTED.includes(asked) ? asked : "zh-CN";
  const r = await fetch(`/static/i18n/${current}.json`);
  messages = await r.json();
  document.documentElement.lang = current;
  translateDom(document);
}

export function setLanguage(lang) {
  localStorage.setItem("cityops.lang", lang);
  const url = new URL(location.href);
  url.searchParams.delete("lang");
  location.replace(url.toString());
}

/** t("status.filed") → "已立案"; {name} placeholders are filled from vars. Unknown keys show the key itself. */
export function t(key, vars = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? `{${k}}`));
}

/** Elements with data-i18n="key" get their text; data-i18n-placeholder / data-i18n-title likewise. */
export function translateDom(root) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
}

export function languageSwitch() {
  const sel = document.createElement("select");
  sel.id = "lang";
  sel.setAttribute("aria-label", "language");
  for (const [code, label] of [["zh-CN", "中文"], ["en", "English"]]) {
    const o = document.createElement("option");
    o.value = code; o.textContent = label; o.selected = code === current;
    sel.append(o);
  }
  sel.addEventListener("change", () => setLanguage(sel.value));
  return sel;
}
