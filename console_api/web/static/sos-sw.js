// SOS and patient app service worker: the pages themselves open without a network. API calls are never cached:
// the page queues the SOS and retries it with the same Idempotency-Key.
const CACHE = "lifeline-sos-v5";
const SHELL = [
  "/sos", "/static/app.css", "/static/common.js", "/static/sos.js", "/static/maplabels.js",
  "/static/icon.svg", "/static/i18n.js", "/static/i18n/sos.js",
  // The patient app is the same installed app: its pages open offline too.
  "/patient", "/static/i18n/patient.js", "/static/patient.js", "/static/patient-store.js",
  "/static/patient-ui.js", "/static/patient-doctors.js", "/static/patient-care.js",
  "/static/patient-profile.js", "/static/patient-map.js",
  "/sos.webmanifest", "/vendor/leaflet/leaflet.js", "/vendor/leaflet/leaflet.css",
  // Urdu readers see Urdu letters offline too, not boxes (the page's own font, 160 KB each).
  "/vendor/noto-nastaliq-urdu/files/noto-nastaliq-urdu-arabic-400-normal.woff2",
  "/vendor/noto-nastaliq-urdu/files/noto-nastaliq-urdu-arabic-700-normal.woff2",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  // Network first, so a new release is picked up; the cache when offline.
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        return response;
      })
      // ignoreVary: CORS adds "Vary: Origin", and module scripts send an Origin the install did not.
      .catch(() => caches.match(event.request, { ignoreVary: true })),
  );
});
