// Logs: requests made by the test show up in the list and the chart, "errors only" leaves only
// failed requests, a bad filter shows the server's error, and one entry opens in a dialog.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openBrowser, signInWithApi, startServer } from "./harness.mjs";

let server;
let browser;
let token;

/** Log entries matching `filter`, as the API lists them to the superuser. */
async function logs(filter) {
  const url = new URL(`${server.apiUrl}/api/logs`);
  url.searchParams.set("filter", filter);
  const res = await fetch(url, { headers: { Authorization: token } });
  assert.ok(res.ok, `GET /api/logs answered ${res.status}`);
  return (await res.json()).items;
}

before(async () => {
  server = await startServer();
  browser = await openBrowser();
  ({ token } = await signInWithApi(browser.page, server));
  // Some requests that fail (a collection that does not exist) and some that succeed.
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${server.apiUrl}/api/collections/e2e_missing/records`);
    assert.equal(res.status, 404);
  }
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${server.apiUrl}/api/settings`, { headers: { Authorization: token } });
    assert.equal(res.status, 200);
  }
  // Log entries may be written after the answer; wait until the failures are stored.
  const deadline = Date.now() + 10_000;
  while ((await logs("data.url ~ 'e2e_missing'")).length < 3) {
    assert.ok(Date.now() < deadline, "the failed requests were not logged");
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the requests are listed and charted; errors only leaves failed requests", async () => {
  const { page } = browser;
  await page.goto(`${server.uiUrl}#/logs`);
  const table = page.getByRole("table", { name: "Request logs" });
  await table.getByRole("cell", { name: "/api/collections/e2e_missing/records" }).first().waitFor();
  await table.getByRole("cell", { name: "/api/settings", exact: true }).first().waitFor();
  await page.getByRole("img", { name: "Requests per hour" }).waitFor();
  await browser.shot("logs");

  await page.getByLabel("Errors only (status 400 and above)").check();
  await table.getByRole("cell", { name: "/api/settings", exact: true }).first().waitFor({ state: "detached" });
  const statuses = await table.locator("tbody tr td:nth-child(4)").allTextContents();
  assert.ok(statuses.length >= 3, `expected the failed requests, got ${statuses.length} rows`);
  for (const status of statuses) assert.ok(Number(status) >= 400, `status ${status} is listed`);
  await page.getByRole("img", { name: "Requests per hour (matching the filter)" }).waitFor();
});

test("a bad filter shows the server's error", async () => {
  const { page } = browser;
  await page.getByRole("searchbox", { name: "Filter" }).fill("data.status >>> 1");
  await page.getByRole("alert").filter({ hasText: "Invalid filter" }).waitFor();
  await page.getByRole("searchbox", { name: "Filter" }).fill("");
  await page.getByRole("alert").waitFor({ state: "detached" });
});

test("one entry opens with its data", async () => {
  const { page } = browser;
  const [failure] = await logs("data.url ~ 'e2e_missing'");
  const table = page.getByRole("table", { name: "Request logs" });
  await table.getByRole("button", { name: /^Open log entry of .*GET \/api\/collections\/e2e_missing\/records$/ }).first().click();
  const dialog = page.getByRole("dialog", { name: "Log entry" });
  const data = dialog.getByRole("table", { name: "Log data" });
  await data.getByRole("row", { name: /^status\s+404$/ }).waitFor();
  await data.getByRole("row", { name: "url /api/collections/e2e_missing/records" }).waitFor();
  assert.equal(failure.data.status, 404);
  await dialog.getByRole("button", { name: "Close" }).click();
  await dialog.waitFor({ state: "hidden" });
});
