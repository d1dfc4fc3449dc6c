// WGS-84 ⇄ GCJ-02 for tile sources that need it (AMap and other mainland providers). Data stays WGS-84 everywhere;
// only what is drawn on such a base map is shifted. Formula: the published GCJ-02 offset polynomial.
const A = 6378245.0;
const EE = 0.00669342162296594323;

function outOfChina(lat, lon) { return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271; }

function dLat(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
  r += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
  r += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
  return r;
}

function dLon(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
  r += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
  r += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
  return r;
}

export function wgsToGcj(lat, lon) {
  if (outOfChina(lat, lon)) return [lat, lon];
  let la = dLat(lon - 105.0, lat - 35.0);
  let lo = dLon(lon - 105.0, lat - 35.0);
  const rad = lat / 180.0 * Math.PI;
  let magic = Math.sin(rad);
  magic = 1 - EE * magic * magic;
  const sq = Math.sqrt(magic);
  la = (la * 180.0) / ((A * (1 - EE)) / (magic * sq) * Math.PI);
  lo = (lo * 180.0) / (A / sq * Math.cos(rad) * Math.PI);
  return [lat + la, lon + lo];
}

/** Inverse by fixed-point iteration: converges to well under a metre in a few steps. */
export function gcjToWgs(lat, lon) {
  let [wl, wo] = [lat, lon];
  for (let i = 0; i < 6; i++) {
    const [gl, go] = wgsToGcj(wl, wo);
    wl -= gl - lat; wo -= go - lon;
  }
  return [wl, wo];
}

export function projector(crs) {
  if (crs === "gcj02") return { toMap: (lat, lon) => wgsToGcj(lat, lon), fromMap: (lat, lon) => gcjToWgs(lat, lon) };
  return { toMap: (lat, lon) => [lat, lon], fromMap: (lat, lon) => [lat, lon] };
}
