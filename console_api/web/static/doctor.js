// Doctor portal: one availability switch kept alive by heartbeats, today's agenda, the week.
import { $, api, esc, logout, say, session, signedIn } from "/static/common.js";
import { openChart, wireChart } from "/static/doctor_chart.js";
import { renderWeek, wireWeek } from "/static/doctor_week.js";

const I18N = window.I18N;
const t = (key, params) => I18N.t(key, params);
const BEAT_MS = 30_000;           // the server forgets a silent doctor after 90 s
const REMEMBER = "lifeline.doctor.state";  // this tab's choice, re-announced after a reload

let me = null;
let state = "offline";
let agenda = [];

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

const time = (iso) => new Date(iso).toLocaleTimeString(I18N.lang, { hour: "2-digit", minute: "2-digit" });

function showState(value) {
  state = value;
  for (const input of document.querySelectorAll("#availability input")) input.checked = input.value === value;
  $("#availability").dataset.state = value;
}

async function announce(value) {
  const body = { state: value };
  if ($("#where").value && value !== "offline") body.hospital_id = $("#where").value;
  try {
    await api("/api/v1/doctors/me/availability", { method: "PUT", body });
    showState(value);
    sessionStorage.setItem(REMEMBER, value);
    say(t("availability.now", { state: t(`state.${value}`) }));
  } catch (e) {
    showState(state);
    say(e.message, "error");
  }
}

async function beat() {
  if (state === "offline") return;
  try {
    const r = await api("/api/v1/doctors/me/heartbeat", { method: "POST" });
    if (r.expired) await announce(state);  // the network was down longer than the TTL
  } catch { /* next beat retries */ }
}

/** Closing the tab is going offline: a keepalive request outlives the page (it carries the token). */
function goOfflineOnClose() {
  window.addEventListener("pagehide", () => {
    if (state === "offline" || !session.access) return;
    fetch("/api/v1/doctors/me/availability", {
      method: "PUT", keepalive: true,
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${session.access}` },
      body: JSON.stringify({ state: "offline" }),
    }).catch(() => {});
  });
}

function renderPending() {
  const pending = me.affiliations.filter((a) => !a.accepted_at);
  $("#pending-box").hidden = pending.length === 0;
  $("#pending").innerHTML = pending.map((a) => `
    <li class="row-between"><span><strong>${esc(a.hospital_name)}</strong> — ${esc(a.department)}</span>
      <button type="button" class="primary" data-accept="${esc(a.hospital_id)}">${esc(t("pending.accept"))}</button></li>`).join("");
  for (const b of document.querySelectorAll("[data-accept]")) {
    b.onclick = async () => {
      try {
        await api(`/api/v1/doctors/me/affiliations/${b.dataset.accept}/accept`, { method: "POST" });
        say(t("pending.accepted"));
        await loadMe();
      } catch (e) { say(e.message, "error"); }
    };
  }
}

function renderWhere() {
  const hospitals = new Map(me.affiliations.filter((a) => a.accepted_at).map((a) => [a.hospital_id, a.hospital_name]));
  const chosen = $("#where").value;
  $("#where").innerHTML = `<option value="">${esc(t("availability.anywhere"))}</option>` +
    [...hospitals].map(([id, name]) => `<option value="${esc(id)}"${id === chosen ? " selected" : ""}>${esc(name)}</option>`).join("");
}

async function loadMe() {
  me = await api("/api/v1/doctors/me");
  $("#who").textContent = me.full_name;
  renderPending();
  renderWhere();
  renderWeek(me, loadMe);
  return me;
}

const ACTIONS = { check_in: "check-in", start: "start", complete: "complete", no_show: "no-show" };
const PRIMARY = new Set(["check_in", "start"]);

function renderAgenda() {
  $("#agenda").innerHTML = agenda.map((a) => {
    const buttons = Object.keys(ACTIONS).filter((k) => a.allowed_actions.includes(k)).map((k) =>
      `<button type="button" data-act="${k}" ${PRIMARY.has(k) ? 'class="primary"' : ""}>${esc(t(`action.${k}`))}</button>`);
    if (!["cancelled", "rescheduled"].includes(a.status)) buttons.push(`<button type="button" data-act="chart">${esc(t("action.chart"))}</button>`);
    return `<li class="appointment status-${esc(a.status)}" data-appointment="${esc(a.id)}">
      <div class="row-between"><strong><span dir="ltr">${esc(time(a.start))}</span> ${esc(a.patient_name || t("agenda.unnamed"))}</strong>
        <span class="badge appt-${esc(a.status)}">${esc(t(`status.${a.status}`))}</span></div>
      ${a.reason ? `<p class="muted small no-margin">${esc(a.reason)}</p>` : ""}
      <div class="actions">${buttons.join("")}</div></li>`;
  }).join("") || `<li class="muted">${esc(t("agenda.empty"))}</li>`;
  for (const b of document.querySelectorAll("#agenda [data-act]")) {
    const item = agenda.find((a) => a.id === b.closest("li").dataset.appointment);
    b.onclick = () => act(item, b.dataset.act);
  }
}

async function loadAgenda() {
  agenda = await api(`/api/v1/appointments/day?date=${encodeURIComponent($("#agenda-date").value || today())}`);
  renderAgenda();
}

async function act(item, action) {
  if (action === "chart") {
    await openChart(item.patient_id, { visit: item.status === "in_progress" });
    return;
  }
  let moved = false;
  try {
    await api(`/api/v1/appointments/${item.id}/${ACTIONS[action]}`, {
      method: "POST", headers: { "If-Match": `"${item.version}"` },
    });
    moved = true;
    say(t(`done.${action}`, { name: item.patient_name || "" }));
  } catch (e) { say(e.message, "error"); }
  await loadAgenda().catch(() => {});
  // Starting the visit opens the chart on the visit note; otherwise focus stays on the row.
  if (moved && action === "start") await openChart(item.patient_id, { visit: true });
  else $(`#agenda li[data-appointment="${item.id}"] button`)?.focus();
}

async function start() {
  I18N.init(window.CATALOGUE_DOCTOR);
  I18N.switcher($("#lang"));
  const user = await signedIn($("#login"), { role: "doctor" });
  $("#who").textContent = user.email;
  $("#signout").hidden = false;
  $("#signout").onclick = async () => {
    if (state !== "offline") await announce("offline");
    sessionStorage.removeItem(REMEMBER);
    await logout();
    location.reload();
  };
  try { await loadMe(); } catch (e) { say(e.message, "error"); return; }
  $("#app").hidden = false;
  showState(me.availability === "in_emergency" ? "busy" : me.availability);
  const remembered = sessionStorage.getItem(REMEMBER);
  if (state === "offline" && remembered && remembered !== "offline") await announce(remembered);
  for (const input of document.querySelectorAll("#availability input")) {
    input.addEventListener("change", () => { if (input.checked) announce(input.value); });
  }
  $("#where").addEventListener("change", () => { if (state !== "offline") announce(state); });
  $("#agenda-date").value = today();
  $("#agenda-date").addEventListener("change", () => loadAgenda().catch((e) => say(e.message, "error")));
  wireChart({ onSaved: () => loadAgenda() });
  wireWeek(loadMe);
  goOfflineOnClose();
  setInterval(beat, BEAT_MS);
  setInterval(() => loadAgenda().catch(() => {}), 30_000);
  document.addEventListener("langchange", () => { renderPending(); renderWhere(); renderWeek(me, loadMe); renderAgenda(); });
  await loadAgenda().catch((e) => say(e.message, "error"));
  document.body.dataset.ready = "1";
}

start();
