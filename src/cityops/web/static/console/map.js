// The district map: our own grids and road segments (works without tiles), cases by deadline colour, officers.
import { api } from "../common/api.js";
import { t } from "../common/i18n.js";
import { projector } from "../common/coords.js";
import { escapeHtml } from "../common/format.js";

const L = window.L;
const COLORS = { green: "#2fbf71", yellow: "#f2c230", red: "#f0524f", paused: "#7b8794", none: "#3aa0ff" };
const OFFICER_COLORS = { available: "#2fbf71", assigned: "#3aa0ff", en_route: "#f2c230", on_scene: "#b07cff", busy: "#f08a4f", off_duty: "#7b8794", offline: "#555" };

export class CaseMap {
  constructor(el, config) {
    this.p = projector(config.tile_crs);
    this.map = L.map(el, { zoomControl: true, preferCanvas: true, maxZoom: 19 }).setView(config.center, config.zoom);
    this.tiles = config.tile_url ? L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }) : null;
    if (this.tiles) this.tiles.addTo(this.map);
    this.grids = L.geoJSON(null, { style: { color: "#3a5875", weight: 1, fillOpacity: 0.04 }, coordsToLatLng: (c) => L.latLng(...this.p.toMap(c[1], c[0])), onEachFeature: (f, l) => l.bindTooltip(escapeHtml(f.properties.name)) });
    this.roads = L.geoJSON(null, { style: { color: "#5b7a99", weight: 3, opacity: 0.7 }, coordsToLatLng: (c) => L.latLng(...this.p.toMap(c[1], c[0])), onEachFeature: (f, l) => l.bindTooltip(escapeHtml(f.properties.name)) });
    this.cases = L.markerClusterGroup ? L.markerClusterGroup({ maxClusterRadius: 30 }) : L.layerGroup();
    this.officers = L.layerGroup();
    this.officerMarkers = new Map();
    const overlays = { [t("layer.grids")]: this.grids, [t("layer.roads")]: this.roads, [t("layer.cases")]: this.cases, [t("layer.officers")]: this.officers };
    for (const layer of Object.values(overlays)) layer.addTo(this.map);
    this.extra = overlays;
    this.control = L.control.layers(null, overlays, { collapsed: true }).addTo(this.map);
    // The grid layout settles after Leaflet measured the container: re-measure whenever it changes size.
    new ResizeObserver(() => {
      this.map.invalidateSize();
      if (!this.fitted && this.grids.getLayers().length) { this.map.fitBounds(this.grids.getBounds(), { padding: [10, 10] }); this.fitted = true; }
    }).observe(el);
  }

  addOverlay(name, layer) { layer.addTo(this.map); this.control.addOverlay(layer, name); }

  async loadLayers() {
    const [grids, roads] = await Promise.all([api("/api/v1/geo/layers/grid"), api("/api/v1/geo/layers/road")]);
    this.grids.addData(grids);
    this.roads.addData(roads);
    this.loadSegmentState();
    if (grids.features.length) this.map.fitBounds(this.grids.getBounds(), { padding: [10, 10] });
  }

  /** 路段治理状态: red = overdue cases on the segment, orange = open cases, grey = not patrolled lately. */
  async loadSegmentState() {
    let fc;
    try { fc = await api("/api/v1/tracking/road-segments/state"); } catch { return; }
    const colour = (p) => (p.overdue_cases > 0 ? "#f0524f" : p.open_cases > 0 ? "#f08a4f" : p.state === "ok" ? "#2fbf71" : "#7b8794");
    if (this.segments) this.segments.clearLayers();
    else { this.segments = L.geoJSON(null, { coordsToLatLng: (c) => L.latLng(...this.p.toMap(c[1], c[0])) }); this.addOverlay(t("layer.segments"), this.segments); }
    this.segments.options.style = (f) => ({ color: colour(f.properties), weight: 5, opacity: 0.85 });
    this.segments.options.onEachFeature = (f, l) => l.bindTooltip(`${escapeHtml(f.properties.name)} · ${t("segment.open", { n: f.properties.open_cases ?? 0 })} · ${t("segment.overdue", { n: f.properties.overdue_cases ?? 0 })}`);
    this.segments.addData(fc);
  }

  /** Draw an officer's track and return a function that puts the replay marker at step i. */
  showTrack(fc) {
    if (this.track) this.map.removeLayer(this.track);
    this.track = L.layerGroup().addTo(this.map);
    const f = fc.features[0];
    if (!f) return null;
    const coords = f.geometry.type === "Point" ? [f.geometry.coordinates] : f.geometry.coordinates;
    const lls = coords.map((c) => this.p.toMap(c[1], c[0]));
    L.polyline(lls, { color: "#3aa0ff", weight: 3 }).addTo(this.track);
    const marker = L.circleMarker(lls[0], { radius: 7, color: "#fff", fillColor: "#3aa0ff", fillOpacity: 1 }).addTo(this.track);
    this.map.fitBounds(L.latLngBounds(lls).pad(0.2));
    return { count: lls.length, times: f.properties.times, at: (i) => marker.setLatLng(lls[i]) };
  }

  showCases(cases, onClick) {
    this.cases.clearLayers();
    for (const c of cases) {
      const clock = c.step_clock || c.case_clock;
      const color = COLORS[clock ? clock.light : "none"] || COLORS.none;
      const m = L.circleMarker(this.p.toMap(c.lat, c.lon), { radius: 8, color: "#fff", weight: 2, fillColor: color, fillOpacity: 0.95 });
      m.bindTooltip(`${escapeHtml(c.case_no)} ${escapeHtml(c.title)}`);
      m.on("click", () => onClick(c.id));
      this.cases.addLayer(m);
    }
  }

  focus(lat, lon) { this.map.setView(this.p.toMap(lat, lon), Math.max(this.map.getZoom(), 16)); }

  showOfficers(items) {
    this.officers.clearLayers(); this.officerMarkers.clear(); this.officerInfo = new Map();
    for (const o of items) this.updateOfficer(o);
  }

  /** Merge what we know of an officer: the snapshot has name and status, `position.updated` only the fix,
   *  `officer.status_changed` only the status; the marker shows the union. */
  updateOfficer(o) {
    this.officerInfo = this.officerInfo || new Map();
    const key = o.officer_id ?? `d${o.device_id}`;
    const info = { ...(this.officerInfo.get(key) || {}) };
    for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && k !== "type" && k !== "audience") info[k] = v;
    if (o.type === "position.updated") { info.fix_time = o.at; info.heading = o.bearing; }
    this.officerInfo.set(key, info);
    if (info.lat === undefined || info.lon === undefined) return;
    const color = OFFICER_COLORS[info.connectivity === "offline" ? "offline" : info.status] || OFFICER_COLORS.available;
    const fixAt = info.fix_time || info.at;
    const ageMin = fixAt ? Math.max(0, Math.round((Date.now() - new Date(fixAt)) / 60000)) : null;
    const label = `${escapeHtml(info.officer_name || key)}${info.status ? ` · ${t(`officer.${info.status}`)}` : ""}${ageMin !== null ? ` · ${ageMin}′` : ""}`;
    let m = this.officerMarkers.get(key);
    const ll = this.p.toMap(info.lat, info.lon);
    const heading = info.heading ?? info.bearing;
    if (!m) {
      m = L.marker(ll, { icon: this.icon(color, heading), title: info.officer_name || "" }).bindTooltip(label);
      this.officerMarkers.set(key, m);
      this.officers.addLayer(m);
    } else {
      m.setLatLng(ll); m.setIcon(this.icon(color, heading)); m.setTooltipContent(label);
    }
  }

  icon(color, heading) {
    const rot = heading === undefined || heading === null ? 0 : heading;
    return L.divIcon({ className: "", iconSize: [22, 22], iconAnchor: [11, 11],
      html: `<svg width="22" height="22" viewBox="0 0 22 22" style="transform:rotate(${rot}deg)"><circle cx="11" cy="11" r="8" fill="${color}" stroke="#fff" stroke-width="2"/><path d="M11 1 L15 8 L7 8 Z" fill="#fff"/></svg>` });
  }
}
