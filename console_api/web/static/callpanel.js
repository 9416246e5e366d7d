// "New call" panel of the console: an operator takes a voice call with the keyboard only.
// n opens it; type the address (results as you type, arrows + Enter pick, the pin can be dragged
// or put with a click), the symptom, the callback number; Enter creates the case.
import { $, api, esc, label, newKey, say } from "/static/common.js";

const SYMPTOMS = ["cardiac_arrest", "chest_pain", "stroke_symptoms", "major_trauma", "burns",
  "breathing", "obstetric", "paediatric", "overdose", "psychiatric", "other"];

const PANEL = `
<form id="newcall" class="card newcall" aria-labelledby="newcall-title" hidden autocomplete="off">
  <h2 id="newcall-title" class="flush-top">New call</h2>
  <label for="call-search">Where is the patient?</label>
  <input id="call-search" role="combobox" aria-autocomplete="list" aria-expanded="false"
    aria-controls="call-results" placeholder="address, street, crossing or place">
  <ul id="call-results" role="listbox" aria-label="Address search results"></ul>
  <p id="call-place" class="muted" aria-live="polite">No location yet: pick a result or click the map.</p>
  <label for="call-symptom">Symptom</label>
  <select id="call-symptom">${SYMPTOMS.map((s) => `<option value="${s}">${label(s)}</option>`).join("")}</select>
  <label for="call-phone">Callback number</label>
  <input id="call-phone" type="tel" inputmode="tel" placeholder="+358401234567" maxlength="20">
  <label for="call-severity">Triage now (optional)</label>
  <select id="call-severity"><option value="">not yet</option>
    ${["critical", "high", "medium", "low"].map((s) => `<option>${s}</option>`).join("")}</select>
  <label for="call-notes">Notes</label>
  <input id="call-notes" maxlength="2000">
  <p class="form-error" role="alert" id="call-error"></p>
  <div class="actions"><button class="primary" type="submit" id="call-create">Create case (Enter)</button>
    <button type="button" id="call-close">Close (Esc)</button></div>
</form>`;

export function installCallPanel({ map, host, onCreated }) {
  host.insertAdjacentHTML("afterbegin", PANEL);
  const form = $("#newcall");
  const search = $("#call-search");
  const results = $("#call-results");
  const state = { hits: [], active: -1, place: null, pin: null, key: newKey(), timer: null, ticket: 0 };

  function open() {
    form.hidden = false;
    state.key = newKey();
    search.focus();
    search.select();
  }
  function close() {
    form.hidden = true;
    results.innerHTML = "";
    if (state.pin) { state.pin.remove(); state.pin = null; }
    state.place = null;
    form.reset();
    $("#call-place").textContent = "No location yet: pick a result or click the map.";
  }

  async function lookup() {
    const q = search.value.trim();
    const mine = ++state.ticket;
    if (q.length < 2) { results.innerHTML = ""; state.hits = []; return; }
    const c = map.getCenter();
    const params = new URLSearchParams({ q, near: `${c.lat.toFixed(6)},${c.lng.toFixed(6)}`, limit: "8" });
    try {
      const data = await api(`/api/v1/geocode?${params}`, { auth: false });
      if (mine !== state.ticket) return;
      state.hits = data.features;
      state.active = state.hits.length ? 0 : -1;
      paint(data.message);
    } catch (e) { results.innerHTML = `<li class="muted">${esc(e.message)}</li>`; }
  }
  function paint(message) {
    search.setAttribute("aria-expanded", String(state.hits.length > 0));
    results.innerHTML = state.hits.map((f, i) => `
      <li role="option" id="call-hit-${i}" aria-selected="${i === state.active}" data-hit="${i}">
        <strong>${esc(f.properties.label)}</strong>
        <span class="muted">${esc(f.properties.kind)}${f.properties.distance_m != null ? ` · ${(f.properties.distance_m / 1000).toFixed(1)} km` : ""}</span></li>`).join("")
      || `<li class="muted">${esc(message || "No match.")}</li>`;
    if (state.active >= 0) search.setAttribute("aria-activedescendant", `call-hit-${state.active}`);
  }
  function place(lat, lng, text) {
    state.place = { lat, lng };
    if (!state.pin) {
      state.pin = window.L.marker([lat, lng], { draggable: true, keyboard: false, title: "Patient location" }).addTo(map);
      state.pin.on("dragend", () => { const p = state.pin.getLatLng(); describe(p.lat, p.lng, "moved"); });
    }
    state.pin.setLatLng([lat, lng]);
    map.panTo([lat, lng]);
    $("#call-place").innerHTML = `<strong>${esc(text)}</strong>`;
    map.getContainer().dataset.callPin = `${lat.toFixed(6)},${lng.toFixed(6)}`;
  }
  async function describe(lat, lng, how) {
    place(lat, lng, `${lat.toFixed(5)}, ${lng.toFixed(5)}`);
    try {
      const r = await api(`/api/v1/geocode/reverse?lat=${lat}&lng=${lng}`, { auth: false });
      if (state.place?.lat === lat) $("#call-place").innerHTML = `<strong>${esc(r.label ?? "unnamed place")}</strong> <span class="muted">(pin ${how})</span>`;
    } catch { /* the coordinates stay */ }
  }
  function pick(index) {
    const f = state.hits[index];
    if (!f) return;
    const [lng, lat] = f.geometry.coordinates;
    place(lat, lng, f.properties.label);
    results.innerHTML = "";
    search.setAttribute("aria-expanded", "false");
    search.value = f.properties.label;
    $("#call-symptom").focus();
  }

  async function create() {
    const error = $("#call-error");
    error.textContent = "";
    if (!state.place) { error.textContent = "Pick a location first."; search.focus(); return; }
    const body = {
      lat: state.place.lat, lng: state.place.lng, source: "phone",
      symptom_category: $("#call-symptom").value, reporter_phone: $("#call-phone").value.trim(),
    };
    if ($("#call-severity").value) body.severity = $("#call-severity").value;
    if ($("#call-notes").value.trim()) body.notes = $("#call-notes").value.trim();
    try {
      const c = await api("/api/v1/emergency/cases", { method: "POST", body, headers: { "Idempotency-Key": state.key } });
      say(`Case created${c.address ? ` at ${c.address}` : ""}${c.possible_duplicate_of ? " — possible duplicate, check it" : ""}.`);
      close();
      onCreated(c);
    } catch (e) {
      const field = e.problem?.errors?.[0]?.field;
      error.textContent = e.message;
      if (field === "reporter_phone") $("#call-phone").focus();
    }
  }

  search.addEventListener("input", () => { clearTimeout(state.timer); state.timer = setTimeout(lookup, 120); });
  results.addEventListener("click", (e) => { const li = e.target.closest("[data-hit]"); if (li) pick(Number(li.dataset.hit)); });
  form.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); close(); return; }
    if (e.target === search && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      if (!state.hits.length) return;
      state.active = (state.active + (e.key === "ArrowDown" ? 1 : -1) + state.hits.length) % state.hits.length;
      paint();
      return;
    }
    if (e.key === "Enter") {
      e.preventDefault();
      if (e.target === search && state.hits.length && !e.ctrlKey) pick(Math.max(0, state.active));
      else create();
    }
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); create(); });
  $("#call-close").onclick = close;
  map.on("click", (e) => { if (!form.hidden) describe(e.latlng.lat, e.latlng.lng, "placed"); });
  return { open, close, isOpen: () => !form.hidden };
}

/** The duplicate-call flag or link of the selected case, for the detail panel. */
export function duplicateBlock(c, cases) {
  const name = (id) => {
    const other = cases.get(id);
    return other ? `${label(other.symptom_category)}${other.address ? ` at ${other.address}` : ""}` : `case ${id.slice(0, 8)}`;
  };
  if (c.linked_to) {
    return `<p class="alert" id="linked">Linked to ${esc(name(c.linked_to))}: shares its dispatch and closes with it.</p>`;
  }
  if (!c.possible_duplicate_of) return "";
  return `<div class="alert" id="duplicate" role="alert">Possible duplicate of ${esc(name(c.possible_duplicate_of))}.
    <button type="button" class="primary" id="link-duplicate">Link to it (l)</button>
    <button type="button" id="dismiss-duplicate">Not a duplicate</button></div>`;
}

/** Wire the buttons of :func:`duplicateBlock`; ``act(path, body, done)`` posts and reloads. */
export function wireDuplicate(c, act) {
  const link = document.getElementById("link-duplicate");
  if (link) link.onclick = () => linkDuplicate(c, act);
  const dismiss = document.getElementById("dismiss-duplicate");
  if (dismiss) dismiss.onclick = () => act("duplicate/dismiss", undefined, "Flag dismissed: a separate incident.");
}

export function linkDuplicate(c, act) {
  if (!c?.possible_duplicate_of) return undefined;
  return act("link", { to: c.possible_duplicate_of }, "Linked: this call follows the first case.");
}
