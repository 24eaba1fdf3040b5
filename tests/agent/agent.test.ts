// The agent against a fake job server (fake-server.ts): a study in a git
// repository built here, run for real (bubblewrap, the runtimes in dist/)
// against a synthetic DuckDB backend. What is checked is what the agent
// promises: where outputs and records land, what the job server is told (and
// that nothing of the data is), that the database reaches database actions
// only, cancellation, worker limits, and a job server that goes away.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AgentOptions, type JobReport, type RunningAgent, startAgent } from "../../src/agent/index.js";
import { AuditLog } from "../../src/audit/index.js";
import type { ActionExecutor } from "../../src/pipeline/action.js";
import type { Manifest } from "../../src/pipeline/metadata.js";
import { jobIdFor } from "../../src/pipeline/runner.js";
import { executeAction } from "../../src/pipeline/runtimes.js";
import type { Policy } from "../../src/policy/index.js";
import { ensureBuilt } from "../cli/helpers.js";
import { FakeJobServer } from "./fake-server.js";
import { ACT, Repo, STUDY, makeDatabase, nodeProject, queryColumn, removeTempDirs, tempDir } from "./helpers.js";

let dsn: string;
let dbFile: string;
let server: FakeJobServer;
const agents: RunningAgent[] = [];

beforeAll(() => {
  ensureBuilt();
  dsn = makeDatabase(60);
  dbFile = dsn.slice("duckdb://".length);
}, 180_000);
afterAll(removeTempDirs);
beforeEach(async () => {
  server = await FakeJobServer.start();
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  await server.close();
});

/** A policy that gives project 7 type 1 opt-out patients, and nothing else to anyone. */
const POLICY: Policy = {
  dir: "(test)",
  lists: {
    t1oo: [{ project: 7, permissions: ["include_t1oo"], reason: "test", approval: "test", date: "2025-01-01", file: "t1oo.yaml", line: 1 }],
    ndoo: [],
    "restricted-datasets": [],
    sqlrunner: [],
  },
};

async function start(extra: Partial<AgentOptions> = {}): Promise<{ agent: RunningAgent; dir: string; lines: string[] }> {
  const dir = extra.dir ?? tempDir("enclave-agent-");
  const lines: string[] = [];
  const agent = await startAgent({
    server: server.url,
    backend: server.backend,
    token: server.token,
    name: "a1",
    dir,
    database: dsn,
    policy: POLICY,
    claimWaitSeconds: 1,
    heartbeatMs: 200,
    retry: { initialMs: 50, maxMs: 400 },
    limits: { memoryMb: 4096, cpuSeconds: 120, wallSeconds: 120 },
    log: (l) => lines.push(l),
    ...extra,
  });
  agents.push(agent);
  return { agent, dir, lines };
}

async function stopAll(): Promise<void> {
  for (const a of agents.splice(0)) await a.stop();
}

const jobsOf = (id: string) => Object.fromEntries([...server.request(id).jobs.values()].map((j) => [j.action, j]));
const read = (file: string) => fs.readFileSync(file, "utf8");


describe("running a request", () => {
  it("runs the study: the dataset from the database to level 3, the aggregate to level 4, with records and reports", { timeout: 240_000 }, async () => {
    const repo = new Repo();
    const commit = repo.commit(STUDY);
    const { dir, agent } = await start();
    const id = server.submit({ workspace: "diabetes", repo: repo.dir, commit, actions: ["run_all"] });
    const r = await server.finished(id);
    expect(r.finish).toEqual({ status: "succeeded", message: "Completed successfully" });

    // One job per action, with the ids the runner derives from the request.
    const jobs = jobsOf(id);
    expect(Object.keys(jobs).sort()).toEqual(["aggregate", "generate_dataset"]);
    for (const [action, j] of Object.entries(jobs)) {
      expect(j).toMatchObject({ identifier: jobIdFor(id, action), status: "succeeded", statusCode: "succeeded", statusMessage: "Completed successfully", exitCode: 0, cpuSeconds: expect.any(Number), memoryBytes: expect.any(Number) });
      expect(Date.parse(j.started!)).toBeLessThanOrEqual(Date.parse(j.finished!));
      // Each job went from pending through running to its end.
      const seen = r.history.filter((h) => h.identifier === j.identifier).map((h) => h.status);
      expect(seen[0]).toBe("pending");
      expect(seen).toContain("running");
      expect(seen.at(-1)).toBe("succeeded");
    }
    expect(jobs.generate_dataset!.runCommand).toBe("enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv");
    const waited = r.history.find((h) => h.action === "aggregate" && h.status === "pending")!;
    expect(waited.statusMessage).toBe("Waiting on dependencies");

    // Level 3 in the workspace's store, level 4 in its own.
    const ws = path.join(dir, "workspaces", "diabetes");
    const dataset = read(path.join(ws, "output/dataset.csv")).trim().split("\n");
    expect(dataset[0]).toBe("patient_id,sex");
    expect(read(path.join(ws, "output/counts.csv"))).toMatch(/^sex,patients\n/);
    expect(read(path.join(dir, "level4", "diabetes", "output/counts.csv"))).toBe(read(path.join(ws, "output/counts.csv")));
    expect(fs.existsSync(path.join(dir, "level4", "diabetes", "output/dataset.csv"))).toBe(false);

    // The data came from the backend's database, with type 1 opt-outs left out (the project has no permission for them).
    const ids = dataset.slice(1).map((l) => Number(l.split(",")[0]));
    const all = await queryColumn(dbFile, "SELECT patient_id FROM patients");
    const t1oo = await queryColumn(dbFile, "SELECT patient_id FROM patients_with_type_one_dissent");
    expect(ids.length).toBeGreaterThan(0);
    for (const p of ids) expect(all).toContain(p);
    for (const p of t1oo) expect(ids).not.toContain(p);

    // The database's DSN and the permissions went to the database action only.
    const env = JSON.parse(read(path.join(ws, "output/environment.json"))) as string[];
    expect(env).not.toContain("DATABASE_URL");
    expect(env).not.toContain("ENCLAVE_PERMISSIONS");
    expect(env).toContain("PATH");

    // Manifest and logs in the workspace's metadata/; the DSN in no log.
    const manifest = JSON.parse(read(path.join(ws, "metadata/manifest.json"))) as Manifest;
    expect(manifest.files["output/dataset.csv"]).toMatchObject({ level: "highly_sensitive", action: "generate_dataset", job_id: jobIdFor(id, "generate_dataset"), job_request: id, commit });
    expect(manifest.files["output/counts.csv"]).toMatchObject({ level: "moderately_sensitive", job_id: jobIdFor(id, "aggregate"), excluded: false });
    expect(read(path.join(ws, "metadata/aggregate.log"))).toMatch(/aggregated \d+ rows/);
    for (const log of ["generate_dataset.log", "aggregate.log"]) expect(read(path.join(ws, "metadata", log))).not.toContain(dbFile);

    // The checkout and the working folders are gone.
    expect(fs.readdirSync(path.join(dir, "checkouts"))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, "tmp"))).toEqual([]);

    // A later request for the aggregate reuses the dataset: only the aggregate is a job of it.
    const second = server.submit({ workspace: "diabetes", repo: repo.dir, commit, actions: ["aggregate"] });
    expect((await server.finished(second)).finish?.status).toBe("succeeded");
    expect(Object.keys(jobsOf(second))).toEqual(["aggregate"]);

    // The agent's own audit log.
    await agent.stop();
    agents.splice(0);
    const audit = await AuditLog.open(path.join(dir, "audit.db"));
    try {
      const entries = await audit.entries();
      expect((await audit.verify()).ok).toBe(true);
      expect(new Set(entries.map((e) => e.actor))).toEqual(new Set(["agent:a1"]));
      const mine = entries.filter((e) => e.subject === `job_request:${id}` || (e.details as { job_request?: string }).job_request === id).map((e) => `${e.action} ${e.subject}`);
      expect(mine).toEqual([
        `job_request.claim job_request:${id}`,
        `job.start job:${jobIdFor(id, "generate_dataset")}`,
        `job.finish job:${jobIdFor(id, "generate_dataset")}`,
        `job.start job:${jobIdFor(id, "aggregate")}`,
        `job.finish job:${jobIdFor(id, "aggregate")}`,
        `job_request.finish job_request:${id}`,
      ]);
      expect(entries.find((e) => e.action === "job.finish")?.details).toMatchObject({ action: "generate_dataset", status_code: "succeeded", exit_code: 0 });
      expect(entries.map((e) => e.action)).toEqual(expect.arrayContaining(["agent.start", "agent.recover", "agent.stop"]));
    } finally {
      await audit.close();
    }
  });

  it("gives a database action the project's permissions from the policy files", { timeout: 120_000 }, async () => {
    const repo = new Repo();
    const commit = repo.commit(STUDY);
    const { dir } = await start();
    const id = server.submit({ workspace: "t1oo", repo: repo.dir, commit, actions: ["generate_dataset"], project: { number: 7, name: "Allowed", category: "approved", status: "ongoing" } });
    expect((await server.finished(id)).finish?.status).toBe("succeeded");
    const ids = read(path.join(dir, "workspaces/t1oo/output/dataset.csv")).trim().split("\n").slice(1).map((l) => Number(l.split(",")[0]));
    const t1oo = await queryColumn(dbFile, "SELECT patient_id FROM patients_with_type_one_dissent");
    // Project 7 is on the type 1 opt-out allowlist: those patients are in (unless they have no sex recorded or opted out nationally).
    expect(t1oo.some((p) => ids.includes(p))).toBe(true);
  });
});

// Writes a file whose name is data and prints a value that is data: neither may leave.
const LEAK = `import * as fs from "node:fs";
const mode = process.argv[2];
const value = Buffer.from("c2VjcmV0LXZhbHVlLTQy", "base64").toString();
console.log("the value is " + value);
console.error("and again on stderr: " + value);
fs.mkdirSync("output", { recursive: true });
fs.writeFileSync("output/" + ["secret", "name"].join("_") + ".csv", "patient_id,value\\n1," + value + "\\n");
if (mode === "level4") fs.writeFileSync("output/table.csv", "patient_id,n\\n1,2\\n");
if (mode === "exit") process.exit(3);
`;
const LEAK_PROJECT = `version: 4
actions:
  leak_exit:
    run: node:v1 analysis/leak.mjs exit
    outputs:
      moderately_sensitive:
        result: output/exit_result.csv
  leak_unmatched:
    run: node:v1 analysis/leak.mjs unmatched
    outputs:
      moderately_sensitive:
        result: output/unmatched_result.csv
  leak_level4:
    run: node:v1 analysis/leak.mjs level4
    outputs:
      moderately_sensitive:
        table: output/table.csv
  after_exit:
    run: node:v1 analysis/leak.mjs after
    needs: [leak_exit]
    outputs:
      moderately_sensitive:
        result: output/after.csv
`;

describe("what the job server is told", () => {
  it("is redacted: no file names, no output, no level 4 reasons, no paths of the backend", { timeout: 120_000 }, async () => {
    const repo = new Repo();
    const commit = repo.commit({ "project.yaml": LEAK_PROJECT, "analysis/leak.mjs": LEAK });
    const { dir } = await start();
    const id = server.submit({ workspace: "leaky", repo: repo.dir, commit, actions: ["run_all"] });
    const r = await server.finished(id);

    const jobs = jobsOf(id);
    expect(jobs.leak_exit).toMatchObject({ status: "failed", statusCode: "nonzero_exit", statusMessage: "Job exited with an error (exit code 3)", exitCode: 3 });
    expect(jobs.leak_unmatched).toMatchObject({ status: "failed", statusCode: "unmatched_patterns", statusMessage: "No outputs found matching patterns: output/unmatched_result.csv" });
    expect(jobs.leak_level4).toMatchObject({ status: "succeeded", statusCode: "succeeded", statusMessage: "Completed successfully" });
    expect(jobs.after_exit).toMatchObject({ status: "failed", statusCode: "dependency_failed", statusMessage: "Not started because a dependency failed: leak_exit", started: null });
    expect(r.finish?.status).toBe("failed");
    expect(r.finish?.message).toBe("3 of 4 jobs failed: leak_exit (nonzero_exit), leak_unmatched (unmatched_patterns), after_exit (dependency_failed)");

    // Inside, the log has all of it, and the runner's hint named the file: the redaction is the agent's doing.
    const log = read(path.join(dir, "workspaces/leaky/metadata/leak_exit.log"));
    expect(log).toContain("secret-value-42");
    expect(log).toContain("secret_name.csv");
    expect(fs.existsSync(path.join(dir, "level4/leaky/output/table.csv.txt"))).toBe(true);

    const everything = server.bodies.join("\n");
    for (const leaked of ["secret-value-42", "secret_name", "patient_id", dir, "[redacted]"]) expect(everything).not.toContain(leaked);
  });
});

describe("cancellation and stopping", () => {
  const SLOW = nodeProject({
    slow: { args: "sleep 60000 write output/slow.csv done", outputs: { out: "output/slow.csv" } },
    after_slow: { args: "write output/after.csv done", outputs: { out: "output/after.csv" }, needs: ["slow"] },
  });

  it("stops a request a user cancels: its running action is killed and it is reported cancelled", { timeout: 120_000 }, async () => {
    const repo = new Repo();
    const commit = repo.commit({ "project.yaml": SLOW, "analysis/act.mjs": ACT });
    const { dir } = await start();
    const id = server.submit({ workspace: "cancel-me", repo: repo.dir, commit, actions: ["run_all"] });
    await server.until(() => server.request(id).jobs.get(jobIdFor(id, "slow"))?.statusMessage === "Running", 60_000, "slow to run");
    const asked = Date.now();
    server.cancel(id);
    const r = await server.finished(id);
    expect(Date.now() - asked).toBeLessThan(20_000);
    expect(r.finish).toEqual({ status: "cancelled", message: "Cancelled by a user" });
    const jobs = jobsOf(id);
    expect(jobs.slow).toMatchObject({ status: "failed", statusCode: "cancelled_by_user", statusMessage: "Stopped: cancelled by a user" });
    expect(jobs.after_slow).toMatchObject({ status: "failed", statusCode: "dependency_failed" });
    // The cancelled action runs again next time: its state is failed, and it left no outputs.
    expect(fs.existsSync(path.join(dir, "workspaces/cancel-me/output/slow.csv"))).toBe(false);
  });

  it("on stop(), cancels what runs, reports it cancelled, and claims nothing more", { timeout: 120_000 }, async () => {
    const repo = new Repo();
    const commit = repo.commit({ "project.yaml": SLOW, "analysis/act.mjs": ACT });
    const { agent } = await start();
    const id = server.submit({ workspace: "stopped", repo: repo.dir, commit, actions: ["slow"] });
    await server.until(() => server.request(id).jobs.get(jobIdFor(id, "slow"))?.status === "running", 60_000, "slow to run");
    await agent.stop();
    agents.splice(0);
    const r = server.request(id);
    expect(r.finish).toEqual({ status: "cancelled", message: "Cancelled: the backend's agent was stopped" });
    expect(jobsOf(id).slow).toMatchObject({ status: "failed", statusCode: "cancelled_by_user", statusMessage: "Stopped: the backend's agent was stopped" });
    const later = server.submit({ workspace: "later", repo: repo.dir, commit, actions: ["slow"] });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(server.request(later).state).toBe("pending");
  });
});

describe("worker limits", () => {
  /** An executor that records when each action ran. */
  function timed(spans: { action: string; start: number; end: number }[]): ActionExecutor {
    return async (run) => {
      const start = Date.now();
      const result = await executeAction(run);
      spans.push({ action: run.action.name, start, end: Date.now() });
      return result;
    };
  }
  const overlap = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end;

  it("with one worker, the actions of two requests never overlap, and the one that waits says so", { timeout: 120_000 }, async () => {
    const repo = new Repo();
    const commit = repo.commit({ "project.yaml": nodeProject({ nap: { args: "sleep 3000 write output/nap.csv done", outputs: { out: "output/nap.csv" } } }), "analysis/act.mjs": ACT });
    const spans: { action: string; start: number; end: number }[] = [];
    await start({ maxWorkers: 1, maxRequests: 2, executor: timed(spans) });
    const a = server.submit({ workspace: "one", repo: repo.dir, commit, actions: ["nap"] });
    const b = server.submit({ workspace: "two", repo: repo.dir, commit, actions: ["nap"] });
    for (const id of [a, b]) expect((await server.finished(id)).finish?.status).toBe("succeeded");
    expect(spans).toHaveLength(2);
    expect(overlap(spans[0]!, spans[1]!)).toBe(false);
    const waited = [...server.request(a).history, ...server.request(b).history].filter((h) => h.statusMessage === "Waiting for a free worker");
    expect(waited).toHaveLength(1);
    expect(waited[0]!.status).toBe("pending");
  });

  it("runs two requests of one workspace one after the other, should the job server ever give both", { timeout: 120_000 }, async () => {
    server.oneRunningPerWorkspace = false;
    const repo = new Repo();
    const commit = repo.commit({ "project.yaml": nodeProject({ nap: { args: "sleep 1000 write output/nap.csv done", outputs: { out: "output/nap.csv" } } }), "analysis/act.mjs": ACT });
    const spans: { action: string; start: number; end: number }[] = [];
    await start({ maxWorkers: 2, executor: timed(spans) });
    const ids = [1, 2].map(() => server.submit({ workspace: "same", repo: repo.dir, commit, actions: ["nap"] }));
    for (const id of ids) expect((await server.finished(id)).finish?.status).toBe("succeeded");
    expect(spans).toHaveLength(2);
    expect(overlap(spans[0]!, spans[1]!)).toBe(false);
  });

  it("runs one database action at a time, with workers to spare", { timeout: 180_000 }, async () => {
    const repo = new Repo();
    const commit = repo.commit(STUDY);
    const spans: { action: string; start: number; end: number }[] = [];
    await start({ maxWorkers: 3, maxDatabaseWorkers: 1, executor: timed(spans) });
    const ids = ["db-one", "db-two"].map((w) => server.submit({ workspace: w, repo: repo.dir, commit, actions: ["generate_dataset"] }));
    for (const id of ids) expect((await server.finished(id)).finish?.status).toBe("succeeded");
    expect(spans).toHaveLength(2);
    expect(overlap(spans[0]!, spans[1]!)).toBe(false);
    expect([...server.requests.values()].flatMap((r) => r.history).some((h: JobReport) => h.statusMessage === "Waiting for a free database worker")).toBe(true);
  });
});

describe("requests refused before anything runs", () => {
  it("fails, saying why, a request whose commit is missing, whose project.yaml is invalid, or that asks for what the project may not do", { timeout: 120_000 }, async () => {
    const repo = new Repo();
    const good = repo.commit(STUDY);
    const invalid = repo.commit({ "project.yaml": "version: 4\nactions:\n  a:\n    run: node:v1 x.mjs\n" });
    const sql = repo.commit({
      "project.yaml": "version: 4\nactions:\n  query:\n    run: sqlrunner:v1 analysis/q.sql --output output/q.csv\n    outputs:\n      highly_sensitive:\n        q: output/q.csv\n",
      "analysis/q.sql": "SELECT 1 AS one",
    });
    const stale = repo.commit({ ...STUDY, "codelists/codelists.txt": "user/someone/some-codes/abc123\n" });
    const { dir } = await start();
    const cases: [string, Partial<Parameters<FakeJobServer["submit"]>[0]>, RegExp][] = [
      ["missing", { commit: "0".repeat(40) }, /^The commit was not found in the workspace's repository$/],
      ["norepo", { repo: path.join(dir, "no-such-repo"), commit: good }, /^Could not fetch the workspace's repository$/],
      ["invalid", { commit: invalid }, /^project\.yaml at this commit is not valid: project\.yaml, line \d+, action "a"/],
      ["unknown", { commit: good, actions: ["nope"] }, /no action named "nope"/],
      ["sql", { commit: sql, actions: ["query"] }, /^This project may not run SQL runner actions \(only the internal project may\): query$/],
      ["stale", { commit: stale, actions: ["generate_dataset"] }, /^The study's codelists are out of date, so its database actions \(generate_dataset\) cannot run/],
    ];
    for (const [workspace, task, message] of cases) {
      const id = server.submit({ workspace, repo: repo.dir, commit: good, actions: ["run_all"], ...task });
      const r = await server.finished(id);
      expect(r.finish?.status, workspace).toBe("failed");
      expect(r.finish?.message, workspace).toMatch(message);
      expect(r.jobs.size, workspace).toBe(0);
    }
    expect(fs.readdirSync(path.join(dir, "checkouts"))).toEqual([]);
  });
});

describe("starting", () => {
  it("refuses to start without bubblewrap, with a wrong token, or without the database", async () => {
    await expect(start({ bubblewrap: () => false })).rejects.toThrow(/refusing to start: bubblewrap \(bwrap\) does not work on this machine/);
    await expect(start({ token: "wrong" })).rejects.toThrow(/cannot start: the job server refused POST \/api\/agent\/recover with HTTP 401.*check the backend's name and token/);
    await expect(start({ database: "duckdb:///nowhere/backend.duckdb" })).rejects.toThrow(/the database file \/nowhere\/backend\.duckdb does not exist/);
    await expect(start({ database: "postgres-ish" })).rejects.toThrow(/the database must be given as/);
    await expect(start({ maxWorkers: 0 })).rejects.toThrow(/the number of workers must be a whole number of at least 1, not 0/);
    // The escape that tests have, and the command line does not.
    await expect(start({ bubblewrap: () => false, unsandboxedForTests: true })).resolves.toBeDefined();
  });

  it("removes checkout and temporary folders left by an agent that died", async () => {
    const dir = tempDir("enclave-agent-");
    for (const f of ["checkouts/abc/project.yaml", "tmp/enclave-x-123/file"]) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), "");
    }
    await start({ dir });
    expect(fs.readdirSync(path.join(dir, "checkouts"))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, "tmp"))).toEqual([]);
  });
});

describe("a job server that goes away", () => {
  it("keeps trying while it is down, and carries on (claims, reports, finishes) when it is back", { timeout: 120_000 }, async () => {
    const repo = new Repo();
    const commit = repo.commit({ "project.yaml": nodeProject({ nap: { args: "sleep 2000 write output/nap.csv done", outputs: { out: "output/nap.csv" } } }), "analysis/act.mjs": ACT });
    await server.down();
    // Started while the server is down: it recovers once it answers.
    const { lines } = await start();
    const id = server.submit({ workspace: "patient", repo: repo.dir, commit, actions: ["nap"] });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await server.up();
    await server.until(() => server.request(id).jobs.get(jobIdFor(id, "nap"))?.status === "running", 60_000, "nap to run");
    // Down again while the action runs: it finishes meanwhile, and is reported when the server is back.
    await server.down();
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(server.request(id).finish).toBeUndefined();
    await server.up();
    const r = await server.finished(id);
    expect(r.finish?.status).toBe("succeeded");
    expect(jobsOf(id).nap).toMatchObject({ status: "succeeded", statusCode: "succeeded" });
    expect(lines.some((l) => /cannot reach the job server at http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED; retrying/.test(l))).toBe(true);
    expect(lines).toContain("the job server answers again");
    await stopAll();
  });
});
