// Doctor portal: a patient's chart and emergency summary, the record entry form, break-glass.
import { $, api, esc, say } from "/static/common.js";

const I18N = window.I18N;
const t = (key, params) => I18N.t(key, params);
let current = null;   // { patientId, reason, chart }
let onSaved = () => {};

const list = (items, render) => items.map((x) => `<li>${render(x)}</li>`).join("") || `<li class="muted">${esc(t("chart.none"))}</li>`;

// PostgreSQL's jsonb reorders keys: show them in the order the form asks for them.
const ORDER = ["complaint", "findings", "drug", "dose", "days", "test", "result"];
const rank = (key) => (ORDER.includes(key) ? ORDER.indexOf(key) : ORDER.length);

function payloadText(payload) {
  return Object.entries(payload || {}).sort(([a], [b]) => rank(a) - rank(b)).map(([k, v]) =>
    `<span class="muted">${esc(t(`field.${k}`))}:</span> ${esc(v)}`).join(" · ");
}

function render() {
  const { chart, reason } = current;
  const p = chart.patient || {};
  $("#chart-title").textContent = t("chart.title", { name: p.full_name || chart.patient_id });
  const facts = [
    p.dob && t("chart.born", { dob: p.dob }),
    p.blood_group && t("chart.blood", { group: p.blood_group }),
  ].filter(Boolean);
  $("#chart-who").innerHTML = `${esc(facts.join(" · "))} <span class="small" dir="ltr">(${esc(chart.patient_id)})</span>`;
  const glass = chart.access.flagged;
  $("#chart").classList.toggle("glass", glass);
  $("#chart-glass").hidden = !glass;
  $("#chart-glass").textContent = glass ? t("chart.glass", { reason }) : "";
  $("#chart-allergies").innerHTML = list(chart.allergies, (a) =>
    `<strong class="${a.severity === "severe" ? "text-red" : ""}">${esc(a.substance)}</strong>${a.reaction ? ` — ${esc(a.reaction)}` : ""}${a.severity ? ` <span class="badge">${esc(t(`severity.${a.severity}`))}</span>` : ""}`);
  $("#chart-conditions").innerHTML = list(chart.conditions, (c) =>
    `${esc(c.name)}${c.code ? ` <span dir="ltr" class="muted">${esc(c.code)}</span>` : ""} <span class="muted small">${esc(t(`clinical.${c.clinical_status}`))}</span>`);
  $("#chart-contacts").innerHTML = list(chart.emergency_contacts, (c) =>
    `${esc(c.name)}${c.relationship ? ` (${esc(c.relationship)})` : ""} <a href="tel:${esc(c.phone)}"><span dir="ltr">${esc(c.phone)}</span></a>`);
  $("#chart-records").innerHTML = list(chart.records, (r) =>
    `<strong>${esc(t(`record.${r.record_type}`))}</strong> <span class="muted small">${esc(new Date(r.created_at).toLocaleString(I18N.lang))}</span><br>${payloadText(r.payload)}`);
  // Only a treating doctor writes; a break-glass read is read-only.
  $("#record-form").hidden = glass;
}

/** Load and show a chart; ``reason`` breaks the glass (logged, flagged, alerted). */
export async function openChart(patientId, { visit = false, reason = null } = {}) {
  const headers = reason ? { "X-Break-Glass-Reason": reason } : {};
  try {
    const chart = await api(`/api/v1/patients/${encodeURIComponent(patientId)}/records`, { headers });
    current = { patientId, reason, chart };
    render();
    $("#chart").hidden = false;
    if (visit && !$("#record-form").hidden) {
      $("#record-type").value = "visit";
      showKind();
      $("#visit-complaint").focus();
    } else {
      $("#chart").focus();
    }
    return true;
  } catch (e) {
    say(e.status === 403 ? t("chart.refused") : e.message, "error");
    return false;
  }
}

function showKind() {
  const kind = $("#record-type").value;
  for (const box of document.querySelectorAll("#record-form [data-kind]")) box.hidden = box.dataset.kind !== kind;
}

function payload(kind) {
  const v = (id) => $(id).value.trim();
  const fields = {
    visit: { complaint: v("#visit-complaint"), findings: v("#visit-findings") },
    prescription: { drug: v("#rx-drug"), dose: v("#rx-dose"), days: v("#rx-days") },
    lab: { test: v("#lab-test"), result: v("#lab-result") },
  }[kind];
  return Object.fromEntries(Object.entries(fields).filter(([, x]) => x !== ""));
}

async function saveRecord(event) {
  event.preventDefault();
  const kind = $("#record-type").value;
  const body = { record_type: kind, payload: payload(kind) };
  if (!Object.keys(body.payload).length) { say(t("record.empty"), "error"); return; }
  try {
    await api(`/api/v1/patients/${current.patientId}/records`, { method: "POST", body });
    say(t("record.saved", { kind: t(`record.${kind}`) }));
    for (const input of $("#record-form").querySelectorAll("input, textarea")) input.value = "";
    await openChart(current.patientId);
    onSaved();
  } catch (e) { say(e.message, "error"); }
}

async function breakGlass(event) {
  event.preventDefault();
  const patient = $("#glass-patient").value.trim();
  const reason = $("#glass-reason").value.trim();
  if (await openChart(patient, { reason })) {
    $("#glass-reason").value = "";
    say(t("glass.logged"), "error");
  }
}

export function wireChart({ onSaved: saved }) {
  onSaved = saved;
  $("#record-type").addEventListener("change", showKind);
  $("#record-form").addEventListener("submit", saveRecord);
  $("#glass-form").addEventListener("submit", breakGlass);
  document.addEventListener("langchange", () => { if (current) render(); });
}
