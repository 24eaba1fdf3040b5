// The platform end to end: the real job server and the real agent, talking
// over 127.0.0.1 through the agent protocol; a study in a local git
// repository; a synthetic DuckDB backend with opted-out patients in it. A
// researcher requests run_all through the JSON API; the agent runs it in the
// sandbox; outputs land in levels 3 and 4; the public log shows the request,
// its jobs and nothing of the data; both audit logs verify. Two projects, one
// on the type 1 opt-out allowlist, show that the opt-outs follow the policy.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../../src/agent/index.js";
import { AuditLog } from "../../src/audit/index.js";
import { type JobServer, Store, startJobServer } from "../../src/jobserver/index.js";
import type { Policy } from "../../src/policy/index.js";
import { ensureBuilt } from "../cli/helpers.js";
import { ACT, Repo, STUDY, makeDatabase, queryColumn, removeTempDirs, tempDir } from "../agent/helpers.js";
import { launchBrowser, noBrowser } from "../support/browser.js";

const POLICY: Policy = {
  dir: "(test)",
  lists: {
    t1oo: [{ project: 2, permissions: ["include_t1oo"], reason: "test", approval: "test", date: "2025-01-01", file: "t1oo.yaml", line: 1 }],
    ndoo: [],
    "restricted-datasets": [],
    sqlrunner: [],
  },
};

let dir: string;
let dbFile: string;
let store: Store;
let audit: AuditLog;
let server: JobServer;
let agent: RunningAgent;
let agentDir: string;
let token: string;
let repo: Repo;

async function api(method: string, url: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

interface RequestView {
  jobRequest: { identifier: string; status: string; jobsDone: number; jobsTotal: number; message: string };
  jobs: { identifier: string; action: string; status: string; statusCode: string; statusMessage: string; runCommand: string }[];
}

async function waitFinished(identifier: string, timeoutMs = 120_000): Promise<RequestView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await api("GET", `/api/v1/job-requests/${identifier}`);
    const view = r.json as unknown as RequestView;
    if (["succeeded", "failed", "cancelled"].includes(view.jobRequest.status)) return view;
    if (Date.now() > until) throw new Error(`request ${identifier} still ${view.jobRequest.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}


const datasetIds = (workspace: string): number[] =>
  fs
    .readFileSync(path.join(agentDir, "workspaces", workspace, "output/dataset.csv"), "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => Number(l.split(",")[0]))
    .sort((a, b) => a - b);

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir("enclave-e2e-");
  const dsn = makeDatabase(80);
  dbFile = dsn.slice("duckdb://".length);
  repo = new Repo();
  repo.commit(STUDY, "the study");

  audit = await AuditLog.open(path.join(dir, "audit.db"));
  store = await Store.open(path.join(dir, "jobserver.db"));
  await store.createOrg("University");
  await store.createUser({ username: "alice", password: "a long enough password" });
  for (const [number, name] of [[1, "Not on any list"], [2, "On the T1OO list"]] as const) {
    await store.createProject({ number, name, org: "University" });
    await store.addMember(number, "alice", ["ProjectDeveloper"]);
    await store.createWorkspace({ project: number, name: `study-${number}`, repo: repo.dir, branch: "main" });
  }
  const backend = await store.createBackend("test");
  await store.addBackendMember("test", "alice");
  token = await store.rotateApiToken("alice");
  server = await startJobServer({ store, auditLog: audit, policy: POLICY, allowedRepos: [repo.dir] });
  agentDir = path.join(dir, "agent");
  agent = await startAgent({ server: server.url, backend: "test", token: backend.token, name: "agent-1", dir: agentDir, database: dsn, policy: POLICY, log: () => {} });
}, 240_000);

afterAll(async () => {
  await agent?.stop();
  await server?.close();
  await store?.close();
  await audit?.close();
  removeTempDirs();
});

describe("a researcher's run_all, from the JSON API to levels 3 and 4", () => {
  let first: RequestView;

  it("is accepted, claimed, run in the sandbox and reported job by job", async () => {
    const made = await api("POST", "/api/v1/job-requests", { workspace: "study-1", backend: "test", actions: ["run_all"], force: false });
    expect(made.status, JSON.stringify(made.json)).toBe(201);
    const identifier = (made.json.jobRequest as { identifier: string }).identifier;
    first = await waitFinished(identifier);
    expect(first.jobRequest.status, first.jobRequest.message).toBe("succeeded");
    expect(first.jobs.map((j) => [j.action, j.status, j.statusCode])).toEqual([
      ["generate_dataset", "succeeded", "succeeded"],
      ["aggregate", "succeeded", "succeeded"],
    ]);
    expect(first.jobRequest.jobsDone).toBe(2);
    // Each job's CPU time and peak memory, measured inside the backend, reach the job server.
    const job = (await api("GET", `/api/v1/jobs/${first.jobs[1]!.identifier}`)).json.job as { cpuSeconds: number | null; memoryBytes: number | null };
    expect(job.cpuSeconds).toBeGreaterThan(0);
    expect(job.memoryBytes).toBeGreaterThan(1024 * 1024);
    expect(first.jobRequest.jobsTotal).toBe(2);
  }, 180_000);

  it("writes level 3 and level 4 outputs, the manifest and the logs inside the backend", () => {
    const ws = path.join(agentDir, "workspaces/study-1");
    expect(fs.existsSync(path.join(ws, "output/dataset.csv"))).toBe(true);
    expect(fs.readFileSync(path.join(agentDir, "level4/study-1/output/counts.csv"), "utf8")).toMatch(/^sex,patients\n/);
    // The dataset is highly sensitive: never in level 4.
    expect(fs.existsSync(path.join(agentDir, "level4/study-1/output/dataset.csv"))).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(ws, "metadata/manifest.json"), "utf8")) as { repo: string; files: Record<string, { level: string; user: string; job_request: string }> };
    expect(manifest.files["output/dataset.csv"]!.level).toBe("highly_sensitive");
    expect(manifest.files["output/counts.csv"]!.level).toBe("moderately_sensitive");
    expect(manifest.files["output/counts.csv"]!.user).toBe("alice");
    expect(manifest.files["output/counts.csv"]!.job_request).toBe(first.jobRequest.identifier);
    expect(manifest.repo).toBe(repo.dir);
    expect(fs.readFileSync(path.join(ws, "metadata/aggregate.log"), "utf8")).toMatch(/aggregated \d+ rows/);
  });

  it("gives the database to the database action only", () => {
    const env = JSON.parse(fs.readFileSync(path.join(agentDir, "workspaces/study-1/output/environment.json"), "utf8")) as string[];
    expect(env).not.toContain("DATABASE_URL");
    expect(env).not.toContain("ENCLAVE_PERMISSIONS");
  });

  it("shows the request on the public log, with nothing of the data", async () => {
    const page = await (await fetch(`${server.url}/`)).text();
    expect(page).toContain("study-1");
    expect(page).toContain(first.jobRequest.identifier);
    const requestPage = await (await fetch(`${server.url}/job-requests/${first.jobRequest.identifier}`)).text();
    expect(requestPage).toContain("generate_dataset");
    expect(requestPage).toContain("enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv");
    // What the action printed and the files' contents stay inside.
    expect(requestPage).not.toMatch(/aggregated \d+ rows/);
    expect(requestPage).not.toContain("sex,patients");
  });
});

describe("opted-out patients", () => {
  it("are absent unless the project is on the allowlist", async () => {
    const made = await api("POST", "/api/v1/job-requests", { workspace: "study-2", backend: "test", actions: ["generate_dataset"], force: false });
    expect(made.status, JSON.stringify(made.json)).toBe(201);
    const second = await waitFinished((made.json.jobRequest as { identifier: string }).identifier);
    expect(second.jobRequest.status, second.jobRequest.message).toBe("succeeded");

    const t1oo = await queryColumn(dbFile, "SELECT patient_id FROM patients_with_type_one_dissent");
    const withoutNdoo = new Set(await queryColumn(dbFile, "SELECT patient_id FROM patients_without_ndoo"));
    const eligible = await queryColumn(dbFile, "SELECT patient_id FROM patients WHERE sex IS NOT NULL");
    expect(t1oo.length).toBeGreaterThan(0);

    // Project 1: neither list: both opt-outs removed.
    expect(datasetIds("study-1")).toEqual(eligible.filter((p) => !t1oo.includes(p) && withoutNdoo.has(p)));
    // Project 2: on the type 1 list only: those patients are in, national data opt-outs still out.
    expect(datasetIds("study-2")).toEqual(eligible.filter((p) => withoutNdoo.has(p)));
    expect(t1oo.some((p) => withoutNdoo.has(p) && eligible.includes(p))).toBe(true);
  }, 180_000);
});

describe("cancellation and refusal", () => {
  it("refuses a request for an unknown action at once, naming it", async () => {
    const made = await api("POST", "/api/v1/job-requests", { workspace: "study-1", backend: "test", actions: ["no_such_action"], force: false });
    expect(made.status).toBe(422);
    expect(JSON.stringify(made.json.problems)).toContain("no_such_action");
  });

  it("reuses what succeeded: a second request for aggregate runs only aggregate", async () => {
    const made = await api("POST", "/api/v1/job-requests", { workspace: "study-1", backend: "test", actions: ["aggregate"], force: false });
    const view = await waitFinished((made.json.jobRequest as { identifier: string }).identifier);
    expect(view.jobRequest.status).toBe("succeeded");
    expect(view.jobs.map((j) => j.action)).toEqual(["aggregate"]);
  }, 120_000);
});

describe.skipIf(noBrowser)("in a browser", () => {
  it("a researcher logs in, requests a job, watches it start, and cancels it", async () => {
    // A slow action joins the study, so there is time to watch it run and cancel it.
    const yaml = `${STUDY["project.yaml"]!}  slow:
    run: node:v1 analysis/act.mjs sleep 120000 write output/slow.txt done
    outputs:
      moderately_sensitive:
        slow: output/slow.txt
`;
    repo.commit({ "project.yaml": yaml, "analysis/act.mjs": ACT }, "a slow action");
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => void problems.push(String(e)));
      await page.goto(`${server.url}/login`);
      await page.getByLabel("Username").fill("alice");
      await page.getByLabel("Password").fill("a long enough password");
      await page.getByRole("button", { name: "Log in" }).click();
      await page.goto(`${server.url}/workspaces/study-1`);
      await page.getByLabel("slow").check();
      await page.getByLabel("Backend").selectOption("test");
      await page.getByRole("button", { name: "Request these jobs" }).click();
      expect(new URL(page.url()).pathname).toMatch(/^\/job-requests\/[0-9a-f]{16}$/);
      const identifier = new URL(page.url()).pathname.split("/").pop()!;
      // The page refreshes itself: the job appears, running, without a reload.
      await page
        .locator("[data-refresh-region] table td")
        .getByText(/^\W*running$/)
        .waitFor({ timeout: 60_000 })
        .catch(async (e: Error) => {
          throw new Error(`${e.message}\nthe page said: ${await page.locator("main").textContent()}`);
        });
      await page.getByRole("button", { name: "Cancel this job request" }).click();
      const view = await waitFinished(identifier, 60_000);
      expect(view.jobRequest.status).toBe("cancelled");
      expect(view.jobs.map((j) => [j.action, j.status, j.statusCode])).toEqual([["slow", "failed", "cancelled_by_user"]]);
      await page.goto(`${server.url}/job-requests/${identifier}`);
      expect(await page.locator("main").textContent()).toMatch(/cancelled/);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);
});

describe("the audit logs", () => {
  it("hold the request and the agent's work, and verify", async () => {
    const server = await audit.verify();
    expect(server.ok, JSON.stringify(server.problems)).toBe(true);
    const agentLog = await AuditLog.open(path.join(agentDir, "audit.db"));
    try {
      const result = await agentLog.verify();
      expect(result.ok, JSON.stringify(result.problems)).toBe(true);
      expect(result.entries).toBeGreaterThan(4);
    } finally {
      await agentLog.close();
    }
  });
});
