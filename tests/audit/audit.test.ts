// The audit log: its canonical form pinned by hand, tampering done straight to
// the database (triggers dropped first, as an administrator could), appends
// racing from several connections and threads, the CLI, and PostgreSQL when
// ENCLAVE_TEST_POSTGRES_URL is set.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog, GENESIS_HASH, canonicalJson, entryHash, parseAnchor } from "../../src/audit/index.js";
import { ROOT, enclave, ensureBuilt } from "../cli/helpers.js";

const PG_URL = process.env.ENCLAVE_TEST_POSTGRES_URL;
const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "enclave-audit-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A clock that ticks one second per call, from a fixed start. */
function ticking(): () => Date {
  let t = Date.UTC(2024, 0, 1);
  return () => new Date((t += 1000));
}

describe("canonical form", () => {
  it("sorts keys, drops whitespace, writes numbers and strings as JCS does", () => {
    expect(canonicalJson({ b: 1, a: [true, null, "x\n\u0001é"], c: { z: 1.5, y: -0, x: 1e21 } })).toBe('{"a":[true,null,"x\\n\\u0001é"],"b":1,"c":{"x":1e+21,"y":0,"z":1.5}}');
    expect(canonicalJson({ skip: undefined, k: 1 })).toBe('{"k":1}');
    expect(() => canonicalJson({ n: NaN })).toThrow(/JSON cannot hold/);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/not a plain object/);
  });

  it("hashes the documented text of an entry", async () => {
    const log = await AuditLog.open(":memory:", { clock: () => new Date(Date.UTC(2024, 0, 1)) });
    const e = await log.append({ actor: "u1", action: "login", subject: "user:u1", details: { b: [true, null, "x"], a: 1 } });
    const text = `{"action":"login","actor":"u1","details":{"a":1,"b":[true,null,"x"]},"prev_hash":"${"0".repeat(64)}","seq":1,"subject":"user:u1","timestamp":"2024-01-01T00:00:00.000Z"}`;
    expect(e.hash).toBe(createHash("sha256").update(text, "utf8").digest("hex"));
    expect(e.prev_hash).toBe(GENESIS_HASH);
    await log.close();
  });
});

/** A backend to tamper with: opens logs, and runs SQL (with ? parameters) behind the API's back. */
interface Backend {
  open(options?: { keyRetention?: number }): Promise<AuditLog>;
  sql(text: string, params?: unknown[]): Promise<void>;
  dropTriggers(): Promise<void>;
  done(): Promise<void>;
}

function sqliteBackend(): Backend {
  const file = path.join(tmp(), "audit.db");
  const raw = (): Database.Database => new Database(file);
  return {
    open: (options = {}) => AuditLog.open(`sqlite://${file}`, { clock: ticking(), ...options }),
    async sql(text, params = []) {
      const db = raw();
      try {
        db.prepare(text).run(...params);
      } finally {
        db.close();
      }
    },
    async dropTriggers() {
      const db = raw();
      db.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete");
      db.close();
    },
    async done() {},
  };
}

async function postgresBackend(url: string): Promise<Backend> {
  const schema = `audit_test_${process.pid}_${Math.random().toString(36).slice(2)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.query(`SET search_path TO "${schema}"`);
  return {
    open: (options = {}) => AuditLog.open(url, { schema, clock: ticking(), ...options }),
    async sql(text, params = []) {
      let i = 0;
      await admin.query(
        text.replace(/\?/g, () => `$${++i}`),
        params,
      );
    },
    async dropTriggers() {
      await admin.query("DROP TRIGGER audit_log_no_change ON audit_log; DROP TRIGGER audit_log_no_truncate ON audit_log");
    },
    async done() {
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.end();
    },
  };
}

const BACKENDS: [string, () => Promise<Backend>][] = [["sqlite", async () => sqliteBackend()], ...(PG_URL ? [["postgres", () => postgresBackend(PG_URL)] as [string, () => Promise<Backend>]] : [])];

describe.each(BACKENDS)("%s", (_name, make) => {
  /** A fresh log of `n` entries; its triggers already dropped so the test can tamper. */
  async function logOf(n: number): Promise<{ b: Backend; log: AuditLog; head: string }> {
    const b = await make();
    const log = await b.open();
    for (let i = 1; i <= n; i++) await log.append({ actor: i % 2 ? "system" : "agent:tpp", action: "job.cancel", subject: `job:${i}`, details: { n: i, why: "test" } });
    const head = `${n} ${(await log.head()).hash}`;
    await b.dropTriggers();
    return { b, log, head };
  }
  async function problems(log: AuditLog, anchor?: string): Promise<number[]> {
    const r = await log.verify({ anchor });
    expect(r.ok).toBe(r.problems.length === 0);
    return r.problems.map((p) => p.seq);
  }

  it("appends a chain that verifies", async () => {
    const b = await make();
    const log = await b.open();
    expect(await log.verify()).toEqual({ ok: true, entries: 0, head: GENESIS_HASH, problems: [] });
    const a = await log.append({ actor: "u1", action: "login", subject: "user:u1" });
    const c = await log.append({ actor: "u2", action: "role.grant", subject: "project:3", details: { role: "researcher", to: "u1" } });
    expect([a.seq, c.seq]).toEqual([1, 2]);
    expect(c.prev_hash).toBe(a.hash);
    expect(c.hash).toBe(entryHash(c));
    expect(await log.entries()).toEqual([a, c]);
    expect(await log.entries(2)).toEqual([c]);
    expect(await log.verify()).toEqual({ ok: true, entries: 2, head: c.hash, problems: [] });
    expect(await log.head()).toEqual({ seq: 2, hash: c.hash });
    await log.close();
    await b.done();
  });

  it("refuses bad entries", async () => {
    const b = await make();
    const log = await b.open();
    expect(() => log.append({ actor: "", action: "login", subject: "x" })).toThrow(/actor/);
    expect(() => log.append({ actor: "u", action: "Log In", subject: "x" })).toThrow(/action/);
    await log.close();
    await b.done();
  });

  it("appends a keyed entry once, however often and from however many connections it is appended", async () => {
    const b = await make();
    const logs = await Promise.all([1, 2, 3].map(() => b.open()));
    const first = await logs[0]!.append({ actor: "u1", action: "login", subject: "user:u1", key: "k-1" });
    // The same key again, with other contents: nothing is added, and the first entry comes back.
    expect(await logs[0]!.append({ actor: "u9", action: "logout", subject: "user:u9", key: "k-1" })).toEqual(first);
    const racing = await Promise.all(logs.flatMap((log) => [2, 3, 4].map((k) => log.append({ actor: "u1", action: "job.cancel", subject: `job:${k}`, key: `k-${k}` }))));
    for (const k of [2, 3, 4]) expect(new Set(racing.filter((e) => e.subject === `job:${k}`).map((e) => e.seq)).size).toBe(1);
    const unkeyed = await logs[1]!.append({ actor: "u1", action: "login", subject: "user:u1" });
    expect(await logs[2]!.verify()).toMatchObject({ ok: true, entries: 5 });
    expect(unkeyed.seq).toBe(5);
    expect(() => logs[0]!.append({ actor: "u1", action: "login", subject: "x", key: "" })).toThrow(/key/);
    await Promise.all(logs.map((l) => l.close()));
    await b.done();
  }, 60_000);

  it("forgets the keys of entries older than its key retention, and keeps the newer ones", async () => {
    const b = await make();
    const log = await b.open({ keyRetention: 3 });
    for (let i = 1; i <= 10; i += 1) await log.append({ actor: "system", action: "test.entry", subject: `n:${i}`, key: `k${i}` });
    // Among the last three: still guarded.
    expect((await log.append({ actor: "system", action: "test.entry", subject: "again", key: "k8" })).seq).toBe(8);
    // Older: forgotten, so appended anew.
    expect((await log.append({ actor: "system", action: "test.entry", subject: "again", key: "k5" })).seq).toBe(11);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 11 });
    await expect(AuditLog.open(":memory:", { keyRetention: 0 })).rejects.toThrow(/keyRetention must be a whole number/);
    await log.close();
    await b.done();
  });

  it("keeps a given timestamp (the time of the change an entry was recorded with)", async () => {
    const b = await make();
    const log = await b.open();
    const e = await log.append({ actor: "u1", action: "login", subject: "user:u1", timestamp: new Date(Date.UTC(2020, 4, 6, 7, 8, 9)) });
    expect(e.timestamp).toBe("2020-05-06T07:08:09.000Z");
    expect(e.hash).toBe(entryHash(e));
    expect(() => log.append({ actor: "u1", action: "login", subject: "x", timestamp: new Date(NaN) })).toThrow(/timestamp/);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 1 });
    await log.close();
    await b.done();
  });

  it("has triggers that refuse UPDATE and DELETE", async () => {
    const b = await make();
    const log = await b.open();
    await log.append({ actor: "u1", action: "login", subject: "user:u1" });
    await expect(b.sql("UPDATE audit_log SET actor = 'u2' WHERE seq = 1")).rejects.toThrow(/append-only/);
    await expect(b.sql("DELETE FROM audit_log WHERE seq = 1")).rejects.toThrow(/append-only/);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
    await b.done();
  });

  it("detects an edited entry, in any field", async () => {
    const { b, log } = await logOf(10);
    await b.sql(`UPDATE audit_log SET details = ? WHERE seq = 5`, ['{"n":5,"why":"tampered"}']);
    await b.sql(`UPDATE audit_log SET actor = 'u9' WHERE seq = 7`);
    expect(await problems(log)).toEqual([5, 7]);
    await log.close();
    await b.done();
  });

  it("detects an edit whose hash was recomputed, at the next entry", async () => {
    const { b, log } = await logOf(10);
    const [e] = await log.entries(5);
    const forged = { ...e!, details: { n: 5, why: "tampered" } };
    await b.sql(`UPDATE audit_log SET details = ?, hash = ? WHERE seq = 5`, [canonicalJson(forged.details), entryHash(forged)]);
    expect(await problems(log)).toEqual([6]);
    await log.close();
    await b.done();
  });

  it("detects a removed entry", async () => {
    const { b, log } = await logOf(10);
    await b.sql("DELETE FROM audit_log WHERE seq = 5");
    const r = await log.verify();
    expect(r.problems).toEqual([{ seq: 5, problem: "entry 5 is missing (the log goes from 4 to 6)" }]);
    await b.sql("DELETE FROM audit_log WHERE seq = 1");
    expect(await problems(log)).toEqual([1, 5]);
    await log.close();
    await b.done();
  });

  it("detects swapped entries", async () => {
    const { b, log } = await logOf(10);
    const [e3, e4] = await log.entries(3);
    const set = "UPDATE audit_log SET timestamp = ?, actor = ?, action = ?, subject = ?, details = ?, prev_hash = ?, hash = ? WHERE seq = ?";
    const vals = (e: typeof e3) => [e!.timestamp, e!.actor, e!.action, e!.subject, canonicalJson(e!.details), e!.prev_hash, e!.hash];
    await b.sql(set, [...vals(e4), 3]);
    await b.sql(set, [...vals(e3), 4]);
    const r = await log.verify();
    expect(r.problems.map((p) => p.seq)).toEqual([3, 4]);
    expect(r.problems[1]!.problem).toMatch(/entry 4 holds the contents of entry 3/);
    expect(r.problems[0]!.problem).toMatch(/entry 3 holds the contents of entry 4/);
    await log.close();
    await b.done();
  });

  it("detects an inserted entry", async () => {
    const { b, log } = await logOf(10);
    // At the end, with a made-up hash.
    await b.sql(`INSERT INTO audit_log (seq, timestamp, actor, action, subject, details, prev_hash, hash) VALUES (11, '2024-02-01T00:00:00.000Z', 'u1', 'role.grant', 'project:1', '{}', ?, ?)`, [(await log.head()).hash, "f".repeat(64)]);
    expect(await problems(log)).toEqual([11]);
    await b.sql("DELETE FROM audit_log WHERE seq = 11");
    // In the middle, well forged, the entries after it moved up by one.
    for (let s = 10; s >= 5; s--) await b.sql("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?", [s]);
    const [e4] = await log.entries(4);
    const forged = { seq: 5, timestamp: "2024-01-01T00:00:04.500Z", actor: "u1", action: "role.grant", subject: "project:1", details: { role: "admin" }, prev_hash: e4!.hash };
    await b.sql(`INSERT INTO audit_log (seq, timestamp, actor, action, subject, details, prev_hash, hash) VALUES (5, ?, ?, ?, ?, ?, ?, ?)`, [forged.timestamp, forged.actor, forged.action, forged.subject, canonicalJson(forged.details), forged.prev_hash, entryHash(forged)]);
    const r = await log.verify();
    expect(r.problems[0]).toEqual({ seq: 6, problem: "entry 6 holds the contents of entry 5: entries were reordered, inserted or removed" });
    await log.close();
    await b.done();
  });

  it("detects a truncated tail only with an anchor", async () => {
    const { b, log, head } = await logOf(10);
    expect(await problems(log, head)).toEqual([]);
    await b.sql("DELETE FROM audit_log WHERE seq > 7");
    expect(await problems(log)).toEqual([]);
    const r = await log.verify({ anchor: head });
    expect(r.problems).toEqual([{ seq: 10, problem: expect.stringMatching(/anchor \(entry 10, [0-9a-f]{64}\) is past the end of the log \(entry 7\)/) as unknown as string }]);
    // A bare hash: where the missing tail begins.
    expect(await problems(log, parseAnchor(head).hash)).toEqual([8]);
    await log.close();
    await b.done();
  });

  it("detects a fully rewritten chain only with an anchor", async () => {
    const { b, log, head } = await logOf(6);
    // Edit entry 3 and rehash it and every entry after it, as someone who knows the scheme could.
    let prev = (await log.entries(2))[0]!.hash;
    for (const e of await log.entries(3)) {
      const fixed = { ...e, prev_hash: prev, details: e.seq === 3 ? { n: 3, why: "rewritten" } : e.details };
      prev = entryHash(fixed);
      await b.sql("UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?", [canonicalJson(fixed.details), fixed.prev_hash, prev, e.seq]);
    }
    expect(await problems(log)).toEqual([]);
    expect(await problems(log, head)).toEqual([6]);
    await log.close();
    await b.done();
  });

  it("never forks the chain under concurrent appends from several connections", async () => {
    const b = await make();
    const logs = await Promise.all([1, 2, 3, 4].map(() => b.open()));
    await Promise.all(logs.flatMap((log, c) => Array.from({ length: 50 }, (_, i) => log.append({ actor: `agent:b${c}`, action: "agent.task", subject: `task:${c}.${i}` }))));
    const r = await logs[0]!.verify();
    expect(r).toMatchObject({ ok: true, entries: 200 });
    await Promise.all(logs.map((l) => l.close()));
    await b.done();
  }, 60_000);
});

describe("sqlite across threads", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it("4 threads × 50 appends make one chain of 200", async () => {
    const file = path.join(tmp(), "threads.db");
    (await AuditLog.open(file)).close();
    const mod = pathToFileURL(path.join(ROOT, "dist", "audit", "index.js")).href;
    const code = `
      const { workerData, parentPort } = require("node:worker_threads");
      import(workerData.mod).then(async ({ AuditLog }) => {
        const log = await AuditLog.open(workerData.file);
        for (let i = 0; i < 50; i++) await log.append({ actor: "agent:w" + workerData.w, action: "agent.task", subject: "task:" + i });
        await log.close();
        parentPort.postMessage("done");
      });`;
    await Promise.all(
      [0, 1, 2, 3].map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const worker = new Worker(code, { eval: true, workerData: { mod, file, w } });
            worker.on("message", () => resolve());
            worker.on("error", reject);
          }),
      ),
    );
    const log = await AuditLog.open(file);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 200 });
    const actors = new Set((await log.entries()).map((e) => e.actor));
    expect(actors.size).toBe(4);
    await log.close();
  }, 60_000);
});

describe("enclave audit", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it("appends, shows, prints the head and verifies", async () => {
    const cwd = tmp();
    const db = `sqlite://${path.join(cwd, "a.db")}`;
    const missing = await enclave(["audit", "verify", "--db", path.join(cwd, "none.db")], { cwd });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error: there is no audit log at/);
    // Some other SQLite file is refused, and left as it was.
    const other = path.join(cwd, "other.db");
    const plain = new Database(other);
    plain.exec("CREATE TABLE t (x INTEGER)");
    plain.close();
    const notALog = await enclave(["audit", "head", "--db", other], { cwd });
    expect([notALog.code, notALog.stderr]).toEqual([1, `error: ${other} holds no audit log (it is a SQLite file, but not one the audit log writes)\n`]);
    const after = new Database(other);
    expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([{ name: "t" }]);
    after.close();

    const a1 = await enclave(["audit", "append", "--db", db, "--actor", "system", "--action", "project.status", "--subject", "project:1", "--details", '{"to":"retired"}'], { cwd });
    expect(a1).toMatchObject({ code: 0 });
    expect(a1.stdout).toMatch(/^1 [0-9a-f]{64}\n$/);
    // The default database, from the environment.
    const env = { ENCLAVE_AUDIT_DB: db };
    expect((await enclave(["audit", "append", "--actor", "u1", "--action", "login", "--subject", "user:u1"], { cwd, env })).code).toBe(0);
    const bad = await enclave(["audit", "append", "--actor", "u1", "--action", "login", "--subject", "x", "--details", "[1]"], { cwd, env });
    expect(bad.code).toBe(2);

    const head = await enclave(["audit", "head"], { cwd, env });
    expect(head.stdout).toMatch(/^2 [0-9a-f]{64}\n$/);
    const ok = await enclave(["audit", "verify", "--anchor", head.stdout.trim()], { cwd, env });
    expect(ok).toMatchObject({ code: 0, stdout: `audit log OK: 2 entries, head ${head.stdout.trim().split(" ")[1]}\n` });

    const show = await enclave(["audit", "show", "--since", "2"], { cwd, env });
    expect(show.stdout).toMatch(/^2\t\S+Z\tu1\tlogin\tuser:u1\t\{\}\n$/);

    const raw = new Database(path.join(cwd, "a.db"));
    raw.exec("DROP TRIGGER audit_log_no_update");
    raw.prepare("UPDATE audit_log SET details = '{\"to\":\"ongoing\"}' WHERE seq = 1").run();
    raw.close();
    const broken = await enclave(["audit", "verify"], { cwd, env });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe("entry 1: entry 1 does not match its hash: it was edited\n");
    expect(broken.stderr).toMatch(/error: the audit log is not intact: 1 problem/);
  }, 60_000);
});
