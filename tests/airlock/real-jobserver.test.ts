// Airlock against the real job server (startJobServer, SQLite): people log in
// to Airlock with their job server accounts, a request goes through two
// reviews, the uploader releases its file, and the project's members then
// find and download it outside; a role revoked on the job server takes effect
// in Airlock at the next re-check.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AirlockServer, startAirlockServer } from "../../src/airlock/index.js";
import { AuditLog } from "../../src/audit/index.js";
import { type JobServer, Store, startJobServer } from "../../src/jobserver/index.js";
import { Browser } from "../jobserver/http-helpers.js";
import { Backend, tmp } from "./helpers.js";
import { CSV, requestOf } from "./web-helpers.js";

const TABLE = "group,count\na,15\nb,100\nc,205\n";
const password = (who: string) => `secret-of-${who}-1`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Airlock with the real job server", () => {
  const dir = fs.mkdtempSync(path.join(tmp, "real-"));
  let store: Store;
  let jobAudit: AuditLog;
  let jobServer: JobServer;
  let airlock: AirlockServer;
  let now = Date.parse("2031-03-01T09:00:00Z");
  const backend = new Backend(dir);

  beforeAll(async () => {
    store = await Store.open(path.join(dir, "jobserver.db"));
    jobAudit = await AuditLog.open(path.join(dir, "jobserver-audit.db"));
    for (const who of ["alice", "bob", "carol", "eve"]) await store.createUser({ username: who, password: password(who), fullName: `Full ${who}` });
    await store.createOrg("org");
    await store.createProject({ number: 1, name: "Diabetes", org: "org" });
    await store.addMember(1, "alice", ["ProjectDeveloper"]);
    await store.grantGlobalRole("bob", "OutputChecker");
    await store.grantGlobalRole("carol", "OutputChecker");
    await store.createWorkspace({ project: 1, name: "ws", repo: "https://example.org/diabetes.git", branch: "main" });
    const { token } = await store.createBackend("tpp");
    jobServer = await startJobServer({ store, auditLog: jobAudit, releasesDir: path.join(dir, "releases"), logCacheMs: 0, log: () => undefined });
    backend.write("ws", CSV, TABLE);
    airlock = await startAirlockServer({
      jobServer: jobServer.url,
      backend: "tpp",
      token,
      agentDir: backend.backendDir,
      airlockDir: backend.airlockDir,
      clock: () => new Date(now),
      uploader: { intervalMs: 50, initialBackoffMs: 50, maxBackoffMs: 200 },
      log: () => undefined,
    });
  }, 60_000);

  afterAll(async () => {
    await airlock?.close();
    await jobServer?.close();
    await store?.close();
    await jobAudit?.close();
  });

  async function login(who: string): Promise<Browser> {
    const b = new Browser(airlock.url);
    await b.get("/login");
    const a = await b.post("/login", { username: who, password: password(who) });
    expect(a.status, a.text.slice(0, 400)).toBe(303);
    await b.get("/");
    return b;
  }

  it("logs people in with their job server accounts, and refuses a wrong password", async () => {
    const b = new Browser(airlock.url);
    await b.get("/login");
    expect((await b.post("/login", { username: "alice", password: "nope" })).status).toBe(401);
    const alice = await login("alice");
    expect((await alice.get("/")).text).toContain('href="/workspaces/ws"');
    const eve = await login("eve");
    expect((await eve.get("/workspaces/ws")).status).toBe(403);
  });

  it("releases an approved file to the job server, where the project's members find it", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    const id = requestOf(await alice.post("/workspaces/ws/add", { path: CSV, group: "tables", kind: "output" }));
    expect((await alice.post(`/requests/${id}/group`, { group: "tables", context: "counts", controls: "rounded to 5" })).status).toBe(303);
    expect((await alice.post(`/requests/${id}/submit`, { confirm: "yes" })).status).toBe(303);
    for (const checker of [bob, carol]) {
      await checker.get(`/requests/${id}`);
      expect((await checker.post(`/requests/${id}/vote`, { path: CSV, vote: "approved" })).status).toBe(303);
      expect((await checker.post(`/requests/${id}/review`)).status).toBe(303);
    }
    expect((await bob.post(`/requests/${id}/approve`)).status).toBe(303);
    const end = Date.now() + 15_000;
    while (!(await alice.get(`/requests/${id}`)).text.includes("✓✓</span> released")) {
      if (Date.now() > end) throw new Error("the request was not released within 15 s");
      await sleep(50);
    }
    const apiToken = await store.rotateApiToken("alice");
    const listed = await fetch(`${jobServer.url}/api/v1/workspaces/ws/released`, { headers: { authorization: `Bearer ${apiToken}` } });
    const body = (await listed.json()) as { files: { name: string; request: string; releasedBy: string; download: string }[] };
    expect(body.files).toEqual([expect.objectContaining({ name: CSV, request: String(id), releasedBy: "bob" })]);
    const file = await fetch(`${jobServer.url}${body.files[0]!.download}`, { headers: { authorization: `Bearer ${apiToken}` } });
    expect(await file.text()).toBe(TABLE);
  }, 30_000);

  it("applies a role revoked on the job server at the next re-check", async () => {
    const carol = await login("carol");
    expect((await carol.get("/reviews")).status).toBe(200);
    await store.revokeGlobalRole("carol", "OutputChecker");
    now += 10 * 60 * 1000;
    expect((await carol.get("/reviews")).status).toBe(200);
    now += 5 * 60 * 1000;
    expect((await carol.get("/reviews")).status).toBe(403);
  });
});
