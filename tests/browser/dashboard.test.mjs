// SPDX-License-Identifier: Apache-2.0
// Opens the dashboard served by tests/http_demo_server in headless Chromium,
// checks that live values, the chart, alerts and the pipeline graph appear,
// and saves a screenshot. Usage: node dashboard.test.mjs URL SCREENSHOT [TOKEN]
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, shot, token] = process.argv.slice(2);
if (!url || !shot) {
  console.error("usage: node dashboard.test.mjs URL SCREENSHOT [TOKEN]");
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), "sluice-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1440, height: 1000 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed++;
};
try {
  const page = browser.pages()[0] || (await browser.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // 401s are expected before the token is entered; anything else is a bug
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 401/.test(m.text())) errors.push(m.text());
  });
  await page.goto(url, { waitUntil: "domcontentloaded" });
  if (token) {
    // the API answers 401: the page must ask for the token
    await page.waitForSelector("dialog#login[open]", { timeout: 10000 });
    check(true, "asks for the token on 401");
    await page.fill("#token", token);
    await page.click("#login-form button");
  }
  await page.waitForFunction(() => document.querySelectorAll("#table tbody tr td.num").length >= 6,
                             null, { timeout: 15000 });
  const rows = await page.$$eval("#table tbody tr", (t) => t.length);
  check(rows >= 6, `table lists the machines (${rows} rows)`);
  const firstBefore = await page.$eval("#table tbody tr td.num", (td) => td.textContent);
  check(/\d/.test(firstBefore) && /°C/.test(firstBefore), `values with units (${firstBefore})`);
  // live: a value in the table changes within a few seconds
  await page.waitForFunction(
    (v) => document.querySelector("#table tbody tr td.num")?.textContent !== v, firstBefore,
    { timeout: 10000 });
  check(true, "values update live");
  await page.waitForFunction(() => document.querySelectorAll("#chart path").length >= 3, null,
                             { timeout: 10000 });
  const paths = await page.$$eval("#chart path", (p) => p.length);
  check(paths >= 3, `chart draws one line per key (${paths})`);
  // The records carry the asset name an enrich step adds (`name`): it is shown
  // beside the raw id in the table and in the chart legend.
  const keyCell = await page.$$eval("#table tbody tr td:first-child",
                                    (t) => t.map((td) => td.textContent).find((x) => /^m0040/.test(x)));
  check(keyCell === "m0040 Press 40", `table shows the asset name next to the id (${keyCell})`);
  const named = await page.$eval("#table tbody tr td:first-child .asset", (e) => e.textContent);
  check(/^[A-Z][a-z]+ \d+$/.test(named), `name in its own element (${named})`);
  const legend = await page.$eval("#legend", (e) => e.textContent);
  check(/m0041 Lathe 41/.test(legend), `chart legend shows the asset name next to the id (${legend})`);
  const nodes = await page.$$eval("#graph rect", (r) => r.length);
  check(nodes >= 9, `pipeline graph drawn (${nodes / 2} nodes)`);
  await page.waitForFunction(() => document.querySelectorAll("#alerts li.alert").length >= 1, null,
                             { timeout: 15000 });
  const sev = await page.$eval("#alerts li.alert", (li) => li.className);
  check(/critical/.test(sev), `firing alert shown with severity colour (${sev})`);
  const ready = await page.$eval("#ready", (e) => e.textContent);
  check(ready === "Ready", `status pill says Ready (${ready})`);
  const live = await page.$eval("#live", (e) => e.textContent);
  check(live === "Live", `event stream connected (${live})`);
  await page.waitForFunction(() => /rec\/s/.test(document.getElementById("k-in").textContent), null,
                             { timeout: 15000 });
  check(true, "throughput figure shown");
  await page.waitForTimeout(600); // let the last chart frame render
  await page.screenshot({ path: shot, fullPage: true });
  check(errors.length === 0, `no page errors ${errors.length ? JSON.stringify(errors) : ""}`);
} catch (e) {
  console.error("FAIL", e.message);
  failed++;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
