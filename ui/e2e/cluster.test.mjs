// The cluster view: a node alone is a one-row cluster, with its figures from GET /api/cluster
// and the charts drawn from the samples the page keeps.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openBrowser, signInWithApi, startServer } from "./harness.mjs";

let server;
let browser;
let token;

before(async () => {
  server = await startServer();
  browser = await openBrowser();
  ({ token } = await signInWithApi(browser.page, server));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the cluster view lists this node as healthy, with its address and charts", async () => {
  const { page, shot } = browser;
  const res = await fetch(`${server.apiUrl}/api/cluster`, { headers: { Authorization: token } });
  assert.equal(res.status, 200);
  const { nodes } = await res.json();
  assert.equal(nodes.length, 1);
  const [node] = nodes;
  assert.match(node.version, /^\d+\.\d+\.\d+/, "the binary's version");

  await page.goto(server.uiUrl + "#/cluster");
  const table = page.getByRole("table", { name: "Nodes" });
  const row = table.getByRole("row").filter({ hasText: node.id });
  await row.getByText("Healthy").waitFor();
  assert.ok((await row.textContent()).includes(new URL(server.apiUrl).host), "the node's address is shown");
  await page.getByText("1 node · 1 healthy").waitFor();
  const charts = page.getByRole("region", { name: `Node ${node.id} (this node)` });
  await charts.getByRole("img", { name: `Requests per second, ${node.id}` }).waitFor();
  await shot("cluster");
});
