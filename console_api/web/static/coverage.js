// Coverage layer: uncovered demand cells shaded, the figure in the header, move-ups to accept.
import { $, api, esc, Live, say, session } from "/static/common.js";
import { minutes, t, word } from "/static/console_words.js";

const cov = { map: null, cells: null, posts: null, region: null, minutes: 8, reload: null, last: null, plan: null };

document.addEventListener("console:map", (event) => { cov.map = event.detail; init(); });

async function init() {
  const L = window.L;
  cov.cells = L.geoJSON(null, {
    style: { stroke: false, fillColor: "#dc2626", fillOpacity: 0.3 }, interactive: false,
  }).addTo(cov.map);
  cov.posts = L.layerGroup().addTo(cov.map);
  let regions = [];
  try { regions = await api("/api/v1/coverage/regions"); } catch { return; }
  if (!regions.length) return;
  const centre = cov.map.getCenter();
  const far = (r) => (r.lat - centre.lat) ** 2 + (r.lng - centre.lng) ** 2;
  cov.region = regions.sort((a, b) => far(a) - far(b))[0].name;
  $("#coverage-toggle").addEventListener("change", (e) => {
    if (e.target.checked) { cov.cells.addTo(cov.map); cov.posts.addTo(cov.map); }
    else { cov.cells.remove(); cov.posts.remove(); }
  });
  $("#moveups").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-unit]");
    if (b) accept(b.dataset.unit, b.dataset.post, b);
  });
  $("#coverage-minutes").addEventListener("change", (e) => {
    cov.minutes = Number(e.target.value);
    legend();
    refresh();
  });
  legend();
  document.addEventListener("langchange", () => {
    legend();
    if (cov.last) figure(cov.last);
    if (cov.plan) { drawPosts(cov.plan.posts); renderMoveUps(cov.plan); }
  });
  document.addEventListener("console:detail", (e) => annotateDetail(e.detail));
  // Subscribed before the first figure is read: a change in between is not missed.
  new Live({
    channels: ["coverage.updated"], auth: () => ({ token: session.access }),
    onEvent: () => { clearTimeout(cov.reload); cov.reload = setTimeout(refresh, 300); },
    onState: (s) => { $("#coverage-figure").dataset.live = s; }, sse: false,
  }).start();
  await refresh();
  setInterval(refresh, 30000);
}

async function refresh() {
  if (!cov.region) return;
  const q = new URLSearchParams({ region: cov.region, minutes: String(cov.minutes) });
  try {
    const now = await api(`/api/v1/coverage?${q}`);
    cov.last = now;
    figure(now);
    cov.cells.clearLayers();
    cov.cells.addData(now.uncovered);
    $("#console-map").dataset.uncovered = String(now.uncovered.features.length);
    // Units sent to a post stand there on the map until their GPS says otherwise (console.js).
    const standby = Object.fromEntries(now.units.filter((u) => u.position_source === "move_up")
      .map((u) => [u.unit_id, { lat: u.lat, lng: u.lng }]));
    document.dispatchEvent(new CustomEvent("coverage:standby", { detail: standby }));
    const plan = await api(`/api/v1/coverage/move-ups?${q}`);
    cov.plan = plan;
    drawPosts(plan.posts);
    renderMoveUps(plan);
  } catch { /* keep the last figure; the next event or tick retries */ }
}

function legend() {
  $("#coverage-legend").textContent = t("legend.uncovered", { n: cov.minutes });
}

function figure(now) {
  const box = $("#coverage-figure");
  box.hidden = false;
  box.textContent = t("cov.figure", { n: now.minutes, any: now.percent_any.toFixed(1), als: now.percent_als.toFixed(1) });
  box.className = `badge coverage ${now.percent_any >= 90 ? "good" : now.percent_any >= 75 ? "fair" : "poor"}`;
  box.title = t("cov.figure_title", { units: now.units.length, uncovered: now.uncovered.features.length, cells: now.cells });
}

function drawPosts(posts) {
  const L = window.L;
  cov.posts.clearLayers();
  for (const p of posts) {
    L.circleMarker([p.lat, p.lng], {
      radius: 5, color: "#1e3a8a", weight: 2, fillColor: p.kind === "station" ? "#1e3a8a" : "#fff",
      fillOpacity: 1,
    }).bindTooltip(esc(t("cov.post", { name: p.name, kind: word("kind", p.kind) }))).addTo(cov.posts).bringToBack();  // under units
  }
}

function renderMoveUps(plan) {
  const rows = plan.proposals.map((p) => `
    <li><strong><bdi>${esc(p.call_sign)}</bdi></strong> ${esc(t("arrow"))} <bdi>${esc(p.post_name)}</bdi>
      <span class="muted">${esc(t("cov.drive", { time: minutes(p.drive_seconds) }))}</span>
      <button type="button" class="primary" data-unit="${esc(p.unit_id)}" data-post="${esc(p.post_id)}">${esc(t("cov.accept"))}</button></li>`);
  $("#moveups").innerHTML = `
    <h3 class="flush-top">${esc(t("cov.moveup"))} <span class="muted small">${esc(t("cov.expected", {
      before: plan.expected_before_pp.toFixed(1), after: plan.expected_after_pp.toFixed(1),
      busy: Math.round(plan.busy_fraction * 100), moves: plan.limits.max_moves }))}</span></h3>
    ${rows.length ? `<ul class="moveups">${rows.join("")}</ul>` : `<p class="muted small">${esc(t("cov.none"))}</p>`}`;
}

async function accept(unitId, postId, button) {
  button.disabled = true;
  try {
    await api(`/api/v1/units/${unitId}/move-up`, { method: "POST", body: { post_id: postId } });
    say(t("cov.sent"));
  } catch (error) {
    say(error.message || t("cov.refused"), "error");
  }
  await refresh();
}

// Each recommended unit carries the coverage its departure costs (computed with the case read).
function annotateDetail(c) {
  const detail = $("#detail");
  if (detail.querySelector(".cov-cost")) return;
  c.recommended_units.forEach((u, i) => {
    const cell = detail.querySelector(`[data-dispatch="${i}"]`)?.closest("tr")?.children[1];
    if (!cell || u.coverage_lost_pp == null) return;
    const lost = u.coverage_lost_pp;
    const tag = document.createElement("span");
    tag.className = `cov-cost small ${lost >= 2 ? "poor" : "muted"}`;
    tag.textContent = t("cov.cost", { pp: lost.toFixed(1) });
    tag.title = t("cov.cost_title", { n: u.coverage_minutes });
    cell.append(tag);
  });
  const pick = c.recommended_units.find((u) => u.coverage_preferred);
  if (pick) {
    const s = pick.coverage_preferred;
    const note = document.createElement("p");
    note.className = "cov-cost small";
    note.id = "coverage-policy";
    note.textContent = t("cov.policy", { unit: pick.call_sign, s: Math.round(s.extra_seconds), pp: s.saving_pp.toFixed(1) });
    detail.querySelector("[data-dispatch]")?.closest("table")?.after(note);
  }
}
