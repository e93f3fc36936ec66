// The admin console's script: every screen is drawn from the admin JSON API (same origin), with
// the admin token the operator typed as a bearer token. The token lives in this tab's
// sessionStorage only: never in a URL, a cookie or localStorage; signing out forgets it.
// Everything shown is built with createElement and textContent: no data is ever parsed as HTML.
"use strict";

const TOKEN_KEY = "oidc-edge-admin-token";
const REALM_KEY = "oidc-edge-admin-realm";

const $ = (id) => document.getElementById(id);

/** An element: `props` are properties and attributes set by this script (never data-named);
 * children are nodes or text (always text nodes). */
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = String(v);
    else if (k === "className") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (typeof v === "boolean") e[k] = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** `/admin/` and the segments, each percent-encoded. */
function apiPath(...segments) {
  return `/admin/${segments.map((s) => encodeURIComponent(s)).join("/")}`;
}

function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

class ApiError extends Error {
  constructor(status, body) {
    const why = body?.error_description ?? body?.error ?? body?.message ?? "";
    super(`HTTP ${status}${why ? `: ${why}` : ""}`);
    this.status = status;
    this.body = body;
  }
}

/** One call of the admin API; the parsed JSON answer (null when empty) and status. */
async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    signOut("Signed out.");
    throw new ApiError(401, { error_description: "not signed in" });
  }
  const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
  const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error_description: text.slice(0, 200) };
    }
  }
  if (r.status === 401) {
    signOut("The admin token was refused: sign in again.");
    throw new ApiError(401, data);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return { status: r.status, data };
}

// ---- presentation helpers ----

function notify(message, kind = "ok") {
  const n = $("notice");
  n.textContent = message;
  n.className = `notice ${kind}`;
  n.hidden = false;
}

function failed(what, e) {
  notify(`${what} failed: ${e.message}`, "error");
}

function time(secs) {
  if (typeof secs !== "number") return "";
  return new Date(secs * 1000).toISOString().replace(".000Z", "Z");
}

function timeMs(ms) {
  if (typeof ms !== "number") return "";
  return new Date(ms).toISOString();
}

function duration(secs) {
  if (typeof secs !== "number") return "";
  if (secs % 86400 === 0) return `${secs / 86400} d`;
  if (secs % 3600 === 0) return `${secs / 3600} h`;
  if (secs % 60 === 0) return `${secs / 60} min`;
  return `${secs} s`;
}

function show(value) {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "yes" : "no";
  return JSON.stringify(value);
}

/** A table: `columns` are [heading, (row) => text or node]; one row per item. */
function table(columns, rows, options = {}) {
  if (!rows.length) return el("p", { className: "empty", text: options.empty ?? "None." });
  const head = el("tr", {}, columns.map(([h]) => el("th", { text: h })));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr", options.rowProps ? options.rowProps(row) : {});
    for (const [, cell] of columns) {
      const v = cell(row);
      tr.append(el("td", {}, v instanceof Node ? v : show(v)));
    }
    body.append(tr);
    if (options.after) {
      const extra = options.after(row, columns.length);
      if (extra) body.append(extra);
    }
  }
  return el("table", { className: options.className ?? "list" }, el("thead", {}, head), body);
}

function button(label, onclick, className, props = {}) {
  return el("button", { type: "button", className, onclick, ...props }, label);
}

/** A button that asks once more before it acts (a second click within five seconds). */
function confirmButton(label, confirmLabel, action, props = {}) {
  let armed = false;
  const b = button(label, async () => {
    if (!armed) {
      armed = true;
      b.textContent = confirmLabel;
      b.classList.add("armed");
      setTimeout(() => {
        armed = false;
        b.textContent = label;
        b.classList.remove("armed");
      }, 5000);
      return;
    }
    b.disabled = true;
    try {
      await action();
    } finally {
      b.disabled = false;
    }
  }, "danger", props);
  return b;
}

function code(text) {
  return el("code", {}, text ?? "");
}

function formValues(form) {
  const out = {};
  for (const input of form.elements) {
    if (!input.name) continue;
    out[input.name] = input.type === "checkbox" ? input.checked : input.value.trim();
  }
  return out;
}

function lines(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean);
}

// ---- state and navigation ----

const state = {
  realm: null,
  realms: [],
  screen: "realms",
  clients: [],
  editingClient: null,
  sessionsOf: null,
  ledger: { filters: {}, cursors: [null], page: 0, next: null, timer: null, seq: 0 },
  statsClient: null,
};

function setRealm(name) {
  state.realm = name;
  if (name) sessionStorage.setItem(REALM_KEY, name);
  else sessionStorage.removeItem(REALM_KEY);
  $("realm-select").value = name ?? "";
  for (const s of document.querySelectorAll(".realm-name")) s.textContent = name ?? "(no realm)";
  state.sessionsOf = null;
  state.editingClient = null;
  state.statsClient = null;
  state.ledger.filters = {};
  $("ledger-filters").reset();
}

async function showScreen(name) {
  state.screen = name;
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${name}`;
  for (const b of document.querySelectorAll("#tabs button")) {
    b.classList.toggle("active", b.dataset.screen === name);
  }
  clearTimeout(state.ledger.timer);
  if (name !== "realms" && !state.realm) {
    notify("Create or choose a realm first.", "error");
    return;
  }
  const draw = { realms: drawRealms, clients: drawClients, users: drawUsers, deliveries: drawLedger, audit: drawAudit }[name];
  // While a screen is drawn again, what it shows may be replaced at any moment.
  const screen = $(`screen-${name}`);
  screen.dataset.loading = "";
  try {
    await draw();
  } catch (e) {
    if (e.status !== 401) failed(`Loading ${name}`, e);
  } finally {
    delete screen.dataset.loading;
  }
}

// ---- sign-in ----

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(REALM_KEY);
  clearTimeout(state.ledger.timer);
  state.realm = null;
  state.realms = [];
  // Nothing read with the token stays on the page.
  for (const id of ["realms-table", "clients-table", "users-table", "sessions-table", "ledger-table", "audit-table", "realm-edit-fields", "stats-figures"]) {
    $(id).replaceChildren();
  }
  $("realm-select").replaceChildren();
  $("issued-secret").textContent = "";
  $("issued").hidden = true;
  $("notice").hidden = true;
  $("app").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  const err = $("sign-in-error");
  err.textContent = message ?? "";
  err.hidden = !message;
  $("token").focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const input = $("token");
  const token = input.value.trim();
  input.value = "";
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    await api("GET", withQuery(apiPath("realms"), { limit: 1 }));
  } catch (e) {
    if (e.status !== 401) signOut(`The provider did not answer as expected: ${e.message}`);
    return;
  }
  await enter();
}

async function enter() {
  $("sign-in").hidden = true;
  $("sign-in-error").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  try {
    await loadRealms();
  } catch (e) {
    if (e.status !== 401) failed("Loading the realms", e);
    return;
  }
  const saved = sessionStorage.getItem(REALM_KEY);
  const names = state.realms.map((r) => r.realm);
  setRealm(names.includes(saved) ? saved : (names[0] ?? null));
  await showScreen("realms");
}

// ---- realms ----

async function loadRealms() {
  const all = [];
  let cursor = null;
  do {
    const { data } = await api("GET", withQuery(apiPath("realms"), { limit: 200, cursor }));
    all.push(...data.result);
    cursor = data.next_cursor;
  } while (cursor && all.length < 2000);
  state.realms = all;
  const select = $("realm-select");
  select.replaceChildren(...all.map((r) => el("option", { value: r.realm }, r.realm)));
  select.value = state.realm ?? "";
}

/** Known realm settings: label and unit, in the order the editor shows them. */
const REALM_FIELDS = {
  session_max_time_secs: ["Maximum session time", "s"],
  session_idle_time_secs: ["Idle session time", "s"],
  logout_wait_ms: ["Wait for back-channel logout deliveries", "ms"],
  allow_private_uris: ["Allow back-channel logout URIs on private and loopback addresses"],
  registration: ["Dynamic registration"],
  registrations_per_source_per_hour: ["Anonymous registrations per source per hour (0: no limit)"],
  access_token_ttl_secs: ["Access token lifetime", "s"],
  id_token_ttl_secs: ["ID token lifetime", "s"],
  id_token_signing_alg: ["Default ID token signing algorithm"],
  refresh_token_ttl_secs: ["Refresh token lifetime (sliding)", "s"],
  offline_token_ttl_secs: ["Offline access lifetime", "s"],
  offline_access_survives_logout: ["Offline access outlives the session (Back-Channel Logout §2.7)"],
};

async function drawRealms() {
  await loadRealms();
  const hasWait = state.realms.some((r) => r.config && "logout_wait_ms" in r.config);
  const columns = [
    ["Realm", (r) => el("strong", {}, r.realm)],
    ["Max session", (r) => duration(r.config?.session_max_time_secs)],
    ["Idle timeout", (r) => duration(r.config?.session_idle_time_secs)],
  ];
  if (hasWait) columns.push(["Logout wait", (r) => (r.config?.logout_wait_ms ?? "") === "" ? "" : `${r.config.logout_wait_ms} ms`]);
  columns.push(
    ["Registration", (r) => r.config?.registration],
    ["Private URIs", (r) => r.config?.allow_private_uris],
    ["Keys", (r) => (r.keys ?? []).map((k) => `${k.kty} ${k.status}`).join(", ")],
    ["Created", (r) => time(r.created)],
    ["", (r) => el("span", { className: "actions" },
      button("Edit", () => editRealm(r.realm), "secondary", { dataset: { realm: r.realm, action: "edit" } }),
      button("Open", async () => {
        setRealm(r.realm);
        await showScreen("clients");
      }, "secondary", { dataset: { realm: r.realm, action: "open" } }))],
  );
  $("realms-table").replaceChildren(table(columns, state.realms, {
    empty: "No realms yet: create one below.",
    rowProps: (r) => ({ dataset: { realm: r.realm }, className: r.realm === state.realm ? "current" : undefined }),
  }));
}

async function createRealm(ev) {
  ev.preventDefault();
  const form = ev.target;
  const v = formValues(form);
  const body = { allow_private_uris: v.allow_private_uris };
  for (const k of ["session_max_time_secs", "session_idle_time_secs"]) {
    if (v[k] !== "") body[k] = Number(v[k]);
  }
  if (v.registration) body.registration = v.registration;
  try {
    const exists = await api("GET", apiPath("realms", v.name)).then(() => true, (e) => {
      if (e.status === 404) return false;
      throw e;
    });
    if (exists) {
      notify(`A realm named ${v.name} exists already: edit it instead.`, "error");
      return;
    }
    await api("PUT", apiPath("realms", v.name), body);
    form.reset();
    notify(`Realm ${v.name} created.`);
    setRealm(v.name);
    await drawRealms();
    await editRealm(v.name);
  } catch (e) {
    if (e.status !== 401) failed("Creating the realm", e);
  }
}

async function editRealm(name) {
  const { data: realm } = await api("GET", apiPath("realms", name));
  const form = $("realm-edit");
  form.dataset.realm = name;
  $("realm-edit-name").textContent = name;
  const config = realm.config ?? {};
  const keys = [...Object.keys(REALM_FIELDS).filter((k) => k in config), ...Object.keys(config).filter((k) => !(k in REALM_FIELDS)).sort()];
  const fields = [];
  for (const k of keys) {
    const value = config[k];
    const [label, unit] = REALM_FIELDS[k] ?? [k];
    const caption = unit ? `${label} (${unit})` : label;
    if (typeof value === "boolean") {
      fields.push(el("label", { className: "check" }, el("input", { type: "checkbox", name: k, checked: value }), ` ${caption}`));
    } else if (k === "registration") {
      const select = el("select", { name: k }, ["open", "token"].map((o) => el("option", { value: o }, o)));
      select.value = value;
      fields.push(el("label", { className: "field" }, caption, select));
    } else if (typeof value === "number") {
      fields.push(el("label", { className: "field" }, caption, el("input", { type: "number", name: k, value: String(value), min: "0", step: "1" })));
    } else {
      fields.push(el("label", { className: "field" }, caption, el("input", { name: k, value: show(value) })));
    }
    fields.at(-1).dataset.kind = typeof value;
  }
  fields.push(el("label", { className: "field" }, "New registration token (write-only; leave empty to keep)",
    el("input", { type: "password", name: "registration_token", autocomplete: "new-password" })));
  $("realm-edit-fields").replaceChildren(...fields);
  form.dataset.original = JSON.stringify(config);
  form.hidden = false;
}

async function saveRealm(ev) {
  ev.preventDefault();
  const form = ev.target;
  const name = form.dataset.realm;
  const original = JSON.parse(form.dataset.original);
  const changes = {};
  for (const input of form.elements) {
    if (!input.name) continue;
    let value;
    if (input.type === "checkbox") value = input.checked;
    else if (input.type === "number") {
      if (input.value === "" || !Number.isInteger(Number(input.value))) {
        notify(`${input.name} must be a whole number.`, "error");
        return;
      }
      value = Number(input.value);
    } else value = input.value;
    if (input.name === "registration_token") {
      if (value) changes.registration_token = value;
    } else if (JSON.stringify(value) !== JSON.stringify(original[input.name])) {
      changes[input.name] = value;
    }
  }
  if (!Object.keys(changes).length) {
    notify("Nothing changed.");
    return;
  }
  try {
    await api("PATCH", apiPath("realms", name), changes);
    notify(`Realm ${name} saved: ${Object.keys(changes).join(", ")}.`);
    await drawRealms();
    await editRealm(name);
  } catch (e) {
    if (e.status !== 401) failed(`Saving realm ${name}`, e);
  }
}

// ---- clients ----

async function loadClients() {
  const all = [];
  let cursor = null;
  do {
    const { data } = await api("GET", withQuery(apiPath("realms", state.realm, "clients"), { limit: 200, cursor }));
    all.push(...data.result);
    cursor = data.next_cursor;
  } while (cursor && all.length < 2000);
  state.clients = all;
}

async function drawClients() {
  await loadClients();
  const columns = [
    ["Client ID", (c) => code(c.client_id)],
    ["Name", (c) => c.client_name],
    ["Back-channel logout URI", (c) => c.backchannel_logout_uri ?? el("span", { className: "detail", text: "(none)" })],
    ["sid required", (c) => c.backchannel_logout_session_required],
    ["Redirect URIs", (c) => (c.redirect_uris ?? []).join("\n")],
    ["Auth", (c) => c.token_endpoint_auth_method],
    ["First party", (c) => c.first_party],
    ["", (c) => el("span", { className: "actions" },
      button("Edit", () => editClient(c), "secondary", { dataset: { client: c.client_id, action: "edit" } }),
      button("Deliveries", () => openLedger({ client: c.client_id }), "secondary", { dataset: { client: c.client_id, action: "deliveries" } }),
      button("Check RP", () => checkClient(c.client_id), "secondary", { dataset: { client: c.client_id, action: "check" } }),
      confirmButton("Delete", "Really delete?", () => deleteClient(c.client_id), { dataset: { client: c.client_id, action: "delete" } }))],
  ];
  $("clients-table").replaceChildren(table(columns, state.clients, {
    empty: "No clients in this realm yet: add one below.",
    rowProps: (c) => ({ dataset: { client: c.client_id } }),
  }));
}

function newClient() {
  state.editingClient = null;
  const form = $("client-form");
  form.reset();
  form.elements.client_id.readOnly = false;
  $("client-form-title").textContent = "New client";
  $("issued").hidden = true;
}

function editClient(c) {
  state.editingClient = c;
  const form = $("client-form");
  form.reset();
  const f = form.elements;
  f.client_id.value = c.client_id;
  f.client_id.readOnly = true;
  f.client_name.value = c.client_name ?? "";
  f.redirect_uris.value = (c.redirect_uris ?? []).join("\n");
  f.post_logout_redirect_uris.value = (c.post_logout_redirect_uris ?? []).join("\n");
  f.backchannel_logout_uri.value = c.backchannel_logout_uri ?? "";
  f.backchannel_logout_session_required.checked = !!c.backchannel_logout_session_required;
  f.token_endpoint_auth_method.value = c.token_endpoint_auth_method ?? "client_secret_basic";
  f.first_party.checked = !!c.first_party;
  $("client-form-title").textContent = `Edit client ${c.client_id}`;
  $("issued").hidden = true;
  form.scrollIntoView({ block: "nearest" });
}

async function saveClient(ev) {
  ev.preventDefault();
  const v = formValues(ev.target);
  const editing = state.editingClient;
  if (!editing && state.clients.some((c) => c.client_id === v.client_id)) {
    notify(`A client ${v.client_id} exists already: edit it instead.`, "error");
    return;
  }
  // The metadata the form does not show (encryption, JWKS, grant types...) is kept as it is.
  const body = {};
  if (editing) {
    for (const [k, val] of Object.entries(editing)) {
      if (!["client_id", "client_id_issued_at", "client_secret", "client_secret_expires_at"].includes(k)) body[k] = val;
    }
  }
  body.redirect_uris = lines(v.redirect_uris);
  body.post_logout_redirect_uris = lines(v.post_logout_redirect_uris);
  body.backchannel_logout_session_required = v.backchannel_logout_session_required;
  body.token_endpoint_auth_method = v.token_endpoint_auth_method;
  body.first_party = v.first_party;
  if (v.client_name) body.client_name = v.client_name;
  else delete body.client_name;
  if (v.backchannel_logout_uri) body.backchannel_logout_uri = v.backchannel_logout_uri;
  else delete body.backchannel_logout_uri;
  try {
    const { status, data } = await api("PUT", apiPath("realms", state.realm, "clients", v.client_id), body);
    await drawClients();
    notify(`Client ${v.client_id} ${status === 201 ? "created" : "saved"}.`);
    editClient(state.clients.find((c) => c.client_id === v.client_id) ?? data);
    if (data.client_secret) {
      $("issued-secret").textContent = data.client_secret;
      $("issued").hidden = false;
    }
  } catch (e) {
    if (e.status !== 401) failed(`Saving client ${v.client_id}`, e);
  }
}

async function deleteClient(id) {
  try {
    await api("DELETE", apiPath("realms", state.realm, "clients", id));
    if (state.editingClient?.client_id === id) newClient();
    await drawClients();
    notify(`Client ${id} deleted.`);
  } catch (e) {
    if (e.status !== 401) failed(`Deleting client ${id}`, e);
  }
}

/** The RP checker: what the client's back-channel logout URI answers to tokens good and bad. */
async function checkClient(id) {
  const box = $("client-check");
  box.hidden = false;
  box.replaceChildren(el("h3", {}, `Back-channel logout check of ${id}`), el("p", { className: "detail", text: "Checking..." }));
  try {
    const { data } = await api("POST", apiPath("realms", state.realm, "clients", id, "backchannel-check"));
    box.replaceChildren(
      el("h3", {}, `Back-channel logout check of ${id}: ${data.passed} of ${data.total} passed`),
      table([
        ["Case", (c) => c.name],
        ["Expected", (c) => c.expected],
        ["Answer", (c) => c.status],
        ["Pass", (c) => el("span", { className: c.pass ? "state-delivered" : "state-dead", text: c.pass ? "pass" : "FAIL" })],
      ], data.cases ?? []),
    );
  } catch (e) {
    const why = e.status === 404 ? "this provider has no RP checker" : e.message;
    box.replaceChildren(el("h3", {}, `Back-channel logout check of ${id}`), el("p", { className: "error", text: why }));
  }
}

// ---- users and sessions ----

async function drawUsers() {
  const all = [];
  let cursor = null;
  do {
    const { data } = await api("GET", withQuery(apiPath("realms", state.realm, "users"), { limit: 200, cursor }));
    all.push(...data.result);
    cursor = data.next_cursor;
  } while (cursor && all.length < 2000);
  const columns = [
    ["User", (u) => el("strong", {}, u.username)],
    ["Name", (u) => u.name],
    ["Email", (u) => u.email],
    ["sub", (u) => code(u.sub)],
    ["Created", (u) => time(u.created)],
    ["Disabled", (u) => u.disabled],
    ["", (u) => el("span", { className: "actions" },
      button("Sessions", () => drawSessions(u.username), "secondary", { dataset: { user: u.username, action: "sessions" } }),
      button("Deliveries", () => openLedger({ user: u.username }), "secondary", { dataset: { user: u.username, action: "deliveries" } }))],
  ];
  $("users-table").replaceChildren(table(columns, all, {
    empty: "No users in this realm yet: add one below.",
    rowProps: (u) => ({ dataset: { user: u.username } }),
  }));
  if (state.sessionsOf) await drawSessions(state.sessionsOf);
  else $("sessions").hidden = true;
}

async function drawSessions(user) {
  state.sessionsOf = user;
  $("sessions-user").textContent = user;
  const { data } = await api("GET", apiPath("realms", state.realm, "users", user, "sessions"));
  const columns = [
    ["Session", (s) => code(s.id)],
    ["Started", (s) => time(s.created)],
    ["Last access", (s) => time(s.last_access)],
    ["Expires", (s) => time(s.expires)],
    ["Device", (s) => s.device],
    ["Clients", (s) => (s.clients ?? []).join(", ")],
    ["", (s) => el("span", { className: "actions" },
      button("Deliveries", () => openLedger({ session: s.id }), "secondary", { dataset: { session: s.id, action: "deliveries" } }),
      confirmButton("Terminate", "Really terminate?", () => terminate(s.id), { dataset: { session: s.id, action: "terminate" } }))],
  ];
  $("sessions-table").replaceChildren(table(columns, data.result, {
    empty: "No live sessions.",
    rowProps: (s) => ({ dataset: { session: s.id } }),
  }));
  $("sessions").hidden = false;
}

async function terminate(id) {
  try {
    await api("DELETE", apiPath("realms", state.realm, "sessions", id));
    notify("Session terminated: its clients are told by back-channel logout.");
    await drawSessions(state.sessionsOf);
  } catch (e) {
    if (e.status !== 401) failed("Terminating the session", e);
  }
}

async function signOutEverywhere() {
  const user = state.sessionsOf;
  try {
    const { data } = await api("DELETE", apiPath("realms", state.realm, "users", user, "sessions"));
    notify(`${user} signed out everywhere: ${data.sessions_ended} session(s) ended, ${data.backchannel_logout_deliveries} back-channel logout deliveries.`);
    await drawSessions(user);
  } catch (e) {
    if (e.status !== 401) failed(`Signing ${user} out everywhere`, e);
  }
}

async function createUser(ev) {
  ev.preventDefault();
  const form = ev.target;
  const v = formValues(form);
  const body = { password: form.elements.password.value };
  if (v.name) body.name = v.name;
  if (v.email) body.email = v.email;
  try {
    // A PUT to an existing user changes it (and a new password signs it out everywhere).
    const exists = await api("GET", apiPath("realms", state.realm, "users", v.username)).then(() => true, (e) => {
      if (e.status === 404) return false;
      throw e;
    });
    if (exists) {
      notify(`A user named ${v.username} exists already.`, "error");
      return;
    }
    await api("PUT", apiPath("realms", state.realm, "users", v.username), body);
    form.reset();
    await drawUsers();
    notify(`User ${v.username} created.`);
  } catch (e) {
    if (e.status !== 401) failed("Creating the user", e);
  }
}

// ---- delivery ledger ----

async function openLedger(filters) {
  const form = $("ledger-filters");
  form.reset();
  for (const [k, v] of Object.entries(filters)) form.elements[k].value = v;
  state.ledger.filters = { ...filters };
  state.ledger.cursors = [null];
  state.ledger.page = 0;
  await showScreen("deliveries");
}

function applyLedgerFilters(ev) {
  ev.preventDefault();
  const v = formValues(ev.target);
  delete v.limit;
  state.ledger.filters = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== ""));
  state.ledger.cursors = [null];
  state.ledger.page = 0;
  drawLedger().catch((e) => e.status !== 401 && failed("Loading the ledger", e));
}

function outcome(o) {
  if (o === undefined || o === null) return "";
  if (typeof o !== "object") return show(o);
  const parts = [];
  if (o.status !== undefined && o.status !== null) parts.push(`HTTP ${o.status}`);
  if (o.error) parts.push(o.error);
  if (o.latency_ms !== undefined) parts.push(`${o.latency_ms} ms`);
  return parts.length ? parts.join(", ") : JSON.stringify(o);
}

async function drawLedger() {
  clearTimeout(state.ledger.timer);
  const l = state.ledger;
  // Only the latest request draws: an answer to filters since changed is dropped. The table is
  // marked while one is under way.
  const seq = ++l.seq;
  const table = $("ledger-table");
  table.dataset.loading = "";
  try {
    await drawLedgerPage(l, seq);
  } finally {
    if (seq === l.seq) delete table.dataset.loading;
  }
}

async function drawLedgerPage(l, seq) {
  const cursor = l.cursors[l.page];
  const limit = Number($("ledger-filters").elements.limit.value) || 25;
  const { data } = await api("GET", withQuery(apiPath("realms", state.realm, "deliveries"), { ...l.filters, cursor, limit }));
  if (seq !== l.seq) return;
  const entries = data.result ?? [];
  l.next = data.next_cursor ?? null;
  const columns = [
    ["Ended", (d) => timeMs(d.ended_ms)],
    ["Client", (d) => code(d.client_id)],
    ["User", (d) => d.user],
    ["Session", (d) => code(d.session_id)],
    ["Cause", (d) => d.cause],
    ["State", (d) => el("span", { className: `state state-${d.state}`, text: d.state ?? "" })],
    ["Attempts", (d) => d.attempts],
    ["Last outcome", (d) => outcome(d.last_outcome)],
    ["Delivered", (d) => timeMs(d.delivered_ms)],
    ["", (d) => el("span", { className: "actions" },
      button("History", (ev) => {
        const row = ev.target.closest("tr").nextElementSibling;
        row.hidden = !row.hidden;
      }, "secondary", { dataset: { delivery: d.id, action: "history" } }),
      (d.state === "rejected" || d.state === "dead")
        ? button("Retry", () => retry(d.id), undefined, { dataset: { delivery: d.id, action: "retry" } })
        : null)],
  ];
  $("ledger-table").replaceChildren(table(columns, entries, {
    empty: "No deliveries match.",
    rowProps: (d) => ({ dataset: { delivery: d.id ?? "", state: d.state ?? "" } }),
    after: (d, span) => el("tr", { className: "history", hidden: true, dataset: { historyOf: d.id ?? "" } },
      el("td", { colspan: String(span) },
        el("p", { className: "detail" },
          `Logout token to ${d.uri ?? "?"} · sub ${d.sub ?? "?"}${d.sid ? ` · sid ${d.sid}` : ""} · tracking id ${d.tracking_id ?? "?"}`),
        table([
          ["At", (h) => timeMs(h.at_ms)],
          ["HTTP status", (h) => h.status],
          ["Error", (h) => h.error],
          ["Latency", (h) => (typeof h.latency_ms === "number" ? `${h.latency_ms} ms` : "")],
          ["jti", (h) => h.jti],
        ], d.history ?? [], { empty: "No attempt yet.", className: "list inner" }))),
  }));
  $("ledger-next").disabled = !l.next;
  $("ledger-first").disabled = l.page === 0;
  const client = l.filters.client;
  if (client) await drawStats(client);
  else $("stats").hidden = true;
  // While deliveries are under way, the page follows them.
  if (state.screen === "deliveries" && entries.some((d) => d.state === "pending")) {
    l.timer = setTimeout(() => drawLedger().catch(() => {}), 3000);
  }
}

async function drawStats(client) {
  const win = $("stats-window").value;
  $("stats-client").textContent = client;
  const box = $("stats");
  try {
    const { data: s } = await api("GET", withQuery(apiPath("realms", state.realm, "clients", client, "deliveries", "stats"), { window: win }));
    const pct = (x) => (typeof x === "number" ? `${(x * 100).toFixed(1)} %` : "n/a");
    const ms = (x) => (typeof x === "number" ? `${x} ms` : "n/a");
    const figures = [
      ["Total", s.total], ["Delivered", s.delivered], ["Pending", s.pending], ["Rejected", s.rejected], ["Dead", s.dead],
      ["Success rate", pct(s.success_rate)],
      ["Time to notify p50", ms(s.time_to_notify_ms?.p50)], ["p95", ms(s.time_to_notify_ms?.p95)],
    ];
    $("stats-figures").replaceChildren(...figures.map(([k, v]) => el("div", { className: "figure" }, el("dt", {}, k), el("dd", { dataset: { figure: k } }, show(v)))));
    const f = s.last_failure;
    $("stats-failure").textContent = f
      ? `Last failure: ${timeMs(f.at_ms)}, ${[f.status ? `HTTP ${f.status}` : "", f.error ?? ""].filter(Boolean).join(", ")} (delivery ${f.id})`
      : "No failure in this window.";
  } catch (e) {
    if (e.status === 401) return;
    $("stats-figures").replaceChildren();
    $("stats-failure").textContent = e.status === 404 ? "No statistics on this provider." : `Statistics: ${e.message}`;
  }
  box.hidden = false;
}

async function retry(id) {
  try {
    await api("POST", apiPath("realms", state.realm, "deliveries", id, "retry"));
    notify("Delivery queued again.");
  } catch (e) {
    if (e.status === 409) notify("That delivery is still pending.", "error");
    else if (e.status !== 401) failed("Retrying the delivery", e);
  }
  await drawLedger().catch(() => {});
}

// ---- audit ----

async function drawAudit() {
  const v = formValues($("audit-filters"));
  const { data } = await api("GET", withQuery(apiPath("realms", state.realm, "audit"), { event: v.event, since: v.since }));
  // Newest first.
  const events = [...(data.result ?? [])].reverse();
  $("audit-table").replaceChildren(table([
    ["Time", (e) => e.timestamp],
    ["Event", (e) => el("strong", {}, e.eventName ?? "")],
    ["Operation", (e) => e.operation],
    ["User", (e) => e.userId],
    ["Tracking ids", (e) => (e.trackingIds ?? []).join(", ")],
    ["Transaction", (e) => code(e.transactionId)],
  ], events, {
    empty: "No events match.",
    rowProps: (e) => ({ dataset: { event: e.eventName ?? "" } }),
  }));
}

// ---- wiring ----

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut("Signed out: the token is forgotten."));
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", () => showScreen(b.dataset.screen));
  }
  $("realm-select").addEventListener("change", (ev) => {
    setRealm(ev.target.value);
    showScreen(state.screen);
  });
  $("realm-create").addEventListener("submit", createRealm);
  $("realm-edit").addEventListener("submit", saveRealm);
  $("realm-edit-cancel").addEventListener("click", () => {
    $("realm-edit").hidden = true;
  });
  $("client-form").addEventListener("submit", saveClient);
  $("client-new").addEventListener("click", newClient);
  $("user-create").addEventListener("submit", createUser);
  $("sessions-refresh").addEventListener("click", () => drawSessions(state.sessionsOf).catch((e) => e.status !== 401 && failed("Loading the sessions", e)));
  $("sign-out-everywhere").addEventListener("click", signOutEverywhere);
  $("ledger-filters").addEventListener("submit", applyLedgerFilters);
  $("ledger-clear").addEventListener("click", () => openLedger({}));
  $("ledger-refresh").addEventListener("click", () => drawLedger().catch((e) => e.status !== 401 && failed("Loading the ledger", e)));
  $("ledger-next").addEventListener("click", () => {
    const l = state.ledger;
    if (!l.next) return;
    l.cursors[l.page + 1] = l.next;
    l.page += 1;
    drawLedger().catch((e) => e.status !== 401 && failed("Loading the ledger", e));
  });
  $("ledger-first").addEventListener("click", () => {
    state.ledger.page = 0;
    drawLedger().catch((e) => e.status !== 401 && failed("Loading the ledger", e));
  });
  $("stats-window").addEventListener("change", () => state.ledger.filters.client && drawStats(state.ledger.filters.client));
  $("audit-filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    drawAudit().catch((e) => e.status !== 401 && failed("Loading the audit log", e));
  });
  if (sessionStorage.getItem(TOKEN_KEY)) enter();
  else signOut();
});
