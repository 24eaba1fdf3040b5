// The uploader against a fake job server: an approved request goes out (the
// list, then each file's bytes) and is released; the job server down or
// answering 503 during the upload only delays it (with a growing, capped
// wait); a hash mismatch (409) holds the request, logged and not retried,
// until an output checker asks for another try.

import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JobServerClient, JobServerError, SYSTEM, Uploader } from "../../src/airlock/index.js";
import { FakeJobServer } from "./fake-jobserver.js";
import { SAFE_TABLE, TABLE, type World, openWorld, requestIn } from "./helpers.js";

const sha = createHash("sha256").update(SAFE_TABLE).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

let fake: FakeJobServer;
let w: World;
let uploader: Uploader;
let logs: string[];

beforeEach(async () => {
  fake = new FakeJobServer();
  await fake.start();
  w = await openWorld(undefined);
  logs = [];
  const api = new JobServerClient({ url: fake.url, backend: fake.backend, token: fake.token, timeoutMs: 2000 });
  uploader = new Uploader({ airlock: w.airlock, api, paths: w.backend, log: (m) => logs.push(m), intervalMs: 20, initialBackoffMs: 10, maxBackoffMs: 80 });
});
afterEach(async () => {
  await uploader.stop();
  await fake.stop();
  await w.close();
});

const status = async (id: number) => (await w.airlock.getRequest(SYSTEM, id)).request.status;

describe("the uploader", () => {
  it("sends the list, then the bytes, and the request is released", async () => {
    const id = await requestIn(w, "ws", "approved");
    uploader.start();
    await until("the request is released", async () => (await status(id)) === "released");
    const [release] = [...fake.releases.values()];
    expect(release).toMatchObject({ workspace: "ws", request: String(id), releasedBy: "bob" });
    expect(release!.files).toEqual([expect.objectContaining({ name: TABLE, sha256: sha, size: SAFE_TABLE.length, received: true })]);
    expect(release!.files[0]!.bytes!.toString()).toBe(SAFE_TABLE);
    expect(fake.calls).toEqual(["POST /api/backend/releases", `PUT /api/backend/releases/${release!.id}/files`]);
    const events = await w.airlock.events(SYSTEM, id);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["airlock.file.upload", "airlock.request.release", "airlock.file.release"]));
  });

  it("keeps trying while the job server is down, waiting longer each time up to the cap, and finishes once it is back", async () => {
    const id = await requestIn(w, "ws", "approved");
    await fake.stop();
    uploader.start();
    await until("a few attempts failed", () => logs.length >= 6);
    expect(await status(id)).toBe("approved");
    const waits = logs.map((m) => Number(/trying again in (\d+) ms/.exec(m)?.[1]));
    expect(waits.slice(0, 5)).toEqual([10, 20, 40, 80, 80]);
    expect(logs[0]).toMatch(/^airlock uploader: request \d+: the job server at http:\/\/127\.0\.0\.1:\d+ did not answer GET|POST/);
    await fake.start();
    await until("the request is released", async () => (await status(id)) === "released");
  });

  it("survives the job server failing between the list and the bytes", async () => {
    const id = await requestIn(w, "ws", "approved");
    const api = new JobServerClient({ url: fake.url, backend: fake.backend, token: fake.token });
    // The list goes out; then the job server answers 503 for a while.
    await api.createRelease({ workspace: "ws", request: String(id), releasedBy: "bob", files: [{ name: TABLE, size: SAFE_TABLE.length, sha256: sha, date: new Date().toISOString() }] });
    fake.failWith = 503;
    uploader.start();
    await until("it failed twice", () => logs.length >= 2);
    expect(logs[0]).toContain("refused POST /api/backend/releases (503)");
    fake.failWith = undefined;
    await until("the request is released", async () => (await status(id)) === "released");
    // The same list again was answered with the release made before: one release.
    expect(fake.releases.size).toBe(1);
  });

  it("holds a request whose bytes arrive with another hash (409), does not retry it on its own, and retries when asked", async () => {
    const id = await requestIn(w, "ws", "approved");
    fake.corrupt = true;
    uploader.start();
    await until("the request is held", () => uploader.held().length === 1);
    expect(uploader.heldReason(id)?.reason).toMatch(/refused the upload as inconsistent .*409.*received bytes hash to [0-9a-f]{64}, the list says/);
    expect(logs.some((m) => m.includes(`request ${id} is held until an output checker retries it`))).toBe(true);
    const puts = fake.calls.filter((c) => c.startsWith("PUT")).length;
    await sleep(200);
    expect(fake.calls.filter((c) => c.startsWith("PUT")).length).toBe(puts);
    expect(await status(id)).toBe("approved");
    fake.corrupt = false;
    uploader.retry(id);
    await until("the request is released", async () => (await status(id)) === "released");
    expect(uploader.held()).toEqual([]);
  });

  it("never reports a file released when the job server says it received other bytes", async () => {
    const id = await requestIn(w, "ws", "approved");
    const lying = new JobServerClient({ url: fake.url, backend: fake.backend, token: fake.token });
    const api = Object.assign(Object.create(lying) as JobServerClient, {
      putFile: async (rid: string, name: string, bytes: Buffer) => ({ ...(await lying.putFile(rid, name, bytes)), sha256: "f".repeat(64) }),
    });
    const u = new Uploader({ airlock: w.airlock, api, paths: w.backend, log: (m) => logs.push(m) });
    await u.runOnce();
    expect(u.heldReason(id)?.reason).toMatch(/the job server received bytes hashing to f{64}/);
    expect(await status(id)).toBe("approved");
  });
});

describe("the job server client", () => {
  it("says which call failed and whether to retry", async () => {
    const api = new JobServerClient({ url: fake.url, backend: fake.backend, token: "wrong" });
    const refused = await api.workspace("ws").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JobServerError);
    expect(refused).toMatchObject({ status: 401, retryable: false, message: "the job server refused GET /api/backend/workspaces/ws (401): wrong backend token" });
    const good = new JobServerClient({ url: fake.url, backend: fake.backend, token: fake.token });
    expect(await good.workspace("nope")).toBeUndefined();
    expect(await good.access("nobody")).toBeUndefined();
    fake.failWith = 502;
    expect(await good.workspace("ws").catch((e: unknown) => e)).toMatchObject({ status: 502, retryable: true });
    expect(() => new JobServerClient({ url: "ftp://x", backend: "b", token: "t" })).toThrow(/must be http:\/\/ or https:\/\//);
  });

  it("refuses an answer of the wrong shape, naming the field", async () => {
    fake.addUser("zed", { globalRoles: ["OutputChecker", "MadeUpRole" as never] });
    const good = new JobServerClient({ url: fake.url, backend: fake.backend, token: fake.token });
    // A role this version does not know grants nothing.
    expect((await good.access("zed"))!.access.globalRoles).toEqual(["OutputChecker"]);
    fake.projects.set(9, { number: 9, name: "x", status: "paused" as never, category: "approved" });
    await expect(good.access("zed")).rejects.toThrow(/access\.projects\[0\]\.status "paused" is not one of ongoing, postponed, completed, retired/);
  });
});
