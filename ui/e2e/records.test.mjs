// The records screen: create, edit, filter, sort, batch-delete and delete records of a `notes`
// collection through the UI, checking after each step what the API holds.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, openBrowser, signInWithApi, EMAIL, PASSWORD } from "./harness.mjs";

let server;
let browser;
let token;
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
  await api("/api/collections", {
    method: "POST",
    body: {
      name: "docs",
      type: "base",
      fields: [
        { name: "name", type: "text", required: true },
        { name: "meta", type: "json" },
        { name: "when", type: "date" },
        { name: "files", type: "file", maxSelect: 3 },
      ],
    },
  });
  browser = await openBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("records of a collection: create, edit, filter, sort, batch delete, delete", async () => {
  const { page, shot } = browser;
  page.setDefaultTimeout(10_000);
  ({ token } = await signInWithApi(page, server));
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

test("record form: field errors, json check, file upload and removal, auth user and impersonation", async () => {
  const { page } = browser;
  page.setDefaultTimeout(10_000);
  await page.goto(server.uiUrl + "#/collections/docs");
  await page.getByRole("button", { name: "New record" }).click();
  const form = page.getByRole("dialog", { name: "New docs record" });

  // Invalid JSON is caught before sending; a missing required value comes back from the server.
  await form.getByLabel("meta").fill("{oops");
  await form.getByRole("button", { name: "Create record" }).click();
  await form.getByRole("alert").filter({ hasText: "Invalid JSON" }).waitFor();
  await form.getByLabel("meta").fill('{"tags": ["a"]}');
  await form.getByRole("button", { name: "Create record" }).click();
  await form.getByRole("alert").filter({ hasText: /blank/i }).waitFor();
  assert.equal((await api("/api/collections/docs/records")).items.length, 0);

  await form.getByLabel("name *").fill("report");
  await form.getByLabel("when").fill("2024-05-06T07:08:09");
  await form.getByLabel("Add files to files").setInputFiles([
    { name: "one.txt", mimeType: "text/plain", buffer: Buffer.from("one") },
    { name: "two.txt", mimeType: "text/plain", buffer: Buffer.from("two") },
  ]);
  await form.getByRole("button", { name: "Create record" }).click();
  await form.waitFor({ state: "hidden" });
  let [doc] = (await api("/api/collections/docs/records")).items;
  assert.equal(doc.name, "report");
  assert.deepEqual(doc.meta, { tags: ["a"] });
  const expectedWhen = new Date(2024, 4, 6, 7, 8, 9).toISOString().replace("T", " "); // the browser's local time
  assert.equal(doc.when, expectedWhen);
  assert.equal(doc.files.length, 2);

  // Remove one stored file.
  await page.getByRole("button", { name: `Open record ${doc.id}` }).click();
  const edit = page.getByRole("dialog", { name: "Edit docs record" });
  const one = doc.files.find((f) => f.startsWith("one"));
  await edit.getByRole("button", { name: `Remove ${one}` }).click();
  await edit.getByRole("button", { name: "Save changes" }).click();
  await edit.waitFor({ state: "hidden" });
  [doc] = (await api("/api/collections/docs/records")).items;
  assert.equal(doc.files.length, 1);
  assert.ok(doc.files[0].startsWith("two"));
  assert.equal(doc.when, expectedWhen, "an untouched date keeps its value");

  // An auth record: create with a password, then impersonate it without losing our session.
  await page.goto(server.uiUrl + "#/collections/users");
  await page.getByRole("button", { name: "New record" }).click();
  const userForm = page.getByRole("dialog", { name: "New users record" });
  await userForm.getByLabel("email *").fill("bob@example.com");
  await userForm.getByLabel("password *", { exact: true }).fill("bob-password-1");
  await userForm.getByLabel("passwordConfirm *").fill("bob-password-2");
  await userForm.getByRole("button", { name: "Create record" }).click();
  await userForm.getByRole("alert").filter({ hasText: /match/i }).waitFor();
  await userForm.getByLabel("passwordConfirm *").fill("bob-password-1");
  await userForm.getByLabel("verified").check();
  await userForm.getByRole("button", { name: "Create record" }).click();
  await userForm.waitFor({ state: "hidden" });
  const bob = (await api(`/api/collections/users/records?filter=${encodeURIComponent('email = "bob@example.com"')}`)).items[0];
  assert.equal(bob.verified, true);
  await api("/api/collections/users/auth-with-password", {
    method: "POST",
    body: { identity: "bob@example.com", password: "bob-password-1" },
  });

  await page.getByRole("button", { name: `Open record ${bob.id}` }).click();
  await page.getByRole("dialog", { name: "Edit users record" }).getByRole("button", { name: "Impersonate" }).click();
  const impersonate = page.getByRole("dialog", { name: "Impersonate bob@example.com" });
  await impersonate.getByLabel("Duration in seconds").fill("600");
  await impersonate.getByRole("button", { name: "Issue token" }).click();
  const issued = await impersonate.getByLabel("Token").inputValue();
  const me = await fetch(`${server.apiUrl}/api/collections/users/records/${bob.id}`, { headers: { Authorization: issued } });
  assert.equal(me.status, 200, "the issued token authenticates as the user");
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem("sb_admin_auth")).token);
  assert.equal(session, token, "the superuser's session is untouched");
});
