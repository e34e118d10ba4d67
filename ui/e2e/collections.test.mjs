// The login screen and the collections section: create a collection with several field types,
// check it through the API, set a rule with an error and see it inline, fix and save it, delete a
// collection after typing its name.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { EMAIL, PASSWORD, openBrowser, signIn, startServer } from "./harness.mjs";

let server;
let browser;
let token;

async function api(path, init = {}) {
  const res = await fetch(server.apiUrl + path, {
    ...init,
    headers: { "content-type": "application/json", Authorization: token, ...(init.headers ?? {}) },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

before(async () => {
  server = await startServer();
  browser = await openBrowser();
  const res = await fetch(`${server.apiUrl}/api/collections/_superusers/auth-with-password`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identity: EMAIL, password: PASSWORD }),
  });
  token = (await res.json()).token;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("login: a wrong password shows an error, the right one opens Collections", async () => {
  const { page, shot } = browser;
  await page.goto(server.uiUrl);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.ok((await alert.textContent()).trim().length > 0, "the error names what failed");
  await shot("login-error");

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Sections" }).waitFor();
  await page.getByRole("heading", { name: "Collections" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Collections" }).getAttribute("aria-current"), "page");

  // Signing out returns to the login screen.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await shot("login");
});

/** Adds a field of `type` and names it; returns the field's row. */
async function addField(page, type, name) {
  await page.getByLabel("New field type").selectOption(type);
  await page.getByRole("button", { name: "Add field" }).click();
  // The new field's name box has the focus, its text selected.
  const nameBox = page.locator("input:focus");
  await nameBox.fill(name);
  return page.getByRole("group", { name: `Field ${name}`, exact: true });
}

test("collections: create, check rules inline, save rules, delete", async () => {
  const { page, shot } = browser;
  await signIn(page, server);
  const list = page.getByRole("complementary", { name: "Collections" });
  await list.getByRole("link", { name: /^users/ }).waitFor();
  await shot("collections-list");

  // Create "posts" with several field types.
  await list.getByRole("link", { name: "New collection" }).click();
  await page.getByLabel("Name", { exact: true }).fill("posts");
  const title = await addField(page, "text", "title");
  await title.getByLabel("Required").check();
  await addField(page, "number", "views");
  await addField(page, "bool", "published");
  const status = await addField(page, "select", "status");
  await status.getByLabel("Values").fill("draft, published");
  const author = await addField(page, "relation", "author");
  await author.getByLabel("Related collection").selectOption({ label: "users" });
  await addField(page, "file", "cover");
  await shot("collection-editor-fields");
  await page.getByRole("button", { name: "Create collection", exact: true }).click();
  await page.getByRole("heading", { name: /^posts/ }).waitFor();
  await page.getByRole("link", { name: "Edit collection" }).waitFor();

  const users = (await api("/api/collections/users")).body;
  const posts = await api("/api/collections/posts");
  assert.equal(posts.status, 200);
  const byName = Object.fromEntries(posts.body.fields.map((f) => [f.name, f]));
  assert.equal(byName.title.type, "text");
  assert.equal(byName.title.required, true);
  assert.equal(byName.views.type, "number");
  assert.equal(byName.published.type, "bool");
  assert.equal(byName.status.type, "select");
  assert.deepEqual(byName.status.values, ["draft", "published"]);
  assert.equal(byName.author.type, "relation");
  assert.equal(byName.author.collectionId, users.id);
  assert.equal(byName.cover.type, "file");
  assert.deepEqual(
    posts.body.fields.map((f) => f.name),
    ["id", "title", "views", "published", "status", "author", "cover", "created", "updated"],
  );

  // Locked, the list is the superusers' alone.
  for (const [title, status] of [["one", "published"], ["two", "draft"]]) {
    const created = await api("/api/collections/posts/records", {
      method: "POST",
      body: JSON.stringify({ title, status }),
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
  }
  const guestList = () => fetch(`${server.apiUrl}/api/collections/posts/records`);
  assert.equal((await guestList()).status, 403);

  // A list rule with a syntax error is flagged under the rule: while typing when the server can
  // check rules, else when saving.
  const checkable = (await api("/api/collections/meta/check-rules", { method: "POST", body: "{}" })).status !== 404;
  await page.getByRole("link", { name: "Edit collection" }).click();
  await page.getByRole("tab", { name: "API rules" }).click();
  await page.getByLabel("List rule: superusers only", { exact: true }).uncheck();
  const listRule = page.getByLabel("List rule", { exact: true });
  await listRule.fill("status = ");
  if (!checkable) await page.getByRole("button", { name: "Save changes" }).click();
  await page.locator('textarea[aria-invalid="true"]').and(listRule).waitFor();
  const errorId = await listRule.getAttribute("aria-describedby");
  const message = await page.locator(`[id="${errorId}"]`).textContent();
  assert.ok(message.trim().length > 0, "the rule's error has a message");
  await shot("collection-editor-rules");
  // Nothing was saved.
  assert.equal((await api("/api/collections/posts")).body.listRule, null);

  await listRule.fill('status = "published"');
  if (checkable) await page.locator('textarea[aria-invalid="false"]').and(listRule).waitFor();
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("link", { name: "Edit collection" }).waitFor();
  assert.equal((await api("/api/collections/posts")).body.listRule, 'status = "published"');
  // The rule now decides what a guest lists: the published post only.
  const listed = await guestList();
  assert.equal(listed.status, 200);
  assert.deepEqual((await listed.json()).items.map((r) => r.title), ["one"]);

  // Deleting asks for the collection's name first.
  await page.getByRole("link", { name: "Edit collection" }).click();
  await page.getByRole("button", { name: "Delete collection…" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete posts?" });
  const confirm = dialog.getByRole("button", { name: "Delete collection", exact: true });
  assert.equal(await confirm.isDisabled(), true);
  await dialog.getByLabel("Type posts to confirm").fill("posts");
  await confirm.click();
  await page.getByRole("heading", { name: "Collections" }).waitFor();
  assert.equal(await list.getByRole("link", { name: /^posts/ }).count(), 0);
  assert.equal((await api("/api/collections/posts")).status, 404);
});

test("install: the link's token creates a superuser, who is then signed in", async () => {
  const { page, shot } = browser;
  // The server's installer token is a superuser token; the harness's own serves the same.
  await page.evaluate(() => localStorage.clear());
  await page.goto(`${server.uiUrl}#/pbinstall/${token}`);
  await page.reload();
  await page.getByLabel("Email").fill("second@example.com");
  await page.getByLabel("Password", { exact: true }).fill("second-password-1");
  await page.getByLabel("Confirm password").fill("second-password-2");
  await page.getByRole("button", { name: "Create superuser and sign in" }).click();
  await page.getByText("The passwords do not match.").waitFor();
  await page.getByLabel("Confirm password").fill("second-password-1");
  await shot("install");
  await page.getByRole("button", { name: "Create superuser and sign in" }).click();
  await page.getByRole("navigation", { name: "Sections" }).waitFor();
  assert.match(page.url(), /#\/collections$/);
  assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem("sb_admin_auth")).record.email), "second@example.com");
  const found = await api(`/api/collections/_superusers/records?filter=${encodeURIComponent('email="second@example.com"')}`);
  assert.equal(found.body.items.length, 1);
});

test("login: with MFA on, a right password asks for the emailed code next", async () => {
  const { page, shot } = browser;
  const changed = await api("/api/collections/_superusers", {
    method: "PATCH",
    body: JSON.stringify({ mfa: { enabled: true }, otp: { enabled: true } }),
  });
  assert.equal(changed.status, 200);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  // With OTP on, the code can be the first method too.
  await page.getByRole("button", { name: "Use a one-time code instead" }).waitFor();
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  const code = page.getByLabel("One-time code");
  await code.waitFor();
  await page.getByText("A second step is required").waitFor();
  await shot("login-mfa");
  // No mail leaves this server, so only a wrong code can be tried: it is refused, still signed out.
  await code.fill("00000000");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  assert.equal(await page.getByRole("navigation", { name: "Sections" }).count(), 0);
});
