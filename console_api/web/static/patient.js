// Patient app (issue 25): sign up or in, then doctors, bookings with a live queue position,
// profile, records with their access log, emergencies. SOS is in the header of every screen.
// Reads work offline from what was last loaded, also after the installed app was closed (unless
// the user said the phone is shared); actions wait in the outbox (patient-store.js).
import { $, api, CONFIG, Live, login, logout, say, session } from "/static/common.js";
import { device, flush, outbox, unreachable } from "/static/patient-store.js";
import { reason, t } from "/static/patient-ui.js";
import * as doctors from "/static/patient-doctors.js";
import * as care from "/static/patient-care.js";
import * as profile from "/static/patient-profile.js";
import { showMap } from "/static/patient-map.js";

const I18N = window.I18N;
const VIEWS = {
  doctors: doctors.show, appointments: care.showAppointments, profile: profile.show,
  records: care.showRecords, emergencies: care.showEmergencies,
};
const ME = "lifeline.patient.me";  // sessionStorage: who is signed in, for reading offline

const app = { me: null, view: null, live: false, render: () => render() };

function current() {
  const name = location.hash.slice(1);
  return name in VIEWS ? name : "doctors";
}

/** Show one section and (re)load it; the tab says which one is current. */
async function render() {
  if (!app.me) return;
  const name = current();
  app.view = name;
  for (const id of Object.keys(VIEWS)) $(`#${id}`).hidden = id !== name;
  for (const link of document.querySelectorAll("#tabs a")) {
    if (link.hash === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (name === "doctors") showMap();
  try {
    await VIEWS[name](app);
  } catch (error) {
    say(error.status === 401 ? t("signed_out") : t("failed", { reason: error.message }), "error");
  }
}

function showOutbox(items) {
  const box = $("#outbox");
  box.hidden = !items.length;
  box.textContent = items.length ? t("outbox", { count: items.length }) : "";
}

function online(isOnline) {
  $("#net").hidden = isOnline;
  if (!isOnline) return;
  // Reopened offline without a session: back online, the user signs in to go on (data stays).
  if (app.me && !session.access) { showAuth(); say(t("offline_signin"), "error"); return; }
  flush(() => render());
}

async function start(me, { shared = device.shared() } = {}) {
  app.me = me;
  sessionStorage.setItem(ME, JSON.stringify(me));
  device.use(me, { shared });
  $("#auth").hidden = true;
  $("#tabs").hidden = false;
  $("#account-row").hidden = false;
  $("#who").textContent = me.email;
  if (!app.liveFeed) {
    app.liveFeed = new Live({
      channels: ["doctor.availability.updated", "appointment.queue.updated"],
      auth: () => ({ token: session.access }),
      onEvent: (event) => {
        if (event.channel === "doctor.availability.updated") doctors.onAvailability(app, event.data);
        else care.onQueue(app, event.data);
      },
      onState: (state) => {
        app.live = state === "live";
        const badge = $("#live");
        badge.hidden = false;
        badge.textContent = t(state === "live" ? "live" : "stale");
        badge.className = `badge ${state}`;
      },
      sse: true,
    });
    app.liveFeed.start();
  }
  await render();
  flush(() => render());
}

async function resume() {
  if (!session.access) {
    // The installed app reopened without a network: read what this phone kept for its user.
    const kept = device.kept();
    if (kept && !navigator.onLine) {
      await start(kept, { shared: false });
      say(t("offline_signin"), "error");
      return;
    }
    return showAuth();
  }
  try {
    return await start(await api("/api/v1/users/me"));
  } catch (error) {
    const kept = JSON.parse(sessionStorage.getItem(ME) || "null");
    if (unreachable(error) && kept) return start(kept);
    session.clear();
    return showAuth();
  }
}

function showAuth() {
  $("#auth").hidden = false;
  $("#tabs").hidden = true;
  $("#account-row").hidden = true;
  for (const id of Object.keys(VIEWS)) $(`#${id}`).hidden = true;
}

function formError(form, error) {
  $(".form-error", form).textContent = error.status === 401 ? t("wrong_credentials")
    : unreachable(error) ? t("no_connection") : reason(error);
}

$("#signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  $(".form-error", form).textContent = "";
  try {
    const me = await login(form.email.value.trim(), form.password.value);
    if (!me.roles.includes("patient")) {
      session.clear();
      $(".form-error", form).textContent = t("patients_only");
      return;
    }
    await start(me, { shared: form.shared.checked });
  } catch (error) { formError(form, error); }
});

$("#signup").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  $(".form-error", form).textContent = "";
  const body = { email: form.email.value.trim(), password: form.password.value,
                 full_name: form.full_name.value.trim() };
  const phone = form.phone.value.replace(/[\s()-]/g, "");
  if (phone) body.phone = phone;
  try {
    session.store(await api("/api/v1/auth/register", { method: "POST", body, auth: false }));
    location.hash = "#profile";
    await start(await api("/api/v1/users/me"));
    say(t("welcome_new"));
  } catch (error) {
    formError(form, error);
  }
});

$("#signout").addEventListener("click", async () => {
  device.forget();
  sessionStorage.removeItem(ME);
  await logout();
  location.reload();
});

I18N.init(window.CATALOGUE_PATIENT);
I18N.switcher($("#lang"));
document.addEventListener("langchange", () => {
  showOutbox(outbox.items());
  if (app.me && !session.access) say(t("offline_signin"), "error");
  render();
});
// The notice is kept across sections: an action (a booking) reports there, then moves on.
window.addEventListener("hashchange", () => render());
window.addEventListener("online", () => online(true));
window.addEventListener("offline", () => online(false));
outbox.onChange(showOutbox);
setInterval(() => {
  if (!app.me || !session.access) return;
  if (outbox.items().length) flush(() => render());
  // While the live feed is down, the open view polls instead.
  if (!app.live && navigator.onLine) render();
}, (CONFIG.poll_seconds || 2) * 1000 + 1000);
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sos-sw.js", { scope: "/" }).catch(() => {});
online(navigator.onLine);
resume();
