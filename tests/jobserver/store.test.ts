// The job server's store (SQLite always; PostgreSQL too when
// ENCLAVE_TEST_POSTGRES_URL is set, each test in a fresh schema dropped at the
// end), the role matrix of `can`, and `enclave admin` writing the audit log.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/index.js";
import { MIGRATIONS } from "../../src/jobserver/migrations.js";
import { hashPassword, hashToken, verifyPassword } from "../../src/jobserver/passwords.js";
import {
  type JobReport,
  type JobRequest,
  type NewJobRequest,
  type Permission,
  type Principal,
  type Role,
  GLOBAL_ROLES,
  PERMISSIONS,
  PROJECT_ROLES,
  ROLES,
  Store,
  StoreError,
  can,
} from "../../src/jobserver/store.js";
import { jobIdFor } from "../../src/pipeline/runner.js";
import { BIN, ensureBuilt } from "../cli/helpers.js";
import { storeEngines } from "../support/stores.js";

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-jobserver-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
const engines = storeEngines(() => path.join(tmp, `store-${++n}.db`));

describe.each(engines)("store on %s", (_name, fresh) => {
  async function withStore<T>(fn: (s: Store, where: { target: string; schema?: string }) => Promise<T>, options: { clock?: () => Date } = {}): Promise<T> {
    const where = fresh();
    const store = await Store.open(where.target, { schema: where.schema, ...options });
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
      await expect(store.createUser({ username: "alice", password: "y" })).rejects.toThrow(new StoreError("a user named alice already exists", "conflict"));
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

  // --- workspaces, roles, sessions and login failures ------------------------------

  it("reads workspaces, and takes roles away", async () => {
    await withStore(async (store) => {
      await store.createUser({ username: "alice", password: "x" });
      await store.createOrg("Uni");
      await store.createProject({ number: 1, name: "One", org: "Uni" });
      await store.createProject({ number: 2, name: "Two", org: "Uni" });
      const b = await store.createWorkspace({ project: 1, name: "b-main", repo: "/srv/git/b", branch: "main" });
      await store.createWorkspace({ project: 2, name: "a-main", repo: "https://example.org/a.git", branch: "trunk" });
      expect(await store.getWorkspace("b-main")).toEqual(b);
      expect(await store.getWorkspace("nope")).toBeUndefined();
      expect((await store.listWorkspaces()).map((w) => [w.name, w.project])).toEqual([
        ["a-main", 2],
        ["b-main", 1],
      ]);
      expect((await store.listWorkspaces(1)).map((w) => w.name)).toEqual(["b-main"]);
      await expect(store.listWorkspaces(9)).rejects.toThrow("there is no project 9");

      await store.grantGlobalRole("alice", "OutputChecker");
      await store.grantGlobalRole("alice", "TechSupport");
      await store.revokeGlobalRole("alice", "OutputChecker");
      await store.revokeGlobalRole("alice", "OutputChecker");
      expect((await store.principal("alice")).globalRoles).toEqual(["TechSupport"]);
      await expect(store.revokeGlobalRole("alice", "Boss" as never)).rejects.toThrow('unknown role "Boss"');
      await expect(store.revokeGlobalRole("zed", "TechSupport")).rejects.toThrow("there is no user named zed");

      await store.addMember(1, "alice", ["ProjectDeveloper", "ProjectCollaborator"]);
      expect(await store.removeMemberRoles(1, "alice", ["ProjectDeveloper"])).toEqual({ username: "alice", project: 1, roles: ["ProjectCollaborator"] });
      expect(await store.removeMemberRoles(1, "alice", ["ProjectCollaborator"])).toEqual({ username: "alice", project: 1, roles: [] });
      expect(await store.listMembers(1)).toEqual([{ username: "alice", project: 1, roles: [] }]);
      await expect(store.removeMemberRoles(2, "alice", ["ProjectDeveloper"])).rejects.toThrow("alice is not a member of project 2");
      await expect(store.removeMemberRoles(1, "alice", ["Researcher" as never])).rejects.toThrow('unknown role "Researcher"');
    });
  });

  it("keeps sessions hashed, until they expire or are deleted", async () => {
    let now = new Date("2026-03-01T10:00:00.000Z");
    await withStore(
      async (store) => {
        const alice = await store.createUser({ username: "alice", password: "x" });
        const s = await store.createSession("alice", 3600);
        expect(s.expires).toBe("2026-03-01T11:00:00.000Z");
        expect(Buffer.from(s.token, "base64url")).toHaveLength(32);
        expect(s.csrf).not.toBe(s.token);
        expect(await store.session(s.token)).toEqual({ user: alice, csrf: s.csrf, expires: s.expires });
        expect(await store.session(s.token + "x")).toBeUndefined();
        const other = await store.createSession("alice", 60);
        expect(other.token).not.toBe(s.token);

        now = new Date("2026-03-01T10:59:59.000Z");
        expect(await store.session(s.token)).toBeDefined();
        expect(await store.session(other.token)).toBeUndefined();
        now = new Date("2026-03-01T11:00:00.000Z");
        expect(await store.session(s.token)).toBeUndefined();

        const third = await store.createSession("alice", 60);
        await store.deleteSession(third.token);
        expect(await store.session(third.token)).toBeUndefined();
        await expect(store.createSession("zed", 60)).rejects.toThrow("there is no user named zed");
        await expect(store.createSession("alice", 0)).rejects.toThrow("a session lasts a positive number of seconds");
      },
      { clock: () => now },
    );
  });

  it("counts login failures in a window, per key", async () => {
    let now = new Date("2026-03-01T10:00:00.000Z");
    await withStore(
      async (store) => {
        const since = () => new Date(now.getTime() - 15 * 60_000).toISOString();
        expect(await store.recordLoginFailure("alice", since())).toBe(1);
        expect(await store.recordLoginFailure("alice", since())).toBe(2);
        expect(await store.recordLoginFailure("10.0.0.1", since())).toBe(1);
        expect(await store.loginFailures("alice", since())).toBe(2);
        now = new Date("2026-03-01T10:10:00.000Z");
        expect(await store.recordLoginFailure("alice", since())).toBe(3);
        now = new Date("2026-03-01T10:20:00.000Z");
        // The first two are more than 15 minutes old.
        expect(await store.loginFailures("alice", since())).toBe(1);
        await store.clearLoginFailures("alice");
        expect(await store.loginFailures("alice", since())).toBe(0);
        expect(await store.loginFailures("nobody", since())).toBe(0);
      },
      { clock: () => now },
    );
  });

  // --- job requests and jobs ---------------------------------------------------------

  const COMMIT = "0123456789abcdef0123456789abcdef01234567";

  /** Users, a project with workspaces ws1..wsN, and the backends tpp and emis. */
  async function world(store: Store, workspaces = 2): Promise<void> {
    await store.createUser({ username: "alice", password: "x" });
    await store.createOrg("Uni");
    await store.createProject({ number: 12, name: "Covid", org: "Uni" });
    await store.createProject({ number: 13, name: "Flu", org: "Uni" });
    for (let i = 1; i <= workspaces; i += 1) await store.createWorkspace({ project: i % 2 === 1 ? 12 : 13, name: `ws${i}`, repo: "/srv/git/x", branch: "main" });
    await store.createBackend("tpp");
    await store.createBackend("emis");
  }

  const request = (store: Store, workspace = "ws1", more: Partial<NewJobRequest> = {}) =>
    store.createJobRequest({ workspace, backend: "tpp", commit: COMMIT, actions: ["run_all"], force: false, requester: "alice", ...more });

  const job = (requestId: string, action: string, more: Partial<JobReport> = {}): JobReport => ({
    identifier: jobIdFor(requestId, action),
    action,
    runCommand: `enclave:v1 generate-dataset analysis/${action}.ts --output output/${action}.csv`,
    status: "pending",
    statusCode: "created",
    statusMessage: "",
    started: null,
    finished: null,
    exitCode: null,
    ...more,
  });

  it("stores a request pending, with a deterministic identifier, and refuses bad ones", async () => {
    let now = new Date("2026-03-01T10:00:00.000Z");
    await withStore(
      async (store) => {
        await world(store);
        const r = await request(store, "ws1", { actions: ["a", "b"], force: true });
        const id = (await store.listJobRequests({}, { limit: 1 }))[0]!;
        expect(r).toEqual(id);
        expect(r).toEqual({
          identifier: createHash("sha256").update("tpp\nws1\n1").digest("hex").slice(0, 16),
          workspace: "ws1",
          project: 12,
          projectName: "Covid",
          backend: "tpp",
          commit: COMMIT,
          actions: ["a", "b"],
          force: true,
          requester: "alice",
          created: "2026-03-01T10:00:00.000Z",
          status: "pending",
          message: "",
          claimedBy: null,
          claimedAt: null,
          cancelRequested: false,
          started: null,
          finished: null,
          jobsDone: 0,
          jobsTotal: 0,
        } satisfies JobRequest);
        expect(await store.getJobRequest(r.identifier)).toEqual(r);
        expect(await store.getJobRequest("0000000000000000")).toBeUndefined();
        now = new Date("2026-03-01T10:01:00.000Z");
        const second = await request(store, "ws1");
        expect(second.identifier).not.toBe(r.identifier);
        expect(second.identifier).toMatch(/^[0-9a-f]{16}$/);

        await expect(request(store, "nope")).rejects.toThrow(new StoreError("there is no workspace named nope", "not_found"));
        await expect(request(store, "ws1", { backend: "barts" })).rejects.toThrow("there is no backend named barts");
        await expect(request(store, "ws1", { requester: "zed" })).rejects.toThrow("there is no user named zed");
        await expect(request(store, "ws1", { commit: "abc123" })).rejects.toThrow('a job request names a full commit (40 lower-case hex digits), not "abc123"');
        await expect(request(store, "ws1", { actions: [] })).rejects.toThrow("a job request names at least one action");
        await store.setWorkspaceArchived("ws1", true);
        await expect(request(store, "ws1")).rejects.toThrow("workspace ws1 is archived: it takes no new job requests");
        expect(await store.countJobRequests({})).toBe(2);
      },
      { clock: () => now },
    );
  });

  it("lists requests newest first, filtered and paged, with their jobs counted", async () => {
    await withStore(async (store) => {
      await world(store, 3);
      await store.createUser({ username: "bob", password: "x" });
      const made: JobRequest[] = [];
      for (let i = 0; i < 7; i += 1) made.push(await request(store, `ws${(i % 3) + 1}`, { requester: i === 6 ? "bob" : "alice", backend: i === 5 ? "emis" : "tpp" }));
      const ids = (rs: JobRequest[]) => rs.map((r) => r.identifier);
      const newest = [...made].reverse();
      expect(ids(await store.listJobRequests({}, { limit: 100 }))).toEqual(ids(newest));
      const first = await store.listJobRequests({}, { limit: 3 });
      expect(ids(first)).toEqual(ids(newest.slice(0, 3)));
      expect(ids(await store.listJobRequests({}, { limit: 3, before: first[2]!.identifier }))).toEqual(ids(newest.slice(3, 6)));
      expect(ids(await store.listJobRequests({ workspace: "ws1" }, { limit: 100 }))).toEqual(ids([made[6]!, made[3]!, made[0]!]));
      // ws1 and ws3 are project 12's.
      expect(ids(await store.listJobRequests({ project: 12 }, { limit: 100 }))).toEqual(ids(newest.filter((r) => r.workspace !== "ws2")));
      expect(ids(await store.listJobRequests({ backend: "emis" }, { limit: 100 }))).toEqual([made[5]!.identifier]);
      expect(ids(await store.listJobRequests({ requester: "bob" }, { limit: 100 }))).toEqual([made[6]!.identifier]);
      expect(ids(await store.listJobRequests({ workspace: "nope" }, { limit: 100 }))).toEqual([]);
      expect(await store.countJobRequests({ project: 12 })).toBe(5);
      expect(await store.countJobRequests({ project: 12, requester: "alice" })).toBe(4);

      const claimed = (await store.claimJobRequest("tpp", "a1"))!;
      expect(claimed.identifier).toBe(made[0]!.identifier);
      expect(ids(await store.listJobRequests({ status: "running" }, { limit: 100 }))).toEqual([claimed.identifier]);
      expect(await store.countJobRequests({ status: "pending" })).toBe(6);
      await store.reportJobs(claimed.identifier, "tpp", "a1", [
        job(claimed.identifier, "one", { status: "succeeded", statusCode: "succeeded", started: "2026-03-01T10:00:05.000Z", finished: "2026-03-01T10:00:09.000Z", exitCode: 0 }),
        job(claimed.identifier, "two", { status: "failed", statusCode: "nonzero_exit", started: "2026-03-01T10:00:02.000Z", finished: "2026-03-01T10:00:03.000Z", exitCode: 1 }),
        job(claimed.identifier, "three", { status: "running", statusCode: "executing", started: "2026-03-01T10:00:04.000Z" }),
        job(claimed.identifier, "four"),
      ]);
      const listed = (await store.listJobRequests({ workspace: "ws1" }, { limit: 100 })).find((r) => r.identifier === claimed.identifier)!;
      expect(listed).toMatchObject({ jobsDone: 2, jobsTotal: 4, started: "2026-03-01T10:00:02.000Z", status: "running", claimedBy: "a1" });
      expect(await store.getJobRequest(claimed.identifier)).toEqual(listed);

      await expect(store.listJobRequests({}, { limit: 0 })).rejects.toThrow("a page holds 1 to 1000 job requests, not 0");
      await expect(store.listJobRequests({}, { limit: 10, before: "ffffffffffffffff" })).rejects.toThrow("there is no job request ffffffffffffffff to page on from");
      await expect(store.listJobRequests({ status: "done" as never }, { limit: 10 })).rejects.toThrow('unknown status "done"');
    });
  });

  it("runs a request through its states: claimed, jobs reported, finished; and refuses agents that do not hold it", async () => {
    let now = new Date("2026-03-01T10:00:00.000Z");
    await withStore(
      async (store) => {
        await world(store);
        const r = await request(store);
        await expect(store.reportJobs(r.identifier, "tpp", "a1", [])).rejects.toThrow(`job request ${r.identifier} has not been claimed`);
        expect(await store.claimJobRequest("emis", "e1")).toBeUndefined();
        now = new Date("2026-03-01T10:00:01.000Z");
        const claimed = (await store.claimJobRequest("tpp", "a1"))!;
        expect(claimed).toMatchObject({ identifier: r.identifier, status: "running", claimedBy: "a1", claimedAt: "2026-03-01T10:00:01.000Z" });
        expect(await store.claimJobRequest("tpp", "a2")).toBeUndefined();

        const dataset = job(r.identifier, "generate_dataset", { status: "running", statusCode: "executing", started: "2026-03-01T10:00:02.000Z" });
        const report = job(r.identifier, "report", { statusCode: "waiting_on_dependencies" });
        expect(await store.reportJobs(r.identifier, "tpp", "a1", [dataset, report])).toEqual({ cancelRequested: false });
        now = new Date("2026-03-01T10:00:05.000Z");
        await store.reportJobs(r.identifier, "tpp", "a1", [{ ...dataset, status: "succeeded", statusCode: "succeeded", finished: "2026-03-01T10:00:04.000Z", exitCode: 0, cpuSeconds: 1.5, memoryBytes: 1024 }]);
        expect(await store.listJobs(r.identifier)).toEqual([
          {
            identifier: dataset.identifier,
            jobRequest: r.identifier,
            action: "generate_dataset",
            runCommand: dataset.runCommand,
            status: "succeeded",
            statusCode: "succeeded",
            statusMessage: "",
            created: "2026-03-01T10:00:01.000Z",
            started: "2026-03-01T10:00:02.000Z",
            finished: "2026-03-01T10:00:04.000Z",
            exitCode: 0,
            cpuSeconds: 1.5,
            memoryBytes: 1024,
          },
          expect.objectContaining({ identifier: report.identifier, action: "report", status: "pending", cpuSeconds: null, memoryBytes: null }),
        ]);
        expect((await store.getJob(dataset.identifier))?.status).toBe("succeeded");
        expect(await store.getJob("ffffffffffffffff")).toBeUndefined();
        expect(await store.listJobs("ffffffffffffffff")).toEqual([]);

        await expect(store.reportJobs(r.identifier, "tpp", "a2", [])).rejects.toThrow(new StoreError(`job request ${r.identifier} is held by agent a1, not a2`, "conflict"));
        await expect(store.reportJobs(r.identifier, "emis", "a1", [])).rejects.toThrow(`there is no job request ${r.identifier} for backend emis`);
        await expect(store.reportJobs(r.identifier, "tpp", "a1", [{ ...report, identifier: "xyz" }])).rejects.toThrow('job "xyz": a job identifier is 16 lower-case hex digits');
        await expect(store.reportJobs(r.identifier, "tpp", "a1", [{ ...report, status: "done" as never }])).rejects.toThrow('unknown status "done"');
        await expect(store.finishJobRequest(r.identifier, "tpp", "a1", { status: "succeeded", message: "" })).rejects.toThrow(`job request ${r.identifier} cannot finish as succeeded: the jobs of report have not finished`);
        const other = await request(store, "ws2");
        const otherClaim = (await store.claimJobRequest("tpp", "a2"))!;
        expect(otherClaim.identifier).toBe(other.identifier);
        await expect(store.reportJobs(other.identifier, "tpp", "a2", [{ ...report }])).rejects.toThrow(`job ${report.identifier} belongs to another job request than ${other.identifier}`);

        now = new Date("2026-03-01T10:00:09.000Z");
        const done = await store.finishJobRequest(r.identifier, "tpp", "a1", { status: "failed", message: "the agent could not plan the rest" });
        expect(done).toMatchObject({ status: "failed", message: "the agent could not plan the rest", finished: "2026-03-01T10:00:09.000Z", jobsDone: 2, jobsTotal: 2, started: "2026-03-01T10:00:02.000Z" });
        expect(await store.getJob(report.identifier)).toMatchObject({ status: "failed", statusCode: "internal_error", statusMessage: "the agent could not plan the rest", finished: "2026-03-01T10:00:09.000Z" });
        // The job that had finished keeps its own outcome.
        expect((await store.getJob(dataset.identifier))?.statusCode).toBe("succeeded");
        await expect(store.reportJobs(r.identifier, "tpp", "a1", [])).rejects.toThrow(`job request ${r.identifier} has already finished (failed)`);
        await expect(store.finishJobRequest(r.identifier, "tpp", "a1", { status: "succeeded", message: "" })).rejects.toThrow("has already finished (failed)");
        await expect(store.finishJobRequest(other.identifier, "tpp", "a2", { status: "done" as never, message: "" })).rejects.toThrow("a job request finishes as succeeded, failed or cancelled");
        expect(await store.finishJobRequest(other.identifier, "tpp", "a2", { status: "succeeded", message: "" })).toMatchObject({ status: "succeeded", jobsTotal: 0 });
        await expect(store.claimJobRequest("tpp", "bad agent")).rejects.toThrow('"bad agent" is not an agent name');
        await expect(store.claimJobRequest("barts", "a1")).rejects.toThrow("there is no backend named barts");
      },
      { clock: () => now },
    );
  });

  it("cancels a pending request at once and asks the agent to stop a running one", async () => {
    await withStore(async (store) => {
      await world(store);
      const pending = await request(store, "ws1");
      const running = await request(store, "ws2");
      expect((await store.claimJobRequest("tpp", "a1"))!.identifier).toBe(pending.identifier);
      expect((await store.claimJobRequest("tpp", "a2"))!.identifier).toBe(running.identifier);
      const queued = await request(store, "ws1");

      expect(await store.cancelJobRequest(queued.identifier)).toMatchObject({ status: "cancelled", cancelRequested: true, message: "cancelled before it started" });
      expect((await store.cancelJobRequest(queued.identifier)).status).toBe("cancelled");
      // A cancelled request is never claimed.
      expect(await store.claimJobRequest("tpp", "a3")).toBeUndefined();
      await expect(store.reportJobs(queued.identifier, "tpp", "a1", [])).rejects.toThrow(`job request ${queued.identifier} has already finished (cancelled)`);

      expect(await store.cancellationsFor("tpp", [pending.identifier, running.identifier])).toEqual([]);
      await store.reportJobs(running.identifier, "tpp", "a2", [job(running.identifier, "x", { status: "running", statusCode: "executing", started: "2026-03-01T10:00:00.000Z" }), job(running.identifier, "y")]);
      expect(await store.cancelJobRequest(running.identifier)).toMatchObject({ status: "running", cancelRequested: true });
      expect(await store.cancellationsFor("tpp", [pending.identifier, running.identifier, "ffffffffffffffff"])).toEqual([running.identifier]);
      expect(await store.cancellationsFor("emis", [running.identifier])).toEqual([]);
      expect(await store.cancellationsFor("tpp", [])).toEqual([]);
      expect(await store.reportJobs(running.identifier, "tpp", "a2", [])).toEqual({ cancelRequested: true });
      const cancelled = await store.finishJobRequest(running.identifier, "tpp", "a2", { status: "cancelled", message: "cancelled by alice" });
      expect(cancelled).toMatchObject({ status: "cancelled", message: "cancelled by alice", jobsDone: 2, jobsTotal: 2 });
      expect((await store.listJobs(running.identifier)).map((j) => [j.action, j.status, j.statusCode, j.statusMessage])).toEqual([
        ["x", "failed", "cancelled_by_user", "cancelled by alice"],
        ["y", "failed", "cancelled_by_user", "cancelled by alice"],
      ]);
      expect(await store.cancellationsFor("tpp", [running.identifier])).toEqual([]);
      await expect(store.cancelJobRequest(running.identifier)).resolves.toMatchObject({ status: "cancelled" });
      await store.finishJobRequest(pending.identifier, "tpp", "a1", { status: "succeeded", message: "" });
      await expect(store.cancelJobRequest(pending.identifier)).rejects.toThrow(`job request ${pending.identifier} has already finished (succeeded): there is nothing to cancel`);
      await expect(store.cancelJobRequest("ffffffffffffffff")).rejects.toThrow(new StoreError("there is no job request ffffffffffffffff", "not_found"));
    });
  });

  it("fails what an agent held when it starts again, and only that", async () => {
    await withStore(async (store) => {
      await world(store, 3);
      const [a, b, c] = [await request(store, "ws1"), await request(store, "ws2"), await request(store, "ws3")];
      await store.claimJobRequest("tpp", "a1");
      await store.claimJobRequest("tpp", "a1");
      await store.claimJobRequest("tpp", "a2");
      await store.reportJobs(a.identifier, "tpp", "a1", [job(a.identifier, "x", { status: "succeeded", statusCode: "succeeded", finished: "2026-03-01T10:00:00.000Z" }), job(a.identifier, "y", { status: "running" })]);
      const message = "the agent stopped while this job ran; request it again";
      expect(await store.recoverAgent("tpp", "a1", message)).toEqual([a.identifier, b.identifier]);
      expect(await store.getJobRequest(a.identifier)).toMatchObject({ status: "failed", message, jobsDone: 2 });
      expect(await store.getJobRequest(b.identifier)).toMatchObject({ status: "failed", message });
      expect(await store.getJobRequest(c.identifier)).toMatchObject({ status: "running", claimedBy: "a2" });
      expect((await store.listJobs(a.identifier)).map((j) => [j.action, j.status, j.statusCode])).toEqual([
        ["x", "succeeded", "succeeded"],
        ["y", "failed", "internal_error"],
      ]);
      expect(await store.recoverAgent("tpp", "a1", message)).toEqual([]);
      expect(await store.recoverAgent("emis", "a2", message)).toEqual([]);
    });
  });

  it("claims fairly: never two running requests of one workspace, and the workspace served least recently first", async () => {
    let tick = 0;
    await withStore(
      async (store) => {
        await world(store, 3);
        const a1 = await request(store, "ws1");
        const a2 = await request(store, "ws1");
        const a3 = await request(store, "ws1");
        const b1 = await request(store, "ws2");
        const claim = async () => (await store.claimJobRequest("tpp", "agent"))?.identifier;
        expect(await claim()).toBe(a1.identifier);
        // ws1 has one running, so its older requests wait.
        expect(await claim()).toBe(b1.identifier);
        expect(await claim()).toBeUndefined();
        await store.finishJobRequest(a1.identifier, "tpp", "agent", { status: "succeeded", message: "" });
        await store.finishJobRequest(b1.identifier, "tpp", "agent", { status: "succeeded", message: "" });
        const b2 = await request(store, "ws2");
        const c1 = await request(store, "ws3");
        // ws3 has never been served, so its request goes first though it is the newest; then ws1, served before ws2.
        expect(await claim()).toBe(c1.identifier);
        expect(await claim()).toBe(a2.identifier);
        expect(await claim()).toBe(b2.identifier);
        expect(await claim()).toBeUndefined();
        expect((await store.listJobRequests({ status: "pending" }, { limit: 10 })).map((r) => r.identifier)).toEqual([a3.identifier]);
      },
      { clock: () => new Date(Date.UTC(2026, 2, 1, 10, 0, tick++)) },
    );
  });

  it("gives each request to exactly one of many agents racing from several stores", async () => {
    const where = fresh();
    const first = await Store.open(where.target, { schema: where.schema });
    const others = await Promise.all([1, 2, 3].map(() => Store.open(where.target, { schema: where.schema })));
    const stores = [first, ...others];
    try {
      await world(first, 8);
      const made = new Set<string>();
      for (let i = 1; i <= 8; i += 1) made.add((await request(first, `ws${i}`)).identifier);
      const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 4]!.claimJobRequest("tpp", `agent${i}`)));
      const got = claims.filter((c) => c !== undefined).map((c) => c.identifier);
      expect(got).toHaveLength(8);
      expect(new Set(got)).toEqual(made);
      const holders = await Promise.all([...made].map(async (id) => (await first.getJobRequest(id))!.claimedBy));
      // Each agent that got one holds exactly that one.
      expect(new Set(holders).size).toBe(8);
      expect(await first.countJobRequests({ status: "pending" })).toBe(0);
    } finally {
      for (const s of stores) await s.close();
    }
  }, 60_000);

  it("lists a page of 10,000 requests through every filter", async () => {
    await withStore(async (store) => {
      await world(store, 4);
      await request(store, "ws1");
      // Bulk rows straight into the tables: 10,000 requests and three jobs for each.
      const db = (store as unknown as { db: { all(sql: string, params?: unknown[]): Promise<unknown[]> } }).db;
      await db.all(
        `INSERT INTO job_requests (identifier, workspace_id, project_id, backend_id, commit_sha, requested_actions, force_run_dependencies, requester_id, created, status)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
         SELECT 'bulk' || CAST(i AS TEXT), w.id, w.project_id, 1, ?, '["run_all"]', 0, 1, '2026-01-01T00:00:00.000Z', CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END
         FROM n JOIN workspaces w ON w.id = (i % 4) + 1`,
        [COMMIT],
      );
      await db.all(
        `INSERT INTO jobs (job_request_id, identifier, action, status, created)
         SELECT r.id, 'job' || CAST(r.id AS TEXT) || '-' || CAST(k.k AS TEXT), 'a', 'succeeded', r.created
         FROM job_requests r CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) k`,
      );
      if (_name === "postgres") await db.all("ANALYZE");
      expect(await store.countJobRequests({})).toBe(10_001);
      const calls: (() => Promise<unknown>)[] = [
        () => store.listJobRequests({}, { limit: 50 }),
        () => store.listJobRequests({ project: 13 }, { limit: 50 }),
        () => store.listJobRequests({ workspace: "ws3" }, { limit: 50 }),
        () => store.listJobRequests({ status: "failed" }, { limit: 50 }),
        () => store.listJobRequests({ requester: "alice", backend: "tpp" }, { limit: 50 }),
      ];
      const page = await store.listJobRequests({ project: 13 }, { limit: 50 });
      expect(page).toHaveLength(50);
      expect(page.every((r) => r.project === 13 && r.jobsTotal === 3 && r.jobsDone === 3)).toBe(true);
      // How fast is the benchmark's to say (npm run bench:jobserver); here, that every filter answers a full page of the right rows.
      const pages = (await Promise.all(calls.map((c) => c()))) as JobRequest[][];
      expect(pages.map((p) => p.length)).toEqual([50, 50, 50, 50, 50]);
      expect(pages[1]!.every((r) => r.project === 13)).toBe(true);
      expect(pages[2]!.every((r) => r.workspace === "ws3")).toBe(true);
      // Paging on from a request gives the ones after it, in the same order.
      const ws3 = await store.listJobRequests({ workspace: "ws3" }, { limit: 200 });
      expect((await store.listJobRequests({ workspace: "ws3" }, { limit: 50, before: ws3[99]!.identifier })).map((r) => r.identifier)).toEqual(ws3.slice(100, 150).map((r) => r.identifier));
      expect(pages[3]!.every((r) => r.status === "failed")).toBe(true);
    });
  }, 120_000);
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

  it("says which database cannot be opened, and why, and changes nothing", () => {
    const missing = path.join(tmp, "no-such-folder");
    const store = run(["admin", "create-org", "X", "--db", path.join(missing, "x.db"), "--audit-db", path.join(tmp, "other-audit.db")]);
    expect([store.code, store.stderr]).toEqual([1, `error: the job server's database: cannot open ${path.join(missing, "x.db")}: the folder ${missing} does not exist (create it first)\n`]);
    const log = run(["admin", "create-org", "X", "--db", path.join(tmp, "other.db"), "--audit-db", path.join(missing, "a.db")]);
    expect([log.code, log.stderr]).toEqual([1, `error: cannot open the audit log ${path.join(missing, "a.db")}: its folder does not exist (create it first)\n`]);
    // The log is opened first: the store was not even created.
    expect(fs.existsSync(path.join(tmp, "other.db"))).toBe(false);
    expect(fs.existsSync(missing)).toBe(false);
    // A server that cannot be reached: named, without its password.
    const down = run(["admin", "create-org", "X", "--db", "postgresql://ops:s3cret-pw@127.0.0.1:1/jobs", "--audit-db", path.join(tmp, "other-audit.db")]);
    expect([down.code, down.stderr]).toEqual([1, "error: the job server's database: cannot connect to postgresql://ops:***@127.0.0.1:1/jobs: connect ECONNREFUSED 127.0.0.1:1\n"]);
    const logDown = run(["admin", "create-org", "X", "--db", path.join(tmp, "other.db"), "--audit-db", "postgresql://ops:s3cret-pw@127.0.0.1:1/audit"]);
    expect([logDown.code, logDown.stderr]).toEqual([1, "error: cannot open the audit log: cannot connect to postgresql://ops:***@127.0.0.1:1/audit: connect ECONNREFUSED 127.0.0.1:1\n"]);
  });

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
