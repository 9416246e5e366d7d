// Shared helpers of the four pages: API calls with refresh, sign-in, live events, formatting.

export const CONFIG = JSON.parse(document.getElementById("config")?.textContent || "{}");

export function $(selector, root = document) { return root.querySelector(selector); }

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return "k-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}

export function label(value) { return String(value ?? "").replaceAll("_", " "); }

export function minutes(seconds) {
  if (seconds == null) return "—";
  const m = Math.round(seconds / 60);
  return m < 1 ? "< 1 min" : `${m} min`;
}

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function say(text, kind = "info") {
  const box = $("#notice");
  if (!box) return;
  box.textContent = text;
  box.dataset.kind = kind;
}

/** Tokens live in sessionStorage (this tab only); the refresh token renews the access token. */
export const session = {
  get access() { return sessionStorage.getItem("lifeline.access"); },
  get refresh() { return sessionStorage.getItem("lifeline.refresh"); },
  store(tokens) {
    sessionStorage.setItem("lifeline.access", tokens.access_token);
    sessionStorage.setItem("lifeline.refresh", tokens.refresh_token);
  },
  clear() {
    sessionStorage.removeItem("lifeline.access");
    sessionStorage.removeItem("lifeline.refresh");
  },
};

// Server refusals in the reader's language (static/i18n/errors.js, by the problem's stable code).
// Loaded beside the page, never in its way: offline or slow, errors stay in the server's English.
const errorWords = import("/static/i18n/errors.js").catch(() => null);
const errorsReady = () => Promise.race([errorWords, new Promise((done) => { setTimeout(done, 1500); })]);

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A word shared by every page (sign-in, roles) in the page's language, else English. */
export function sharedText(key, params = {}) {
  const words = window.CATALOGUE_ERRORS || {};
  const lang = window.I18N?.lang || "en";
  return fill(words[lang]?.[key] ?? words.en?.[key] ?? key, params);
}

/** A problem+json refusal as the reader should see it: English pages keep the server's
 * ``detail``; other languages get the catalogue's text for its ``code`` (or the last part of its
 * ``type``), and the English ``detail`` when the catalogue does not know the code. */
export function problemText(status, problem) {
  const p = problem || {};
  const code = p.code || (typeof p.type === "string" ? p.type.split("/").pop() : "");
  const detail = p.detail || p.title || "";
  const words = window.CATALOGUE_ERRORS || {};
  const lang = window.I18N?.lang || "en";
  const key = `code.${code}`;
  const params = { detail, fields: (p.errors || []).map((e) => e.field).filter(Boolean).join(", ") };
  if (code && lang !== "en" && words[lang]?.[key]) return fill(words[lang][key], params);
  if (detail) return detail;
  if (code && words.en?.[key]) return fill(words.en[key], params).replace(" ()", "");
  return fill(words[lang]?.http ?? "HTTP {status}", { status });
}

export class ApiError extends Error {
  constructor(status, problem) {
    super();  // no message of its own: read through the getter, in the language shown now
    this.status = status;
    this.problem = problem || {};
    this.detail = this.problem.detail || this.problem.title || `HTTP ${status}`;
  }

  get message() { return problemText(this.status, this.problem); }
}

let refreshing = null;

async function renew() {
  if (!session.refresh) return false;
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refresh }),
  }).then(async (r) => {
    if (!r.ok) { session.clear(); return false; }
    session.store(await r.json());
    return true;
  }).finally(() => { refreshing = null; });
  return refreshing;
}

/** JSON request; a 401 with a refresh token renews once and retries. Throws ApiError. */
export async function api(path, { method = "GET", body, headers = {}, auth = true, retry = true } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (auth && session.access) h.Authorization = `Bearer ${session.access}`;
  const response = await fetch(path, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && auth && retry && (await renew())) {
    return api(path, { method, body, headers, auth, retry: false });
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    await errorsReady();
    throw new ApiError(response.status, data);
  }
  return data;
}

/** Staff send a second factor: a 6-digit TOTP code, or else one of their recovery codes. */
export async function login(email, password, code = "") {
  const body = { email, password };
  if (/^\d{6}$/.test(code)) body.totp = code;
  else if (code) body.recovery_code = code;
  const tokens = await api("/api/v1/auth/login", { method: "POST", body, auth: false });
  session.store(tokens);
  return api("/api/v1/users/me");
}

export async function logout() {
  const refresh = session.refresh;
  session.clear();
  if (refresh) {
    await fetch("/api/v1/auth/logout", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refresh }),
    }).catch(() => {});
  }
}

/** Wire a sign-in form; resolves with the user once signed in (or at once when a session exists). */
export async function signedIn(form, { role } = {}) {
  if (session.access) {
    try {
      const me = await api("/api/v1/users/me");
      if (!role || me.roles.includes(role) || me.roles.includes("super_admin")) return me;
    } catch { session.clear(); }
  }
  form.hidden = false;
  return new Promise((resolve) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $(".form-error", form);
      error.textContent = "";
      try {
        const code = form.totp ? form.totp.value.trim() : "";
        const me = await login(form.email.value.trim(), form.password.value, code);
        if (role && !me.roles.includes(role) && !me.roles.includes("super_admin")) {
          session.clear();
          await errorsReady();
          error.textContent = sharedText("signin.role", { role: sharedText(`role.${role}`) });
          return;
        }
        form.hidden = true;
        resolve(me);
      } catch (e) {
        await errorsReady();
        error.textContent = e.status === 401 ? sharedText("signin.wrong") : e.message;
      }
    });
  });
}

/**
 * Live events: WebSocket first; while it is down the page is told it is `stale`, events come
 * over SSE when possible, and the page polls. The socket is retried with back-off.
 */
export class Live {
  constructor({ channels, auth, onEvent, onState, filters = {}, sse = true }) {
    this.channels = channels;
    this.auth = auth;           // () => auth message for the socket
    this.onEvent = onEvent;
    this.onState = onState;
    this.filters = filters;
    this.sse = sse;
    this.lastSeq = {};
    this.state = null;
    this.delay = 1000;
    this.sources = [];
  }

  start() { this.connect(); }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
    if (state === "stale") this.openSse(); else this.closeSse();
  }

  connect() {
    // batch=1: a frame may carry several messages (a JSON array), so bursts cost one frame.
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws?batch=1`;
    let ws;
    try { ws = new WebSocket(url); } catch { this.retry(); return; }
    this.ws = ws;
    let welcomed = false;
    const timer = setTimeout(() => { if (!welcomed) ws.close(); }, 5000);
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", ...this.auth() }));
    ws.onmessage = (message) => {
      const body = JSON.parse(message.data);
      for (const data of Array.isArray(body) ? body : [body]) handle(data);
    };
    const handle = (data) => {
      if (data.type === "welcome") {
        welcomed = true;
        clearTimeout(timer);
        this.delay = 1000;
        for (const channel of this.channels) {
          const sub = { type: "subscribe", channel, filters: this.filters };
          if (this.lastSeq[channel] != null) sub.last_seq = this.lastSeq[channel];
          ws.send(JSON.stringify(sub));
        }
        this.setState("live");
      } else if (data.type === "event") {
        this.lastSeq[data.channel] = data.seq;
        this.onEvent(data);
      } else if (data.type === "stale") {
        this.setState("stale");
      } else if (data.type === "reauth_required") {
        // The token ends soon: renew it and re-authenticate in-band (else closed with 4010).
        renew().then((ok) => {
          if (ok && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "auth", ...this.auth() }));
        });
      }
    };
    ws.onclose = () => { clearTimeout(timer); this.setState("stale"); this.retry(); };
    ws.onerror = () => {};
  }

  retry() {
    setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, 15000);
  }

  openSse() {
    const auth = this.auth();
    if (!this.sse || !auth.token || !window.EventSource || this.sources.length) return;
    for (const channel of this.channels) {
      const q = new URLSearchParams({ channel, token: auth.token, ...this.filters });
      if (this.lastSeq[channel] != null) q.set("last_seq", this.lastSeq[channel]);
      const source = new EventSource(`/api/v1/realtime/sse?${q}`);
      source.onmessage = (message) => {
        const data = JSON.parse(message.data);
        if (data.type === "event") { this.lastSeq[data.channel] = data.seq; this.onEvent(data); }
      };
      source.onerror = () => {};
      this.sources.push(source);
    }
  }

  closeSse() { for (const s of this.sources) s.close(); this.sources = []; }
}

/** A Leaflet map with no tile layer: our own roads (GeoJSON, simplified per zoom) are the base. */
export function roadMap(element, { center = [60.1699, 24.9384], zoom = 15 } = {}) {
  const L = window.L;
  const map = L.map(element, { zoomControl: true, attributionControl: true, preferCanvas: true })
    .setView(center, zoom);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Roads © OpenStreetMap contributors (ODbL)");
  const roads = L.geoJSON(null, {
    style: { color: "#6b7280", weight: 2, opacity: 0.9 }, interactive: false,
  }).addTo(map);
  let pending = 0;
  async function load() {
    const ticket = ++pending;
    const b = map.getBounds();
    const q = new URLSearchParams({
      bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(","),
      zoom: String(map.getZoom()),
    });
    try {
      const data = await api(`/api/v1/map/roads?${q}`, { auth: false });
      if (ticket !== pending) return;
      roads.clearLayers();
      roads.addData(data);
      element.dataset.roads = String(data.features.length);
    } catch { /* offline: keep what is drawn */ }
  }
  map.on("moveend", load);
  load();
  return map;
}
