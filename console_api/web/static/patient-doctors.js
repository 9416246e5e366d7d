// Find a doctor (specialty, city, language, available now) with live availability; their free
// slots; book one (Idempotency-Key through the outbox) or join their waitlist.
import { $, esc, say } from "/static/common.js";
import { load } from "/static/patient-store.js";
import { freshness, items, perform, t, when, word } from "/static/patient-ui.js";

const SLOTS_SHOWN = 12;
let shown = [];         // the doctors of the last search
let searched = false;
const specialties = new Set();

function query() {
  const form = $("#search");
  const q = new URLSearchParams();
  for (const name of ["specialty", "city", "language"]) {
    const value = form[name].value.trim();
    if (value) q.set(name, value);
  }
  if (form.available_now.checked) q.set("available_now", "true");
  return q;
}

function badge(state) {
  return `<span class="badge avail-${esc(state)}" data-state="${esc(state)}">${esc(word("avail", state))}</span>`;
}

function card(doctor) {
  const places = doctor.hospitals.map((h) => `${h.name}${h.city ? `, ${h.city}` : ""}`).join(" · ");
  const languages = doctor.languages.map((code) => word("lang", code)).join(", ");
  return `<li class="card doctor" data-doctor-id="${esc(doctor.id)}">
    <div class="row-between"><h3 class="no-margin">${esc(doctor.full_name)}</h3>${badge(doctor.availability)}</div>
    <p class="no-margin">${esc(doctor.specialty)}${doctor.is_verified ? ` · <span class="verified">${esc(t("verified"))}</span>` : ""}</p>
    <p class="muted small no-margin">${esc(t("speaks"))}: ${esc(languages || "—")} · ${esc(places || "—")}</p>
    <div class="actions space-above">
      <button type="button" data-slots="${esc(doctor.id)}" aria-expanded="false">${esc(t("show_slots"))}</button>
      <button type="button" data-waitlist="${esc(doctor.id)}">${esc(t("join_waitlist"))}</button>
    </div>
    <div class="slots" id="slots-${esc(doctor.id)}" hidden></div>
  </li>`;
}

/** Redraw the list; the free times a user opened stay open (a poll or live event redraws). */
function renderList() {
  const opened = new Map([...document.querySelectorAll("#doctor-list .slots:not([hidden])")]
    .map((box) => [box.id, box.innerHTML]));
  const focused = focusKey();
  $("#doctor-count").textContent = t("doctors_found", { count: shown.length });
  $("#doctor-list").innerHTML = items(shown, card, "no_doctors");
  for (const [id, html] of opened) {
    const box = document.getElementById(id);
    if (!box) continue;
    box.innerHTML = html;
    box.hidden = false;
    box.closest("li").querySelector("[data-slots]").setAttribute("aria-expanded", "true");
  }
  if (focused) document.querySelector(focused)?.focus();
  $("#specialties").innerHTML = [...specialties].sort().map((s) => `<option value="${esc(s)}">`).join("");
}

/** The focused button of the list as a selector, so a redraw gives the focus back. */
function focusKey() {
  const el = document.activeElement;
  if (!el || !$("#doctor-list").contains(el)) return null;
  for (const name of ["slots", "waitlist", "book"]) {
    if (el.dataset[name]) {
      const start = el.dataset.start ? `[data-start="${CSS.escape(el.dataset.start)}"]` : "";
      return `[data-${name}="${CSS.escape(el.dataset[name])}"]${start}`;
    }
  }
  return null;
}

let ticket = 0;
async function search() {
  const q = query();
  const mine = ++ticket;
  const result = await load("doctors", `/api/v1/doctors?${q}`, { current: () => mine === ticket });
  if (mine !== ticket) return;  // a newer search (the user's, a poll's) answers instead
  freshness(result);
  const same = JSON.stringify(result.data) === JSON.stringify(shown);
  shown = result.data;
  searched = true;
  if (same && $("#doctor-list").children.length) return;  // a poll with no news: no redraw
  for (const doctor of shown) specialties.add(doctor.specialty);
  renderList();
}

export async function show() {
  await search();
}

/** A presence change: the badge changes in place; an "available now" search is run again. */
export function onAvailability(app, data) {
  if (app.view !== "doctors" || !searched) return;
  const listed = shown.find((d) => d.id === data.doctor_id);
  if ($("#search").available_now.checked) { search().catch(() => {}); return; }
  if (!listed) return;
  listed.availability = data.state;
  const el = document.querySelector(`li[data-doctor-id="${CSS.escape(data.doctor_id)}"] [data-state]`);
  if (el) el.outerHTML = badge(data.state);
}

async function showSlots(button) {
  const doctorId = button.dataset.slots;
  // Looked up again after each wait: a redraw of the list (poll, live event) replaces the box.
  const box = () => $(`#slots-${CSS.escape(doctorId)}`) || document.createElement("div");
  const open = button.getAttribute("aria-expanded") === "true";
  button.setAttribute("aria-expanded", String(!open));
  box().hidden = open;
  if (open) return;
  box().innerHTML = `<p class="muted">${esc(t("loading"))}</p>`;
  const doctor = shown.find((d) => d.id === doctorId);
  const names = Object.fromEntries((doctor?.hospitals || []).map((h) => [h.hospital_id, h.name]));
  const result = await load(`slots:${doctorId}`, `/api/v1/doctors/${doctorId}/slots`);
  freshness(result);
  const slots = result.data.slice(0, SLOTS_SHOWN);
  box().innerHTML = slots.length ? `<p class="small muted">${esc(t("pick_slot"))}</p><ul class="slot-list">${slots.map((s) =>
    `<li><button type="button" class="slot" data-book="${esc(doctorId)}" data-hospital="${esc(s.hospital_id)}"
      data-start="${esc(s.start)}">${esc(when(s.start))}<span class="small"> · ${esc(names[s.hospital_id] || "")}</span></button></li>`).join("")}</ul>`
    : `<p class="muted">${esc(t("no_slots"))}</p>`;
}

async function book(button) {
  const body = { doctor_id: button.dataset.book, hospital_id: button.dataset.hospital, start: button.dataset.start };
  button.disabled = true;
  try {
    const result = await perform(
      { kind: "book", path: "/api/v1/appointments", body, label: when(body.start) },
      t("booked", { time: when(body.start) }),
    );
    shown = [];  // the next visit redraws the list, free times closed (this one is gone)
    $("#doctor-list").innerHTML = "";
    location.hash = "#appointments";
    return result;
  } catch (error) {
    if (error.status === 409) {  // taken meanwhile: show what is still free
      const toggle = document.querySelector(`[data-slots="${CSS.escape(body.doctor_id)}"]`);
      toggle.setAttribute("aria-expanded", "false");
      await showSlots(toggle);
    }
  } finally {
    button.disabled = false;
  }
  return null;
}

async function joinWaitlist(button) {
  const now = new Date();
  const body = { doctor_id: button.dataset.waitlist, not_before: now.toISOString(),
                 not_after: new Date(now.getTime() + 14 * 86400000).toISOString() };
  await perform({ kind: "waitlist", path: "/api/v1/appointments/waitlist", body }, t("waitlisted"))
    .catch(() => {});
}

document.addEventListener("langchange", () => { if (searched) renderList(); });
$("#search").addEventListener("submit", (event) => {
  event.preventDefault();
  say("");
  search().catch((error) => say(t("failed", { reason: error.message }), "error"));
});
$("#doctor-list").addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.slots) showSlots(button).catch((e) => say(t("failed", { reason: e.message }), "error"));
  else if (button.dataset.book) book(button);
  else if (button.dataset.waitlist) joinWaitlist(button);
});
