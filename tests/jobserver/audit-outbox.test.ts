// The job server's audit entries go through an outbox in its own store: each
// is written in its change's transaction and moved into the audit log (another
// database) afterwards. These tests crash the move at each point it can stop:
// before the append (the process died after the commit), between the append
// and the delete, and while the log refuses appends; and check that every
// change has exactly one entry in the end, and a change that did not happen none.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppendInput, AuditLog } from "../../src/audit/index.js";
import { Store, StoreError, startJobServer } from "../../src/jobserver/index.js";
import { BIN, ensureBuilt } from "../cli/helpers.js";
import { storeEngines } from "../support/stores.js";
import { api } from "./http-helpers.js";

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-outbox-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
const engines = storeEngines(() => path.join(tmp, `store-${++n}.db`), "enclave_outbox");
const auditFile = () => path.join(tmp, `audit-${++n}.db`);

/** A log that fails on demand: before appending (unreachable), or after (the process died before it could delete from the outbox). */
function flaky(real: AuditLog): { log: AuditLog; mode: { fail: "no" | "before" | "after" } } {
  const mode: { fail: "no" | "before" | "after" } = { fail: "no" };
  const log = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop !== "append") return Reflect.get(target, prop, receiver) as unknown;
      return async (input: AppendInput) => {
        if (mode.fail === "before") throw new Error("the audit log cannot be reached");
        const entry = await target.append(input);
        if (mode.fail === "after") throw new Error("killed after the append");
        return entry;
      };
    },
  });
  return { log, mode };
}

describe.each(engines)("the audit outbox on %s", (_name, fresh) => {
  async function open(clock?: () => Date): Promise<Store> {
    const where = fresh();
    return Store.open(where.target, { schema: where.schema, ...(clock ? { clock } : {}) });
  }

  it("keeps the entry of a committed change until it is moved, with the change's time, exactly once", async () => {
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const store = await open(() => at);
    const log = await AuditLog.open(auditFile());
    try {
      // No log attached: as if the process died right after the commit.
      await store.createOrg("Uni", (org) => ({ actor: "admin", action: "org.create", subject: `org:${org.name}`, details: { id: org.id } }));
      expect((await store.listOrgs()).map((o) => o.name)).toEqual(["Uni"]);
      expect(await store.pendingAudit()).toBe(1);
      expect(await log.entries()).toEqual([]);

      expect(await store.flushAudit(log)).toBe(1);
      expect(await store.pendingAudit()).toBe(0);
      const entries = await log.entries();
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ seq: 1, actor: "admin", action: "org.create", subject: "org:Uni", timestamp: at.toISOString(), details: { id: 1 } });
      // Nothing is moved twice.
      expect(await store.flushAudit(log)).toBe(0);
      expect(await log.verify()).toMatchObject({ ok: true, entries: 1 });
    } finally {
      await store.close();
      await log.close();
    }
  });

  it("records nothing for a change that did not happen, and refuses a change whose entry the log would refuse", async () => {
    const store = await open();
    const log = await AuditLog.open(auditFile());
    store.attachAuditLog(log);
    try {
      await store.createOrg("Uni", { actor: "admin", action: "org.create", subject: "org:Uni" });
      await expect(store.createOrg("Uni", { actor: "admin", action: "org.create", subject: "org:Uni" })).rejects.toThrow(new StoreError("an org named Uni already exists", "conflict"));
      // An entry that could never be appended stops its change, rather than waiting in the outbox for ever.
      await expect(store.createOrg("Other", { actor: "admin", action: "Org Create", subject: "org:Other" })).rejects.toThrow(/is not a dotted lower-case name/);
      expect((await store.listOrgs()).map((o) => o.name)).toEqual(["Uni"]);
      expect(await store.pendingAudit()).toBe(0);
      expect((await log.entries()).map((e) => e.subject)).toEqual(["org:Uni"]);
    } finally {
      await store.close();
      await log.close();
    }
  });

  it("appends nothing twice when the move is killed between the append and the delete", async () => {
    const store = await open();
    const real = await AuditLog.open(auditFile());
    const { log, mode } = flaky(real);
    try {
      await store.createOrg("Uni", { actor: "admin", action: "org.create", subject: "org:Uni" });
      await store.createBackend("tpp", [
        { actor: "admin", action: "backend.create", subject: "backend:tpp" },
        { actor: "admin", action: "backend.note", subject: "backend:tpp", details: { two: "entries from one change" } },
      ]);
      mode.fail = "after";
      await expect(store.flushAudit(log)).rejects.toThrow(/killed after the append/);
      // The first entry reached the log but is still in the outbox.
      expect((await real.entries()).map((e) => e.action)).toEqual(["org.create"]);
      expect(await store.pendingAudit()).toBe(3);
      mode.fail = "no";
      expect(await store.flushAudit(log)).toBe(3);
      expect((await real.entries()).map((e) => e.action)).toEqual(["org.create", "backend.create", "backend.note"]);
      expect(await store.pendingAudit()).toBe(0);
      expect(await real.verify()).toMatchObject({ ok: true, entries: 3 });
    } finally {
      await store.close();
      await real.close();
    }
  });

  it("moves each entry once when two processes' stores move the same outbox at once", async () => {
    const where = fresh();
    const stores = await Promise.all([1, 2].map(() => Store.open(where.target, { schema: where.schema })));
    const file = auditFile();
    const logs = await Promise.all([1, 2].map(() => AuditLog.open(file)));
    try {
      for (let i = 0; i < 40; i += 1) await stores[i % 2]!.recordAudit({ actor: "system", action: "test.entry", subject: `n:${i}` });
      await Promise.all([stores[0]!.flushAudit(logs[0]), stores[1]!.flushAudit(logs[1]), stores[0]!.flushAudit(logs[0])]);
      const entries = await logs[0]!.entries();
      expect(entries.map((e) => e.subject).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `n:${i}`).sort());
      expect(await logs[1]!.verify()).toMatchObject({ ok: true, entries: 40 });
      expect(await stores[1]!.pendingAudit()).toBe(0);
    } finally {
      for (const s of stores) await s.close();
      for (const l of logs) await l.close();
    }
  }, 60_000);

  it("the job server moves what a crash left on start, keeps working while the log refuses, and moves the rest when it recovers", async () => {
    const store = await open();
    const real = await AuditLog.open(auditFile());
    const { log, mode } = flaky(real);
    const problems: string[] = [];
    await store.createUser({ username: "staff", password: "pw" });
    await store.grantGlobalRole("staff", "StaffAreaAdministrator");
    const token = await store.rotateApiToken("staff");
    // Left behind by a job server that died after its commit.
    await store.createBackend("tpp", { actor: "staff", action: "backend.create", subject: "backend:tpp" });
    const server = await startJobServer({ store, auditLog: log, auditRetryMs: 50, log: (m) => problems.push(m) });
    try {
      expect((await real.entries()).map((e) => e.action)).toEqual(["backend.create"]);
      mode.fail = "before";
      const created = await api(server.url, "POST", "/api/v1/backends", { token, body: { name: "emis" } });
      // The change stands and its entry waits: the log's failure costs no change and loses no entry.
      expect(created.status).toBe(201);
      expect((await store.listBackends()).map((b) => b.name)).toEqual(["emis", "tpp"]);
      expect(await store.pendingAudit()).toBe(1);
      // Retried every 50 ms, but said once (then once a minute), not at every retry.
      await new Promise((r) => setTimeout(r, 400));
      expect(problems).toEqual([expect.stringMatching(/audit entries wait in the store, as the audit log refused them: the audit log cannot be reached/)]);
      expect(await store.pendingAudit()).toBe(1);
      mode.fail = "no";
      for (let i = 0; i < 200 && (await store.pendingAudit()) > 0; i += 1) await new Promise((r) => setTimeout(r, 25));
      for (let i = 0; i < 200 && problems.length < 2; i += 1) await new Promise((r) => setTimeout(r, 25));
      expect(problems[1]).toBe("job server: the audit log takes entries again; 1 waiting entry was moved into it");
      expect((await real.entries()).map((e) => [e.action, e.subject])).toEqual([
        ["backend.create", "backend:tpp"],
        ["backend.create", "backend:emis"],
      ]);
    } finally {
      await server.close();
      await store.close();
      await real.close();
    }
  }, 60_000);
});

describe("enclave admin flush-audit", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it("moves the entries a crash left in the job server's database into the log", async () => {
    const db = path.join(tmp, "cli.db");
    const audit = path.join(tmp, "cli-audit.db");
    const store = await Store.open(db);
    try {
      await store.createOrg("Uni", { actor: "operator", action: "org.create", subject: "org:Uni" });
      await store.recordAudit({ actor: "operator", action: "test.entry", subject: "n:1" });
    } finally {
      await store.close();
    }
    const run = () => spawnSync(process.execPath, [BIN, "admin", "flush-audit", "--db", db, "--audit-db", audit], { encoding: "utf8" });
    const first = run();
    expect([first.status, first.stdout, first.stderr]).toEqual([0, "moved 2 audit entries into the audit log\n", ""]);
    expect(run().stdout).toBe("moved 0 audit entries into the audit log\n");
    const log = await AuditLog.open(audit, { create: false });
    try {
      expect((await log.entries()).map((e) => [e.actor, e.action, e.subject])).toEqual([
        ["operator", "org.create", "org:Uni"],
        ["operator", "test.entry", "n:1"],
      ]);
    } finally {
      await log.close();
    }
  }, 60_000);
});
