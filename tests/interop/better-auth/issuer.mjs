// A Better Auth server, as a Next.js app would configure it, for the Todo API's interop test.
//
// It runs offline on loopback with the in-memory adapter and the jwt() plugin, serves Better
// Auth's own routes (including /api/auth/jwks and /api/auth/token) and two test helpers:
//   POST /test/users  {email, password, name} -> signs the user up through Better Auth's handler
//                     like the frontend does, then fetches GET /api/auth/token with the session
//                     cookie; answers {userId, jwt, sessionToken, cookie}
//   POST /test/token  {cookie}                 -> a fresh JWT for that session
// Configuration (environment): JWT_ALG (EdDSA, RS256, ES256, …), JWT_EXPIRATION (e.g. "15m", "2s"),
// ROTATION_SECONDS (key rotation interval). Prints {"baseURL": …} on stdout once listening.

import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";

const alg = process.env.JWT_ALG ?? "EdDSA";
const keyPairConfigs = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
};
if (!keyPairConfigs[alg]) throw new Error(`unsupported JWT_ALG ${alg}`);

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const baseURL = `http://127.0.0.1:${server.address().port}`;

const auth = betterAuth({
  baseURL,
  secret: "interop-test-secret-of-at-least-32-characters",
  database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
  emailAndPassword: { enabled: true },
  trustedOrigins: [baseURL],
  logger: { disabled: true },
  telemetry: { enabled: false },
  plugins: [
    jwt({
      jwks: {
        keyPairConfig: keyPairConfigs[alg],
        ...(process.env.ROTATION_SECONDS ? { rotationInterval: Number(process.env.ROTATION_SECONDS) } : {}),
      },
      jwt: { expirationTime: process.env.JWT_EXPIRATION ?? "15m" },
    }),
  ],
});
const betterAuthRoutes = toNodeHandler(auth);

/** Calls Better Auth's own handler the way the browser would. */
async function call(path, { method = "GET", body, cookie } = {}) {
  const headers = { origin: baseURL };
  if (body) headers["content-type"] = "application/json";
  if (cookie) headers.cookie = cookie;
  const response = await auth.handler(
    new Request(`${baseURL}/api/auth${path}`, { method, headers, body: body && JSON.stringify(body) }),
  );
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return { response, json: JSON.parse(text) };
}

async function tokenFor(cookie) {
  return (await call("/token", { cookie })).json.token;
}

async function readJson(req) {
  let data = "";
  for await (const chunk of req) data += chunk;
  return data ? JSON.parse(data) : {};
}

server.on("request", async (req, res) => {
  try {
    if (req.url.startsWith("/api/auth")) return betterAuthRoutes(req, res);
    const input = req.method === "POST" ? await readJson(req) : {};
    let output;
    if (req.url === "/test/users") {
      const signUp = await call("/sign-up/email", { method: "POST", body: input });
      const cookie = signUp.response.headers
        .getSetCookie()
        .map((c) => c.split(";")[0])
        .join("; ");
      output = { userId: signUp.json.user.id, sessionToken: signUp.json.token, cookie, jwt: await tokenFor(cookie) };
    } else if (req.url === "/test/token") {
      output = { jwt: await tokenFor(input.cookie) };
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(output));
  } catch (error) {
    res.writeHead(500, { "content-type": "text/plain" }).end(String(error?.stack ?? error));
  }
});

console.log(JSON.stringify({ baseURL, alg }));
