// Command console: live queue, map from our own roads, case detail and one-click actions.
import { $, api, clock, CONFIG, esc, Live, logout, roadMap, say, session, signedIn }
  from "/static/common.js";
import { installCallPanel, linkDuplicate, wireDuplicate } from "/static/callpanel.js";
import { detailHtml } from "/static/console_detail.js";
import { mirrorControls, setText, severity, t, word } from "/static/console_words.js";
import { hospitalLabel, openOnRegion, streetLabels } from "/static/maplabels.js";

const OPEN = ["raised", "triaged", "dispatched", "arrived"];
const RANK = { critical: 0, high: 1, medium: 3, low: 4 };
const ED_COLOUR = { open: "#166534", diverting: "#d97706", closed: "#111827" };
const state = {
  cases: new Map(), hospitals: new Map(), units: new Map(), selected: null, detail: null,
  live: "connecting",
};
let map;
let layers;
let calls;

// ------------------------------------------------------------------ loading

async function loadCases() {
  const q = new URLSearchParams({ limit: "200" });
  for (const s of OPEN) q.append("status", s);
  const page = await api(`/api/v1/emergency/cases?${q}`);
  state.cases = new Map(page.items.map((c) => [c.id, c]));
  renderQueue();
  drawCases();
}

async function loadHospitals() {
  const list = await api("/api/v1/hospitals?limit=500");
  state.hospitals = new Map(list.map((h) => [h.id, h]));
  drawHospitals();
}

async function loadUnits() {
  const list = await api("/api/v1/units");
  state.units = new Map(list.map((u) => [u.id, u]));
  drawUnits();
}

async function loadClosures() {
  const list = await api("/api/v1/routing/closures");
  layers.closures.clearLayers();
  for (const closure of list) {
    window.L.geoJSON(closure.geometry, { style: { color: "#7c3aed", weight: 6, dashArray: "6 6" } })
      .bindTooltip(t("tip.closure", { reason: closure.reason ?? "" })).addTo(layers.closures);
  }
  document.getElementById("console-map").dataset.closures = String(list.length);
}

async function loadDetail() {
  if (!state.selected) return;
  const id = state.selected;
  const [detail, sms] = await Promise.all([
    api(`/api/v1/emergency/cases/${id}`),
    api(`/api/v1/sms/outbox?case_id=${id}&limit=5`).catch(() => []),
  ]);
  if (state.selected !== id) return;
  state.detail = detail;
  state.sms = sms;
  renderDetail();
  drawRoute();
}

async function refreshAll() {
  try {
    await Promise.all([loadCases(), loadUnits(), loadHospitals(), loadClosures()]);
    await loadDetail();
  } catch (e) {
    say(t("refresh_failed", { message: e.message }), "error");
  }
}

// ------------------------------------------------------------------ queue

function waitingSeconds(c) {
  return (Date.now() - Date.parse(c.raised_at)) / 1000;
}

function urgency(c) {
  return c.severity ? RANK[c.severity] ?? 5 : 2;  // untriaged sits between high and medium
}

function sortedCases() {
  const waiting = (c) => (c.status === "raised" || c.status === "triaged" ? 0 : 1);
  return [...state.cases.values()].sort((a, b) =>
    waiting(a) - waiting(b) || urgency(a) - urgency(b) || Date.parse(a.raised_at) - Date.parse(b.raised_at));
}

function timerClass(c) {
  if (c.status !== "raised" && c.status !== "triaged") return "";
  const s = waitingSeconds(c);
  if (s >= CONFIG.queue_red_seconds) return "red";
  if (s >= CONFIG.queue_amber_seconds) return "amber";
  return "";
}

function renderQueue() {
  const list = sortedCases();
  $("#queue-count").textContent = `(${list.length})`;
  const flags = (c) => [c.source === "phone" && "queue.call", c.outside_service_area && "queue.outside",
    c.possible_duplicate_of && "queue.duplicate"].filter(Boolean).map((k) => ` · ${esc(t(k))}`).join("");
  $("#queue").innerHTML = list.map((c) => `
    <li><button type="button" data-case="${c.id}" aria-current="${c.id === state.selected}">
      <span><span class="badge sev-${c.severity || "none"}">${esc(severity(c))}</span>
        <strong>${esc(word("symptom", c.symptom_category))}</strong></span>
      <span class="timer ${timerClass(c)}" dir="ltr" data-raised="${esc(c.raised_at)}">${clock(waitingSeconds(c))}</span>
      <span class="meta">${esc(word("status", c.status))} · <bdi dir="ltr">${esc(c.reporter_phone)}</bdi>${flags(c)}</span>
      ${c.address ? `<span class="meta"><bdi>${esc(c.address)}</bdi></span>` : ""}
    </button></li>`).join("") || `<li class="muted">${esc(t("queue.empty"))}</li>`;
}

function tickTimers() {
  for (const el of document.querySelectorAll("#queue .timer")) {
    const c = state.cases.get(el.closest("button").dataset.case);
    if (!c) continue;
    el.textContent = clock(waitingSeconds(c));
    el.className = `timer ${timerClass(c)}`;
  }
}

function select(id) {
  state.selected = id;
  state.detail = null;
  renderQueue();
  $("#detail").innerHTML = `<p class="muted">${esc(t("detail.loading"))}</p>`;
  loadDetail().catch((e) => say(e.message, "error"));
  const c = state.cases.get(id);
  if (c) map.panTo([c.location.lat, c.location.lng]);
}

// ------------------------------------------------------------------ detail

function hospitalName(id) { return state.hospitals.get(id)?.name ?? "—"; }

function renderDetail() {
  // A refresh must not wipe what the operator is typing or has chosen.
  const kept = ["severity", "cancel-reason", "redirect-to"].map((id) => [id, document.getElementById(id)?.value]);
  const focused = document.activeElement?.id;
  const sameCase = $("#detail").dataset.case === state.detail.id;
  paintDetail();
  $("#detail").dataset.case = state.detail.id;
  if (!sameCase) return;
  for (const [id, value] of kept) {
    const el = document.getElementById(id);
    if (el && value != null && [...(el.options ?? [{ value }])].some((o) => o.value === value)) el.value = value;
  }
  if (focused) document.getElementById(focused)?.focus();
}

function paintDetail() {
  const c = state.detail;
  $("#detail").innerHTML = detailHtml(c, state);
  wireDuplicate(c, act);
  $("#triage").onclick = triage;
  $("#close").onclick = closeCase;
  $("#redirect").onclick = redirect;
  $("#cancel").onclick = cancel;
  for (const b of document.querySelectorAll("[data-dispatch]")) b.onclick = () => dispatch(Number(b.dataset.dispatch));
  if (c.pending_location) {
    $("#confirm-move").onclick = () => decideMove(true);
    $("#dismiss-move").onclick = () => decideMove(false);
  }
  document.dispatchEvent(new CustomEvent("console:detail", { detail: c }));  // coverage.js
}

async function act(path, body, done) {
  const c = state.detail;
  if (!c) return;
  try {
    await api(`/api/v1/emergency/cases/${c.id}/${path}`, {
      method: "POST", body, headers: { "If-Match": `"${c.version}"` },
    });
    say(done);
  } catch (e) {
    if (e.problem?.code === "destination_needs_reason" && body && !body.reason) {
      const reason = window.prompt(t("reason_prompt", { message: e.message }));
      if (reason) return act(path, { ...body, reason }, done);
    }
    say(e.status === 409 || e.status === 412 ? t("reloaded", { message: e.message }) : e.message, "error");
  }
  await Promise.all([loadCases(), loadUnits()]).catch(() => {});
  await loadDetail().catch(() => {});
}

function triage() { return act("triage", { severity: $("#severity").value }, t("done.triaged")); }
function closeCase() { return act("close", {}, t("done.closed")); }
function dispatch(index = 0) {
  const u = state.detail?.recommended_units[index];
  if (!u || !state.detail.allowed_actions.includes("dispatch")) { say(t("nothing_to_dispatch"), "error"); return; }
  return act("dispatch", { unit_id: u.unit_id, hospital_id: u.hospital_id ?? undefined },
    t("done.dispatched", { unit: u.call_sign, hospital: u.hospital_name ?? t("done.nearest") }));
}
function redirect() {
  const to = $("#redirect-to").value;
  if (!to) return;
  return act("redirect", { hospital_id: to }, t("done.redirected", { hospital: hospitalName(to) }));
}
function cancel() {
  const reason = $("#cancel-reason").value.trim();
  if (!reason) { say(t("cancel_needs_reason"), "error"); $("#cancel-reason").focus(); return; }
  return act("cancel", { reason }, t("done.cancelled"));
}
async function decideMove(confirm) {
  const p = state.detail?.pending_location;
  if (!p) return;
  await act(`location/${p.id}/${confirm ? "confirm" : "dismiss"}`, undefined,
    t(confirm ? "done.moved" : "done.kept"));
}

// ------------------------------------------------------------------ map

function drawCases() {
  layers.cases.clearLayers();
  for (const c of state.cases.values()) {
    const selected = c.id === state.selected;
    window.L.circleMarker([c.location.lat, c.location.lng], {
      radius: selected ? 11 : 8, color: "#7f1d1d", weight: selected ? 4 : 2, fillColor: "#b91c1c", fillOpacity: 0.85,
    }).bindTooltip(t("tip.case", { symptom: word("symptom", c.symptom_category), severity: severity(c) }))
      .on("click", () => select(c.id)).addTo(layers.cases);
  }
  document.getElementById("console-map").dataset.cases = String(state.cases.size);
}

function drawHospitals() {
  layers.hospitals.clearLayers();
  for (const h of state.hospitals.values()) {
    window.L.circleMarker([h.lat, h.lng], {
      radius: 7, color: "#fff", weight: 2, fillColor: ED_COLOUR[h.ed_status] || "#6b7280", fillOpacity: 1,
    }).bindTooltip(t("tip.hospital", { name: h.name, status: word("ed", h.ed_status) })
      + (h.beds_available != null ? `, ${t("tip.beds", { n: h.beds_available })}` : ""))
      .addTo(layers.hospitals);
    hospitalLabel(h).addTo(layers.hospitals);
  }
}

const unitMarkers = new Map();
// Free units sent to a post (coverage.js): shown there until a fresh GPS fix says otherwise.
const standby = new Map();
document.addEventListener("coverage:standby", (e) => {
  standby.clear();
  for (const [id, at] of Object.entries(e.detail)) standby.set(id, at);
  drawUnits();
});
function placeUnit(u) {
  const where = (u.position_stale && standby.get(u.id)) || u.position || u.station;
  let marker = unitMarkers.get(u.id);
  if (!marker) {
    marker = window.L.circleMarker([where.lat, where.lng], {
      radius: 7, color: "#1e3a8a", weight: 2, fillColor: "#1d4ed8", fillOpacity: 0.9,
    }).addTo(layers.units);
    unitMarkers.set(u.id, marker);
  }
  marker.setLatLng([where.lat, where.lng]);
  $("#console-map").setAttribute(`data-dot-${u.id}`, `${(+where.lat).toFixed(5)},${(+where.lng).toFixed(5)}`);
  marker.bindTooltip(t("tip.unit", { unit: u.call_sign, status: word("unit", u.status) })
    + (u.position_stale ? ` ${t("tip.stale")}` : ""));
}

function drawUnits() { for (const u of state.units.values()) placeUnit(u); }

async function drawRoute() {
  layers.route.clearLayers();
  const c = state.detail;
  if (!c || c.outside_service_area) return;
  const scene = `${c.location.lat},${c.location.lng}`;
  const legs = [];
  const unitId = c.dispatch?.unit_id ?? c.recommended_units[0]?.unit_id;
  const unit = unitId && state.units.get(unitId);
  if (unit && c.status !== "arrived") {
    const at = unit.position ?? unit.station;
    legs.push([`${at.lat},${at.lng}`, scene, "#1d4ed8"]);
  }
  const hospitalId = c.destination_hospital_id ?? c.recommended_units[0]?.hospital_id ?? c.recommended_hospitals[0]?.hospital_id;
  const hospital = hospitalId && state.hospitals.get(hospitalId);
  if (hospital) legs.push([scene, `${hospital.lat},${hospital.lng}`, "#b91c1c"]);
  const drawn = await Promise.all(legs.map(([from, to, color]) =>
    api(`/api/v1/routing/route?from=${from}&to=${to}`).then((r) => [r, color]).catch(() => null)));
  if (state.detail !== c) return;
  for (const item of drawn.filter(Boolean)) {
    window.L.geoJSON(item[0].geometry, { style: { color: item[1], weight: 5, opacity: 0.85 } }).addTo(layers.route);
  }
  document.getElementById("console-map").dataset.routeLegs = String(drawn.filter(Boolean).length);
}

// ------------------------------------------------------------------ live

let caseReload = null;
function onEvent(message) {
  if (message.channel === "unit.position.updated") {
    const u = state.units.get(message.data.unit_id);
    if (u) { u.position = { lat: message.data.lat, lng: message.data.lng }; u.position_stale = false; placeUnit(u); }
    const el = document.getElementById("console-map");
    el.dataset.unitFixes = String(Number(el.dataset.unitFixes || 0) + 1);
    return;
  }
  if (message.channel === "hospital.capacity.updated") { loadHospitals().catch(() => {}); return; }
  if (message.channel === "emergency.case.updated") {
    const data = message.data;
    const known = state.cases.get(data.case_id);
    if (known && OPEN.includes(data.status)) {
      Object.assign(known, { status: data.status, severity: data.severity });
    }
    clearTimeout(caseReload);
    caseReload = setTimeout(() => {
      loadCases().catch(() => {});
      loadUnits().catch(() => {});
      if (data.case_id === state.selected) loadDetail().catch(() => {});
    }, 100);
  }
}

function showLive() {
  const badge = $("#live");
  setText(badge, state.live === "live" ? "live.live" : state.live === "stale" ? "live.stale" : "live.connecting");
  badge.className = `badge ${state.live}`;
}

function onState(live) {
  state.live = live;
  showLive();
  if (live === "live") refreshAll();
}

/** A language switch: everything painted from data is painted again in the new language. */
function relabel() {
  showLive();
  mirrorControls(map);
  renderQueue();
  drawCases();
  drawHospitals();
  drawUnits();
  if (state.detail) renderDetail();
  loadClosures().catch(() => {});
}

// ------------------------------------------------------------------ keys

function onKey(event) {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName);
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  // With an Urdu (or any non-Latin) keyboard layout the same physical keys still work.
  const key = /^[\x20-\x7e]$/.test(event.key) ? event.key : /^Key[A-Z]$/.test(event.code) ? event.code.slice(3).toLowerCase() : event.key;
  const list = sortedCases();
  const at = list.findIndex((c) => c.id === state.selected);
  const keys = {
    j: () => list.length && select(list[Math.min(at + 1, list.length - 1)].id),
    k: () => list.length && select(list[Math.max(at - 1, 0)].id),
    t: () => triage(),
    d: () => dispatch(0),
    r: () => $("#redirect-to")?.focus(),
    c: () => $("#cancel-reason")?.focus(),
    x: () => closeCase(),
    m: () => decideMove(true),
    n: () => calls.open(),
    l: () => linkDuplicate(state.detail, act),
  };
  const run = keys[key];
  if (run && (state.detail || "jkn".includes(key))) { event.preventDefault(); run(); }
}

// ------------------------------------------------------------------ start

async function start() {
  window.I18N.init(window.CATALOGUE_CONSOLE);
  window.I18N.switcher($("#lang"));
  const me = await signedIn($("#login"), { role: "emergency_operator" });
  $("#who").textContent = me.email;
  $("#signout").hidden = false;
  $("#signout").onclick = async () => { await logout(); location.reload(); };
  $("#app").hidden = false;
  map = roadMap($("#console-map"), { zoom: 15 });
  mirrorControls(map);
  streetLabels(map);
  openOnRegion(map, { picker: $("#region-picker") });
  document.dispatchEvent(new CustomEvent("console:map", { detail: map }));  // coverage.js layer
  const L = window.L;
  layers = {
    closures: L.layerGroup().addTo(map), hospitals: L.layerGroup().addTo(map),
    route: L.layerGroup().addTo(map), units: L.layerGroup().addTo(map), cases: L.layerGroup().addTo(map),
  };
  calls = installCallPanel({
    map, host: $("#app"),
    onCreated: (c) => loadCases().then(() => select(c.id)).catch(() => {}),
  });
  $("#queue").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-case]");
    if (b) select(b.dataset.case);
  });
  document.addEventListener("keydown", onKey);
  document.addEventListener("langchange", relabel);
  await refreshAll();
  new Live({
    channels: ["emergency.case.updated", "unit.position.updated", "hospital.capacity.updated"],
    auth: () => ({ token: session.access }),
    onEvent, onState,
  }).start();
  setInterval(tickTimers, 1000);
  // While the live connection is down, poll; when it is up, a slow safety refresh.
  let last = 0;
  setInterval(() => {
    const every = state.live === "live" ? 30 : CONFIG.poll_seconds || 2;
    if (Date.now() - last >= every * 1000) { last = Date.now(); refreshAll(); }
  }, 500);
}

start();
