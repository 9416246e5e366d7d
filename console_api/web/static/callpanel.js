// "New call" panel of the console: an operator takes a voice call with the keyboard only.
// n opens it; type the address (results as you type, arrows + Enter pick, the pin can be dragged
// or put with a click), the symptom, the callback number; Enter creates the case.
import { $, api, esc, newKey, say } from "/static/common.js";
import { km, setText, t, word } from "/static/console_words.js";

const SYMPTOMS = ["cardiac_arrest", "chest_pain", "stroke_symptoms", "major_trauma", "burns",
  "breathing", "obstetric", "paediatric", "overdose", "psychiatric", "other"];

/** The panel's markup; every word carries its catalogue key, so a language switch re-applies it. */
const panel = () => `
<form id="newcall" class="card newcall" aria-labelledby="newcall-title" hidden autocomplete="off">
  <h2 id="newcall-title" class="flush-top" data-i18n="call.title">${esc(t("call.title"))}</h2>
  <label for="call-search" data-i18n="call.where">${esc(t("call.where"))}</label>
  <input id="call-search" role="combobox" aria-autocomplete="list" aria-expanded="false" dir="auto"
    aria-controls="call-results" placeholder="${esc(t("call.search_placeholder"))}" data-i18n-placeholder="call.search_placeholder">
  <ul id="call-results" role="listbox" aria-label="${esc(t("call.results"))}" data-i18n-aria-label="call.results"></ul>
  <p id="call-place" class="muted" aria-live="polite" data-i18n="call.no_place">${esc(t("call.no_place"))}</p>
  <label for="call-symptom" data-i18n="call.symptom">${esc(t("call.symptom"))}</label>
  <select id="call-symptom">${SYMPTOMS.map((s) => `<option value="${s}" data-i18n="symptom.${s}">${esc(word("symptom", s))}</option>`).join("")}</select>
  <label for="call-phone" data-i18n="call.phone">${esc(t("call.phone"))}</label>
  <input id="call-phone" type="tel" inputmode="tel" placeholder="+358401234567" maxlength="20" dir="ltr">
  <label for="call-severity" data-i18n="call.severity">${esc(t("call.severity"))}</label>
  <select id="call-severity"><option value="" data-i18n="call.not_yet">${esc(t("call.not_yet"))}</option>
    ${["critical", "high", "medium", "low"].map((s) => `<option value="${s}" data-i18n="severity.${s}">${esc(word("severity", s))}</option>`).join("")}</select>
  <label for="call-notes" data-i18n="call.notes">${esc(t("call.notes"))}</label>
  <input id="call-notes" maxlength="2000" dir="auto">
  <p class="form-error" role="alert" id="call-error"></p>
  <div class="actions"><button class="primary" type="submit" id="call-create" data-i18n="call.create">${esc(t("call.create"))}</button>
    <button type="button" id="call-close" data-i18n="call.close">${esc(t("call.close"))}</button></div>
</form>`;

export function installCallPanel({ map, host, onCreated }) {
  host.insertAdjacentHTML("afterbegin", panel());
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
    setText($("#call-place"), "call.no_place");
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
        <strong><bdi>${esc(f.properties.label)}</bdi></strong>
        <span class="muted">${esc(word("kind", f.properties.kind))}${f.properties.distance_m != null ? ` · ${esc(km(f.properties.distance_m))}` : ""}</span></li>`).join("")
      || `<li class="muted">${esc(message || t("call.no_match"))}</li>`;
    if (state.active >= 0) search.setAttribute("aria-activedescendant", `call-hit-${state.active}`);
  }
  function place(lat, lng, text) {
    state.place = { lat, lng };
    if (!state.pin) {
      state.pin = window.L.marker([lat, lng], { draggable: true, keyboard: false, title: t("call.pin") }).addTo(map);
      state.pin.on("dragend", () => { const p = state.pin.getLatLng(); describe(p.lat, p.lng, "moved"); });
    }
    state.pin.setLatLng([lat, lng]);
    map.panTo([lat, lng]);
    delete $("#call-place").dataset.i18n;
    $("#call-place").innerHTML = `<strong><bdi>${esc(text)}</bdi></strong>`;
    map.getContainer().dataset.callPin = `${lat.toFixed(6)},${lng.toFixed(6)}`;
  }
  async function describe(lat, lng, how) {
    place(lat, lng, `${lat.toFixed(5)}, ${lng.toFixed(5)}`);
    try {
      const r = await api(`/api/v1/geocode/reverse?lat=${lat}&lng=${lng}`, { auth: false });
      if (state.place?.lat === lat) $("#call-place").innerHTML = `<strong><bdi>${esc(r.label ?? t("call.unnamed"))}</bdi></strong> <span class="muted">${esc(t(`call.pin_${how}`))}</span>`;
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
    if (!state.place) { error.textContent = t("call.pick_first"); search.focus(); return; }
    const body = {
      lat: state.place.lat, lng: state.place.lng, source: "phone",
      symptom_category: $("#call-symptom").value, reporter_phone: $("#call-phone").value.trim(),
    };
    if ($("#call-severity").value) body.severity = $("#call-severity").value;
    if ($("#call-notes").value.trim()) body.notes = $("#call-notes").value.trim();
    try {
      const c = await api("/api/v1/emergency/cases", { method: "POST", body, headers: { "Idempotency-Key": state.key } });
      say(t(`call.created${c.address ? "_at" : ""}${c.possible_duplicate_of ? "_duplicate" : ""}`, { address: c.address }));
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
    if (!other) return t("dup.case", { id: id.slice(0, 8) });
    const symptom = word("symptom", other.symptom_category);
    return other.address ? t("dup.at", { symptom, address: other.address }) : symptom;
  };
  if (c.linked_to) {
    return `<p class="alert" id="linked">${esc(t("dup.linked", { case: name(c.linked_to) }))}</p>`;
  }
  if (!c.possible_duplicate_of) return "";
  return `<div class="alert" id="duplicate" role="alert">${esc(t("dup.possible", { case: name(c.possible_duplicate_of) }))}
    <button type="button" class="primary" id="link-duplicate">${esc(t("dup.link"))}</button>
    <button type="button" id="dismiss-duplicate">${esc(t("dup.dismiss"))}</button></div>`;
}

/** Wire the buttons of :func:`duplicateBlock`; ``act(path, body, done)`` posts and reloads. */
export function wireDuplicate(c, act) {
  const link = document.getElementById("link-duplicate");
  if (link) link.onclick = () => linkDuplicate(c, act);
  const dismiss = document.getElementById("dismiss-duplicate");
  if (dismiss) dismiss.onclick = () => act("duplicate/dismiss", undefined, t("dup.dismissed"));
}

export function linkDuplicate(c, act) {
  if (!c?.possible_duplicate_of) return undefined;
  return act("link", { to: c.possible_duplicate_of }, t("dup.done"));
}
