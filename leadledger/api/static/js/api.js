// Calls to the JSON API with the read key the user typed in.
// The key lives in this tab's sessionStorage only: it is gone when the tab closes, it is
// never put in a URL or a cookie, and no other site's script can read it.

const KEY = "leadledger.readKey";

export class NeedsKey extends Error {}

export class ApiError extends Error {}

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value.trim()),
  forget: () => sessionStorage.removeItem(KEY),
};

// GET a JSON document; 401 and 403 become NeedsKey (with the API's own detail), any other
// failure an ApiError that names the path and what the API said.
export async function getJSON(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  const stored = key.get();
  if (stored) headers.Authorization = `Bearer ${stored}`;
  const response = await fetch(url, { headers });
  if (response.ok) return response.json();
  const detail = await problemDetail(response);
  if (response.status === 401 || response.status === 403) throw new NeedsKey(detail);
  throw new ApiError(`${url.pathname}${url.search}: ${response.status} ${detail}`);
}

async function problemDetail(response) {
  try {
    const body = await response.json();
    return body.detail ?? body.title ?? response.statusText;
  } catch {
    return response.statusText;
  }
}
