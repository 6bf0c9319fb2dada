// Browser tests of the two users who work in a browser: a developer exploring /docs, and a
// Next.js frontend calling the API cross-origin with a Bearer token. They drive Debian's headless
// Chromium (no outside network) through playwright-core, against the real todo-api binary.
//
// Needs: the debug binary (cargo build), /usr/bin/chromium, and `npm ci` here. Run: npm test.
// Fails, never skips, when something is missing. Artifacts (screenshots) go to target/browser/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const binary = process.env.TODO_API_BIN ?? path.join(root, "target/debug/todo-api");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const artifacts = path.join(root, "target/browser");

// What the issue asks of Chromium on a machine without outside network.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];

const database = path.join(artifacts, `browser-test-${process.pid}.db`);
let server; // { process, origin, token, stderr }
let frontend; // the page server for the "frontend" origins
let browser;

/** Starts the binary in development mode and reads the address and the printed token. */
async function startServer(env) {
  assert.ok(existsSync(binary), `${binary} is missing: run cargo build first`);
  const child = spawn(binary, [], {
    cwd: artifacts,
    env: { PATH: process.env.PATH, HOST: "127.0.0.1", PORT: "0", SQLITE_PATH: database, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  const ready = new Promise((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`todo-api exited (${code}):\n${stderr}`)));
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const address = stderr.match(/Swagger UI: http:\/\/([0-9.:]+)\/docs/);
      const token = stderr.match(/valid 7 days[^\n]*\n\n(\S+)\n/);
      if (address && token) resolve({ origin: `http://${address[1]}`, token: token[1] });
    });
  });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`todo-api did not start:\n${stderr}`)), 20000));
  const { origin, token } = await Promise.race([ready, timeout]);
  return { process: child, origin, token, stderr: () => stderr };
}

/** A static "frontend" page; the same server answers on every loopback address. */
async function startFrontend() {
  const page = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "frontend.html"));
  const http = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
  });
  http.listen(0, "0.0.0.0");
  await once(http, "listening");
  return { http, port: http.address().port };
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  assert.ok(existsSync(chromiumPath), `${chromiumPath} is missing: apt-get install chromium chromium-driver`);
  frontend = await startFrontend();
  // The allowed frontend origin is localhost:<port>; 127.0.0.2:<port> is a foreign one.
  server = await startServer({ CORS_ORIGINS: `http://localhost:${frontend.port}` });
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  server?.process.kill("SIGTERM");
  if (server) await once(server.process, "exit");
  frontend?.http.close();
  for (const suffix of ["", "-wal", "-shm"]) rmSync(database + suffix, { force: true });
});

/** A fresh context (fresh profile state) whose requests may only go to loopback. */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
  const outside = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (["127.0.0.1", "127.0.0.2", "localhost"].includes(url.hostname)) return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  return { context, page, outside };
}

test("the development token printed at start-up is a ready-to-paste JWT", () => {
  assert.match(server.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.match(server.stderr(), /DEVELOPMENT MODE/);
});

test("/ sends a person to /docs, which loads with no outside network and lists every operation", async () => {
  const { context, page, outside } = await newPage();
  await page.goto(`${server.origin}/`);
  assert.equal(new URL(page.url()).pathname, "/docs");
  await page.waitForSelector(".opblock");
  const operations = await page.$$eval(".opblock-summary-path", (nodes) => nodes.length);
  const spec = await (await fetch(`${server.origin}/openapi.json`)).json();
  const published = Object.values(spec.paths).reduce((sum, item) => sum + Object.keys(item).length, 0);
  assert.equal(operations, published, "every published operation is listed");
  assert.ok(published >= 22, `the task, per-user and health operations (${published})`);
  const tags = await page.$$eval(".opblock-tag", (nodes) => nodes.map((node) => node.textContent));
  assert.ok(tags.some((tag) => tag.includes("Tasks (per-user paths)")), `a tag of their own: ${tags}`);
  assert.deepEqual(outside, [], "every asset is served by the service");
  const title = await page.textContent(".info .title");
  assert.match(title, /Todo API/);
  await context.close();
});

test("a person authorizes with the token, lists and creates tasks from Swagger UI", async () => {
  const { context, page, outside } = await newPage();
  await page.goto(`${server.origin}/docs`);
  await page.waitForSelector(".opblock");

  await page.click("button.authorize");
  await page.fill(".auth-container input", server.token);
  await page.click(".auth-btn-wrapper button.authorize");
  await page.click(".auth-btn-wrapper button.btn-done");

  // POST /api/tasks with the documented example body.
  const create = page.locator("#operations-Tasks-create_task");
  await create.locator(".opblock-summary").click();
  await create.locator("button.try-out__btn").click();
  const example = await create.locator("textarea.body-param__text").inputValue();
  assert.match(example, /"title": "Buy milk"/);
  await create.locator("button.execute").click();
  const created = create.locator(".live-responses-table tr.response .response-col_status").first();
  await created.waitFor();
  assert.equal((await created.textContent()).trim(), "201");

  // GET /api/tasks.
  const list = page.locator("#operations-Tasks-list_tasks");
  await list.locator(".opblock-summary").click();
  await list.locator("button.try-out__btn").click();
  await list.locator("button.execute").click();
  const status = list.locator(".live-responses-table tr.response .response-col_status").first();
  await status.waitFor();
  assert.equal((await status.textContent()).trim(), "200");
  const body = await list.locator(".live-responses-table tr.response .response-col_description pre.microlight").first().textContent();
  const tasks = JSON.parse(body);
  assert.ok(Array.isArray(tasks) && tasks.length >= 1, body);
  assert.equal(tasks[0].title, "Buy milk");
  assert.equal(tasks[0].user_id, "demo-user");

  await list.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(artifacts, "docs-after-calls.png"), fullPage: true });
  assert.deepEqual(outside, []);
  await context.close();
});

/** Loads the frontend page from `origin` and runs its calls against the API. */
async function runFrontend(origin, credentials) {
  const { context, page } = await newPage();
  await page.goto(`${origin}/`);
  const result = await page.evaluate(
    ([api, token, credentials]) => window.runCalls(api, token, credentials),
    [server.origin, server.token, credentials],
  );
  await context.close();
  return result;
}

for (const credentials of ["same-origin", "include"]) {
  test(`an allowed origin runs the frontend's calls (credentials: ${credentials})`, async () => {
    const result = await runFrontend(`http://localhost:${frontend.port}`, credentials);
    assert.equal(result.blocked, undefined, result.blocked);
    assert.equal(result.list.status, 200);
    assert.ok(Array.isArray(result.list.body));
    assert.equal(result.create.status, 201);
    assert.equal(result.create.body.title, "From the frontend");
    assert.ok(result.create.location.startsWith("/api/tasks/"), "Location is readable cross-origin");
    assert.equal(result.update.status, 200);
    assert.equal(result.update.body.title, "Renamed");
    assert.equal(result.toggle.status, 200);
    assert.equal(result.toggle.body.completed, true);
    assert.equal(result.remove.status, 200);
    assert.deepEqual(result.remove.body, { id: result.create.body.id, message: "Task deleted" });
    assert.equal(result.missing.status, 404);
    assert.equal(result.missing.body.code, "task_not_found");
    assert.equal(result.unauthorized.status, 401);
    assert.equal(result.unauthorized.body.code, "invalid_token");
    assert.match(result.unauthorized.wwwAuthenticate, /^Bearer/);
  });
}

test("a page from an allowed origin uses entity tags: ETag, If-None-Match (304) and If-Match (412)", async () => {
  const { context, page } = await newPage();
  await page.goto(`http://localhost:${frontend.port}/`);
  const result = await page.evaluate(([api, token]) => window.runConditional(api, token), [server.origin, server.token]);
  await context.close();
  assert.equal(result.blocked, undefined, result.blocked);
  assert.equal(result.create.status, 201);
  assert.equal(result.create.etag, '"1"', "ETag is readable cross-origin");
  assert.equal(result.cached.status, 304, "If-None-Match passes the preflight");
  assert.equal(result.tabOne.status, 200);
  assert.equal(result.tabOne.etag, '"2"');
  assert.equal(result.tabTwo.status, 412, "If-Match passes the preflight; the stale tab is refused");
  assert.equal(result.tabTwo.body.code, "precondition_failed");
  assert.equal(result.tabTwo.body.current.title, "Tab one");
  assert.equal(result.merged.status, 200);
  assert.equal(result.merged.body.title, "Tab two, merged");
});

test("a page from an allowed origin retries safely with Idempotency-Key and reads Idempotent-Replayed", async () => {
  const { context, page } = await newPage();
  await page.goto(`http://localhost:${frontend.port}/`);
  const result = await page.evaluate(([api, token]) => window.runIdempotent(api, token), [server.origin, server.token]);
  await context.close();
  assert.equal(result.blocked, undefined, result.blocked);
  assert.equal(result.first.status, 201);
  assert.equal(result.first.replayed, null, "a first answer is not a replay");
  assert.equal(result.retry.status, 201, "Idempotency-Key passes the preflight");
  assert.equal(result.retry.replayed, "true", "Idempotent-Replayed is readable cross-origin");
  assert.equal(result.retry.text, result.first.text, "the same answer, byte for byte");
  assert.equal(result.reused.status, 422);
  assert.equal(result.reused.body.code, "idempotency_key_reused");
  assert.equal(result.toggle.body.completed, true);
  assert.equal(result.toggleRetry.replayed, "true");
  assert.equal(result.toggleRetry.body.completed, true, "the retried toggle did not flip it back");
  assert.equal(result.count, 1, "one task");
});

test("a page from an origin that is not allowed has its calls blocked by the browser", async () => {
  for (const credentials of ["same-origin", "include"]) {
    const result = await runFrontend(`http://127.0.0.2:${frontend.port}`, credentials);
    assert.ok(result.blocked, `expected the browser to block the calls: ${JSON.stringify(result)}`);
    assert.match(result.blocked, /Failed to fetch|NetworkError|TypeError/);
  }
});
