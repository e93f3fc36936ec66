// The admin console (/admin/console) in headless Chromium, driven with puppeteer-core (pinned in
// package.json) pointed at the system's Chromium, through one operator's story: sign in with the
// admin token; create a realm and change its session settings; create a client whose
// back-channel logout URI is the test's RP, and users (one named like an HTML injection); a
// user signs in to that client with openid-client (the code flow, as rp-interop.mjs drives it);
// the operator opens the user's sessions, terminates the session, and finds the logout in the
// delivery ledger (delivered, with the client's statistics) and in the audit log; a second
// session ends with "sign out everywhere", its delivery is refused by the RP once and retried
// from the ledger; the RP checker runs from the client's row; the operator signs out. A
// screenshot of each screen goes to <out dir>.
//
//   ADMIN_TOKEN=... node tests/js/console-browser.mjs <base URL> <realm> <back-channel URI> <out dir>
//
// Once the realm exists the script prints {"event":"realm-ready"} and waits for a line on stdin
// (the test then tells its RP which realm's keys to verify with); before the second session's
// end, {"event":"reject-next"} (the test's RP then refuses the next logout token once). CHROMIUM overrides the browser
// (default /usr/bin/chromium). Prints one JSON line with what it saw; exits 1 on failure.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";

import * as client from "openid-client";
import puppeteer from "puppeteer-core";

const [base, realm, backchannelUri, outDir] = process.argv.slice(2);
const token = process.env.ADMIN_TOKEN;
if (!base || !realm || !backchannelUri || !outDir || !token) {
  console.error("usage: ADMIN_TOKEN=... node console-browser.mjs <base URL> <realm> <back-channel URI> <out dir>");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const CLIENT = "rp-app";
const rpOrigin = new URL(backchannelUri).origin;
const redirectUri = `${rpOrigin}/cb`;
const USER = "alice";
const PASSWORD = "correct horse battery staple";
const XSS_USER = '<img src=x onerror="window.__xss=1">';
const XSS_NAME = '<img src=x onerror="window.__xss=2"><script>window.__xss=3</script>';

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const report = { shots: [], urls: [], errors: [] };
const fail = (msg) => {
  throw new Error(msg);
};

/** The admin API from outside the page (to check what the console did). */
async function admin(method, p) {
  const r = await fetch(`${base}/admin/${p}`, { method, headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: r.status === 204 ? null : await r.json() };
}

// ---- the user's side: openid-client and a browser's cookie jar, as rp-interop.mjs ----

class CookieJar {
  cookies = new Map();

  async fetch(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair.indexOf("=");
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    return res;
  }
}

function unescapeHtml(s) {
  return s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
}

/** Sign `USER` in to `CLIENT` with openid-client: the ID token's claims. */
async function userSignsIn(secret) {
  const issuer = new URL(`${base}/realms/${realm}`);
  const execute = [client.allowInsecureRequests];
  const config = await client.discovery(issuer, CLIENT, { client_secret: secret }, client.ClientSecretBasic(), { execute });
  const verifier = client.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: client.randomState(), expectedNonce: client.randomNonce() };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid profile",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state: checks.expectedState,
    nonce: checks.expectedNonce,
  });
  const jar = new CookieJar();
  let res = await jar.fetch(url);
  const html = await res.text();
  if (res.status !== 200 || !html.includes('type="password"')) fail(`expected the login form, got HTTP ${res.status}`);
  const action = unescapeHtml(/<form[^>]*\saction="([^"]*)"/.exec(html)[1]);
  const form = new URLSearchParams();
  for (const [tag] of html.matchAll(/<input[^>]*>/g)) {
    if (!/\stype="hidden"/.test(tag)) continue;
    form.append(unescapeHtml(/\sname="([^"]*)"/.exec(tag)[1]), unescapeHtml(/\svalue="([^"]*)"/.exec(tag)?.[1] ?? ""));
  }
  form.set("username", USER);
  form.set("password", PASSWORD);
  res = await jar.fetch(new URL(action, url), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() });
  if (res.status !== 303) fail(`login: HTTP ${res.status}`);
  res = await jar.fetch(new URL(res.headers.get("location"), url));
  if (res.status !== 302) fail(`authorization after login: HTTP ${res.status} (a first-party client asks no consent)`);
  const callback = res.headers.get("location");
  if (!callback.startsWith(redirectUri)) fail(`redirected to ${callback}`);
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), checks);
  return tokens.claims();
}

// ---- the operator's side: the console in Chromium ----

const profile = mkdtempSync(path.join(tmpdir(), "oidc-edge-chromium-"));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile}`,
  ],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on("console", (m) => m.type() === "error" && report.errors.push(m.text()));
  page.on("pageerror", (e) => report.errors.push(String(e)));
  // Every URL the page asks for, and whether the token ever shows in one.
  page.on("request", (r) => report.urls.push(r.url()));
  page.on("framenavigated", (f) => report.urls.push(f.url()));

  const shot = async (name) => {
    const file = path.join(outDir, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    report.shots.push(file);
  };
  const text = (sel) => page.$eval(sel, (e) => e.textContent);
  const clearNotice = () => page.evaluate(() => {
    const n = document.getElementById("notice");
    n.textContent = "";
    n.hidden = true;
  });
  /** Wait until the notice says `what` (or fail with what it says instead). */
  const notice = async (what) => {
    try {
      await page.waitForFunction((w) => document.getElementById("notice").textContent.includes(w), { timeout: 10000, polling: 100 }, what);
    } catch {
      fail(`expected the notice "${what}", the page says "${await text("#notice")}"`);
    }
  };
  const typeInto = async (sel, value) => {
    await page.$eval(sel, (e) => {
      e.value = "";
    });
    await page.type(sel, value);
  };
  /** The ledger's rows, once no request of it is under way. */
  const ledgerRows = async () => {
    await page.waitForSelector("#ledger-table:not([data-loading])");
    return page.$$eval("#ledger-table tr[data-delivery]", (rows) => rows.map((r) => ({ id: r.dataset.delivery, state: r.dataset.state, text: r.textContent })));
  };
  /** Refresh the ledger until its rows satisfy `done`. */
  const waitLedger = async (done, what) => {
    const until = Date.now() + 30000;
    for (;;) {
      const rows = await ledgerRows();
      if (done(rows)) return rows;
      if (Date.now() > until) fail(`the ledger never showed ${what}: ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 500));
      await page.click("#ledger-refresh");
    }
  };
  const tab = async (name, ready) => {
    await page.click(`#tabs button[data-screen="${name}"]`);
    await page.waitForSelector(`#screen-${name}:not([hidden]):not([data-loading]) ${ready}`);
  };

  // Sign in: a wrong token is refused and forgotten; the right one opens the console.
  await page.goto(`${base}/admin/console`, { waitUntil: "load" });
  await page.waitForSelector("#sign-in:not([hidden]) #token");
  await shot("01-sign-in");
  await page.type("#token", "not-the-admin-token");
  await page.click("#sign-in-button");
  await page.waitForSelector("#sign-in-error:not([hidden])");
  report.wrong_token = await text("#sign-in-error");
  if (await page.evaluate(() => sessionStorage.length) !== 0) fail("a refused token was kept");
  await page.type("#token", token);
  await page.click("#sign-in-button");
  await page.waitForSelector("#app:not([hidden]) #realms-table");

  // Realms: create one (its back-channel URIs may be on loopback: the test's RP), then change
  // its session settings.
  await page.type("#realm-create input[name=name]", realm);
  await page.type("#realm-create input[name=session_idle_time_secs]", "900");
  await page.click("#realm-create input[name=allow_private_uris]");
  await page.click("#realm-create button[type=submit]");
  await notice(`Realm ${realm} created.`);
  await page.waitForSelector(`#realms-table tr[data-realm="${realm}"]`);
  await page.waitForSelector("#realm-edit:not([hidden]) input[name=session_max_time_secs]");
  process.stdout.write(`${JSON.stringify({ event: "realm-ready" })}\n`);
  await stdinLines.next();
  await typeInto("#realm-edit input[name=session_max_time_secs]", "7200");
  await clearNotice();
  await page.click("#realm-edit button[type=submit]");
  await notice("saved: session_max_time_secs");
  const saved = await admin("GET", `realms/${realm}`);
  report.realm_config = saved.body.config;
  report.realm_row = await text(`#realms-table tr[data-realm="${realm}"]`);
  await shot("02-realms");

  // Clients: the RP, with its back-channel logout URI; one named like an injection; one
  // created and deleted.
  await tab("clients", "#client-form");
  const newClient = async (id, name, uris) => {
    await page.click("#client-new");
    await page.type("#client-form input[name=client_id]", id);
    if (name) await page.type("#client-form input[name=client_name]", name);
    await page.type("#client-form textarea[name=redirect_uris]", uris);
    await clearNotice();
  };
  await newClient(CLIENT, "Console test RP", redirectUri);
  await page.type("#client-form input[name=backchannel_logout_uri]", backchannelUri);
  await page.click("#client-form input[name=backchannel_logout_session_required]");
  await page.click("#client-form input[name=first_party]");
  await page.click("#client-save");
  await notice(`Client ${CLIENT} created.`);
  await page.waitForSelector("#issued:not([hidden])");
  const secret = await text("#issued-secret");
  if (secret.length < 16) fail(`no client secret shown: ${secret}`);
  await newClient("xss-app", XSS_NAME, `${rpOrigin}/xss`);
  await page.click("#client-save");
  await notice("Client xss-app created.");
  await newClient("gone-app", "", `${rpOrigin}/gone`);
  await page.click("#client-save");
  await notice("Client gone-app created.");
  await page.waitForSelector('#clients-table button[data-client="gone-app"][data-action="delete"]');
  await clearNotice();
  await page.click('#clients-table button[data-client="gone-app"][data-action="delete"]');
  await page.click('#clients-table button[data-client="gone-app"][data-action="delete"]');
  await notice("Client gone-app deleted.");
  const clients = (await admin("GET", `realms/${realm}/clients`)).body.result;
  report.clients = clients.map((c) => c.client_id);
  report.rp_client = clients.find((c) => c.client_id === CLIENT);
  report.client_row = await text(`#clients-table tr[data-client="${CLIENT}"]`);
  report.xss_client_cell = await page.$eval('#clients-table tr[data-client="xss-app"] td:nth-child(2)', (e) => e.textContent);
  await page.click("#client-new");
  await shot("03-clients");

  // Users: the one who signs in, and one named like an injection.
  await tab("users", "#user-create");
  const newUser = async (name, display) => {
    await page.type("#user-create input[name=username]", name);
    await page.type("#user-create input[name=password]", PASSWORD);
    if (display) await page.type("#user-create input[name=name]", display);
    await clearNotice();
    await page.click("#user-create button[type=submit]");
    await notice(`User ${name} created.`);
  };
  await newUser(USER, "Alice Example");
  await newUser(XSS_USER, XSS_NAME);
  report.xss_user_cell = await page.evaluate((n) => [...document.querySelectorAll("#users-table tr")].find((tr) => tr.dataset.user === n)?.querySelector("td").textContent, XSS_USER);
  report.users = (await admin("GET", `realms/${realm}/users`)).body.result;
  await shot("04-users");

  // The user signs in to the RP: one session, which the operator terminates.
  const first = await userSignsIn(secret);
  report.sid = first.sid;
  await page.click(`#users-table button[data-user="${USER}"][data-action="sessions"]`);
  await page.waitForSelector("#sessions:not([hidden]) #sessions-table tr[data-session]");
  const sessions = await page.$$eval("#sessions-table tr[data-session]", (rows) => rows.map((r) => ({ id: r.dataset.session, text: r.textContent })));
  if (sessions.length !== 1 || !sessions[0].text.includes(CLIENT)) fail(`expected one session with ${CLIENT}: ${JSON.stringify(sessions)}`);
  report.session_id = sessions[0].id;
  await shot("05-sessions");
  await clearNotice();
  const terminate = `#sessions-table button[data-session="${report.session_id}"][data-action="terminate"]`;
  await page.click(terminate);
  await page.click(terminate);
  await notice("Session terminated");
  await page.waitForFunction(() => !document.querySelector("#sessions-table tr[data-session]"));
  report.sessions_after_terminate = await text("#sessions-table");

  // The delivery ledger, from the client's row: the delivery to the RP, delivered, with its
  // attempt and the client's statistics.
  await tab("clients", `#clients-table button[data-client="${CLIENT}"][data-action="deliveries"]`);
  await page.click(`#clients-table button[data-client="${CLIENT}"][data-action="deliveries"]`);
  await page.waitForSelector("#screen-deliveries:not([hidden])");
  await waitLedger((rows) => rows.some((r) => r.state === "delivered"), "a delivered entry");
  report.ledger_rows = await ledgerRows();
  await page.waitForSelector("#stats:not([hidden]) #stats-figures dd");
  report.stats = await page.$$eval("#stats-figures dd", (dds) => Object.fromEntries(dds.map((d) => [d.dataset.figure, d.textContent])));
  report.stats_failure = await text("#stats-failure");
  const firstDelivery = report.ledger_rows[0].id;
  await page.click(`#ledger-table button[data-delivery="${firstDelivery}"][data-action="history"]`);
  report.history = await text(`#ledger-table tr[data-history-of="${firstDelivery}"]`);
  await clearNotice();
  await shot("06-ledger");
  // Filters: by the session ended, and by a state none is in.
  await page.click("#ledger-clear");
  await typeInto("#ledger-filters input[name=session]", report.session_id);
  await page.click("#ledger-filters button[type=submit]");
  await waitLedger((rows) => rows.length === 1, "the session's one delivery");
  report.by_session = await ledgerRows();
  await page.click("#ledger-clear");
  await page.select("#ledger-filters select[name=state]", "dead");
  await page.click("#ledger-filters button[type=submit]");
  await page.waitForSelector("#ledger-table p.empty");

  // The audit log: the session's end, and the back-channel logout (its delivery, once done).
  await tab("audit", "#audit-filters");
  await typeInto("#audit-filters input[name=event]", "AM-SESSION-DESTROYED");
  await page.click("#audit-filters button[type=submit]");
  await page.waitForSelector('#audit-table tr[data-event="AM-SESSION-DESTROYED"]');
  report.destroyed = await page.$$eval('#audit-table tr[data-event="AM-SESSION-DESTROYED"]', (rows) => rows.map((r) => r.textContent));
  await typeInto("#audit-filters input[name=event]", "AM-BACK-CHANNEL-LOGOUT");
  const deadline = Date.now() + 30000;
  for (;;) {
    await page.click("#audit-filters button[type=submit]");
    await new Promise((r) => setTimeout(r, 300));
    const rows = await page.$$eval('#audit-table tr[data-event="AM-BACK-CHANNEL-LOGOUT"]', (rs) => rs.map((r) => r.textContent));
    if (rows.length) {
      report.backchannel = rows;
      break;
    }
    if (Date.now() > deadline) fail("no AM-BACK-CHANNEL-LOGOUT event in the audit screen");
  }
  // Unfiltered: the session's end and its delivery, one after the other.
  await typeInto("#audit-filters input[name=event]", "");
  await page.click("#audit-filters button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#audit-table tr[data-event]").length >= 2);
  report.audit_events = await page.$$eval("#audit-table tr[data-event]", (rows) => rows.map((r) => r.dataset.event));
  await clearNotice();
  await shot("07-audit");

  // A second session, ended by "sign out everywhere"; the RP refuses that logout token once
  // (the test tells it to), and the operator retries the rejected delivery from the ledger.
  process.stdout.write(`${JSON.stringify({ event: "reject-next" })}\n`);
  await stdinLines.next();
  const second = await userSignsIn(secret);
  report.sid2 = second.sid;
  await tab("users", `#users-table button[data-user="${USER}"][data-action="sessions"]`);
  await page.click(`#users-table button[data-user="${USER}"][data-action="sessions"]`);
  await page.waitForSelector("#sessions:not([hidden]) #sessions-table tr[data-session]");
  report.session_id2 = await page.$eval("#sessions-table tr[data-session]", (r) => r.dataset.session);
  await clearNotice();
  await page.click("#sign-out-everywhere");
  await notice(`${USER} signed out everywhere: 1 session(s) ended`);
  report.everywhere = await text("#notice");
  await page.waitForFunction(() => !document.querySelector("#sessions-table tr[data-session]"));
  await tab("deliveries", "#ledger-filters");
  await page.click("#ledger-clear");
  await page.select("#ledger-filters select[name=state]", "rejected");
  await page.click("#ledger-filters button[type=submit]");
  await waitLedger((rows) => rows.length === 1, "the rejected delivery");
  const [rejected] = await ledgerRows();
  report.rejected = rejected;
  await clearNotice();
  await page.click(`#ledger-table button[data-delivery="${rejected.id}"][data-action="retry"]`);
  await notice("Delivery queued again.");
  await page.click("#ledger-clear");
  await typeInto("#ledger-filters input[name=session]", report.session_id2);
  await page.click("#ledger-filters button[type=submit]");
  await waitLedger((rows) => rows.some((r) => r.id === rejected.id && r.state === "delivered"), "the retried delivery delivered");
  await page.click(`#ledger-table button[data-delivery="${rejected.id}"][data-action="history"]`);
  report.retried_history = await page.$$eval(`#ledger-table tr[data-history-of="${rejected.id}"] table tbody tr`, (rows) => rows.map((r) => r.textContent));
  await clearNotice();
  await shot("08-retried");

  // Page by page: one entry a page, the next page by its cursor, and back to the first.
  await page.click("#ledger-clear");
  await typeInto("#ledger-filters input[name=limit]", "1");
  await page.click("#ledger-filters button[type=submit]");
  await waitLedger((rows) => rows.length === 1, "one entry on the first page");
  await page.waitForFunction(() => !document.getElementById("ledger-next").disabled);
  const [page1] = await ledgerRows();
  await page.click("#ledger-next");
  await waitLedger((rows) => rows.length === 1 && rows[0].id !== page1.id, "the second page");
  const [page2] = await ledgerRows();
  // A full page has a cursor even when nothing follows: the next page is then empty, and has
  // none.
  const later = [];
  for (let i = 0; i < 5 && !(await page.$eval("#ledger-next", (b) => b.disabled)); i++) {
    const before = await page.$eval("#ledger-table", (t) => t.textContent);
    await page.click("#ledger-next");
    await page.waitForFunction((b) => document.getElementById("ledger-table").textContent !== b, {}, before);
    later.push(...(await ledgerRows()).map((r) => r.id));
  }
  const lastPage = await page.$eval("#ledger-next", (b) => b.disabled);
  await page.click("#ledger-first");
  await waitLedger((rows) => rows.length === 1 && rows[0].id === page1.id, "the first page again");
  report.pages = { first: page1.id, second: page2.id, later, ends: lastPage };

  // The RP checker, from the client's row.
  await tab("clients", `#clients-table button[data-client="${CLIENT}"][data-action="check"]`);
  await page.click(`#clients-table button[data-client="${CLIENT}"][data-action="check"]`);
  await page.waitForSelector("#client-check:not([hidden]) table", { timeout: 30000 });
  report.check_title = await page.$eval("#client-check h3", (h) => h.textContent);
  report.check_cases = await page.$$eval("#client-check tbody tr", (rows) => rows.map((r) => r.textContent));
  await shot("09-rp-check");

  // Nothing injected ran, and no image was ever made from data.
  report.xss = await page.evaluate(() => window.__xss ?? null);
  report.images = await page.evaluate(() => document.querySelectorAll("img").length);
  // The token is in this tab's session storage only.
  report.storage = await page.evaluate(() => ({
    session: Object.keys(sessionStorage),
    local: localStorage.length,
    cookie: document.cookie,
    href: location.href,
  }));
  report.cookies = (await page.cookies()).length;

  // Signing out forgets the token and what was shown.
  await page.click("#sign-out");
  await page.waitForSelector("#sign-in:not([hidden])");
  report.after_sign_out = await page.evaluate(() => ({
    session: sessionStorage.length,
    app_hidden: document.getElementById("app").hidden,
    shown: document.getElementById("users-table").textContent,
  }));
  report.token_in_url = report.urls.filter((u) => u.includes(token));
  if (report.token_in_url.length) fail(`the admin token was in a URL: ${report.token_in_url}`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
} catch (e) {
  console.error(`console-browser: ${e?.stack ?? e}; page errors: ${JSON.stringify(report.errors)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  process.stdin.destroy();
}
