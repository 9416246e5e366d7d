// Map words from our own data: street names along the roads, hospital names, the region's view.
import { api, esc } from "/static/common.js";

const CHAR_PX = 6.6;  // average width of a 11px label character

/** Street names along the roads (GET /api/v1/map/streets), placed where they fit, no overlaps. */
export function streetLabels(map) {
  const L = window.L;
  map.createPane("labels").style.zIndex = 450;
  map.getPane("labels").style.pointerEvents = "none";
  const layer = L.layerGroup().addTo(map);
  let ticket = 0;
  async function load() {
    const mine = ++ticket;
    const b = map.getBounds();
    const q = new URLSearchParams({
      bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(","),
      zoom: String(map.getZoom()),
    });
    // name:<lang> where OSM has it (Urdu, Spanish...), else the street's own name.
    const lang = window.I18N?.lang;
    if (/^[a-z]{2,3}$/.test(lang ?? "")) q.set("lang", lang);
    let data;
    try { data = await api(`/api/v1/map/streets?${q}`, { auth: false }); } catch { return; }
    if (mine !== ticket) return;
    layer.clearLayers();
    const placed = [];
    for (const f of data.features) {
      const spot = bestSpot(map, f.geometry, f.properties.name);
      if (!spot || placed.some((p) => overlaps(p, spot))) continue;
      placed.push(spot);
      L.marker(spot.at, {
        pane: "labels", interactive: false, keyboard: false,
        icon: L.divIcon({
          className: "street-label", iconSize: [0, 0],
          html: `<span dir="auto" style="transform: translate(-50%, -50%) rotate(${spot.deg.toFixed(1)}deg)">${esc(f.properties.name)}</span>`,
        }),
      }).addTo(layer);
    }
    map.getContainer().dataset.streetLabels = String(placed.length);
  }
  map.on("moveend", load);
  document.addEventListener("langchange", load);
  load();
  return layer;
}

function parts(geometry) {
  if (geometry.type === "LineString") return [geometry.coordinates];
  if (geometry.type === "MultiLineString") return geometry.coordinates;
  if (geometry.type === "GeometryCollection") return geometry.geometries.flatMap(parts);
  return [];
}

/** The middle of the street's longest piece on screen, turned along it, if the name fits. */
function bestSpot(map, geometry, name) {
  const need = name.length * CHAR_PX + 16;
  let best = null;
  for (const line of parts(geometry)) {
    const px = line.map(([lng, lat]) => map.latLngToContainerPoint([lat, lng]));
    let len = 0;
    for (let i = 1; i < px.length; i++) len += px[i].distanceTo(px[i - 1]);
    if (len >= need && (!best || len > best.len)) best = { px, len };
  }
  if (!best) return null;
  const mid = along(best.px, best.len / 2);
  const a = along(best.px, best.len / 2 - need / 2);
  const b = along(best.px, best.len / 2 + need / 2);
  let deg = (Math.atan2(b.y - a.y, b.x - a.x) * 180) / Math.PI;
  if (deg > 90) deg -= 180;
  if (deg < -90) deg += 180;
  return { at: map.containerPointToLatLng(mid), deg, x: mid.x, y: mid.y, r: need / 2 };
}

/** The screen point ``distance`` pixels along a polyline. */
function along(px, distance) {
  let left = Math.max(0, distance);
  for (let i = 1; i < px.length; i++) {
    const step = px[i].distanceTo(px[i - 1]);
    if (step >= left && step > 0) return px[i - 1].add(px[i].subtract(px[i - 1]).multiplyBy(left / step));
    left -= step;
  }
  return px[px.length - 1];
}

function overlaps(p, q) {
  // Rotated labels are compared as discs around their centres: cheap and never overlapping.
  return Math.hypot(p.x - q.x, p.y - q.y) < Math.max(18, 0.55 * (p.r + q.r));
}

/** A hospital's name beside its marker. */
export function hospitalLabel(h) {
  return window.L.marker([h.lat, h.lng], {
    interactive: false, keyboard: false,
    icon: window.L.divIcon({ className: "hospital-label", iconSize: [0, 0], html: `<span>${esc(h.name)}</span>` }),
  });
}

/** Hospitals in view (GET /api/v1/map/hospitals), a dot and the name in the reader's language:
 * OSM name:<lang> where it has one, else the hospital's own name. Reloads on move and language. */
export function hospitalLayer(map) {
  const L = window.L;
  const layer = L.layerGroup().addTo(map);
  let ticket = 0;
  async function load() {
    const mine = ++ticket;
    const b = map.getBounds();
    const q = new URLSearchParams({
      bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(","),
    });
    const lang = window.I18N?.lang;
    if (/^[a-z]{2,3}$/.test(lang ?? "")) q.set("lang", lang);
    let data;
    try { data = await api(`/api/v1/map/hospitals?${q}`, { auth: false }); } catch { return; }
    if (mine !== ticket) return;
    layer.clearLayers();
    for (const f of data.features) {
      const [lng, lat] = f.geometry.coordinates;
      L.circleMarker([lat, lng], { radius: 6, color: "#14532d", weight: 2, fillColor: "#16a34a",
        fillOpacity: 0.9, interactive: false }).addTo(layer);
      L.marker([lat, lng], {
        interactive: false, keyboard: false,
        icon: L.divIcon({ className: "hospital-label", iconSize: [0, 0],
          html: `<span dir="auto" data-hospital="${esc(f.properties.id)}">${esc(f.properties.name)}</span>` }),
      }).addTo(layer);
    }
    map.getContainer().dataset.hospitalLabels = String(data.features.length);
  }
  map.on("moveend", load);
  document.addEventListener("langchange", load);
  load();
  return layer;
}

const shown = new WeakMap();  // map -> the regions offered and its picker

/** The map was moved to ``at`` (the caller's own position): name the region it is in, if any. */
export function markRegionAt(map, at) {
  const known = shown.get(map);
  const region = known && known.regions.find((r) => inBox(r, at));
  if (!region) return;
  map.getContainer().dataset.region = region.name;
  if (known.picker) known.picker.value = region.name;
}

function inBox(r, at) {
  return r.bbox[0] <= at.lng && at.lng <= r.bbox[2] && r.bbox[1] <= at.lat && at.lat <= r.bbox[3];
}

/** The region a page opens on: ``?region=`` in the address, else the one holding ``at`` (the
 * caller's own position), else the operator's last choice, else the largest (the main service
 * area, never simply the first name in the alphabet). */
export function chooseRegion(regions, { at = null, asked = null, stored = null } = {}) {
  const inside = (r) => at && inBox(r, at);
  const largest = [...regions].sort((a, b) => (b.road_nodes || 0) - (a.road_nodes || 0))[0];
  return regions.find((r) => r.name === asked) || regions.find(inside)
    || regions.find((r) => r.name === stored) || largest;
}

/** Centre the map on the operator's region (a picker when there are several). */
export async function openOnRegion(map, { picker = null, onChange = () => {}, at = null } = {}) {
  let regions = [];
  try { regions = await api("/api/v1/regions", { auth: false }); } catch { return null; }
  if (!regions.length) return null;
  let current = chooseRegion(regions, {
    at, asked: new URLSearchParams(location.search).get("region"),
    stored: localStorage.getItem("lifeline.region"),
  });
  const show = (region) => {
    const [w, s, e, n] = region.bbox;
    // No animation: a choice made while the opening view still animates would be lost.
    map.fitBounds([[s, w], [n, e]], { maxZoom: 16, animate: false });
    map.getContainer().dataset.region = region.name;
  };
  show(current);
  shown.set(map, { regions, picker });
  if (picker && regions.length > 1) {
    picker.innerHTML = regions.map((r) =>
      `<option value="${esc(r.name)}" ${r.name === current.name ? "selected" : ""}>${esc(r.name)}</option>`).join("");
    picker.hidden = false;
    if (picker.labels) for (const label of picker.labels) label.hidden = false;
    picker.onchange = () => {
      current = regions.find((r) => r.name === picker.value) || current;
      localStorage.setItem("lifeline.region", current.name);
      show(current);
      onChange(current);
    };
  }
  return current;
}
