// Live channel: authenticate, subscribe, apply snapshot then events; reconnect with `since` to resume.
// Under load the server coalesces messages into {"type": "batch", "messages": [...]} frames.
import { session } from "./api.js";

export class Live {
  constructor(topics, handlers) {
    this.topics = topics;
    this.handlers = handlers; // { snapshot(topic, items), event(topic, ev), status(state) }
    this.seq = null;
    this.backoff = 500;
    this.closed = false;
  }

  start() { this.connect(); return this; }

  stop() { this.closed = true; if (this.ws) this.ws.close(); }

  connect() {
    const s = session();
    if (!s || this.closed) return;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/api/v1/ws`);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: s.access_token }));
    ws.onmessage = (m) => this.receive(JSON.parse(m.data));
    ws.onclose = () => {
      this.handlers.status?.("offline");
      if (this.closed) return;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    };
  }

  receive(m) {
    if (m.type === "batch") { for (const one of m.messages) this.receive(one); return; }
    if (m.type === "ready") {
      this.backoff = 500;
      this.handlers.status?.("online");
      const sub = { type: "subscribe", topics: this.topics };
      if (this.seq !== null) sub.since = this.seq;
      this.ws.send(JSON.stringify(sub));
    } else if (m.type === "snapshot") {
      this.seq = Math.max(this.seq ?? 0, m.seq);
      this.handlers.snapshot?.(m.topic, m.items);
    } else if (m.type === "event") {
      if (this.seq !== null && m.seq <= this.seq) return; // already in the snapshot or replayed
      this.seq = m.seq;
      this.handlers.event?.(m.topic, m.event);
    } else if (m.type === "resync") {
      this.seq = m.seq;
    } else if (m.type === "error") {
      this.handlers.error?.(m);
    }
  }
}
