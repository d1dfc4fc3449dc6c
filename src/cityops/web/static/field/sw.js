// Service worker of the field app: the app shell is cached so the app opens without network; API calls are never
// cached (the outbox handles offline writes, lists show what was last loaded).
const SHELL = "cityops-field-v1";
const FILES = [
  "/field", "/static/common/style.css", "/static/common/api.js", "/static/common/i18n.js", "/static/common/format.js",
  "/static/common/login.js", "/static/common/tus.js", "/static/field/main.js", "/static/field/outbox.js",
  "/static/i18n/zh-CN.json", "/static/i18n/en.json", "/static/common/icon.svg", "/static/field/manifest.webmanifest",
];

self.addEventListener("install", (e) => e.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting())));
self.addEventListener("activate", (e) => e.waitUntil(
  caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k)))).then(() => self.clients.claim())));
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.pathname.startsWith("/api/")) return;
  // Network first so an update arrives at once; the cache when offline.
  e.respondWith(fetch(e.request).then((r) => {
    const copy = r.clone();
    caches.open(SHELL).then((c) => c.put(e.request, copy));
    return r;
  }).catch(() => caches.match(e.request, { ignoreSearch: true })));
});
