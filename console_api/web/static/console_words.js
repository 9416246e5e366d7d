// The console's words in the operator's language (catalogue static/i18n/console.js), shared by
// console.js, callpanel.js and coverage.js. Numbers keep Western digits in every language.
import { label } from "/static/common.js";

export const t = (key, params) => window.I18N.t(key, params);

/** An enum value (``status``/``triaged``) in the page's language, else its identifier's words. */
export function word(prefix, value) {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? label(value) : text;
}

/** A case's severity word, or "untriaged". */
export function severity(c) { return c.severity ? word("severity", c.severity) : t("untriaged"); }

export function minutes(seconds) {
  if (seconds == null) return "—";
  const m = Math.round(seconds / 60);
  return m < 1 ? t("under_a_minute") : t("minutes", { n: m });
}

export function km(metres) { return metres == null ? "—" : t("km", { n: (metres / 1000).toFixed(1) }); }

/** A clock time, 24-hour as dispatch rooms read it, in the page's language. */
export function timeOf(iso) { return new Date(iso).toLocaleTimeString(window.I18N.lang, { hour12: false }); }

/** Text of ``el`` from the catalogue, kept in data-i18n so a language switch re-translates it. */
export function setText(el, key, params) {
  if (!el) return;
  if (params) delete el.dataset.i18n; else el.dataset.i18n = key;
  el.textContent = t(key, params);
}

/** Leaflet's zoom and attribution controls on the reading side: mirrored for right-to-left. */
export function mirrorControls(map) {
  const rtl = document.documentElement.dir === "rtl";
  map.zoomControl?.setPosition(rtl ? "topright" : "topleft");
  map.attributionControl?.setPosition(rtl ? "bottomleft" : "bottomright");
  map.getContainer().dataset.controls = rtl ? "right" : "left";
  // Leaflet names its zoom buttons in English; setPosition re-created them, so name them now.
  for (const [selector, key] of [[".leaflet-control-zoom-in", "map.zoom_in"], [".leaflet-control-zoom-out", "map.zoom_out"]]) {
    const button = map.getContainer().querySelector(selector);
    if (button) { button.title = t(key); button.setAttribute("aria-label", t(key)); }
  }
}
