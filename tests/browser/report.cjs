// Opens an HTML report in headless Chromium (Debian's, driven by playwright-core from
// .tools/) and prints what a person would see, as JSON, for tests/integration/html.rs:
//   node tests/browser/report.cjs REPORT.html SCREENSHOT.png
// It clicks the "passed" filter and the first failed case, as a person would.
"use strict";
const path = require("path");
const { chromium } = require(path.join(__dirname, "../../.tools/node_modules/playwright-core"));

(async () => {
  const [report, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const offPage = [];
  page.on("request", (r) => { if (!r.url().startsWith("file:")) offPage.push(r.url()); });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const started = Date.now();
  await page.goto("file://" + path.resolve(report));
  await page.waitForSelector("body[data-ready=true]", { timeout: 30000 });
  const openMs = Date.now() - started;
  const rows = () => page.$$eval("tr.case", (rs) => rs.map((r) => r.dataset.status));
  const before = { rows: await rows(), count: await page.textContent("#count") };
  const cards = await page.$$eval(".card", (cs) => cs.map((c) => c.textContent));
  const models = await page.$$eval("#models tr", (rs) => rs.map((r) => [...r.children].map((c) => c.textContent)));
  await page.click("button[data-status=passed]");
  const filtered = { rows: await rows(), count: await page.textContent("#count") };
  let diff = null;
  if (await page.$("tr.case[data-status=failed]")) {
    await page.click("tr.case[data-status=failed]");
    const shown = await page.$("tr.detail pre.diff");
    diff = shown ? { visible: await shown.isVisible(), text: await shown.textContent() } : { visible: false, text: "" };
  }
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ openMs, before, cards, models, filtered, diff, offPage, errors }));
  await browser.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
