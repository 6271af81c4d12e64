// Each panel turns one API answer into a chart and a table. Tables, tiles and labels carry
// data-testid and the API's exact value in data-value: the browser test reads them.
import { el, money, number, percent, row } from "./format.js";

const charts = new Map();

function chart(id) {
  if (!charts.has(id)) {
    const node = document.getElementById(id);
    charts.set(id, globalThis.echarts.init(node, null, { renderer: "svg" }));
  }
  return charts.get(id);
}

// Replace a chart's drawing; aria gives screen readers a text description of it.
function draw(id, option) {
  chart(id).setOption({ aria: { enabled: true }, ...option }, true);
}

window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

// A table's rows, or one row saying there are none (an empty table looks like a failure).
function fill(testid, rows) {
  const table = document.querySelector(`[data-testid="${testid}"]`);
  if (rows.length === 0) {
    const none = el("td", { text: "none", className: "none" });
    none.colSpan = table.tHead.rows[0].cells.length;
    rows = [row([none])];
  }
  table.tBodies[0].replaceChildren(...rows);
}

function setText(testid, text, value = text) {
  const node = document.querySelector(`[data-testid="${testid}"]`);
  node.textContent = text;
  node.dataset.value = value;
}

export function readModel(answer) {
  const { name, definitions, position } = answer.read_model;
  const where = Object.entries(position).map(([stream, at]) => `${stream} ${at}`).join(", ");
  setText("read-model-name", name);
  setText("read-model-position", where || "nothing read yet", JSON.stringify(position));
  setText("definitions-hash", definitions);
}

// KPI tiles: [name in the KPI report, label, how to show it].
const TILES = [
  ["cpl", "CPL", (v, c) => money(v, c)],
  ["cac", "CAC", (v, c) => money(v, c)],
  ["ltv_to_cac", "LTV:CAC", (v) => (v === null ? "–" : `${number(v)} : 1`)],
  ["romi_pct", "ROMI", (v) => (v === null ? "–" : `${number(v)}%`)],
  ["deal_cycle_days", "Cycle SQL→close (days)", (v) => number(v)],
  ["nrr_pct", "NRR", (v) => (v === null ? "–" : `${number(v)}%`)],
];

export function kpiTiles(kpiAnswer, period) {
  const found = kpiAnswer.rows.find((r) => r.period === period);
  const tiles = TILES.map(([name, label, show]) => {
    const value = found ? found.kpis[name] : null;
    const tile = el("div", { className: "tile", testid: `kpi-${name}`, value });
    tile.append(el("div", { className: "label", text: label }),
      el("div", { className: "value", text: show(value ?? null, kpiAnswer.currency) }));
    return tile;
  });
  document.getElementById("kpi-tiles").replaceChildren(...tiles);
}

// Funnel stages: [measure, label, the KPI that is the conversion into this stage, from].
const STAGES = [
  ["visits", "visits", null, null],
  ["leads", "leads", "visit_to_lead", "visits"],
  ["mqls", "MQLs", "lead_to_mql", "leads"],
  ["sqls", "SQLs", "mql_to_sql", "MQLs"],
  ["opportunities", "opportunities", "sql_to_opportunity", "SQLs"],
  ["new_customers", "won (new customers)", "sql_to_deal", "SQLs"],
];

export function funnel(kpiAnswer, period) {
  const found = kpiAnswer.rows.find((r) => r.period === period);
  const measures = found ? found.measures : {};
  const kpis = found ? found.kpis : {};
  fill("funnel-table", STAGES.map(([measure, label, rate, from]) => {
    const count = measures[measure] ?? "0";
    const ratio = rate ? kpis[rate] ?? null : null;
    const tr = row([
      el("td", { text: label }),
      el("td", { text: number(count), value: count, className: "number" }),
      el("td", { text: rate ? `${percent(ratio)} of ${from}` : "", value: ratio,
        className: "number" }),
    ]);
    tr.dataset.testid = `funnel-${measure}`;
    return tr;
  }));
  draw("funnel-chart", {
    tooltip: { trigger: "item" },
    series: [{
      type: "funnel", sort: "none", minSize: "8%", left: "10%", width: "80%",
      label: { formatter: "{b}: {c}" },
      data: STAGES.map(([measure, label]) => ({ name: label, value: Number(measures[measure] ?? 0) })),
    }],
  });
}

export function attribution(answer) {
  const table = document.querySelector('[data-testid="attribution-table"]');
  const credits = answer.credits;
  fill("attribution-table", credits.map((credit) => {
    const tr = row([
      el("td", { text: credit[answer.by] }),
      el("td", { text: number(credit.conversions), value: credit.conversions,
        testid: "attribution-conversions", className: "number" }),
      el("td", { text: money(credit.value, credit.currency), value: credit.value,
        testid: "attribution-value", className: "number" }),
    ]);
    tr.dataset.testid = "attribution-row";
    tr.dataset.key = credit[answer.by];
    tr.dataset.currency = credit.currency;
    return tr;
  }));
  table.dataset.model = answer.model;
  const { total } = answer.page;
  const cut = total > credits.length ? `; the first ${credits.length} of ${total} rows` : "";
  setText("attribution-summary",
    `${answer.model} credit for ${answer.conversion} (${answer.conversions} conversions${cut})`,
    String(answer.conversions));
  draw("attribution-chart", {
    tooltip: { trigger: "axis" },
    grid: { left: 110, right: 20, top: 10, bottom: 30 },
    xAxis: { type: "value" },
    yAxis: { type: "category", data: credits.map((c) => c[answer.by]), inverse: true },
    series: [{ type: "bar", name: "value", data: credits.map((c) => Number(c.value)) }],
  });
}

export const SHOWN_ROWS = 20;

// "2026-03-08T22:34:00+00:00" as "2026-03-08 22:34 UTC"; other offsets as sent.
function minute(time) {
  if (!time) return "–";
  return time.endsWith("+00:00") ? `${time.slice(0, 16).replace("T", " ")} UTC` : time;
}

function shown(answer, key) {
  const total = answer.page.total;
  const rows = answer[key].length;
  return rows < total ? `${total}; the first ${rows}` : String(total);
}

// Compliance per clock from /reports/sla; breaches and open clocks at risk from their own
// lists, whose first page is shown beside the total.
export function sla(answer, breaches, atRisk) {
  setText("sla-judged-at", minute(answer.now), answer.now);
  const rows = answer.compliance;
  fill("sla-table", rows.map((r) => {
    const tr = row([
      el("td", { text: r.clock }),
      el("td", { text: String(r.met), value: r.met, testid: "sla-met", className: "number" }),
      el("td", { text: String(r.breached), value: r.breached, testid: "sla-breached",
        className: "number" }),
      el("td", { text: percent(r.compliance), value: r.compliance, testid: "sla-compliance",
        className: "number" }),
    ]);
    tr.dataset.testid = "sla-row";
    tr.dataset.key = r.clock;
    return tr;
  }));
  const clocks = rows.filter((r) => r.clock !== "all");
  draw("sla-chart", {
    tooltip: { trigger: "axis" },
    legend: { data: ["met", "breached"], top: 0 },
    grid: { left: 150, right: 20, top: 30, bottom: 30 },
    xAxis: { type: "value" },
    yAxis: { type: "category", data: clocks.map((r) => r.clock), inverse: true },
    series: ["met", "breached"].map((name) => ({
      type: "bar", name, stack: "clocks", data: clocks.map((r) => r[name]),
    })),
  });
  setText("sla-at-risk-count", shown(atRisk, "at_risk"), String(atRisk.page.total));
  fill("sla-at-risk", atRisk.at_risk.map((r) => {
    const tr = row([
      el("td", { text: r.lead_id }), el("td", { text: r.clock }),
      el("td", { text: r.rep ?? "–" }), el("td", { text: minute(r.deadline) }),
      el("td", { text: r.used_hours, value: r.used_hours, testid: "sla-used-hours",
        className: "number" }),
      el("td", { text: r.limit_hours, value: r.limit_hours, testid: "sla-limit-hours",
        className: "number" }),
    ]);
    tr.dataset.testid = "sla-at-risk-row";
    tr.dataset.key = `${r.lead_id} ${r.clock} ${r.cycle}`;
    return tr;
  }));
  setText("sla-breach-count", shown(breaches, "breaches"), String(breaches.page.total));
  fill("sla-breaches", breaches.breaches.map((r) => {
    const tr = row([
      el("td", { text: r.lead_id }), el("td", { text: r.clock }),
      el("td", { text: r.rep ?? "–" }), el("td", { text: minute(r.deadline) }),
      el("td", { text: r.measured ?? "–", value: r.measured, className: "number" }),
      el("td", { text: r.limit ?? "–", value: r.limit, className: "number" }),
    ]);
    tr.dataset.testid = "sla-breach";
    tr.dataset.key = `${r.lead_id} ${r.clock} ${r.cycle}`;
    return tr;
  }));
}
