// Page translations: one catalogue per page, English fallback, Urdu right to left (window.I18N).
(() => {
  const STORE = "lifeline.lang";
  const LANGS = { en: "English", ur: "اردو", es: "Español" };
  const RTL = new Set(["ur"]);
  let catalogue = { en: {} };

  function pick() {
    const stored = localStorage.getItem(STORE);
    if (stored && catalogue[stored]) return stored;
    for (const tag of navigator.languages || [navigator.language || "en"]) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (catalogue[base]) return base;
    }
    return "en";
  }

  const I18N = {
    lang: "en",

    /** Choose the language, set <html lang dir> and translate the page; returns the language. */
    init(pageCatalogue) {
      if (pageCatalogue) catalogue = pageCatalogue;
      I18N.lang = pick();
      document.documentElement.lang = I18N.lang;
      document.documentElement.dir = RTL.has(I18N.lang) ? "rtl" : "ltr";
      I18N.apply();
      return I18N.lang;
    },

    /** The text for ``key`` with ``{name}`` filled from ``params``; English, then the key. */
    t(key, params = {}) {
      const text = catalogue[I18N.lang]?.[key] ?? catalogue.en?.[key] ?? key;
      return String(text).replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
    },

    /** Fill every data-i18n* element under ``root``. */
    apply(root = document) {
      const fill = (attr, set) => {
        for (const el of root.querySelectorAll(`[${attr}]`)) set(el, I18N.t(el.getAttribute(attr)));
      };
      fill("data-i18n", (el, text) => { el.textContent = text; });
      fill("data-i18n-placeholder", (el, text) => el.setAttribute("placeholder", text));
      fill("data-i18n-aria-label", (el, text) => el.setAttribute("aria-label", text));
      fill("data-i18n-title", (el, text) => el.setAttribute("title", text));
    },

    /** A labelled language <select> inside ``el``; a choice is remembered and re-applied. */
    switcher(el) {
      const id = `lang-${Math.random().toString(36).slice(2, 8)}`;
      el.innerHTML = "";
      const label = document.createElement("label");
      label.htmlFor = id;
      label.className = "lang-label";
      label.textContent = "Language / زبان / Idioma";
      const select = document.createElement("select");
      select.id = id;
      select.className = "lang-switch";
      for (const [code, name] of Object.entries(LANGS)) {
        const option = document.createElement("option");
        option.value = code;
        option.lang = code;
        option.textContent = name;
        option.selected = code === I18N.lang;
        select.append(option);
      }
      select.addEventListener("change", () => {
        localStorage.setItem(STORE, select.value);
        I18N.init();
        document.dispatchEvent(new CustomEvent("langchange", { detail: { lang: I18N.lang } }));
      });
      el.append(label, select);
      return select;
    },
  };

  window.I18N = I18N;
})();
