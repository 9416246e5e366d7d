// Small helpers the patient app's views share: translated text, dates in the user's language,
// and the one way an action is done (through the outbox) and reported.
import { esc, say } from "/static/common.js";
import { act } from "/static/patient-store.js";

export const t = (key, params) => window.I18N.t(key, params);

/** A date and time in the page's language (Urdu, Spanish or English conventions). */
export function when(iso, options = { dateStyle: "medium", timeStyle: "short" }) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(window.I18N.lang, options).format(new Date(iso));
}

/** A translated enum value (status, severity, kind), or the value itself. */
export function word(prefix, value) {
  const key = `${prefix}_${value}`;
  const text = t(key);
  return text === key ? String(value ?? "").replaceAll("_", " ") : text;
}

/** The server's refusal in the page's language when the catalogue knows its `code`
 * (`err_<code>`), else the server's own English `detail`. */
export function reason(error) {
  const code = error.problem?.code;
  const key = `err_${code}`;
  return code && t(key) !== key ? t(key) : error.message;
}

/** Say how old the shown data is when it came from the tab's cache (offline); a line of its
 * own, so it never hides what an action just reported. */
export function freshness(result) {
  const line = document.getElementById("stale");
  if (result.fresh) { line.textContent = ""; return; }
  const at = new Date(result.at).toLocaleTimeString(window.I18N.lang, { hour: "2-digit", minute: "2-digit" });
  line.textContent = t("offline_data", { time: at });
}

/** An action through the outbox; tells the user whether it was done or waits for the network. */
export async function perform(action, doneText) {
  try {
    const result = await act(action);
    say(result.queued ? t("queued") : doneText, result.queued ? "error" : "info");
    return result;
  } catch (error) {
    say(t("refused", { reason: reason(error) }), "error");
    throw error;
  }
}

/** `<li>` items, or one muted line saying there is nothing. */
export function items(list, render, emptyKey) {
  return list.length ? list.map(render).join("") : `<li class="muted">${esc(t(emptyKey))}</li>`;
}
