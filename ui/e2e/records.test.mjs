// The records screen: create, edit, filter, sort, batch-delete and delete records of a `notes`
// collection through the UI, checking after each step what the API holds.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, openBrowser, EMAIL, PASSWORD } from "./harness.mjs";

let server;
let browser;
let token;
let superuser;
let userId;

async function api(path, options = {}) {
  const res = await fetch(server.apiUrl + path, {
    ...options,
    headers: { "Content-Type": "application/json", Authorization: token ?? "", ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${options.method ?? "GET"} ${path}: ${res.status} ${text}`);
  return body;
}

/** The stored notes, oldest first. */
async function notes(filter = "") {
  const query = new URLSearchParams({ perPage: "100", sort: "@rowid" });
  if (filter) query.set("filter", filter);
  return (await api(`/api/collections/notes/records?${query}`)).items;
}

before(async () => {
  server = await startServer();
  const auth = await api("/api/collections/_superusers/auth-with-password", {
    method: "POST",
    body: { identity: EMAIL, password: PASSWORD },
  });
  token = auth.token;
  superuser = auth.record;
  // Batches are off in a fresh install; the screen uses them when they are on.
  await api("/api/settings", { method: "PATCH", body: { batch: { enabled: true, maxRequests: 50 } } });
  const user = await api("/api/collections/users/records", {
    method: "POST",
    body: { email: "alice@example.com", name: "Alice", password: "alice-password", passwordConfirm: "alice-password" },
  });
  userId = user.id;
  await api("/api/collections", {
    method: "POST",
    body: {
      name: "notes",
      type: "base",
      fields: [
        { name: "title", type: "text" },
        { name: "views", type: "number" },
        { name: "done", type: "bool" },
        { name: "status", type: "select", values: ["draft", "published"], maxSelect: 1 },
        { name: "owner", type: "relation", collectionId: "_pb_users_auth_", maxSelect: 1 },
        { name: "created", type: "autodate", onCreate: true },
        { name: "updated", type: "autodate", onCreate: true, onUpdate: true },
      ],
    },
  });
  for (const [title, views] of [["alpha", 5], ["beta", 1], ["gamma", 9]]) {
    await api("/api/collections/notes/records", { method: "POST", body: { title, views } });
  }
  browser = await openBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("records of a collection: create, edit, filter, sort, batch delete, delete", async () => {
  const { page, shot } = browser;
  page.setDefaultTimeout(10_000);
  // The session the login screen would store; this test is about records, not signing in.
  await page.addInitScript(
    ([key, value]) => window.localStorage.setItem(key, value),
    ["sb_admin_auth", JSON.stringify({ token, record: superuser })],
  );
  await page.goto(server.uiUrl + "#/collections/notes");

  const table = page.getByRole("table");
  const row = (text) => table.getByRole("row").filter({ hasText: text });
  await row("alpha").waitFor();
  await row("gamma").waitFor();
  await page.getByText("3 items").waitFor();
  await shot("records-table");

  // Create through the form.
  await page.getByRole("button", { name: "New record" }).click();
  const form = page.getByRole("dialog", { name: "New notes record" });
  await form.getByLabel("title", { exact: true }).fill("delta");
  await form.getByLabel("views", { exact: true }).fill("7");
  await form.getByLabel("done", { exact: true }).check();
  await form.getByLabel("status", { exact: true }).selectOption("published");
  await form.getByRole("button", { name: "Choose users" }).click();
  await form.getByRole("radio", { name: /alice/ }).check();
  await form.getByRole("list", { name: "Chosen users" }).getByText("alice@example.com").waitFor();
  await shot("record-form");
  await form.getByRole("button", { name: "Create record" }).click();
  await form.waitFor({ state: "hidden" });
  await row("delta").waitFor();
  let [delta] = await notes('title = "delta"');
  assert.ok(delta, "the created record is stored");
  assert.equal(delta.views, 7);
  assert.equal(delta.done, true);
  assert.equal(delta.status, "published");
  assert.equal(delta.owner, userId);

  // Edit it: the form opens with its values.
  await page.getByRole("button", { name: `Open record ${delta.id}` }).click();
  const edit = page.getByRole("dialog", { name: "Edit notes record" });
  await assert.doesNotReject(edit.getByLabel("title", { exact: true }).waitFor());
  assert.equal(await edit.getByLabel("views", { exact: true }).inputValue(), "7");
  await edit.getByLabel("title", { exact: true }).fill("delta edited");
  await edit.getByLabel("views", { exact: true }).fill("8");
  await edit.getByLabel("done", { exact: true }).uncheck();
  await edit.getByRole("button", { name: "Save changes" }).click();
  await edit.waitFor({ state: "hidden" });
  await row("delta edited").waitFor();
  [delta] = await notes(`id = "${delta.id}"`);
  assert.equal(delta.title, "delta edited");
  assert.equal(delta.views, 8);
  assert.equal(delta.done, false);
  assert.equal(delta.owner, userId, "untouched fields keep their values");

  // Filter: matching, non-matching, invalid.
  const filterBox = page.getByRole("searchbox", { name: "Filter" });
  await filterBox.fill('title ~ "edit" && views > 3');
  await filterBox.press("Enter");
  await page.getByText("1 items").waitFor();
  assert.equal(await table.getByRole("row").count(), 2, "header + the one matching row");
  await row("delta edited").waitFor();
  await filterBox.fill("views > 100");
  await filterBox.press("Enter");
  await page.getByText("No records match the filter.").waitFor();
  await filterBox.fill("views >>> (");
  await filterBox.press("Enter");
  const alert = page.getByRole("alert").filter({ hasText: "Cannot list records with this filter" });
  await alert.waitFor();
  assert.match(await alert.textContent(), /something went wrong|invalid|filter/i);
  await page.getByRole("button", { name: "Clear filter" }).click();
  await row("alpha").waitFor();
  assert.equal(await alert.count(), 0, "the error goes with the bad filter");

  // Sort by views, ascending then descending.
  const viewsHeader = page.getByRole("columnheader", { name: "views" });
  const firstRowHas = (text) =>
    page.waitForFunction((t) => document.querySelector("table tbody tr")?.textContent?.includes(t), text);
  const titles = async () => (await table.getByRole("row").allTextContents()).slice(1);
  await viewsHeader.getByRole("button").click();
  await page.waitForFunction(() => document.querySelector('th[aria-sort="ascending"]')?.textContent?.includes("views"));
  await firstRowHas("beta"); // the page comes back after aria-sort changes
  let order = await titles();
  assert.deepEqual(
    ["beta", "alpha", "delta edited", "gamma"].map((t) => order.findIndex((r) => r.includes(t))),
    [0, 1, 2, 3],
    `ascending by views: ${order.join(" | ")}`,
  );
  await viewsHeader.getByRole("button").click();
  await page.waitForFunction(() => document.querySelector('th[aria-sort="descending"]')?.textContent?.includes("views"));
  await firstRowHas("gamma");
  order = await titles();
  assert.ok(order[0].includes("gamma") && order[3].includes("beta"), `descending by views: ${order.join(" | ")}`);

  // Select two rows and delete them in one batch.
  const [alpha] = await notes('title = "alpha"');
  const [beta] = await notes('title = "beta"');
  await page.getByRole("checkbox", { name: `Select record ${alpha.id}` }).check();
  await page.getByRole("checkbox", { name: `Select record ${beta.id}` }).check();
  await page.getByText("2 selected").waitFor();
  await page.getByRole("button", { name: "Delete selected" }).click();
  const confirm = page.getByRole("dialog", { name: "Delete records" });
  await confirm.getByRole("button", { name: "Delete 2" }).click();
  await confirm.waitFor({ state: "hidden" });
  await row("alpha").waitFor({ state: "detached" });
  await page.getByText("2 items").waitFor();
  assert.deepEqual(
    (await notes()).map((n) => n.title),
    ["gamma", "delta edited"],
  );

  // Delete one from its form.
  const [gamma] = await notes('title = "gamma"');
  await row("gamma").getByRole("cell").nth(3).click(); // a plain cell opens the record too
  const gammaForm = page.getByRole("dialog", { name: "Edit notes record" });
  await gammaForm.getByRole("button", { name: "Delete record" }).click();
  const confirmOne = page.getByRole("dialog", { name: "Delete record" });
  await confirmOne.getByRole("button", { name: "Delete", exact: true }).click();
  await gammaForm.waitFor({ state: "hidden" });
  await row("gamma").waitFor({ state: "detached" });
  assert.deepEqual(
    (await notes()).map((n) => n.id),
    [delta.id],
  );
  assert.notEqual(gamma.id, delta.id);
});
