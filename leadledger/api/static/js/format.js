// How numbers from the API are shown. The API sends money and ratios as decimal strings;
// the page rounds them for reading and keeps the exact string in data-value.

const plain = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

export function number(text) {
  return text === null || text === undefined ? "–" : plain.format(Number(text));
}

export function percent(ratio) {
  return ratio === null || ratio === undefined ? "–" : `${plain.format(Number(ratio) * 100)}%`;
}

export function money(text, currency) {
  return text === null || text === undefined ? "–" : `${number(text)} ${currency ?? ""}`.trim();
}

// A cell, tile or label that shows `shown` and keeps the API's exact `value` beside it.
export function el(tag, { text = "", value, testid, className } = {}) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (value !== undefined) node.dataset.value = value === null ? "" : String(value);
  if (testid) node.dataset.testid = testid;
  if (className) node.className = className;
  return node;
}

export function row(cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}
