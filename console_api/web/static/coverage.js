// Coverage layer: uncovered demand cells shaded, the figure in the header, move-ups to accept.
import { $, api, esc, Live, minutes, say, session } from "/static/common.js";

const cov = { map: null, cells: null, posts: null, region: null, minutes: 8, reload: null };

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
    $("#coverage-legend").textContent = `not covered in ${cov.minutes} min`;
    refresh();
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
    const figure = $("#coverage-figure");
    figure.hidden = false;
    figure.textContent = `Coverage ${now.minutes} min: ${now.percent_any.toFixed(1)}%` +
      ` (ALS ${now.percent_als.toFixed(1)}%)`;
    figure.className = `badge coverage ${now.percent_any >= 90 ? "good" : now.percent_any >= 75 ? "fair" : "poor"}`;
    figure.title = `${now.units.length} free units; ${now.uncovered.features.length} of ${now.cells} cells uncovered`;
    cov.cells.clearLayers();
    cov.cells.addData(now.uncovered);
    $("#console-map").dataset.uncovered = String(now.uncovered.features.length);
    // Units sent to a post stand there on the map until their GPS says otherwise (console.js).
    const standby = Object.fromEntries(now.units.filter((u) => u.position_source === "move_up")
      .map((u) => [u.unit_id, { lat: u.lat, lng: u.lng }]));
    document.dispatchEvent(new CustomEvent("coverage:standby", { detail: standby }));
    const plan = await api(`/api/v1/coverage/move-ups?${q}`);
    drawPosts(plan.posts);
    renderMoveUps(plan);
  } catch { /* keep the last figure; the next event or tick retries */ }
}

function drawPosts(posts) {
  const L = window.L;
  cov.posts.clearLayers();
  for (const p of posts) {
    L.circleMarker([p.lat, p.lng], {
      radius: 5, color: "#1e3a8a", weight: 2, fillColor: p.kind === "station" ? "#1e3a8a" : "#fff",
      fillOpacity: 1,
    }).bindTooltip(`${esc(p.name)} (${esc(p.kind)})`).addTo(cov.posts).bringToBack();  // under units
  }
}

function renderMoveUps(plan) {
  const rows = plan.proposals.map((p) => `
    <li><strong>${esc(p.call_sign)}</strong> → ${esc(p.post_name)}
      <span class="muted">${esc(minutes(p.drive_seconds))} drive</span>
      <button type="button" class="primary" data-unit="${esc(p.unit_id)}" data-post="${esc(p.post_id)}">Accept</button></li>`);
  $("#moveups").innerHTML = `
    <h3 class="flush-top">Move-up <span class="muted small">expected coverage
      ${plan.expected_before_pp.toFixed(1)}% → ${plan.expected_after_pp.toFixed(1)}%
      (busy ${Math.round(plan.busy_fraction * 100)}%, ≤ ${plan.limits.max_moves} moves)</span></h3>
    ${rows.length ? `<ul class="moveups">${rows.join("")}</ul>` : '<p class="muted small">No move improves coverage now.</p>'}`;
}

async function accept(unitId, postId, button) {
  button.disabled = true;
  try {
    await api(`/api/v1/units/${unitId}/move-up`, { method: "POST", body: { post_id: postId } });
    say("Move-up sent; the crew is texted.");
  } catch (error) {
    say(error.message || "Move-up refused", "error");
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
    tag.textContent = ` −${lost.toFixed(1)} pp cover`;
    tag.title = `Coverage (${u.coverage_minutes} min) lost if this unit goes`;
    cell.append(tag);
  });
  const pick = c.recommended_units.find((u) => u.coverage_preferred);
  if (pick) {
    const s = pick.coverage_preferred;
    const note = document.createElement("p");
    note.className = "cov-cost small";
    note.id = "coverage-policy";
    note.textContent = `Coverage policy (non-critical): ${pick.call_sign} is ` +
      `${Math.round(s.extra_seconds)} s slower but keeps ${s.saving_pp.toFixed(1)} pp more of the region covered.`;
    detail.querySelector("[data-dispatch]")?.closest("table")?.after(note);
  }
}
