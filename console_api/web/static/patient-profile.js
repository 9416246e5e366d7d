// My profile: what the crew's emergency summary shows (blood group, allergies, conditions,
// emergency contacts), saved through the API.
import { $, esc, say } from "/static/common.js";
import { load } from "/static/patient-store.js";
import { freshness, items, perform, t, word } from "/static/patient-ui.js";

const FIELDS = ["full_name", "dob", "blood_group", "phone", "city"];
let profile = null;

function fill(data) {
  profile = data;
  const form = $("#profile-form");
  for (const name of FIELDS) form[name].value = data[name] ?? "";
}

export async function show() {
  const result = await load("profile", "/api/v1/patients/me/profile");
  freshness(result);
  fill(result.data);
  const chart = (await load("records", "/api/v1/patients/me/records")).data;
  $("#contact-list").innerHTML = items(chart.emergency_contacts, (c) => `<li class="row-between">
    <span>${esc(c.name)}${c.relationship ? ` (${esc(c.relationship)})` : ""} · <span dir="ltr">${esc(c.phone)}</span></span>
    <button type="button" data-remove="${esc(c.id)}" aria-label="${esc(t("remove_contact", { name: c.name }))}">${esc(t("remove"))}</button></li>`,
  "no_contacts");
  $("#allergy-list").innerHTML = items(chart.allergies, (a) => `<li>${esc(a.substance)}${a.severity
    ? ` — ${esc(word("sev", a.severity))}` : ""}${a.reaction ? `: ${esc(a.reaction)}` : ""}</li>`, "no_allergies");
  $("#condition-list").innerHTML = items(chart.conditions, (c) =>
    `<li>${esc(c.name)} <span class="muted">(${esc(word("clin", c.clinical_status))})</span></li>`, "no_conditions");
}

/** The form's non-empty fields as a body (empty optional fields are left out). */
function body(form, names) {
  const out = {};
  for (const name of names) {
    let value = form[name].value.trim();
    if (name === "phone") value = value.replace(/[\s()-]/g, "");
    if (value) out[name] = value;
  }
  return out;
}

/** A PUT replaces the profile: the fields this form does not show are sent back unchanged. */
function kept() {
  const out = {};
  for (const name of ["gender", "address", "province"]) if (profile?.[name]) out[name] = profile[name];
  return out;
}

function onSubmit(selector, handler) {
  $(selector).addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    if (!form.reportValidity()) return;
    try {
      const result = await handler(form);
      if (result?.done !== undefined) form.reset?.();
    } catch { /* perform() said why */ }
    await show().catch(() => {});
  });
}

onSubmit("#profile-form", (form) => perform(
  { kind: "profile", method: "PUT", path: "/api/v1/patients/me/profile",
    body: { ...kept(), ...body(form, FIELDS) } },
  t("saved"),
));
onSubmit("#contact-form", (form) => perform(
  { kind: "contact", queueable: false, path: "/api/v1/patients/me/emergency-contacts", body: body(form, ["name", "relationship", "phone"]) },
  t("saved"),
));
onSubmit("#allergy-form", (form) => perform(
  { kind: "allergy", queueable: false, path: "/api/v1/patients/me/allergies", body: body(form, ["substance", "reaction", "severity"]) },
  t("saved"),
));
onSubmit("#condition-form", (form) => perform(
  { kind: "condition", queueable: false, path: "/api/v1/patients/me/conditions", body: body(form, ["name"]) },
  t("saved"),
));

$("#contact-list").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-remove]");
  if (!button) return;
  button.disabled = true;
  await perform({ kind: "remove_contact", method: "DELETE", goneOk: true,
                  path: `/api/v1/patients/me/emergency-contacts/${button.dataset.remove}` }, t("removed"))
    .catch(() => say(""));
  await show().catch(() => {});
});
