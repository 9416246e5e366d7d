// Crew page: the job, the route, and big status buttons whose reports survive a flaky network.
import { $, api, esc, label, newKey, roadMap, say } from "/static/common.js";

const I18N = window.I18N;
const t = (key, params) => I18N.t(key, params);
/** ``prefix.value`` in the page's language; English shows the identifier ("en route"). */
const word = (prefix, value) => (I18N.t(`${prefix}.${value}`) === `${prefix}.${value}` ? label(value) : I18N.t(`${prefix}.${value}`));
const minutes = (seconds) => {
  if (seconds == null) return "—";
  const m = Math.round(seconds / 60);
  return m < 1 ? t("under_a_minute") : t("minutes", { n: m });
};

const token = decodeURIComponent(location.pathname.split("/").pop());
const QUEUE = `lifeline.crew.${token.slice(-24)}`;
const STATUSES = ["en_route", "on_scene", "transporting", "at_hospital", "handover_complete"];
const title = (status) => t(`report.${status}`);
let job = null;
let map = null;
let layers = null;

function queued() { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); }
function saveQueue(items) { localStorage.setItem(QUEUE, JSON.stringify(items)); }

function render() {
  const { case: incident, unit, hospital, next_statuses: next, routes } = job;
  $("#unit").textContent = unit.call_sign;
  $("#unit-status").textContent = word("unit", unit.status);
  $("#symptom").textContent = word("symptom", incident.symptom_category);
  const sev = $("#severity");
  sev.textContent = incident.severity ? word("severity", incident.severity) : t("untriaged");
  sev.className = `badge sev-${incident.severity || "none"}`;
  $("#notes").textContent = incident.notes || "";
  $("#address").textContent = incident.address || `${incident.lat.toFixed(5)}, ${incident.lng.toFixed(5)}`;
  $("#phone").textContent = incident.reporter_phone;
  $("#phone").href = `tel:${incident.reporter_phone}`;
  $("#hospital").textContent = hospital
    ? t("hospital", { name: hospital.name, status: word("ed", hospital.ed_status) }) : "—";
  const toHospital = ["transporting", "at_hospital"].includes(unit.status) || incident.status === "arrived";
  const leg = toHospital ? routes.to_hospital : routes.to_scene;
  $("#leg").innerHTML = leg
    ? `<strong>${esc(t(toHospital ? "leg.hospital" : "leg.scene"))}</strong> ${esc(t("leg", { time: minutes(leg.eta_seconds), km: (leg.distance_m / 1000).toFixed(1) }))}`
    : "";
  const pending = queued().map((q) => q.status);
  const box = $("#buttons");
  box.innerHTML = "";
  for (const status of STATUSES) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = status === next[0] ? "primary" : "";
    button.textContent = title(status);
    button.dataset.status = status;
    button.disabled = !next.includes(status) || pending.includes(status);
    button.addEventListener("click", () => report(status));
    box.append(button);
  }
  $("#queued").textContent = pending.length
    ? t("queued", { statuses: pending.map(title).join(", ") })
    : "";
  drawRoutes(toHospital);
}

function drawRoutes(toHospital) {
  const L = window.L;
  if (!L) return;
  const { case: incident, unit, hospital, routes } = job;
  if (!map) {
    map = roadMap($("#map"), { center: [incident.lat, incident.lng], zoom: 15 });
    layers = L.layerGroup().addTo(map);
  }
  layers.clearLayers();
  const bounds = [[incident.lat, incident.lng]];
  const line = (leg, color, active) => {
    if (!leg) return;
    const layer = L.geoJSON(leg.geometry, { style: { color, weight: active ? 7 : 4, opacity: active ? 1 : 0.6 } });
    layer.addTo(layers);
    bounds.push(...leg.geometry.coordinates.map(([x, y]) => [y, x]));
  };
  line(routes.to_scene, "#1d4ed8", !toHospital);
  line(routes.to_hospital, "#b91c1c", toHospital);
  L.circleMarker([incident.lat, incident.lng], { radius: 9, color: "#b91c1c", fillOpacity: 0.9 })
    .bindTooltip(t("scene")).addTo(layers);
  if (hospital) {
    L.circleMarker([hospital.lat, hospital.lng], { radius: 9, color: "#166534", fillOpacity: 0.9 })
      .bindTooltip(hospital.name).addTo(layers);
    bounds.push([hospital.lat, hospital.lng]);
  }
  if (unit.lat != null) {
    L.circleMarker([unit.lat, unit.lng], { radius: 7, color: "#1d4ed8", fillOpacity: 0.9 })
      .bindTooltip(unit.call_sign).addTo(layers);
    bounds.push([unit.lat, unit.lng]);
  }
  map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 });
  $("#map").dataset.legs = String([routes.to_scene, routes.to_hospital].filter(Boolean).length);
}

async function load() {
  try {
    job = await api(`/api/v1/crew/${encodeURIComponent(token)}`, { auth: false });
    render();
  } catch (e) {
    if (e.status === 403) {
      say(t("expired"), "error");
      $("#buttons").innerHTML = "";
    } else if (e.status === undefined) {
      say(t("offline"), "error");
    } else {
      say(e.message, "error");
    }
  }
}

/** Queue first (with its Idempotency-Key), then send: a retry can never apply a status twice. */
function report(status) {
  const items = queued();
  if (!items.some((q) => q.status === status)) items.push({ status, key: newKey() });
  saveQueue(items);
  if (job) render();
  flush();
}

let flushing = false;
async function flush() {
  if (flushing) return;
  flushing = true;
  try {
    for (let items = queued(); items.length; items = queued()) {
      const item = items[0];
      try {
        await api(`/api/v1/crew/${encodeURIComponent(token)}/status`, {
          method: "POST", body: { status: item.status }, headers: { "Idempotency-Key": item.key }, auth: false,
        });
        say(t("recorded", { status: title(item.status) }));
      } catch (e) {
        if (e.status === undefined || e.status >= 500) {
          say(t("will_retry"), "error");
          return;
        }
        say(t("not_applied", { status: title(item.status), error: e.message }), "error");
      }
      saveQueue(queued().filter((q) => q.key !== item.key));
    }
    await load();
  } finally {
    flushing = false;
  }
}

I18N.init(window.CATALOGUE_CREW);
I18N.switcher($("#lang"));
document.addEventListener("langchange", () => { if (job) render(); });
window.addEventListener("online", flush);
setInterval(() => (queued().length ? flush() : load()), 5000);
load().then(flush);
