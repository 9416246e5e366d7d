// Translations shared by every page: one catalogue per page ({en, ur, es}), the language from the
// user's switch or the browser, right-to-left layout for Urdu. A plain script (window.I18N), so
// pages and modules use it without a build step.
(function () {
  "use strict";
  const STORE = "lifeline.lang";
  const LANGS = [["en", "English"], ["ur", "اردو"], ["es", "Español"]];
  const RTL = new Set(["ur"]);
  let catalogue = { en: {} };

  function stored() {
    try { return localStorage.getItem(STORE); } catch { return null; }
  }

  /** The stored choice, else the first browser language we have, else English. */
  function pick() {
    const known = LANGS.map(([code]) => code);
    const choice = stored();
    if (known.includes(choice)) return choice;
    for (const tag of navigator.languages || [navigator.language || ""]) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (known.includes(base)) return base;
    }
    return "en";
  }

  function t(key, params) {
    const text = catalogue[I18N.lang]?.[key] ?? catalogue.en?.[key] ?? key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }

  const ATTRIBUTES = [
    ["data-i18n-placeholder", "placeholder"], ["data-i18n-aria-label", "aria-label"],
    ["data-i18n-title", "title"],
  ];

  function apply(root = document) {
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const [data, attribute] of ATTRIBUTES) {
      for (const el of root.querySelectorAll(`[${data}]`)) el.setAttribute(attribute, t(el.getAttribute(data)));
    }
    const title = root === document && document.querySelector("title[data-i18n]");
    if (title) document.title = title.textContent;
  }

  function init(pageCatalogue) {
    if (pageCatalogue) catalogue = pageCatalogue;
    I18N.lang = pick();
    const html = document.documentElement;
    html.lang = I18N.lang;
    html.dir = RTL.has(I18N.lang) ? "rtl" : "ltr";
    apply();
    for (const select of document.querySelectorAll("select.lang-switch")) select.value = I18N.lang;
    return I18N.lang;
  }

  let switchers = 0;
  /** A labelled language menu; a change is remembered, applied, and announced as `langchange`. */
  function switcher(el) {
    const id = `lang-switch-${++switchers}`;
    el.innerHTML = "";
    const label = document.createElement("label");
    label.htmlFor = id;
    label.className = "lang-label";
    label.textContent = "Language / زبان / Idioma";
    const select = document.createElement("select");
    select.id = id;
    select.className = "lang-switch";
    for (const [code, name] of LANGS) {
      const option = document.createElement("option");
      option.value = code;
      option.lang = code;
      option.textContent = name;
      select.append(option);
    }
    select.value = I18N.lang;
    select.addEventListener("change", () => {
      try { localStorage.setItem(STORE, select.value); } catch { /* private mode: this page only */ }
      init();
      if (I18N.lang !== select.value) forceLang(select.value);
      document.dispatchEvent(new CustomEvent("langchange", { detail: { lang: I18N.lang } }));
    });
    el.append(label, select);
    return select;
  }

  function forceLang(code) {
    // Storage refused (private mode): apply the choice for this page without remembering it.
    I18N.lang = code;
    document.documentElement.lang = code;
    document.documentElement.dir = RTL.has(code) ? "rtl" : "ltr";
    apply();
  }

  const I18N = { lang: "en", languages: LANGS, init, t, apply, switcher };
  window.I18N = I18N;
})();
