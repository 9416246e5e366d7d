// The patient's map (issue 25): our own roads, street names and the hospitals, each named in
// the reader's language (OSM name:<lang> where it has one). Drawn when Find a doctor first shows.
import { roadMap } from "/static/common.js";
import { hospitalLayer, openOnRegion, streetLabels } from "/static/maplabels.js";

let map = null;

export function showMap() {
  const element = document.getElementById("hospital-map");
  if (!window.L || !element) return;
  if (map) { map.invalidateSize(); return; }  // it was hidden with its section
  map = roadMap(element, { zoom: 14 });
  streetLabels(map);
  hospitalLayer(map);
  openOnRegion(map);
}
