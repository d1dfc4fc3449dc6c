// A small tus 1.0.0 client (creation, resume via HEAD, chunked PATCH) for photos and videos from the browser.
// The upload URL is remembered per file, so a reload or a dropped connection resumes instead of starting over.
import { session } from "./api.js";

const CHUNK = 1024 * 1024;
const b64 = (s) => btoa(unescape(encodeURIComponent(s)));

function headers(extra = {}) {
  const h = { "Tus-Resumable": "1.0.0", ...extra };
  const s = session();
  if (s) h.Authorization = `Bearer ${s.access_token}`;
  return h;
}

function fingerprint(file) { return `cityops.tus:${file.name}:${file.size}:${file.lastModified || 0}`; }

async function offsetOf(url) {
  const r = await fetch(url, { method: "HEAD", headers: headers() });
  if (!r.ok) return null;
  return Number(r.headers.get("Upload-Offset"));
}

/** Upload a File/Blob; onProgress(sent, total). Resolves to the upload id for attaching to a case. */
export async function upload(file, { onProgress = () => {}, endpoint = "/api/v1/uploads", key } = {}) {
  const fp = key || fingerprint(file);
  let url = localStorage.getItem(fp);
  let offset = url ? await offsetOf(url) : null;
  if (offset === null) {
    const r = await fetch(endpoint, {
      method: "POST",
      headers: headers({ "Upload-Length": String(file.size), "Upload-Metadata": `filename ${b64(file.name || "photo.jpg")},filetype ${b64(file.type || "application/octet-stream")}` }),
    });
    if (r.status !== 201) throw new Error(await errorOf(r));
    url = new URL(r.headers.get("Location"), location.origin).pathname;
    localStorage.setItem(fp, url);
    offset = 0;
  }
  onProgress(offset, file.size);
  while (offset < file.size) {
    const chunk = file.slice(offset, offset + CHUNK);
    const r = await fetch(url, {
      method: "PATCH",
      headers: headers({ "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" }),
      body: chunk,
    });
    if (r.status === 409) { offset = await offsetOf(url); continue; } // the server has a different offset: follow it
    if (r.status !== 204) throw new Error(await errorOf(r));
    offset = Number(r.headers.get("Upload-Offset"));
    onProgress(offset, file.size);
  }
  localStorage.removeItem(fp);
  return url.split("/").pop();
}

async function errorOf(r) {
  try { const j = await r.json(); return j.error?.message || `HTTP ${r.status}`; } catch { return `HTTP ${r.status}`; }
}
