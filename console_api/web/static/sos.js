// Patient SOS app: one button; the request is queued and retried with the same Idempotency-Key
// until the server acknowledges it, then the case is followed live.
import { hospitalLayer, markRegionAt, openOnRegion, streetLabels } from "/static/maplabels.js";
import { $, api, CONFIG, Live, esc, label, minutes, newKey, roadMap, say, session, signedIn }
  from "/static/common.js";

const PENDING = "lifeline.sos.pending";  // {key, body, auth}: not yet acknowledged
const CASE = "lifeline.sos.case";        // {id, case_token}: acknowledged, being followed
// Every text is in the page's catalogue (i18n/sos.js): English, Urdu (right to left), Spanish.
const t = (key, params) => window.I18N.t(key, params);
const SYMPTOMS = [
  "cardiac_arrest", "chest_pain", "stroke_symptoms", "breathing", "major_trauma", "burns",
  "obstetric", "paediatric", "overdose", "psychiatric", "other",
];
const STEPS = [
  "raised", "triaged", "dispatched", "en_route", "on_scene", "transporting", "at_hospital", "closed",
];

let here = null;        // {lat, lng, accuracy_m, manual}
let map = null;
let pin = null;
let ring = null;
let followed = null;
let lastSent = null;
let live = null;

const read = (key) => JSON.parse(localStorage.getItem(key) || "null");
const write = (key, value) => (value == null ? localStorage.removeItem(key)
  : localStorage.setItem(key, JSON.stringify(value)));

function showWhere() {
  const where = $("#where");
  const title = `<strong>${esc(t("location"))}</strong>`;
  if (!here) { where.innerHTML = `${title} ${esc(t("location_unknown"))}`; return; }
  const acc = here.manual ? t("set_on_map") : `±${Math.round(here.accuracy_m ?? 0)} m`;
  where.innerHTML = `${title} <span dir="ltr">${here.lat.toFixed(5)}, ${here.lng.toFixed(5)}</span> (<bdi>${esc(acc)}</bdi>)`;
  if (map) {
    const L = window.L;
    pin ??= L.marker([here.lat, here.lng], { keyboard: false }).addTo(map);
    pin.setLatLng([here.lat, here.lng]);
    ring ??= L.circle([here.lat, here.lng], { radius: 1, color: "#1d4ed8", weight: 1 }).addTo(map);
    ring.setLatLng([here.lat, here.lng]).setRadius(here.manual ? 0 : here.accuracy_m || 0);
  }
}

function setupMap() {
  if (!window.L) return;
  map = roadMap($("#sos-map"), { zoom: 15 });
  // The region when nothing else is known; the caller's own position as soon as it is.
  streetLabels(map);  // a caller placing the pin by hand reads the streets
  hospitalLayer(map);  // and the hospitals near them, in their language
  openOnRegion(map, { picker: $("#sos-region"), at: here })
    .then(() => { if (here) { map.setView([here.lat, here.lng], 15); markRegionAt(map, here); } });
  map.on("click", (e) => {
    here = { lat: e.latlng.lat, lng: e.latlng.lng, accuracy_m: null, manual: true };
    showWhere();
  });
}

function watchLocation() {
  if (!navigator.geolocation) { showWhere(); return; }
  navigator.geolocation.watchPosition((position) => {
    const fix = { lat: position.coords.latitude, lng: position.coords.longitude,
                  accuracy_m: Math.round(position.coords.accuracy), manual: false };
    if (!followed && here?.manual) return;  // the caller's own pin wins before the SOS
    if (!followed) {
      here = fix;
      showWhere();
      map?.setView([fix.lat, fix.lng], Math.max(map.getZoom(), 15));
      if (map) markRegionAt(map, fix);
    } else {
      shareMove(fix);
    }
  }, () => { say(t("location_off")); showWhere(); },
  { enableHighAccuracy: true, maximumAge: 10000, timeout: 20000 });
}

function distance(a, b) {
  const rad = Math.PI / 180;
  const x = (b.lng - a.lng) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
  const y = (b.lat - a.lat) * rad;
  return Math.sqrt(x * x + y * y) * 6371000;
}

/** While the case is open, tell the dispatcher when the phone has moved (they confirm it). */
async function shareMove(fix) {
  if (!followed || followed.over || (lastSent && distance(lastSent, fix) < 25)) return;
  try {
    await api(`/api/v1/emergency/cases/${followed.id}/location`, {
      method: "POST", auth: false, headers: { "X-Case-Token": followed.case_token },
      body: { lat: fix.lat, lng: fix.lng, accuracy_m: fix.accuracy_m },
    });
    lastSent = fix;
  } catch { /* next fix retries */ }
}

async function submit(event) {
  event.preventDefault();
  const queued = read(PENDING);
  if (queued && !queued.refused) { deliver(); return; }
  const symptom = $("input[name=symptom]:checked");
  const phone = $("#phone").value.replace(/[\s()-]/g, "");
  if (!symptom) { say(t("choose_symptom"), "error"); $("#symptoms input").focus(); return; }
  if (!/^\+\d{6,15}$/.test(phone)) {
    say(t("phone_needed"), "error");
    $("#phone").focus();
    return;
  }
  if (!here) { say(t("tap_map"), "error"); return; }
  const body = { lat: here.lat, lng: here.lng, symptom_category: symptom.value, reporter_phone: phone };
  if (here.accuracy_m != null) body.accuracy_m = here.accuracy_m;
  const notes = $("#notes").value.trim();
  if (notes) body.notes = notes;
  // A refused SOS is replaced only now, by the one the caller corrected and sent again.
  write(PENDING, { key: newKey(), body, signed_in: Boolean(session.access) });
  deliver();
}

let delivering = false;
/** Send the queued SOS. It leaves the queue only once the server acknowledged it (201/200):
 * a refused sign-in is resent without it, anything else stays queued and is retried. */
async function deliver() {
  const pending = read(PENDING);
  if (!pending || pending.refused || delivering) return;
  delivering = true;
  $("#sos-button").textContent = t("sending");
  try {
    const sent = await api("/api/v1/emergency/cases", {
      method: "POST", body: pending.body, auth: pending.signed_in,
      headers: { "Idempotency-Key": pending.key },
    });
    write(CASE, { id: sent.id, case_token: sent.case_token });
    write(PENDING, null);
    follow();
  } catch (e) {
    if (pending.signed_in && (e.status === 401 || e.status === 403)) {
      // The sign-in was not accepted: the SOS goes anonymously, at once, still queued.
      write(PENDING, { ...pending, signed_in: false });
      delivering = false;
      await deliver();
      return;
    }
    if (e.status === undefined || e.status >= 500 || e.status === 429 || e.status === 408) {
      say(t("queued"), "error");
      $("#sos-button").textContent = t("button_queued");
    } else {
      // Kept (never dropped) until the caller corrects it and presses SOS again.
      write(PENDING, { ...pending, refused: e.message });
      $("#sos-button").textContent = t("button_again");
      say(t("refused", { reason: e.message }), "error");
    }
  } finally {
    delivering = false;
  }
}

function reachedStep(incident) {
  if (incident.status === "closed") return "closed";
  const crew = incident.dispatch?.status;
  if (crew && crew !== "assigned" && STEPS.includes(crew)) return crew;
  return incident.status === "arrived" ? "on_scene" : incident.status;
}

async function refresh() {
  if (!followed) return;
  try {
    const incident = await api(`/api/v1/emergency/cases/${followed.id}`, {
      auth: false, headers: { "X-Case-Token": followed.case_token },
    });
    render(incident);
  } catch (e) {
    if (e.status === 403 || e.status === 404) { write(CASE, null); location.reload(); }
  }
}

function render(incident) {
  const over = incident.status === "closed" || incident.status === "cancelled";
  followed.over = over;
  $("#keep-open").hidden = over;
  $("#new-sos").hidden = !over;
  $("#follow-title").textContent = t(over ? "case_closed" : "help_coming");
  const step = reachedStep(incident);
  const index = STEPS.indexOf(step);
  $("#case-status").textContent = incident.status === "cancelled"
    ? t("cancelled", { reason: incident.cancel_reason || "" }) : t(`step_${STEPS[Math.max(index, 0)]}`);
  $("#case-status").dataset.step = incident.status === "cancelled" ? "cancelled" : step;
  $("#steps").innerHTML = STEPS.map((s, i) =>
    `<li class="${i <= index ? "done" : ""}">${esc(t(`step_${s}`))}</li>`).join("");
  const d = incident.dispatch;
  const away = d && d.eta_minutes != null && !d.on_scene_at
    ? Math.max(1, Math.round(d.eta_minutes - (Date.now() - Date.parse(d.assigned_at)) / 60000)) : null;
  $("#ambulance").innerHTML = d
    ? `<strong>${esc(t("ambulance"))}</strong> <span dir="ltr">${esc(d.call_sign)}</span>${away != null
      ? esc(t("minutes_away", { minutes: away })) : ""}`
    : "";
  const hospital = incident.recommended_hospitals.find((h) => h.hospital_id === incident.destination_hospital_id);
  $("#destination").innerHTML = incident.destination_hospital_id
    ? `<strong>${esc(t("hospital"))}</strong> ${esc(hospital?.name || t("assigned"))}` : "";
}

function follow() {
  followed = read(CASE);
  if (!followed) return;
  $("#request").hidden = true;
  $("#follow").hidden = false;
  say("");
  refresh();
  live = new Live({
    channels: ["emergency.case.updated"],
    auth: () => ({ case_id: followed.id, case_token: followed.case_token }),
    onEvent: () => refresh(),
    onState: (state) => {
      const badge = $("#live");
      badge.hidden = false;
      badge.textContent = t(state);
      badge.className = `badge ${state}`;
    },
    sse: false,
  });
  live.start();
  if (here) shareMove(here);
}

$("#new-sos").addEventListener("click", () => { write(CASE, null); location.reload(); });

function setupSymptoms() {
  const checked = $("input[name=symptom]:checked")?.value;
  $("#symptoms").innerHTML = SYMPTOMS.map((value) =>
    `<label><input type="radio" name="symptom" value="${value}"${value === checked ? " checked" : ""}> ${esc(t(`symptom_${value}`))}</label>`).join("");
}

async function setupLogin() {
  const me = await signedIn($("#login"), { role: "patient" });
  $("#signin-box").open = false;
  $("#who").textContent = me.email;
  if (me.phone && !$("#phone").value) $("#phone").value = me.phone;
  say(t("signed_in"));
}

window.I18N.init(window.CATALOGUE_SOS);
window.I18N.switcher($("#lang"));
document.addEventListener("langchange", () => {
  setupSymptoms();
  showWhere();
  if (followed) refresh();
});
setupSymptoms();
setupMap();
watchLocation();
$("#sos-form").addEventListener("submit", submit);
$("#login").hidden = false;
if (session.access) setupLogin(); else $("#signin-box").addEventListener("toggle", setupLogin, { once: true });
window.addEventListener("online", deliver);
setInterval(() => {
  if (read(PENDING)) deliver();
  else if (followed && live?.state !== "live") refresh();
}, (CONFIG.poll_seconds || 2) * 1000 + 1000);
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sos-sw.js", { scope: "/" }).catch(() => {});
if (read(CASE)) follow(); else if (read(PENDING)) deliver();
