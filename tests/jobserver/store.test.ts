// The job server's store (SQLite always; PostgreSQL too when
// ENCLAVE_TEST_POSTGRES_URL is set, each test in a fresh schema dropped at the
// end), the role matrix of `can`, and `enclave admin` writing the audit log.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import type pgTypes from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/index.js";
import { MIGRATIONS } from "../../src/jobserver/migrations.js";
import { hashPassword, hashToken, verifyPassword } from "../../src/jobserver/passwords.js";
import { type Permission, type Principal, type Role, GLOBAL_ROLES, PERMISSIONS, PROJECT_ROLES, ROLES, Store, StoreError, can } from "../../src/jobserver/store.js";
import { BIN, ensureBuilt } from "../cli/helpers.js";

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-jobserver-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PG_URL = process.env.ENCLAVE_TEST_POSTGRES_URL;
const schemas: string[] = [];
afterAll(async () => {
  if (!PG_URL || schemas.length === 0) return;
  const pg = createRequire(import.meta.url)("pg") as typeof pgTypes;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});

let n = 0;
const engines: [string, () => { target: string; schema?: string }][] = [["sqlite", () => ({ target: path.join(tmp, `store-${++n}.db`) })]];
if (PG_URL) {
  engines.push([
    "postgres",
    () => {
      const schema = `enclave_test_${randomBytes(6).toString("hex")}`;
      schemas.push(schema);
      return { target: PG_URL, schema };
    },
  ]);
}

describe.each(engines)("store on %s", (_name, fresh) => {
  async function withStore<T>(fn: (s: Store, where: { target: string; schema?: string }) => Promise<T>): Promise<T> {
    const where = fresh();
    const store = await Store.open(where.target, { schema: where.schema });
    try {
      return await fn(store, where);
    } finally {
      await store.close();
    }
  }

  it("applies each migration once, and nothing on re-opening", async () => {
    await withStore(async (store, where) => {
      const all = MIGRATIONS.map((m) => m.version);
      expect(store.appliedMigrations).toEqual(all);
      await store.createOrg("kept");
      const again = await Store.open(where.target, { schema: where.schema });
      try {
        expect(again.appliedMigrations).toEqual([]);
        expect(await again.migrationVersions()).toEqual(all);
        expect((await again.listOrgs()).map((o) => o.name)).toEqual(["kept"]);
      } finally {
        await again.close();
      }
    });
  });

  it("creates, reads and lists users, orgs, projects and members", async () => {
    await withStore(async (store) => {
      const alice = await store.createUser({ username: "alice", password: "correct horse", fullName: "Alice A", email: "a@example.org", isStaff: true });
      expect(alice).toMatchObject({ username: "alice", fullName: "Alice A", email: "a@example.org", isStaff: true });
      expect(await store.getUser("alice")).toEqual(alice);
      expect(await store.getUser("nobody")).toBeUndefined();
      await store.createUser({ username: "bob", password: "pw" });
      expect((await store.listUsers()).map((u) => u.username)).toEqual(["alice", "bob"]);

      await store.createOrg("Uni");
      const p = await store.createProject({ number: 12, name: "Covid", org: "Uni" });
      expect(p).toMatchObject({ number: 12, name: "Covid", org: "Uni", status: "ongoing", category: "approved" });
      await store.createProject({ number: 3, name: "Internal", org: "Uni", category: "internal" });
      expect((await store.listProjects()).map((x) => [x.number, x.category])).toEqual([
        [3, "internal"],
        [12, "approved"],
      ]);

      expect(await store.addMember(12, "alice", ["ProjectDeveloper"])).toEqual({ username: "alice", project: 12, roles: ["ProjectDeveloper"] });
      expect((await store.addMember(12, "alice", ["ProjectCollaborator", "ProjectDeveloper"])).roles).toEqual(["ProjectCollaborator", "ProjectDeveloper"]);
      await store.addMember(3, "bob", ["ProjectCollaborator"]);
      await store.grantGlobalRole("bob", "OutputChecker");
      expect(await store.listMembers(12)).toEqual([{ username: "alice", project: 12, roles: ["ProjectCollaborator", "ProjectDeveloper"] }]);
      expect(await store.principal("alice")).toEqual({ username: "alice", globalRoles: [], projectRoles: { 12: ["ProjectCollaborator", "ProjectDeveloper"] } });
      expect(await store.principal("bob")).toEqual({ username: "bob", globalRoles: ["OutputChecker"], projectRoles: { 3: ["ProjectCollaborator"] } });

      const { previous, project } = await store.setProjectStatus(12, "completed");
      expect([previous, project.status]).toEqual(["ongoing", "completed"]);

      const ws = await store.createWorkspace({ project: 12, name: "covid-main", repo: "https://github.com/x/y", branch: "main" });
      expect(ws).toMatchObject({ project: 12, archived: false });
      expect((await store.setWorkspaceArchived("covid-main", true)).archived).toBe(true);
    });
  });

  it("refuses duplicates and unknown references with clear errors", async () => {
    await withStore(async (store) => {
      await store.createUser({ username: "alice", password: "x" });
      await expect(store.createUser({ username: "alice", password: "y" })).rejects.toThrow(new StoreError("a user named alice already exists"));
      await store.createOrg("Uni");
      await expect(store.createOrg("Uni")).rejects.toThrow("an org named Uni already exists");
      await expect(store.createProject({ number: 1, name: "P", org: "Nope" })).rejects.toThrow("there is no org named Nope");
      await store.createProject({ number: 1, name: "P", org: "Uni" });
      await expect(store.createProject({ number: 1, name: "Q", org: "Uni" })).rejects.toThrow("project 1 already exists");
      await expect(store.addMember(99, "alice", ["ProjectDeveloper"])).rejects.toThrow("there is no project 99");
      await expect(store.addMember(1, "zed", ["ProjectDeveloper"])).rejects.toThrow("there is no user named zed");
      expect(() => store.addMember(1, "alice", ["Researcher" as never])).toThrow('unknown role "Researcher": the roles are ProjectDeveloper, ProjectCollaborator');
      expect(() => store.setProjectStatus(1, "finished" as never)).toThrow('unknown status "finished"');
      expect(() => store.createUser({ username: "bad name", password: "x" })).toThrow("is not a username");
      await store.createBackend("tpp");
      await expect(store.createBackend("tpp")).rejects.toThrow("a backend named tpp already exists");
      await expect(store.rotateBackendToken("emis")).rejects.toThrow("there is no backend named emis");
    });
  });

  it("checks passwords, and API and backend tokens, which rotate", async () => {
    await withStore(async (store) => {
      await store.createUser({ username: "alice", password: "correct horse" });
      expect((await store.checkPassword("alice", "correct horse"))?.username).toBe("alice");
      expect(await store.checkPassword("alice", "correct hors")).toBeUndefined();
      expect(await store.checkPassword("nobody", "correct horse")).toBeUndefined();
      await store.setPassword("alice", "battery staple");
      expect(await store.checkPassword("alice", "correct horse")).toBeUndefined();
      expect(await store.checkPassword("alice", "battery staple")).toBeDefined();

      const t1 = await store.rotateApiToken("alice");
      expect((await store.userForApiToken(t1))?.username).toBe("alice");
      const t2 = await store.rotateApiToken("alice");
      expect(await store.userForApiToken(t1)).toBeUndefined();
      expect((await store.userForApiToken(t2))?.username).toBe("alice");

      const { token } = await store.createBackend("tpp");
      expect(Buffer.from(token, "base64url")).toHaveLength(32);
      expect((await store.authenticateBackend("tpp", token))?.name).toBe("tpp");
      expect(await store.authenticateBackend("tpp", token + "x")).toBeUndefined();
      const rotated = await store.rotateBackendToken("tpp");
      expect(await store.authenticateBackend("tpp", token)).toBeUndefined();
      expect((await store.authenticateBackend("tpp", rotated))?.tokenRotated).not.toBeNull();

      await store.addBackendMember("tpp", "alice");
      expect(await store.userBackends("alice")).toEqual(["tpp"]);
    });
  });

  it("loses members' job running and level 4 access when the project stops being ongoing", async () => {
    await withStore(async (store) => {
      await store.createUser({ username: "dev", password: "x" });
      await store.createOrg("Uni");
      await store.createProject({ number: 7, name: "P", org: "Uni" });
      await store.addMember(7, "dev", ["ProjectDeveloper"]);
      const check = async (p: Permission) => can(await store.principal("dev"), p, (await store.getProject(7))!);
      expect(await check("job.run")).toBe(true);
      expect(await check("output.view_unreleased")).toBe(true);
      await store.setProjectStatus(7, "postponed");
      expect(await check("job.run")).toBe(false);
      expect(await check("output.view_unreleased")).toBe(false);
      expect(await check("release.view")).toBe(true);
      await store.setProjectStatus(7, "ongoing");
      expect(await check("job.run")).toBe(true);
    });
  });
});

describe("passwords", () => {
  it("hashes with scrypt, a salt of its own each time, and its parameters", async () => {
    const a = await hashPassword("pw");
    const b = await hashPassword("pw");
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword("pw", a)).toBe(true);
    expect(await verifyPassword("pW", a)).toBe(false);
    expect(await verifyPassword("pw", "garbage")).toBe(false);
    // Old parameters keep working: they are read from the hash.
    expect(await verifyPassword("pw", await hashPassword("pw", { N: 1024, r: 8, p: 1 }))).toBe(true);
    expect(hashToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

// The reference (shared/reference/permissions.md, "Job server roles"), one
// column per role; Y = granted. Written out by hand, not derived from GRANTS.
const MATRIX = `
permission              ProjectDeveloper ProjectCollaborator OutputChecker OutputPublisher StaffAreaAdministrator ServiceAdministrator TechSupport
job.run                 Y . . . . . .
job.cancel              Y . . . . . .
project.manage          Y . . . . . .
workspace.create        Y . . . . . .
workspace.archive       Y . . . . . .
output.view_unreleased  Y . Y . . . .
release.view            Y Y Y . . . .
release.upload          . . Y . . . .
release.delete          . . Y . . . .
snapshot.publish        . . . Y . . .
user.manage             . . . . Y . .
org.manage              . . . . Y . .
backend.manage          . . . . Y . .
project.create          . . . . . Y .
project.edit_roles      . . . . . Y .
`;

const [header, ...rows] = MATRIX.trim().split("\n").map((l) => l.trim().split(/\s+/));
const roleColumns = header!.slice(1) as Role[];
const expected = new Map(rows.map((r) => [r[0] as Permission, new Map(roleColumns.map((role, i) => [role, r[i + 1] === "Y"]))]));

function holding(role: Role, project = 5): Principal {
  return (GLOBAL_ROLES as readonly string[]).includes(role)
    ? { username: "u", globalRoles: [role as (typeof GLOBAL_ROLES)[number]], projectRoles: {} }
    : { username: "u", globalRoles: [], projectRoles: { [project]: [role as (typeof PROJECT_ROLES)[number]] } };
}

describe("can", () => {
  it("the matrix covers every role and permission", () => {
    expect([...roleColumns].sort()).toEqual([...ROLES].sort());
    expect([...expected.keys()].sort()).toEqual([...PERMISSIONS].sort());
  });

  const cases = ROLES.flatMap((role) => PERMISSIONS.map((permission) => ({ role, permission, granted: expected.get(permission)!.get(role)! })));
  it.each(cases)("$role → $permission: $granted", ({ role, permission, granted }) => {
    expect(can(holding(role), permission, { number: 5, status: "ongoing" })).toBe(granted);
    // Project roles reach only their own project, and nothing without one.
    if ((PROJECT_ROLES as readonly string[]).includes(role)) {
      expect(can(holding(role), permission, { number: 6, status: "ongoing" })).toBe(false);
      expect(can(holding(role), permission)).toBe(false);
    } else {
      expect(can(holding(role), permission)).toBe(granted);
    }
  });

  it("denies everything to someone with no roles", () => {
    for (const p of PERMISSIONS) expect(can({ username: "u", globalRoles: [], projectRoles: {} }, p, { number: 5, status: "ongoing" })).toBe(false);
  });

  it.each(["postponed", "completed", "retired"] as const)("a %s project's members lose job running and level 4 access, and only that", (status) => {
    for (const role of PROJECT_ROLES) {
      for (const p of PERMISSIONS) {
        const want = expected.get(p)!.get(role)! && p !== "job.run" && p !== "output.view_unreleased";
        expect(can(holding(role), p, { number: 5, status }), `${role} ${p}`).toBe(want);
      }
    }
    // Output checkers are not members: they still review what the project submitted.
    expect(can(holding("OutputChecker"), "output.view_unreleased", { number: 5, status })).toBe(true);
  });
});

describe("enclave admin", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  const run = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: tmp, input: input ?? "", encoding: "utf8", env: { ...process.env, ENCLAVE_DB: path.join(tmp, "cli.db"), ENCLAVE_AUDIT_DB: path.join(tmp, "cli-audit.db") } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it("changes the store, logs every change, and the log verifies", async () => {
    const user = run(["admin", "create-user", "alice", "--staff", "--password-stdin", "--actor", "operator"], "s3cret pass\n");
    expect(user, user.stderr).toMatchObject({ code: 0, stdout: "created user alice\n" });
    const gen = run(["admin", "create-user", "bob"]);
    expect(gen.code).toBe(0);
    const password = /password: (\S+)/.exec(gen.stdout)![1]!;
    expect(run(["admin", "create-org", "Uni"]).code).toBe(0);
    expect(run(["admin", "create-project", "12", "Covid study", "--org", "Uni", "--category", "short data report"]).code).toBe(0);
    expect(run(["admin", "add-member", "12", "alice", "--role", "ProjectDeveloper", "ProjectCollaborator"]).code).toBe(0);
    expect(run(["admin", "grant-role", "bob", "OutputChecker"]).code).toBe(0);
    expect(run(["admin", "grant-role", "bob", "ProjectCollaborator", "--project", "12"]).code).toBe(0);
    const backend = run(["admin", "create-backend", "tpp"]);
    const token = /token: (\S+)/.exec(backend.stdout)![1]!;
    const rotated = /: (\S+)\n/.exec(run(["admin", "rotate-backend-token", "tpp"]).stdout)![1]!;
    expect(run(["admin", "set-project-status", "12", "completed"]).code).toBe(0);

    const bad = [
      [run(["admin", "create-user", "alice"]), 1, "error: a user named alice already exists"],
      [run(["admin", "add-member", "12", "alice", "--role", "Researcher"]), 2, 'error: unknown role "Researcher": project the roles are ProjectDeveloper, ProjectCollaborator'],
      [run(["admin", "grant-role", "alice", "Boss"]), 2, 'error: unknown role "Boss": the roles are ProjectDeveloper, ProjectCollaborator, OutputChecker, OutputPublisher, StaffAreaAdministrator, ServiceAdministrator, TechSupport'],
      [run(["admin", "add-member", "99", "alice", "--role", "ProjectDeveloper"]), 1, "error: there is no project 99"],
      [run(["admin", "set-project-status", "12", "done"]), 2, 'error: unknown status "done": use one of ongoing, postponed, completed, retired'],
    ] as const;
    for (const [r, code, message] of bad) expect([r.code, r.stderr.trim()]).toEqual([code, message]);

    const store = await Store.open(path.join(tmp, "cli.db"));
    try {
      expect((await store.getUser("alice"))?.isStaff).toBe(true);
      expect(await store.checkPassword("alice", "s3cret pass")).toBeDefined();
      expect(await store.checkPassword("bob", password)).toBeDefined();
      expect(await store.getProject(12)).toMatchObject({ category: "short data report", status: "completed" });
      expect(await store.principal("bob")).toMatchObject({ globalRoles: ["OutputChecker"], projectRoles: { 12: ["ProjectCollaborator"] } });
      expect(await store.authenticateBackend("tpp", token)).toBeUndefined();
      expect(await store.authenticateBackend("tpp", rotated)).toBeDefined();
    } finally {
      await store.close();
    }

    const log = await AuditLog.open(path.join(tmp, "cli-audit.db"), { create: false });
    try {
      const entries = await log.entries();
      expect(entries.map((e) => [e.actor, e.action, e.subject])).toEqual([
        ["operator", "user.create", "user:alice"],
        ["system", "user.create", "user:bob"],
        ["system", "org.create", "org:Uni"],
        ["system", "project.create", "project:12"],
        ["system", "membership.add", "project:12"],
        ["system", "role.grant", "user:bob"],
        ["system", "role.grant", "user:bob"],
        ["system", "backend.create", "backend:tpp"],
        ["system", "backend.rotate_token", "backend:tpp"],
        ["system", "project.status", "project:12"],
      ]);
      expect(entries[9]!.details).toEqual({ from: "ongoing", to: "completed" });
      // No secret reaches the log.
      const text = JSON.stringify(entries);
      for (const secret of ["s3cret", password, token, rotated]) expect(text).not.toContain(secret);
    } finally {
      await log.close();
    }
    const verify = run(["audit", "verify"]);
    expect([verify.code, verify.stdout]).toEqual([0, expect.stringMatching(/^audit log OK: 10 entries/)]);
  }, 60_000);
});
