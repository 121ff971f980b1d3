// The public API, read relative to the page: the page is served at the API's own root.

const BASE = new URL("./", window.location.href);

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

async function get(path, accept) {
  let response;
  try {
    response = await fetch(new URL(path, BASE), { headers: { Accept: accept } });
  } catch (error) {
    throw new ApiError(0, "unreachable", `the API could not be reached (${error.message})`);
  }
  const text = await response.text();
  if (!response.ok) {
    let body = {};
    try {
      body = JSON.parse(text);
    } catch {
      /* not the error shape: say what we got */
    }
    const error = body.error || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`,
      error.message || `the API answered ${response.status}`, error.field);
  }
  return text;
}

export async function getJson(path) {
  const text = await get(path, "application/json");
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(200, "bad_json", `the answer of ${path} is not JSON`);
  }
}

export const getText = (path) => get(path, "text/plain");

export const q = (value) => encodeURIComponent(value);

// Run tasks with at most `width` at once, keeping the order of their results.
export async function limited(items, width, task) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}
