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
  try { await Promise.all([loadHospital(), loadIncoming()]); } catch (e) { say(e.message, "error"); }
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
