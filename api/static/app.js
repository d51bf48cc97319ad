/* The latentspace page: collection picker, search through the public API, the 2-D map by topic. */
"use strict";

const $ = (id) => document.getElementById(id);
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
  "#ea580c", "#4f46e5", "#0d9488", "#be123c", "#a16207", "#9333ea", "#15803d", "#1d4ed8"];
const OUTLIER_COLOR = "#9ca3af";
const IMAGE_EXT = /\.(png|jpe?g|gif|webp|bmp|tiff?)$/i;

function topicColor(topic) {
  if (topic === null || topic === undefined || topic < 0) return OUTLIER_COLOR;
  return PALETTE[topic % PALETTE.length];
}

async function api(path, options = {}) {
  const headers = { "content-type": "application/json", ...(options.headers || {}) };
  const key = $("api-key").value.trim();
  if (key) headers["x-api-key"] = key;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error((body.error && body.error.message) || response.statusText);
    error.code = body.error && body.error.code;
    error.status = response.status;
    throw error;
  }
  return body;
}

const collection = () => $("collection").value;
const enc = encodeURIComponent;

function isImage(hit) {
  const m = hit.metadata || {};
  const mime = String(m.mime_type || m.mime || m.content_type || "");
  return m.modality === "image" || mime.startsWith("image/") || IMAGE_EXT.test(hit.source_uri || "");
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function loadCollections() {
  const select = $("collection");
  const previous = localStorage.getItem("latentspace.collection");
  try {
    const collections = await api("/v1/collections");
    select.replaceChildren(...collections.map((c) => new Option(`${c.name} (${c.documents})`, c.name)));
    if (previous && collections.some((c) => c.name === previous)) select.value = previous;
    if (!collections.length) setStatus("No collections yet: ingest some documents first.");
  } catch (error) {
    setStatus(`Cannot list collections: ${error.message}`, true);
  }
  await loadMap();
}

async function search(event) {
  event.preventDefault();
  const query = $("query").value.trim();
  if (!query || !collection()) return;
  setStatus("Searching…");
  try {
    const result = await api(`/v1/collections/${enc(collection())}/search`, {
      method: "POST", body: JSON.stringify({ query, k: 10 }),
    });
    renderResults(result.hits);
    setStatus(`${result.hits.length} results in ${Math.round(result.took_ms)} ms`);
  } catch (error) {
    setStatus(`Search failed: ${error.message}`, true);
  }
}

function renderResults(hits) {
  $("results").replaceChildren(...hits.map((hit) => {
    const li = document.createElement("li");
    li.className = "hit";
    li.dataset.id = hit.id;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `${hit.id} · score ${hit.score.toFixed(3)}`;
    li.append(meta);
    if (isImage(hit)) {
      const img = document.createElement("img");
      img.alt = hit.id;
      img.loading = "lazy";
      img.src = `/v1/collections/${enc(collection())}/documents/${enc(hit.id)}/thumbnail`;
      img.onerror = () => img.replaceWith(snippet(hit.text));
      li.append(img);
    } else {
      li.append(snippet(hit.text));
    }
    li.addEventListener("click", () => showDocument(hit.id));
    return li;
  }));
}

function snippet(text) {
  const p = document.createElement("p");
  const flat = (text || "").replace(/\s+/g, " ").trim();
  p.textContent = flat.length > 280 ? `${flat.slice(0, 280)}…` : flat;
  return p;
}

async function showDocument(id) {
  try {
    const doc = await api(`/v1/collections/${enc(collection())}/documents/${enc(id)}`);
    $("doc-title").textContent = doc.id;
    $("doc-body").textContent = doc.text;
    $("document").hidden = false;
  } catch (error) {
    setStatus(`Cannot open ${id}: ${error.message}`, true);
  }
}

let scatter = null;

async function loadMap() {
  if (!collection()) return;
  localStorage.setItem("latentspace.collection", collection());
  $("legend").replaceChildren();
  try {
    const map = await api(`/v1/collections/${enc(collection())}/map?sample=5000`);
    scatter.setPoints(map.points.map((p) => ({ ...p, color: topicColor(p.topic) })));
    $("map-info").textContent = `${map.method.toUpperCase()} map · ${map.points.length} of ${map.total} documents`;
    await loadLegend();
  } catch (error) {
    scatter.setPoints([]);
    $("map-info").textContent = error.code === "model_not_fitted"
      ? "No map yet: run `latentspace map fit --collection " + collection() + "`"
      : `Map unavailable: ${error.message}`;
  }
}

async function loadLegend() {
  try {
    const { topics } = await api(`/v1/collections/${enc(collection())}/topics`);
    $("legend").replaceChildren(...topics.map((t) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = topicColor(t.id);
      li.append(swatch, `${t.id < 0 ? "outliers" : t.label} (${t.size})`);
      return li;
    }));
  } catch (error) {
    if (error.code !== "model_not_fitted") throw error;  // no topics: points stay one colour
  }
}

function hover(point, event) {
  const tip = $("tooltip");
  if (!point) { tip.hidden = true; return; }
  const pane = $("map-pane").getBoundingClientRect();
  tip.textContent = `${point.id}: ${point.label}`;
  tip.style.left = `${event.clientX - pane.left + 12}px`;
  tip.style.top = `${event.clientY - pane.top + 12}px`;
  tip.hidden = false;
}

window.addEventListener("DOMContentLoaded", () => {
  scatter = new Scatter($("map"), { onHover: hover, onClick: (p) => showDocument(p.id) });
  $("api-key").value = sessionStorage.getItem("latentspace.key") || "";
  $("api-key").addEventListener("change", () => {
    sessionStorage.setItem("latentspace.key", $("api-key").value.trim());
    loadCollections();
  });
  $("search-form").addEventListener("submit", search);
  $("collection").addEventListener("change", loadMap);
  $("map-reset").addEventListener("click", () => scatter.reset());
  $("doc-close").addEventListener("click", () => { $("document").hidden = true; });
  loadCollections();
});
