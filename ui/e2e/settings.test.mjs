// Settings: the application name and a rate-limit rule are saved through the UI and read back
// from the API; a backup is created, listed and deleted.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openBrowser, signInWithApi, startServer } from "./harness.mjs";

let server;
let browser;
let token;

/** GET/POST/... on the server as the superuser; returns the parsed JSON body (or null). */
async function api(method, path, body) {
  const res = await fetch(`${server.apiUrl}${path}`, {
    method,
    headers: { Authorization: token, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(res.ok, `${method} ${path} answered ${res.status}`);
  return res.status === 204 ? null : res.json();
}

before(async () => {
  server = await startServer();
  browser = await openBrowser();
  ({ token } = await signInWithApi(browser.page, server));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("application name: a blank one is refused inline, a new one is saved", async () => {
  const { page } = browser;
  await page.goto(`${server.uiUrl}#/settings/application`);
  const name = page.getByLabel("Application name");
  await name.fill("");
  await page.getByRole("button", { name: "Save changes" }).click();
  // The server's validation message sits under the field.
  await page.getByRole("alert").filter({ hasText: "Cannot be blank" }).waitFor();
  assert.equal(await name.getAttribute("aria-invalid"), "true");

  await name.fill("E2E Shop");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  const settings = await api("GET", "/api/settings");
  assert.equal(settings.meta.appName, "E2E Shop");
  await browser.shot("settings-application");
});

test("rate limits: a bad label is refused inline, a new rule is saved", async () => {
  const { page } = browser;
  await page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Rate limits" }).click();
  await page.getByRole("button", { name: "Add rule" }).click();
  const rows = (await api("GET", "/api/settings")).rateLimits.rules.length;
  const n = rows + 1;
  // A label the server does not accept is refused next to the cell.
  const label = page.getByLabel(`Label of rule ${n}`);
  await label.fill("not a label!");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("alert").filter({ hasText: "valid format" }).waitFor();
  assert.equal(await label.getAttribute("aria-invalid"), "true");

  await label.fill("/api/e2e/");
  await page.getByLabel(`Most requests of rule ${n}`).fill("7");
  await page.getByLabel(`Seconds of rule ${n}`).fill("2");
  await page.getByLabel(`Audience of rule ${n}`).selectOption("@guest");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();

  const { rateLimits } = await api("GET", "/api/settings");
  assert.equal(rateLimits.rules.length, n);
  assert.deepEqual(
    rateLimits.rules.find((r) => r.label === "/api/e2e/"),
    { label: "/api/e2e/", maxRequests: 7, duration: 2, audience: "@guest" },
  );
});

test("backups: create one, see it listed, delete it after confirming", async () => {
  const { page } = browser;
  await page.goto(`${server.uiUrl}#/settings/backups`);
  await page.getByRole("button", { name: "Create backup" }).click();
  const dialog = page.getByRole("dialog", { name: "Create a backup" });
  await dialog.getByLabel("Name (optional)").fill("e2e_backup.zip");
  await dialog.getByRole("button", { name: "Create" }).click();

  if (server.backend === "postgres") {
    // The server leaves PostgreSQL backups to pg_dump; its refusal is shown in the dialog.
    await dialog.getByRole("alert").filter({ hasText: "pg_dump" }).waitFor();
    await browser.shot("settings-backups");
    return;
  }

  const table = page.getByRole("table", { name: "Backups" });
  await table.getByRole("cell", { name: "e2e_backup.zip", exact: true }).waitFor();
  const listed = await api("GET", "/api/backups");
  assert.ok(listed.some((b) => b.key === "e2e_backup.zip"));
  await browser.shot("settings-backups");

  await table.getByRole("button", { name: "Delete e2e_backup.zip" }).click();
  const confirm = page.getByRole("dialog", { name: "Delete this backup?" });
  await confirm.getByRole("button", { name: "Delete" }).click();
  await table.getByRole("cell", { name: "e2e_backup.zip", exact: true }).waitFor({ state: "detached" });
  const left = await api("GET", "/api/backups");
  assert.ok(!left.some((b) => b.key === "e2e_backup.zip"));
});
