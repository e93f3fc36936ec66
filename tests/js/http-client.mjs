// One HTTP helper for the JavaScript harnesses that drive the provider: the Miniflare smoke test
// (tests/js/worker-smoke.mjs), the workerd cost bench (benches/worker.mjs) and the npm package's
// Provider tests (js/test/provider.test.mjs).

/**
 * A `call(method, path, options)` for the provider at `base`, sending with `send(url, init)`
 * (`fetch`, or Miniflare's `dispatchFetch`). Options: `json` or `form` (the body, with its
 * content type), `headers`, `admin` (the admin token as a bearer), `basic` ([id, secret] as HTTP
 * Basic). Redirects are not followed. Resolves to `{ status, headers, text, json }`, `json`
 * undefined when the body is not JSON.
 */
export function httpClient(send, base, adminToken) {
  return async function call(method, path, { json, form, headers = {}, admin = false, basic } = {}) {
    const h = { ...headers };
    let body;
    if (json !== undefined) {
      h["content-type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      h["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(form).toString();
    }
    if (admin) h.authorization = `Bearer ${adminToken}`;
    if (basic) h.authorization = `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString("base64")}`;
    const res = await send(`${base}${path}`, { method, headers: h, body, redirect: "manual" });
    const text = await res.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, json: parsed };
  };
}
