// My appointments (live queue position, cancel, waitlist offers), my records and who opened
// them, and my emergency cases with their status.
import { $, esc } from "/static/common.js";
import { load, outbox } from "/static/patient-store.js";
import { freshness, items, perform, t, when, word } from "/static/patient-ui.js";

const LIVE = new Set(["booked", "confirmed", "checked_in"]);
const doctors = new Map();   // doctor id -> public profile (names for the list)
let mine = [];

async function doctor(id) {
  if (!doctors.has(id)) {
    try { doctors.set(id, (await load(`doctor:${id}`, `/api/v1/doctors/${id}`)).data); } catch { return null; }
  }
  return doctors.get(id);
}

async function patientId() {
  const result = await load("profile", "/api/v1/patients/me/profile");
  return result.data.id;
}

function queueLine(queue) {
  if (!queue || queue.position == null) return "";
  return queue.position === 1 ? t("queue_next", { length: queue.queue_length })
    : t("queue_position", { position: queue.position, ahead: queue.waiting_ahead, length: queue.queue_length });
}

async function appointmentItem(a) {
  const who = await doctor(a.doctor_id);
  const place = who?.hospitals.find((h) => h.hospital_id === a.hospital_id)?.name || "";
  let queue = null;
  if (a.status === "checked_in") {
    try { queue = (await load(`queue:${a.id}`, `/api/v1/appointments/${a.id}/queue`)).data; } catch { /* shown without */ }
  }
  const cancel = a.allowed_actions.includes("cancel")
    ? `<button type="button" class="danger-outline" data-cancel="${esc(a.id)}">${esc(t("cancel"))}</button>` : "";
  return `<li class="card appointment status-${esc(a.status)}" data-appointment-id="${esc(a.id)}">
    <div class="row-between"><strong>${esc(when(a.start))}</strong>
      <span class="badge appt-${esc(a.status)}" data-status="${esc(a.status)}">${esc(word("appt", a.status))}</span></div>
    <p class="no-margin">${esc(who?.full_name || t("a_doctor"))}${place ? ` · ${esc(place)}` : ""}</p>
    <p class="queue status-big" aria-live="polite" data-queue="${esc(a.id)}">${esc(queueLine(queue))}</p>
    ${cancel}</li>`;
}

function pendingItem(item) {
  return `<li class="card pending"><strong>${esc(word("pending", item.kind))}</strong>
    ${item.label ? ` · ${esc(item.label)}` : ""}<p class="muted small no-margin">${esc(t("waiting_network"))}</p></li>`;
}

function waitItem(entry) {
  const offer = entry.offer
    ? `<p>${esc(t("offer", { time: when(entry.offer.start) }))}</p>
       <button type="button" class="primary" data-accept="${esc(entry.id)}">${esc(t("accept_offer"))}</button>` : "";
  return `<li class="card"><div class="row-between"><span>${esc(doctors.get(entry.doctor_id)?.full_name || t("a_doctor"))}</span>
    <span class="badge">${esc(word("wait", entry.status))}</span></div>
    <p class="muted small no-margin">${esc(when(entry.not_before, { dateStyle: "medium" }))} – ${esc(when(entry.not_after, { dateStyle: "medium" }))}</p>${offer}</li>`;
}

export async function showAppointments() {
  const result = await load("appointments", "/api/v1/appointments/mine");
  freshness(result);
  mine = result.data;
  const pending = outbox.items().filter((item) => item.kind === "book").map(pendingItem).join("");
  const rendered = await Promise.all(mine.map(appointmentItem));
  $("#appointment-list").innerHTML = pending + (rendered.length ? rendered.join("")
    : pending ? "" : `<li class="muted">${esc(t("no_appointments"))}</li>`);
  const waits = (await load("waitlist", "/api/v1/appointments/waitlist")).data;
  await Promise.all(waits.map((w) => doctor(w.doctor_id)));
  $("#waitlist-list").innerHTML = items(waits, waitItem, "no_waitlist");
}

/** Someone's queue moved: if it is the queue of one of my appointments, read my place again. */
export function onQueue(app, data) {
  if (app.view !== "appointments") return;
  const concerned = mine.some((a) => LIVE.has(a.status) && a.doctor_id === data.doctor_id
    && a.hospital_id === data.hospital_id);
  if (concerned) showAppointments().catch(() => {});
}

$("#appointment-list").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-cancel]");
  if (!button) return;
  const id = button.dataset.cancel;
  const appointment = mine.find((a) => a.id === id);
  if (!window.confirm(t("confirm_cancel", { time: when(appointment?.start) }))) return;
  button.disabled = true;
  await perform({ kind: "cancel", path: `/api/v1/appointments/${id}/cancel`, body: {},
                  label: when(appointment?.start), settled: "cancelled" }, t("cancelled"))
    .catch(() => {});
  await showAppointments().catch(() => {});
});

$("#waitlist-list").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-accept]");
  if (!button) return;
  button.disabled = true;
  await perform({ kind: "accept", path: `/api/v1/appointments/waitlist/${button.dataset.accept}/accept`,
                  body: {} }, t("booked_offer")).catch(() => {});
  await showAppointments().catch(() => {});
});

function payloadText(payload) {
  return Object.entries(payload || {}).map(([k, v]) =>
    `<span class="kv"><strong>${esc(k.replaceAll("_", " "))}:</strong> ${esc(typeof v === "object" ? JSON.stringify(v) : v)}</span>`).join(" ");
}

function accessRow(row) {
  const basis = `${esc(word("basis", row.basis))}${row.reason ? ` — ${esc(row.reason)}` : ""}`;
  return `<tr class="${row.flagged ? "flagged" : ""}"><td>${esc(when(row.at))}</td><td>${esc(row.actor)}</td>
    <td>${esc(word("kind", row.kind))}</td><td>${row.flagged ? `<strong>${esc(t("break_glass"))}</strong>: ` : ""}${basis}</td></tr>`;
}

export async function showRecords() {
  const result = await load("records", "/api/v1/patients/me/records");
  freshness(result);
  $("#record-list").innerHTML = items(result.data.records, (r) => `<li class="card">
    <div class="row-between"><strong>${esc(word("record", r.record_type))}</strong><span class="muted">${esc(when(r.created_at))}</span></div>
    <p class="no-margin">${payloadText(r.payload)}</p></li>`, "no_records");
  const log = (await load("access", `/api/v1/patients/${result.data.patient_id}/access-log`)).data;
  $("#access-log").innerHTML = log.length ? log.map(accessRow).join("")
    : `<tr><td colspan="4" class="muted">${esc(t("no_access"))}</td></tr>`;
}

async function caseItem(encounter) {
  let status = encounter.status;
  let hospital = "";
  try {
    const view = (await load(`case:${encounter.id}`, `/api/v1/emergency/cases/${encounter.id}`)).data;
    status = view.status;
    hospital = view.recommended_hospitals?.find((h) => h.hospital_id === view.destination_hospital_id)?.name || "";
  } catch { /* the encounter's own status is shown */ }
  const symptom = encounter.reasonCode?.[0]?.text;
  return `<li class="card"><div class="row-between"><strong>${esc(word("symptom", symptom))}</strong>
    <span class="badge case-${esc(status)}">${esc(word("case", status))}</span></div>
    <p class="muted small no-margin">${esc(when(encounter.period?.start))}${hospital ? ` · ${esc(hospital)}` : ""}</p></li>`;
}

export async function showEmergencies() {
  const id = await patientId();
  const result = await load("cases", `/fhir/Encounter?patient=${encodeURIComponent(id)}`);
  freshness(result);
  const encounters = (result.data.entry || []).map((e) => e.resource).slice(0, 20);
  const rendered = await Promise.all(encounters.map(caseItem));
  $("#case-list").innerHTML = rendered.length ? rendered.join("") : `<li class="muted">${esc(t("no_cases"))}</li>`;
}

