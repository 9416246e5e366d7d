// Hospital panel, admin side: today's metrics, departments, attached doctors and their weeks.
import { $, api, esc, say } from "/static/common.js";

const I18N = window.I18N;
const t = (key, params) => I18N.t(key, params);
let hospitalId = null;
let departments = [];
let roster = [];
let directory = [];
let metrics = null;

// 2024-01-01 was a Monday: weekday 0 of the API.
const dayName = (n, style = "long") =>
  new Date(Date.UTC(2024, 0, 1 + n)).toLocaleDateString(I18N.lang, { weekday: style, timeZone: "UTC" });

/** Rebuild a <select>'s options, keeping the choice, unless someone is using its form. */
function options(select, items, placeholder) {
  if (select.closest("form").contains(document.activeElement)) return;
  const chosen = select.value;
  select.innerHTML = (placeholder ? `<option value="">${esc(placeholder)}</option>` : "") +
    items.map(([value, text]) => `<option value="${esc(value)}">${esc(text)}</option>`).join("");
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

function renderMetrics() {
  if (!metrics) return;
  const m = metrics;
  const by = Object.entries(m.appointments_by_status || {})
    .map(([status, n]) => `${t(`appt.${status}`)}: ${n}`).join(" · ");
  const items = [
    ["metrics.appointments", m.appointments_today, by],
    ["metrics.no_shows", m.no_shows_today],
    ["metrics.open_cases", m.open_emergency_cases],
    ["metrics.ed", t(`ed.${m.ed_status}`)],
    ["metrics.beds", m.beds_available ?? "—"],
  ];
  $("#metrics").innerHTML = items.map(([key, value, note]) =>
    `<div class="metric" data-metric="${esc(key.split(".")[1])}"><dt>${esc(t(key))}</dt><dd>${esc(value)}</dd>${note ? `<dd class="muted small">${esc(note)}</dd>` : ""}</div>`).join("");
}

function renderDepartments() {
  $("#departments").innerHTML = departments.map((d) => `<li>${esc(d.name)}</li>`).join("") ||
    `<li class="muted">${esc(t("departments.none"))}</li>`;
  options($("#attach-department"), departments.map((d) => [d.id, d.name]));
}

const hours = (l) => `${l.start_time}–${l.end_time}`;
// Inside translated text, a time range keeps its left-to-right order in Urdu (a bidi isolate).
const isolated = (text) => `\u2066${text}\u2069`;

function week(doctor) {
  return doctor.schedules.map((l) => `<li>${esc(dayName(l.weekday, "short"))} <span dir="ltr">${esc(hours(l))}</span> <span class="muted">${esc(t("schedule.every", { n: l.slot_minutes }))}</span>
    <button type="button" class="danger-outline" data-remove-line="${esc(l.id)}" data-doctor="${esc(doctor.doctor_id)}"
      aria-label="${esc(t("schedule.remove_line", { name: doctor.full_name, day: dayName(l.weekday), hours: hours(l) }))}">${esc(t("schedule.remove"))}</button></li>`).join("") ||
    `<li class="muted">${esc(t("schedule.none"))}</li>`;
}

/** Ask before removing a line (a native modal dialog: focus starts on "Keep them", Escape keeps). */
function confirmRemoval(doctor, line) {
  const dialog = $("#remove-dialog");
  $("#remove-text").textContent = t("schedule.confirm_text",
    { name: isolated(doctor.full_name), day: dayName(line.weekday), hours: isolated(hours(line)) });
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "remove"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

async function removeLine(button) {
  const doctor = roster.find((d) => d.doctor_id === button.dataset.doctor);
  const line = doctor?.schedules.find((l) => l.id === button.dataset.removeLine);
  if (!line) return;
  if (!(await confirmRemoval(doctor, line))) {
    // The roster may have been redrawn meanwhile (live updates): focus the button as it is now.
    document.querySelector(`[data-remove-line="${line.id}"]`)?.focus();
    return;
  }
  try {
    await api(`/api/v1/hospitals/${hospitalId}/doctors/${doctor.doctor_id}/schedules/${line.id}`, { method: "DELETE" });
    say(t("schedule.removed", { day: dayName(line.weekday) }));
  } catch (e) { say(e.message, "error"); }
  await refreshAdmin().catch(() => {});
  // Focus stays in the doctor's week: the next remove button, or the row itself.
  const row = document.querySelector(`#roster tr[data-doctor="${doctor.doctor_id}"]`);
  (row?.querySelector("[data-remove-line]") || $("#schedule-doctor")).focus();
}

function renderRoster() {
  $("#roster").innerHTML = roster.length ? `<table class="roster"><thead><tr>
      <th scope="col">${esc(t("doctors.name"))}</th><th scope="col">${esc(t("doctors.department"))}</th>
      <th scope="col">${esc(t("doctors.status"))}</th><th scope="col">${esc(t("doctors.week"))}</th></tr></thead><tbody>
    ${roster.map((d) => `<tr data-doctor="${esc(d.doctor_id)}">
      <th scope="row">${esc(d.full_name)}<br><span class="muted small">${esc(d.specialty)}</span>
        <span class="badge avail-${esc(d.availability)}">${esc(t(`avail.${d.availability}`))}</span></th>
      <td>${esc(d.department)}${d.is_primary ? ` <span class="muted small">(${esc(t("attach.primary"))})</span>` : ""}</td>
      <td class="affiliation">${d.accepted_at
        ? `<span class="badge svc-available">${esc(t("doctors.accepted"))}</span>`
        : `<span class="badge svc-limited">${esc(t("doctors.pending"))}</span>`}</td>
      <td><ul class="plain-list week-list">${week(d)}</ul></td></tr>`).join("")}
    </tbody></table>` : `<p class="muted">${esc(t("doctors.none"))}</p>`;
  const doctors = new Map(roster.map((d) => [d.doctor_id, d.full_name]));
  options($("#schedule-doctor"), [...doctors]);
  options($("#attach-doctor"), directory.map((d) => [d.id, `${d.full_name} — ${d.specialty}`]), t("attach.choose"));
}

export async function refreshAdmin() {
  if (!hospitalId) return;
  [metrics, departments, roster] = await Promise.all([
    api(`/api/v1/hospitals/${hospitalId}/dashboard-metrics`),
    api(`/api/v1/hospitals/${hospitalId}/departments`),
    api(`/api/v1/hospitals/${hospitalId}/doctors`),
  ]);
  render();
}

function render() {
  renderMetrics();
  renderDepartments();
  renderRoster();
  options($("#schedule-day"), [0, 1, 2, 3, 4, 5, 6].map((n) => [n, dayName(n)]));
}

async function submit(event, send, done) {
  event.preventDefault();
  try {
    await send();
    say(done());
    document.activeElement?.blur();
    await refreshAdmin();
  } catch (e) { say(e.message, "error"); }
}

export function startAdmin(id) {
  hospitalId = id;
  api("/api/v1/doctors?limit=200").then((found) => { directory = found; renderRoster(); }).catch(() => {});
  $("#department-form").addEventListener("submit", (event) => submit(event, async () => {
    await api(`/api/v1/hospitals/${hospitalId}/departments`, { method: "POST", body: { name: $("#department-name").value.trim() } });
  }, () => { const name = $("#department-name").value.trim(); $("#department-name").value = ""; return t("departments.added", { name }); }));
  $("#attach-form").addEventListener("submit", (event) => submit(event, async () => {
    await api(`/api/v1/hospitals/${hospitalId}/doctors`, {
      method: "POST",
      body: { doctor_id: $("#attach-doctor").value, department_id: $("#attach-department").value, is_primary: $("#attach-primary").checked },
    });
  }, () => t("attach.done", { name: directory.find((d) => d.id === $("#attach-doctor").value)?.full_name || "" })));
  $("#schedule-form").addEventListener("submit", (event) => submit(event, async () => {
    await api(`/api/v1/hospitals/${hospitalId}/doctors/${$("#schedule-doctor").value}/schedules`, {
      method: "POST",
      body: { weekday: Number($("#schedule-day").value), start_time: $("#schedule-start").value,
        end_time: $("#schedule-end").value, slot_minutes: Number($("#schedule-slot").value) },
    });
  }, () => t("schedule.done", { day: dayName(Number($("#schedule-day").value)) })));
  $("#roster").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-remove-line]");
    if (button) removeLine(button);
  });
  document.addEventListener("langchange", render);
}
