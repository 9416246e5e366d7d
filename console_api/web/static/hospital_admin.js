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

function week(lines) {
  return lines.map((l) => `<li>${esc(dayName(l.weekday, "short"))} <span dir="ltr">${esc(l.start_time)}–${esc(l.end_time)}</span> <span class="muted">${esc(t("schedule.every", { n: l.slot_minutes }))}</span></li>`).join("") ||
    `<li class="muted">${esc(t("schedule.none"))}</li>`;
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
      <td><ul class="plain-list week-list">${week(d.schedules)}</ul></td></tr>`).join("")}
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
  document.addEventListener("langchange", render);
}
