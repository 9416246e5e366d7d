// My appointments (live queue position, confirm, change time, cancel, waitlist offers), my
// records and who opened them, and my emergency cases with their status.
import { $, esc, say } from "/static/common.js";
import { load, outbox } from "/static/patient-store.js";
import { freshness, items, perform, t, when, word } from "/static/patient-ui.js";

const LIVE = new Set(["booked", "confirmed", "checked_in", "in_progress"]);
const SLOTS_SHOWN = 12;
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
  const can = (action) => a.allowed_actions.includes(action);
  const buttons = [
    can("confirm") ? `<button type="button" class="primary" data-confirm="${esc(a.id)}">${esc(t("confirm_appt"))}</button>` : "",
    can("reschedule") ? `<button type="button" data-reschedule="${esc(a.id)}" aria-expanded="false" aria-controls="move-${esc(a.id)}">${esc(t("reschedule"))}</button>` : "",
    can("cancel") ? `<button type="button" class="danger-outline" data-cancel="${esc(a.id)}">${esc(t("cancel"))}</button>` : "",
  ].join("");
  return `<li class="card appointment status-${esc(a.status)}" data-appointment-id="${esc(a.id)}">
    <div class="row-between"><strong>${esc(when(a.start))}</strong>
      <span class="badge appt-${esc(a.status)}" data-status="${esc(a.status)}">${esc(word("appt", a.status))}</span></div>
    <p class="no-margin">${esc(who?.full_name || t("a_doctor"))}${place ? ` · ${esc(place)}` : ""}</p>
    <p class="queue status-big" aria-live="polite" data-queue="${esc(a.id)}">${esc(queueLine(queue))}</p>
    ${buttons ? `<div class="actions">${buttons}</div>` : ""}
    <div class="slots" id="move-${esc(a.id)}" hidden></div></li>`;
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
  // A redraw (live queue event, poll) keeps the free times a patient opened, and the focus.
  const opened = [...document.querySelectorAll("#appointment-list .slots:not([hidden])")]
    .map((box) => [box.id, box.innerHTML]);
  const focused = document.activeElement?.closest("#appointment-list button");
  const focusKey = focused && ["confirm", "reschedule", "cancel", "move"].map((k) => focused.dataset[k] &&
    `[data-${k}="${CSS.escape(focused.dataset[k])}"]${focused.dataset.start ? `[data-start="${CSS.escape(focused.dataset.start)}"]` : ""}`).find(Boolean);
  $("#appointment-list").innerHTML = pending + (rendered.length ? rendered.join("")
    : pending ? "" : `<li class="muted">${esc(t("no_appointments"))}</li>`);
  for (const [id, html] of opened) {
    const box = document.getElementById(id);
    if (!box) continue;
    box.innerHTML = html;
    box.hidden = false;
    box.closest("li").querySelector("[data-reschedule]")?.setAttribute("aria-expanded", "true");
  }
  if (focusKey) document.querySelector(`#appointment-list ${focusKey}`)?.focus();
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

/** The doctor's free times to move this appointment to (a fresh list: it needs the network). */
async function showMoves(button) {
  const appointment = mine.find((a) => a.id === button.dataset.reschedule);
  const box = $(`#move-${CSS.escape(appointment.id)}`);
  const open = button.getAttribute("aria-expanded") === "true";
  button.setAttribute("aria-expanded", String(!open));
  box.hidden = open;
  if (open) return;
  box.innerHTML = `<p class="muted">${esc(t("loading"))}</p>`;
  const who = await doctor(appointment.doctor_id);
  const names = Object.fromEntries((who?.hospitals || []).map((h) => [h.hospital_id, h.name]));
  const result = await load(`slots:${appointment.doctor_id}`, `/api/v1/doctors/${appointment.doctor_id}/slots`);
  const slots = result.data.filter((s) => s.start !== appointment.start).slice(0, SLOTS_SHOWN);
  box.innerHTML = slots.length ? `<p class="small muted">${esc(t("reschedule_pick"))}</p><ul class="slot-list">${slots.map((s) =>
    `<li><button type="button" class="slot" data-move="${esc(appointment.id)}" data-hospital="${esc(s.hospital_id)}"
      data-start="${esc(s.start)}">${esc(when(s.start))}<span class="small"> · ${esc(names[s.hospital_id] || "")}</span></button></li>`).join("")}</ul>`
    : `<p class="muted">${esc(t("no_slots"))}</p>`;
  box.querySelector("button")?.focus();
}

async function move(button) {
  const appointment = mine.find((a) => a.id === button.dataset.move);
  const body = { start: button.dataset.start, hospital_id: button.dataset.hospital };
  button.disabled = true;
  // Not queued offline: the free times may be gone by then, and the patient must see the answer.
  const result = await perform({ kind: "reschedule", path: `/api/v1/appointments/${appointment.id}/reschedule`,
                                 body, queueable: false }, t("rescheduled_to", { time: when(body.start) }))
    .catch(() => null);
  if (result) $(`#move-${CSS.escape(appointment.id)}`).hidden = true;
  else button.disabled = false;
  await showAppointments().catch(() => {});
  const moved = result?.done?.id || appointment.id;
  document.querySelector(`[data-appointment-id="${CSS.escape(moved)}"] button`)?.focus();
}

async function confirmComing(button) {
  const id = button.dataset.confirm;
  const appointment = mine.find((a) => a.id === id);
  button.disabled = true;
  // Safe to retry offline: a repeat finds it confirmed, which is what was wanted.
  await perform({ kind: "confirm", path: `/api/v1/appointments/${id}/confirm`, body: {},
                  label: when(appointment?.start), settled: "confirmed" }, t("confirmed_appt"))
    .catch(() => {});
  await showAppointments().catch(() => {});
  document.querySelector(`[data-appointment-id="${CSS.escape(id)}"] button`)?.focus();
}

$("#appointment-list").addEventListener("click", async (event) => {
  const action = event.target.closest("button[data-confirm], button[data-reschedule], button[data-move]");
  if (action?.dataset.confirm) return confirmComing(action);
  if (action?.dataset.reschedule) return showMoves(action).catch((e) => say(t("failed", { reason: e.message }), "error"));
  if (action?.dataset.move) return move(action);
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

