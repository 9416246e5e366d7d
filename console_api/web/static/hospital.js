// Hospital panel: who is coming, how soon, acknowledge; report ED status and beds.
import { $, api, clock, CONFIG, esc, label, Live, logout, say, session, signedIn } from "/static/common.js";
import { refreshAdmin, startAdmin } from "/static/hospital_admin.js";

const I18N = window.I18N;
const t = (key, params) => I18N.t(key, params);
/** A capability's name in the page's language (English: its identifier without underscores). */
const cap = (c) => (I18N.t(`cap.${c}`) === `cap.${c}` ? label(c) : I18N.t(`cap.${c}`));
const hhmm = (iso) => new Date(iso).toLocaleTimeString(I18N.lang, { hour: "2-digit", minute: "2-digit" });

let hospitalId = null;
let incoming = [];
let liveState = "connecting";

async function loadHospital() {
  const h = await api(`/api/v1/hospitals/${hospitalId}`);
  $("#title").removeAttribute("data-i18n");
  $("#title").textContent = h.name;
  document.title = `${h.name} — Lifeline`;
  if (document.activeElement?.closest("#capacity") == null) {
    $("#ed-status").value = h.ed_status;
    $("#beds").value = h.beds_available ?? "";
  }
  $("#capacity-note").textContent = h.capacity_updated_at
    ? t(h.capacity_stale ? "capacity.reported_stale" : "capacity.reported",
      { time: new Date(h.capacity_updated_at).toLocaleTimeString(I18N.lang) })
    : t("capacity.never");
}

const SERVICE_STATUSES = ["available", "limited", "unavailable"];

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function loadServices() {
  // Never overwrite what is being typed, nor a row changed and not yet saved (a live event
  // may arrive between choosing a status and pressing Save).
  const busy = () => document.activeElement?.closest("#services") || $("#services tr[data-dirty]");
  if (busy()) return;
  const { services } = await api(`/api/v1/hospitals/${hospitalId}/services`);
  if (busy()) return;  // checked again: the edit may have begun while this read was under way
  $("#services").innerHTML = services.map((s) => `
    <tr data-capability="${esc(s.capability)}">
      <th scope="row">${esc(cap(s.capability))}<br>
        <span class="badge svc-${esc(s.status)}">${esc(t(`svc.${s.status}`))}</span>
        ${s.until ? `<span class="muted">${esc(t("services.until_time", { time: hhmm(s.until) }))}</span>` : ""}</th>
      <td><select aria-label="${esc(t("services.status_of", { service: cap(s.capability) }))}">${SERVICE_STATUSES.map((v) =>
        `<option value="${v}"${v === s.status ? " selected" : ""}>${esc(t(`svc.${v}`))}</option>`).join("")}</select></td>
      <td><input type="text" maxlength="500" aria-label="${esc(t("services.reason_of", { service: cap(s.capability) }))}" value="${esc(s.reason ?? "")}" placeholder="${esc(t("services.example"))}"></td>
      <td class="until-cell"><input type="datetime-local" aria-label="${esc(t("services.until_of", { service: cap(s.capability) }))}" value="${esc(localInput(s.until))}"></td>
      <td><button type="button" data-save="${esc(s.capability)}">${esc(t("services.save"))}</button></td>
    </tr>`).join("");
  for (const b of document.querySelectorAll("[data-save]")) b.onclick = () => saveService(b.closest("tr"));
  for (const tr of document.querySelectorAll("#services tr")) {
    const edited = () => { tr.dataset.dirty = "1"; };
    tr.addEventListener("input", edited);
    tr.addEventListener("change", edited);
  }
}

async function saveService(row) {
  const status = row.querySelector("select").value;
  const reason = row.querySelector("input[type=text]").value.trim();
  const until = row.querySelector("input[type=datetime-local]").value;
  const body = { status };
  if (status !== "available") {
    if (reason) body.reason = reason;
    if (until) body.until = new Date(until).toISOString();
  }
  try {
    await api(`/api/v1/hospitals/${hospitalId}/services/${row.dataset.capability}`, { method: "PUT", body });
    delete row.dataset.dirty;
    const service = cap(row.dataset.capability);
    say(body.until
      ? t("services.saved_until", { service, status: t(`svc.${status}`), time: new Date(body.until).toLocaleTimeString(I18N.lang) })
      : t("services.saved", { service, status: t(`svc.${status}`) }));
    document.activeElement?.blur();
  } catch (e) { say(e.message, "error"); }
  await loadServices().catch(() => {});
}

async function loadIncoming() {
  incoming = await api(`/api/v1/hospitals/${hospitalId}/incoming`);
  render();
}

function countdown(item) {
  if (!item.eta_at) return t("incoming.eta_unknown");
  const s = (Date.parse(item.eta_at) - Date.now()) / 1000;
  return s > 0 ? t("incoming.in", { clock: clock(s) }) : t("incoming.arriving");
}

function render() {
  $("#incoming-count").textContent = `(${incoming.length})`;
  $("#incoming").innerHTML = incoming.map((i) => `
    <article class="card urgent-${esc(i.severity || "none")}" data-case="${esc(i.case_id)}">
      <div class="row-between">
        <strong>${esc(t(`symptom.${i.symptom_category}`) === `symptom.${i.symptom_category}` ? label(i.symptom_category) : t(`symptom.${i.symptom_category}`))}
          <span class="badge sev-${esc(i.severity || "none")}">${esc(t(`severity.${i.severity || "untriaged"}`))}</span></strong>
        <span class="countdown" data-eta="${esc(i.eta_at ?? "")}">${esc(countdown(i))}</span>
      </div>
      ${i.address ? `<p class="address">${esc(t("incoming.from"))} <strong>${esc(i.address)}</strong></p>` : ""}
      <p>${esc(t("incoming.unit", { unit: i.unit }))} <span class="unit-status">${esc(t(`unit.${i.unit_status}`) === `unit.${i.unit_status}` ? label(i.unit_status) : t(`unit.${i.unit_status}`))}</span></p>
      <p>${i.patient ? esc([t("incoming.patient", { name: i.patient.full_name }),
        i.patient.dob && t("incoming.born", { dob: i.patient.dob }),
        i.patient.blood_group && t("incoming.blood", { group: i.patient.blood_group })].filter(Boolean).join(", "))
        : `<span class="muted">${esc(t("incoming.unregistered"))}</span>`}</p>
      ${i.acknowledged_at
        ? `<p class="badge live">${esc(t("incoming.acknowledged", { time: new Date(i.acknowledged_at).toLocaleTimeString(I18N.lang) }))}</p>`
        : `<button type="button" class="primary" data-ack="${esc(i.case_id)}">${esc(t("incoming.acknowledge"))}</button>`}
    </article>`).join("") || `<p class="muted">${esc(t("incoming.none"))}</p>`;
  for (const b of document.querySelectorAll("[data-ack]")) b.onclick = () => acknowledge(b.dataset.ack);
}

async function acknowledge(caseId) {
  try {
    await api(`/api/v1/emergency/cases/${caseId}/acknowledge`, { method: "POST" });
    say(t("incoming.ack_done"));
  } catch (e) { say(e.message, "error"); }
  await loadIncoming().catch(() => {});
}

async function saveCapacity(event) {
  event.preventDefault();
  const beds = $("#beds").value.trim();
  try {
    await api(`/api/v1/hospitals/${hospitalId}/capacity`, {
      method: "PUT", body: { ed_status: $("#ed-status").value, beds_available: beds === "" ? null : Number(beds) },
    });
    say(t("capacity.updated"));
    document.activeElement?.blur();
    await loadHospital();
  } catch (e) { say(e.message, "error"); }
}

async function refresh() {
  try {
    await Promise.all([loadHospital(), loadServices(), loadIncoming(), refreshAdmin()]);
  } catch (e) { say(e.message, "error"); }
}

function showLive() {
  $("#live").textContent = liveState === "live" ? t("live.live") : liveState === "connecting" ? t("live.connecting") : t("live.stale");
  $("#live").className = `badge ${liveState}`;
}

async function start() {
  I18N.init(window.CATALOGUE_HOSPITAL);
  $("#live").removeAttribute("data-i18n");
  I18N.switcher($("#lang"));
  const me = await signedIn($("#login"), { role: "hospital_admin" });
  hospitalId = me.hospital_id;
  $("#who").textContent = me.email;
  $("#signout").hidden = false;
  $("#signout").onclick = async () => { await logout(); location.reload(); };
  $("#app").hidden = false;
  $("#capacity").addEventListener("submit", saveCapacity);
  startAdmin(hospitalId);
  document.addEventListener("langchange", () => {
    showLive();
    render();
    // The service rows are rebuilt unless one is being edited.
    loadServices().catch(() => {});
    loadHospital().catch(() => {});
  });
  await refresh();
  new Live({
    channels: ["emergency.case.updated", "hospital.capacity.updated"],
    auth: () => ({ token: session.access }),
    onEvent: () => refresh(),
    onState: (state) => {
      liveState = state;
      showLive();
      if (state === "live") refresh();
    },
  }).start();
  setInterval(() => {
    for (const el of document.querySelectorAll(".countdown")) {
      const item = incoming.find((i) => i.case_id === el.closest("article").dataset.case);
      if (item) el.textContent = countdown(item);
    }
  }, 1000);
  let last = 0;
  setInterval(() => {
    const every = liveState === "live" ? 30 : CONFIG.poll_seconds || 2;
    if (Date.now() - last >= every * 1000) { last = Date.now(); refresh(); }
  }, 500);
}

start();
