// The selected case's panel of the console, painted from the case read (pure: no state, no I/O);
// console.js wires its buttons. Every word from the console catalogue.
import { esc } from "/static/common.js";
import { duplicateBlock } from "/static/callpanel.js";
import { km, minutes, severity, t, timeOf, word } from "/static/console_words.js";

/** A server-written sentence (alerts, routing advice): English as the server wrote it; other
 * languages say it from the catalogue by its kind, the English specifics beside it. */
function serverWords(key, english) {
  if (window.I18N.lang === "en" || !key || t(key) === key) return `<span dir="auto">${esc(english)}</span>`;
  return `${esc(t(key))} <span class="muted small" lang="en" dir="ltr">(${esc(english)})</span>`;
}

/** The detail panel's HTML for case ``c``; ``hospitals`` and ``cases`` by id, ``sms`` its texts. */
export function detailHtml(c, { hospitals, cases, sms }) {
  const can = (a) => c.allowed_actions.includes(a);
  const d = c.dispatch;
  const alerts = c.alerts.map((a) => `<div class="alert ${a.level}" role="alert">${serverWords(`alert.${a.kind}`, a.message)}</div>`).join("");
  const advice = c.outside_service_area ? "rec.outside" : c.off_network ? "rec.off_network" : "";
  const moved = c.pending_location ? `
    <div class="alert" id="moved">${esc(t("detail.moved", { m: Math.round(c.pending_location.distance_m),
      acc: Math.round(c.pending_location.accuracy_m ?? 0) }))}
      <button type="button" class="primary" id="confirm-move">${esc(t("detail.move_here"))}</button>
      <button type="button" id="dismiss-move">${esc(t("detail.keep"))}</button></div>` : "";
  // data-label names each cell where a phone stacks the rows (app.css).
  const cell = (key, html, kind = "") => `<td class="${kind}" data-label="${esc(t(key))}">${html}</td>`;
  const units = c.recommended_units.map((u, i) => `
    <tr>${cell("detail.col_unit", `<bdi>${esc(u.call_sign)}</bdi> <span class="muted">${esc(u.type)}${u.position_stale ? `, ${esc(t("detail.stale"))}` : ""}</span>`, "name")}
      ${cell("detail.col_scene", `<span class="num">${esc(minutes(u.eta_seconds))}</span>`)}${cell("detail.col_hospital", esc(u.hospital_name ?? "—"), "name")}
      ${cell("detail.col_care", esc(minutes(u.total_seconds)), "num")}
      <td class="act"><button type="button" class="${i === 0 ? "primary" : ""}" data-dispatch="${i}" ${can("dispatch") ? "" : "disabled"}>
        ${esc(t(i === 0 ? "detail.dispatch_top" : "detail.dispatch"))}</button></td></tr>`).join("");
  const destinations = c.recommended_hospitals.map((h) => `
    <tr>${cell("detail.col_hospital", esc(h.name), "name")}${cell("detail.col_ed", esc(word("ed", h.ed_status)))}
      ${cell("detail.col_eta", esc(minutes(h.eta_seconds)), "num")}${cell("detail.col_road", esc(km(h.distance_m)), "num")}</tr>`).join("");
  const redirectOptions = [...hospitals.values()]
    .filter((h) => h.id !== c.destination_hospital_id && h.region === c.region)
    .map((h) => `<option value="${h.id}">\u2068${esc(h.name)}\u2069 (${esc(word("ed", h.ed_status))})</option>`).join("");
  const crewLink = (sms || []).map((m) => m.body.match(/https?:\/\/\S+\/crew\/\S+/)?.[0]).find(Boolean);
  return `
    <h2>${esc(word("symptom", c.symptom_category))} <span class="badge sev-${c.severity || "none"}">${esc(severity(c))}</span></h2>
    <p><strong id="detail-status">${esc(word("status", c.status))}</strong> · ${esc(t("detail.raised", { time: timeOf(c.raised_at) }))}
      · <a href="tel:${esc(c.reporter_phone)}" dir="ltr">${esc(c.reporter_phone)}</a>
      ${c.location_accuracy_m != null ? ` · <bdi dir="ltr">±${Math.round(c.location_accuracy_m)} m</bdi>` : ""}</p>
    <p id="detail-address"><strong><bdi>${esc(c.address ?? t("detail.no_address"))}</bdi></strong>${c.source === "phone" ? ` <span class="muted">${esc(t("detail.phone_call"))}</span>` : ""}</p>
    ${duplicateBlock(c, cases)}
    ${c.notes ? `<p dir="auto">${esc(c.notes)}</p>` : ""}
    ${c.recommendation?.message ? `<p class="alert">${serverWords(advice, c.recommendation.message)}</p>` : ""}
    ${alerts}${moved}
    ${d ? `<p><strong>${esc(t("detail.unit"))}</strong> <bdi>${esc(d.call_sign)}</bdi> (${esc(word("unit", d.status))}), ${esc(t("detail.eta", { time: d.eta_minutes != null ? minutes(d.eta_minutes * 60) : "—" }))}
      ${esc(t("arrow"))} <strong>${esc(hospitals.get(d.hospital_id)?.name ?? "—")}</strong>${d.acknowledged_at ? ` · ${esc(t("detail.acknowledged"))}` : ""}
      ${crewLink ? ` · <a href="${esc(crewLink.replace(/^https?:\/\/[^/]+/, ""))}" target="_blank" rel="noopener">${esc(t("detail.crew_page"))}</a>` : ""}</p>` : ""}
    <div class="actions">
      <div><label for="severity">${esc(t("detail.severity"))}</label>
        <select id="severity">${["critical", "high", "medium", "low"].map((s) =>
          `<option value="${s}" ${s === (c.severity || "high") ? "selected" : ""}>${esc(word("severity", s))}</option>`).join("")}</select></div>
      <button type="button" id="triage" ${can("triage") ? "" : "disabled"}>${esc(t("detail.triage"))}</button>
      <button type="button" id="close" ${can("close") ? "" : "disabled"}>${esc(t("detail.close"))}</button>
    </div>
    <h3>${esc(t("detail.units"))}</h3>
    ${units ? `<table><thead><tr><th>${esc(t("detail.col_unit"))}</th><th>${esc(t("detail.col_scene"))}</th><th>${esc(t("detail.col_hospital"))}</th><th>${esc(t("detail.col_care"))}</th><th><span class="sr-only">${esc(t("detail.col_action"))}</span></th></tr></thead><tbody>${units}</tbody></table>`
      : `<p class="muted">${esc(t(c.dispatch?.shared_with ? "detail.shared" : c.status === "raised" || c.status === "triaged" ? "detail.no_unit" : "detail.dispatched"))}</p>`}
    <h3>${esc(t("detail.hospitals"))}</h3>
    ${destinations ? `<table><thead><tr><th>${esc(t("detail.col_hospital"))}</th><th>${esc(t("detail.col_ed"))}</th><th>${esc(t("detail.col_eta"))}</th><th>${esc(t("detail.col_road"))}</th></tr></thead><tbody>${destinations}</tbody></table>` : `<p class="muted">${esc(t("detail.none_reachable"))}</p>`}
    <div class="actions space-above">
      <div><label for="redirect-to">${esc(t("detail.redirect_to"))}</label><select id="redirect-to">${redirectOptions}</select></div>
      <button type="button" id="redirect" ${c.status === "dispatched" || c.status === "arrived" ? "" : "disabled"}>${esc(t("detail.redirect"))}</button>
    </div>
    <div class="actions space-above">
      <div><label for="cancel-reason">${esc(t("detail.cancel_reason"))}</label><input id="cancel-reason" maxlength="300" dir="auto" placeholder="${esc(t("detail.cancel_placeholder"))}"></div>
      <button type="button" id="cancel" class="danger" ${can("cancel") ? "" : "disabled"}>${esc(t("detail.cancel"))}</button>
    </div>
    <h3 id="timeline-title">${esc(t("detail.timeline"))}</h3>
    <ol class="timeline steps" tabindex="0" aria-labelledby="timeline-title">${c.timeline.map((e) => `<li>${esc(timeOf(e.at))} —
      ${esc(e.kind === "unit" ? `${t("detail.unit")} ${word("unit", e.to_status)}` : word("action", e.action))} <span class="muted"><bdi>${esc(e.actor)}</bdi>${e.reason ? `: <bdi>${esc(e.reason)}</bdi>` : ""}</span></li>`).join("")}</ol>`;
}
