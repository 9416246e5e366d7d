// Doctor portal: "My weekly schedule", with adding and removing one's own lines.
import { $, api, esc, say } from "/static/common.js";

const I18N = window.I18N;
const t = (key, params) => I18N.t(key, params);
// 2024-01-01 was a Monday: weekday 0 of the API.
const day = (n) => new Date(Date.UTC(2024, 0, 1 + n)).toLocaleDateString(I18N.lang, { weekday: "long", timeZone: "UTC" });
const hm = (value) => value.slice(0, 5);

/** The week per hospital; a remove button on lines at hospitals the doctor accepted. */
export function renderWeek(me, reload) {
  const names = Object.fromEntries(me.affiliations.map((a) => [a.hospital_id, a.hospital_name]));
  const accepted = new Set(me.affiliations.filter((a) => a.accepted_at).map((a) => a.hospital_id));
  const byHospital = new Map();
  for (const line of me.schedules) {
    if (!byHospital.has(line.hospital_id)) byHospital.set(line.hospital_id, []);
    byHospital.get(line.hospital_id).push(line);
  }
  $("#week").innerHTML = [...byHospital].map(([id, lines]) => `
    <h3>${esc(names[id] || id)}</h3>
    <table class="week"><thead><tr><th scope="col">${esc(t("week.day"))}</th><th scope="col">${esc(t("week.hours"))}</th><th scope="col">${esc(t("week.slot"))}</th><th scope="col"><span class="visually-hidden">${esc(t("week.remove"))}</span></th></tr></thead>
    <tbody>${lines.map((l) => `<tr><td>${esc(day(l.weekday))}</td><td><span dir="ltr">${esc(hm(l.start_time))}–${esc(hm(l.end_time))}</span></td>
      <td>${esc(t("week.minutes", { n: l.slot_minutes }))}</td>
      <td>${accepted.has(id) ? `<button type="button" data-remove-line="${esc(l.id)}" aria-label="${esc(t("week.remove_line", { day: day(l.weekday), hours: `${hm(l.start_time)}–${hm(l.end_time)}` }))}">${esc(t("week.remove"))}</button>` : ""}</td></tr>`).join("")}</tbody></table>`).join("")
    || `<p class="muted">${esc(t("week.none"))}</p>`;
  for (const b of document.querySelectorAll("[data-remove-line]")) {
    b.onclick = async () => {
      try {
        await api(`/api/v1/doctors/me/schedules/${b.dataset.removeLine}`, { method: "DELETE" });
        say(t("week.removed"));
        await reload();
      } catch (e) { say(e.message, "error"); }
    };
  }
  const form = $("#week-add");
  form.hidden = accepted.size === 0;
  const chosen = $("#week-hospital").value;
  $("#week-hospital").innerHTML = [...accepted].map((id) => `<option value="${esc(id)}"${id === chosen ? " selected" : ""}>${esc(names[id] || id)}</option>`).join("");
  const weekday = $("#week-weekday").value || "0";
  $("#week-weekday").innerHTML = [0, 1, 2, 3, 4, 5, 6].map((n) => `<option value="${n}"${String(n) === weekday ? " selected" : ""}>${esc(day(n))}</option>`).join("");
}

/** The add form: one line at a time, through POST /api/v1/doctors/me/schedules. */
export function wireWeek(reload) {
  $("#week-add").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/api/v1/doctors/me/schedules", { method: "POST", body: {
        hospital_id: $("#week-hospital").value, weekday: Number($("#week-weekday").value),
        start_time: $("#week-start").value, end_time: $("#week-end").value,
        slot_minutes: Number($("#week-minutes").value),
      } });
      say(t("week.added"));
      await reload();
    } catch (e) { say(e.message, "error"); }
  });
}
