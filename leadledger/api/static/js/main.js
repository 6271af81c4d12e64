// Wiring: load every panel from the API, ask for a read key when the API wants one, and
// reload attribution when the user picks another model.
import { getJSON, key, NeedsKey } from "./api.js";
import * as panels from "./panels.js";

const API = "/api/v1";
const MAX_PAGE = 1000; // the API's largest page
const TILE_KPIS = ["cpl", "cac", "ltv_to_cac", "romi_pct", "deal_cycle_days", "nrr_pct"];

const $ = (id) => document.getElementById(id);
let kpiAnswer = null;

function state(value) {
  document.body.dataset.state = value;
}

function fail(error) {
  if (error instanceof NeedsKey) {
    $("dashboard").hidden = true;
    $("key-form").hidden = false;
    $("forget-key").hidden = true;
    // A refused key is dropped at once: a reload asks again instead of failing again.
    document.querySelector('[data-testid="key-error"]').textContent =
      key.get() ? error.message : "";
    key.forget();
    state("needs-key");
    return;
  }
  $("load-error").textContent = error.message;
  $("load-error").hidden = false;
  state("error");
}

// The latest of the periods with the most tiles filled: the last months of a data set
// often have spend but no sale yet, and show little.
function defaultPeriod(rows) {
  const filled = (r) => TILE_KPIS.filter((k) => r.kpis[k] !== null).length;
  const best = rows.reduce((chosen, r) => (filled(r) >= filled(chosen) ? r : chosen), rows[0]);
  return best?.period ?? "";
}

function showPeriod() {
  panels.kpiTiles(kpiAnswer, $("period").value);
  panels.funnel(kpiAnswer, $("period").value);
}

async function loadAttribution() {
  state("loading");
  const model = $("model").value;
  panels.attribution(await getJSON(`${API}/reports/attribution`, { model, limit: MAX_PAGE }));
  state("ready");
}

// The input's "2026-02-10T00:00" is a UTC time; empty asks for the SLA as it stands now.
function slaNow() {
  const value = $("sla-now").value;
  if (!value) return undefined;
  return value.length === 16 ? `${value}:00Z` : `${value}Z`;
}

function fetchSla() {
  const now = slaNow();
  return Promise.all([
    getJSON(`${API}/reports/sla`, { limit: MAX_PAGE, now }),
    getJSON(`${API}/reports/sla/breaches`, { limit: panels.SHOWN_ROWS, now }),
    getJSON(`${API}/reports/sla/at-risk`, { limit: panels.SHOWN_ROWS, now }),
  ]);
}

async function loadSla() {
  state("loading");
  panels.sla(...(await fetchSla()));
  state("ready");
}

// The models the API offers, as its OpenAPI spec lists them for the attribution report.
function attributionModels(spec) {
  const report = spec.paths[`${API}/reports/attribution`].get;
  return report.parameters.find((p) => p.name === "model").schema.enum;
}

async function loadAll() {
  state("loading");
  const [spec, kpi, sla] = await Promise.all([
    getJSON(`${API}/openapi.json`),
    getJSON(`${API}/reports/kpi`, { limit: MAX_PAGE }),
    fetchSla(),
  ]);
  $("key-form").hidden = true;
  document.querySelector('[data-testid="key-error"]').textContent = "";
  $("forget-key").hidden = !key.get();
  $("dashboard").hidden = false;
  const models = attributionModels(spec);
  const select = $("model");
  const chosen = select.value || "first_touch";
  select.replaceChildren(...models.map((name) => new Option(name, name)));
  select.value = models.includes(chosen) ? chosen : models[0];
  kpiAnswer = kpi;
  const periods = kpi.rows.map((r) => r.period);
  $("period").replaceChildren(...periods.map((p) => new Option(p, p)));
  $("period").value = defaultPeriod(kpi.rows);
  panels.readModel(kpi);
  showPeriod();
  panels.sla(...sla);
  await loadAttribution();
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  key.set($("key-input").value);
  $("key-input").value = "";
  loadAll().catch(fail);
});
$("forget-key").addEventListener("click", () => {
  key.forget();
  window.location.reload();
});
$("model").addEventListener("change", () => loadAttribution().catch(fail));
$("period").addEventListener("change", showPeriod);
$("sla-now").addEventListener("change", () => loadSla().catch(fail));

loadAll().catch(fail);
