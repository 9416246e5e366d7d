// The patient app on a poor connection: what was last read is kept on this phone (so the
// installed app still reads offline after it was closed), or only in this tab when the user said
// the phone is shared; actions taken offline wait in an outbox that is retried with the same
// Idempotency-Key until the server answers.
import { api, newKey } from "/static/common.js";

const CACHE = "lifeline.patient.cache";    // + ":<user id>", in localStorage or sessionStorage
const DEVICE = "lifeline.patient.device";  // localStorage: who keeps their data on this phone
const SHARED = "lifeline.patient.shared";  // sessionStorage: this tab's user chose "shared phone"
const OUTBOX = "lifeline.patient.outbox";  // localStorage: survives a restart, only ids and times

const readJson = (store, key, fallback) => {
  try { return JSON.parse(store.getItem(key) || "null") ?? fallback; } catch { return fallback; }
};

/** No answer, or one worth retrying (the request may not have been applied). */
export function unreachable(error) {
  return error.status === undefined || error.status >= 500 || error.status === 408 || error.status === 429;
}

const listeners = new Set();
let owner = null;   // the signed-in user's id: the outbox and the cache hold only their things
let shelf = sessionStorage;  // where their cache lives: localStorage unless the phone is shared
const cacheKey = () => `${CACHE}:${owner}`;

export const cache = {
  read(name) { return readJson(shelf, cacheKey(), {})[name]; },
  write(name, data) {
    if (!owner) return;
    const all = readJson(shelf, cacheKey(), {});
    all[name] = { data, at: Date.now() };
    try { shelf.setItem(cacheKey(), JSON.stringify(all)); } catch { /* full: keep going */ }
  },
  clear() {
    for (const store of [localStorage, sessionStorage]) store.removeItem(cacheKey());
  },
};

/** Which user's data this phone keeps, so the installed app reads it offline after a restart. */
export const device = {
  /** The user (`/users/me`) who chose to keep their data here, or null. */
  kept() { return readJson(localStorage, DEVICE, null)?.me ?? null; },
  /** Whether this tab's user said the phone is shared (the choice at sign-in, kept per tab). */
  shared() { return sessionStorage.getItem(SHARED) === "1"; },
  /** Read and write `me`'s data: on the phone, or in this tab only when `shared`. One person's
   * data per phone: whoever kept theirs here before is forgotten. */
  use(me, { shared }) {
    const before = device.kept();
    if (before && (before.id !== me.id || shared)) {
      localStorage.removeItem(`${CACHE}:${before.id}`);
      localStorage.removeItem(DEVICE);
    }
    owner = me.id;
    shelf = shared ? sessionStorage : localStorage;
    if (shared) sessionStorage.setItem(SHARED, "1");
    else {
      sessionStorage.removeItem(SHARED);
      localStorage.setItem(DEVICE, JSON.stringify({ me }));
    }
    notify();
  },
  /** Sign-out: nothing of this user's stays on the phone. */
  forget() {
    cache.clear();
    if (device.kept()?.id === owner) localStorage.removeItem(DEVICE);
    sessionStorage.removeItem(SHARED);
  },
};

/** GET, remembering the answer; offline, the remembered one (`fresh: false`, `at`). `current`
 * says whether the answer is still wanted when it comes (an older search answering late must
 * not replace the newer one kept for offline reading). */
export async function load(name, path, { current = () => true } = {}) {
  try {
    const data = await api(path);
    if (current()) cache.write(name, data);
    return { data, fresh: true };
  } catch (error) {
    const kept = cache.read(name);
    if (unreachable(error) && kept) return { data: kept.data, fresh: false, at: kept.at };
    throw error;
  }
}

export const outbox = {
  items() { return readJson(localStorage, OUTBOX, []).filter((item) => item.user === owner); },
  all() { return readJson(localStorage, OUTBOX, []); },
  save(items) { localStorage.setItem(OUTBOX, JSON.stringify(items)); notify(); },
  remove(key) { outbox.save(outbox.all().filter((item) => item.key !== key)); },
  onChange(listener) { listeners.add(listener); },
};

function notify() { for (const listener of listeners) listener(outbox.items()); }

/**
 * Do an action through the API. It is written to the outbox first with its Idempotency-Key, so a
 * lost answer or a dead network retries the very same request. Resolves with
 * `{done: answer}`, `{queued: true}` or rejects with the server's refusal (4xx).
 */
export async function act({ kind, path, method = "POST", body, label, settled, goneOk, queueable = true }) {
  const item = { key: newKey(), user: owner, kind, path, method, body, label, settled, goneOk, at: Date.now() };
  if (!queueable) {
    // The server keeps no key for this action: a blind retry could do it twice, so it is
    // done now or not at all.
    try { return { done: await api(path, { method, body }) }; } catch (error) {
      if (unreachable(error)) throw Object.assign(new Error(window.I18N.t("needs_network")), { status: 0 });
      throw error;
    }
  }
  outbox.save([...outbox.all(), item]);
  return send(item);
}

const inFlight = new Map();

function send(item) {
  if (!inFlight.has(item.key)) {
    inFlight.set(item.key, deliver(item).finally(() => inFlight.delete(item.key)));
  }
  return inFlight.get(item.key);
}

async function deliver(item) {
  try {
    const answer = await api(item.path, {
      method: item.method, body: item.body, headers: { "Idempotency-Key": item.key },
    });
    outbox.remove(item.key);
    return { done: answer };
  } catch (error) {
    // Signed out meanwhile (the app reopened offline has no token): it waits for a sign-in.
    if (unreachable(error) || error.status === 401) return { queued: true };
    // A retry of an action the server had already applied (its answer was lost) comes back as
    // "nothing to do": the wanted state is there, so the action is done.
    const settled = item.settled && error.status === 409 && error.problem?.current_status === item.settled;
    if (settled || (item.goneOk && error.status === 404)) {
      outbox.remove(item.key);
      return { done: null };
    }
    outbox.remove(item.key);
    throw error;
  }
}

/** Retry everything waiting, oldest first; stops at the first that still cannot get through. */
export async function flush(onResult) {
  for (const item of outbox.items()) {
    try {
      const result = await send(item);
      if (result.queued) return;
      onResult?.(item, result, null);
    } catch (error) {
      onResult?.(item, null, error);
    }
  }
}
