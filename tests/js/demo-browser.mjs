// The demo relying party (/demo) in headless Chromium, driven with puppeteer-core (pinned in
// package.json) pointed at the system's Chromium: sign in to both applications through the
// provider's real login form, sign out of one, and wait for the page — refreshing itself — to
// list the two logout tokens and show both applications signed out. A screenshot of that page
// is written to the given path.
//
//   node tests/js/demo-browser.mjs <base URL> <screenshot.png>
//
// CHROMIUM overrides the browser (default /usr/bin/chromium). Prints one JSON line {sid1, sid2,
// tokens, errors}; exits 1 on failure (the error on stderr).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import puppeteer from "puppeteer-core";

const [base, shot] = process.argv.slice(2);
if (!base || !shot) {
  console.error("usage: node demo-browser.mjs <base URL> <screenshot.png>");
  process.exit(2);
}
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
const errors = [];
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  // A script the CSP refused, or any error of the page's own script, shows here.
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  const go = (action) => Promise.all([page.waitForNavigation({ waitUntil: "load" }), action]);

  await page.goto(`${base}/demo`, { waitUntil: "load" });
  // App 1: the provider's sign-in form, then back to the page.
  await go(page.click("#login-1"));
  await page.type('input[name="username"]', "demo");
  await page.type('input[name="password"]', "changeit");
  await go(page.click('button[type="submit"]'));
  await page.waitForSelector("#sid-1");
  // App 2: the same session, no form.
  await go(page.click("#login-2"));
  await page.waitForSelector("#sid-2");
  const sid1 = await page.$eval("#sid-1", (e) => e.textContent);
  const sid2 = await page.$eval("#sid-2", (e) => e.textContent);
  // Sign out of app 1 (RP-initiated logout): both apps are told, the page shows it.
  await go(page.click("#logout-1"));
  await page.waitForFunction(
    () => document.querySelector("#login-1") && document.querySelector("#login-2") && document.querySelectorAll("#tokens > li.valid").length >= 2,
    { timeout: 20000, polling: 250 },
  );
  const tokens = await page.$$eval("#tokens > li", (items) => items.map((li) => li.textContent));
  await page.screenshot({ path: shot, fullPage: true });
  process.stdout.write(`${JSON.stringify({ sid1, sid2, tokens, errors })}\n`);
} catch (e) {
  console.error(`demo-browser: ${e?.stack ?? e}; page errors: ${JSON.stringify(errors)}`);
  if (process.env.DEMO_BROWSER_DEBUG) console.error(await (await browser.pages())[1]?.content());
  process.exitCode = 1;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
