// The end-to-end harness: a real `scalebase serve` on a loopback port (SQLite in a temporary
// folder, or PostgreSQL in a fresh database with E2E_BACKEND=postgres) with one superuser, and
// Debian's headless Chromium driven by playwright-core.
//
// Environment:
//   SCALEBASE_BIN   the binary [$CARGO_TARGET_DIR/release/scalebase, else ../target/release/scalebase]
//   E2E_BACKEND     sqlite | postgres [sqlite]
//   E2E_PG_URL      where fresh databases are made [postgres://postgres@127.0.0.1:5432/postgres]
//   CHROMIUM        the browser [/usr/bin/chromium]
//   E2E_ARTIFACTS   where screenshots go [ui/test-results]
//   UI_DEV=1        serve the UI from its sources through Vite (proxying the API to the server)
//                   instead of the bundle embedded in the binary, to try changes without a
//                   Rust build
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
export const EMAIL = "admin@example.com";
export const PASSWORD = "e2e-password-123";

function binary() {
  if (process.env.SCALEBASE_BIN) return process.env.SCALEBASE_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(repo, "target");
  return path.resolve(repo, target, "release/scalebase");
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/** Starts a server with a superuser; `stop()` ends it and removes its data. */
export async function startServer() {
  const dir = mkdtempSync(path.join(tmpdir(), "sb-e2e-"));
  const backend = process.env.E2E_BACKEND || "sqlite";
  const args = ["--dir", dir];
  let dropDb = () => {};
  if (backend === "postgres") {
    const admin = process.env.E2E_PG_URL || "postgres://postgres@127.0.0.1:5432/postgres";
    const db = `sb_e2e_${process.pid}_${Date.now()}`;
    execFileSync("psql", [admin, "-qAtc", `CREATE DATABASE ${db}`]);
    dropDb = () => execFileSync("psql", [admin, "-qAtc", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
    args.push("--db", admin.replace(/\/[^/]*$/, `/${db}`));
  } else if (backend !== "sqlite") {
    throw new Error(`E2E_BACKEND must be sqlite or postgres, not ${backend}`);
  }
  const bin = binary();
  execFileSync(bin, ["superuser", "upsert", EMAIL, PASSWORD, ...args], { stdio: "ignore" });
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ["serve", "--http", `127.0.0.1:${port}`, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`the server exited: ${log}`);
    return (await fetch(`${apiUrl}/api/health`)).ok;
  }, "the server");

  let uiUrl = `${apiUrl}/_/`;
  let vite;
  if (process.env.UI_DEV === "1") {
    const { createServer: createVite } = await import("vite");
    vite = await createVite({
      root: path.join(here, ".."),
      configFile: path.join(here, "../vite.config.ts"),
      server: { host: "127.0.0.1", port: await freePort(), proxy: { "/api": apiUrl } },
      logLevel: "warn",
    });
    await vite.listen();
    uiUrl = `http://127.0.0.1:${vite.config.server.port}/_/`;
  }
  return {
    apiUrl,
    uiUrl,
    backend,
    log: () => log,
    async stop() {
      if (vite) await vite.close();
      child.kill("SIGTERM");
      await exited;
      dropDb();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A headless Chromium page; `shot(name)` saves a full-page screenshot as a test artifact. */
export async function openBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const artifacts = process.env.E2E_ARTIFACTS || path.join(here, "../test-results");
  mkdirSync(artifacts, { recursive: true });
  const backend = process.env.E2E_BACKEND || "sqlite";
  return {
    browser,
    page,
    async shot(name) {
      await page.screenshot({ path: path.join(artifacts, `${backend}-${name}.png`), fullPage: true });
    },
    close: () => browser.close(),
  };
}

/** Opens the UI and signs in as the harness's superuser. */
export async function signIn(page, server) {
  await page.goto(server.uiUrl);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Sections" }).waitFor();
}

/**
 * Signs in through the API and hands the session to the page before its scripts run, for
 * tests about other screens than the login (which has its own). Returns the superuser's token
 * and record.
 */
export async function signInWithApi(page, server) {
  const res = await fetch(`${server.apiUrl}/api/collections/_superusers/auth-with-password`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ identity: EMAIL, password: PASSWORD }),
  });
  if (!res.ok) throw new Error(`signing in answered ${res.status}`);
  const { token, record } = await res.json();
  await page.addInitScript(
    ([t, r]) => localStorage.setItem("sb_admin_auth", JSON.stringify({ token: t, record: r })),
    [token, record],
  );
  return { token, record };
}
