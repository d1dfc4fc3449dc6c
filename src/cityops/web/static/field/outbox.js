// Offline-first outbox (IndexedDB). Every action, report and photo is queued with an idempotency key and sent in
// order when the network allows; a retry after a lost answer is harmless because the server honours the key.
import { api, ApiError } from "../common/api.js";
import { upload } from "../common/tus.js";

const DB = "cityops-field";
const STORE = "outbox";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(out && "result" in out ? out.result : out);
    t.onerror = () => reject(t.error);
  });
}

const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

export const outbox = {
  listeners: new Set(),
  busy: false,

  async all() { return (await tx("readonly", (s) => s.getAll())) || []; },

  async add(item) {
    const entry = { key: uuid(), created: Date.now(), state: "queued", ...item };
    await tx("readwrite", (s) => s.add(entry));
    this.changed();
    this.flush();
  },

  /** Queue a move of a case (accept, arrive, handle, feed_back …). */
  action(caseId, body) { return this.add({ kind: "action", caseId, body }); },
  /** Queue a new report; `ref` lets photos queued with it find the case once it exists. */
  report(ref, body) { return this.add({ kind: "report", ref, body }); },
  /** Queue a photo/video for a case (by id, or by the ref of a queued report). */
  evidence(target, file, role, meta = {}) { return this.add({ kind: "evidence", target, file, role, meta }); },

  async remove(id) { await tx("readwrite", (s) => s.delete(id)); },
  async put(entry) { await tx("readwrite", (s) => s.put(entry)); },

  changed() { for (const fn of this.listeners) fn(); },

  async flush(onProgress) {
    if (this.busy || !navigator.onLine) return;
    this.busy = true;
    try {
      const refs = JSON.parse(localStorage.getItem("cityops.refs") || "{}");
      for (const e of await this.all()) {
        if (e.state === "failed") continue;
        try {
          if (e.kind === "action") {
            await api(`/api/v1/cases/${e.caseId}/actions`, { method: "POST", body: e.body, headers: { "Idempotency-Key": e.key } });
          } else if (e.kind === "report") {
            const c = await api("/api/v1/cases", { method: "POST", body: e.body, headers: { "Idempotency-Key": e.key } });
            refs[e.ref] = c.id;
            localStorage.setItem("cityops.refs", JSON.stringify(refs));
          } else if (e.kind === "evidence") {
            const caseId = typeof e.target === "number" ? e.target : refs[e.target];
            if (!caseId) continue; // its report has not been sent yet
            const id = await upload(e.file, { key: `cityops.tus:${e.key}`, onProgress: (sent, total) => onProgress?.(e, sent, total) });
            await api(`/api/v1/cases/${caseId}/evidence`, { method: "POST", body: { upload_id: id, role: e.role, ...e.meta } });
          }
          await this.remove(e.id);
        } catch (err) {
          if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 408 && err.status !== 429) {
            // The server said no (e.g. the case moved on): keep it visible with the reason, do not retry forever.
            await this.put({ ...e, state: "failed", error: err.message });
          } else {
            break; // offline or server trouble: try again later, in order
          }
        }
        this.changed();
      }
    } finally {
      this.busy = false;
      this.changed();
    }
  },
};

window.addEventListener("online", () => outbox.flush());
setInterval(() => outbox.flush(), 15000);
