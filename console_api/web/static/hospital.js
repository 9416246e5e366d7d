// Hospital panel: who is coming, how soon, acknowledge; report ED status and beds.
import { $, api, clock, CONFIG, esc, label, Live, logout, say, session, signedIn } from "/static/common.js";

let hospitalId = null;
let incoming = [];
let liveState = "connecting";

async function loadHospital() {
  const h = await api(`/api/v1/hospitals/${hospitalId}`);
  $("#title").textContent = h.name;
  document.title = `${h.name} — Lifeline`;
  if (document.activeElement?.closest("#capacity") == null) {
    $("#ed-status").value = h.ed_status;
    $("#beds").value = h.beds_available ?? "";
  }
  $("#capacity-note").textContent = h.capacity_updated_at
    ? `Last reported ${new Date(h.capacity_updated_at).toLocaleTimeString()}${h.capacity_stale ? " (stale: please update)" : ""}`
    : "Not reported yet.";
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
      <th scope="row">${esc(label(s.capability))}<br>
        <span class="badge svc-${esc(s.status)}">${esc(s.status)}</span>
        ${s.until ? `<span class="muted">until ${new Date(s.until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</span>` : ""}</th>
      <td><select aria-label="${esc(label(s.capability))} status">${SERVICE_STATUSES.map((v) =>
        `<option value="${v}"${v === s.status ? " selected" : ""}>${v}</option>`).join("")}</select></td>
      <td><input type="text" maxlength="500" aria-label="${esc(label(s.capability))} reason" value="${esc(s.reason ?? "")}" placeholder="e.g. CT down"></td>
      <td class="until-cell"><input type="datetime-local" aria-label="${esc(label(s.capability))} until" value="${esc(localInput(s.until))}"></td>
      <td><button type="button" data-save="${esc(s.capability)}">Save</button></td>
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
    say(`${label(row.dataset.capability)}: ${status}${body.until ? ` until ${new Date(body.until).toLocaleTimeString()}` : ""}.`);
    document.activeElement?.blur();
  } catch (e) { say(e.message, "error"); }
  await loadServices().catch(() => {});
}

async function loadIncoming() {
  incoming = await api(`/api/v1/hospitals/${hospitalId}/incoming`);
  render();
}

function countdown(item) {
  if (!item.eta_at) return "ETA unknown";
  const s = (Date.parse(item.eta_at) - Date.now()) / 1000;
  return s > 0 ? `in ${clock(s)}` : "arriving now";
}

function render() {
  $("#incoming-count").textContent = `(${incoming.length})`;
  $("#incoming").innerHTML = incoming.map((i) => `
    <article class="card urgent-${esc(i.severity || "none")}" data-case="${esc(i.case_id)}">
      <div class="row-between">
        <strong>${esc(label(i.symptom_category))}
          <span class="badge sev-${esc(i.severity || "none")}">${esc(i.severity || "untriaged")}</span></strong>
        <span class="countdown" data-eta="${esc(i.eta_at ?? "")}">${esc(countdown(i))}</span>
      </div>
      ${i.address ? `<p class="address">From <strong>${esc(i.address)}</strong></p>` : ""}
      <p>Unit ${esc(i.unit)}: <span class="unit-status">${esc(label(i.unit_status))}</span></p>
      <p>${i.patient ? `Patient: ${esc(i.patient.full_name)}${i.patient.dob ? `, born ${esc(i.patient.dob)}` : ""}${i.patient.blood_group ? `, blood group ${esc(i.patient.blood_group)}` : ""}`
        : '<span class="muted">Patient not registered</span>'}</p>
      ${i.acknowledged_at
        ? `<p class="badge live">Acknowledged ${new Date(i.acknowledged_at).toLocaleTimeString()}</p>`
        : `<button type="button" class="primary" data-ack="${esc(i.case_id)}">Acknowledge</button>`}
    </article>`).join("") || '<p class="muted">No patients on their way.</p>';
  for (const b of document.querySelectorAll("[data-ack]")) b.onclick = () => acknowledge(b.dataset.ack);
}

async function acknowledge(caseId) {
  try {
    await api(`/api/v1/emergency/cases/${caseId}/acknowledge`, { method: "POST" });
    say("Acknowledged: the dispatcher can see it.");
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
    say("ED status updated.");
    document.activeElement?.blur();
    await loadHospital();
  } catch (e) { say(e.message, "error"); }
}

async function refresh() {
  try { await Promise.all([loadHospital(), loadServices(), loadIncoming()]); } catch (e) { say(e.message, "error"); }
}

async function start() {
  const me = await signedIn($("#login"), { role: "hospital_admin" });
  hospitalId = me.hospital_id;
  $("#who").textContent = me.email;
  $("#signout").hidden = false;
  $("#signout").onclick = async () => { await logout(); location.reload(); };
  $("#app").hidden = false;
  $("#capacity").addEventListener("submit", saveCapacity);
  await refresh();
  new Live({
    channels: ["emergency.case.updated", "hospital.capacity.updated"],
    auth: () => ({ token: session.access }),
    onEvent: () => refresh(),
    onState: (state) => {
      liveState = state;
      $("#live").textContent = state === "live" ? "live" : "stale — polling";
      $("#live").className = `badge ${state}`;
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
