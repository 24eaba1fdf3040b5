// The job server under load: a store holding N job requests (default 10,000,
// each finished with three jobs), `enclave jobserver` in its own process, and
// an open-loop load of R requests per second (default 200) for S seconds on the
// public event log (the HTML page and its JSON twin, alternately). Latencies
// are measured from when each request was due, so a server that falls behind
// is charged for the queue it builds. The reference, in the same run and at
// the same rate, is the server's static stylesheet: the cost of the web core
// alone. Printed: achieved rate, p50/p95/p99/max, errors, and p99 as a ratio
// of the reference's p99.
//
// Then the time from a job request to a running job: `enclave serve` (the job
// server and an agent on 127.0.0.1, bubblewrap sandbox) with a study of one
// node:v1 action in a local git repository; each request is posted through the
// JSON API and its job polled every 10 ms until the agent reports it running.
// The reference is the same action run by `enclave run` on its own.
//
// Last, what auditing costs a change: W workspaces archived and unarchived
// (default 1,000 changes) with their entries through the outbox into the
// hash-chained log, against the same changes unaudited, on the same store.
//
//   npm run bench:jobserver -- [--requests N] [--rate R] [--seconds S] [--starts K] [--writes W]

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { AuditLog } from "../dist/audit/index.js";
import { Store } from "../dist/jobserver/store.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "10000" },
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "15" },
    starts: { type: "string", default: "5" },
    writes: { type: "string", default: "1000" },
  },
});
const total = Number(values.requests);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const log = (s: string) => process.stderr.write(`${s}\n`);

const dir = mkdtempSync(join(tmpdir(), "enclave-bench-jobserver-"));
const db = join(dir, "jobserver.db");
const auditDb = join(dir, "audit.db");

async function populate(): Promise<void> {
  const store = await Store.open(db);
  try {
    await store.createOrg("Bench org");
    await store.createUser({ username: "alice", password: "bench-password-123" });
    const { backend } = await store.createBackend("bench");
    const workspaces: string[] = [];
    for (let p = 1; p <= 20; p++) {
      await store.createProject({ number: p, name: `Project ${p}`, org: "Bench org" });
      await store.addMember(p, "alice", ["ProjectDeveloper"]);
      const ws = `workspace-${p}`;
      await store.createWorkspace({ project: p, name: ws, repo: "/srv/git/none.git", branch: "main" });
      workspaces.push(ws);
    }
    const started = Date.now();
    for (let i = 0; i < total; i++) {
      const workspace = workspaces[i % workspaces.length]!;
      const request = await store.createJobRequest({ workspace, backend: backend.name, commit: (i.toString(16) + "0".repeat(40)).slice(0, 40), actions: ["run_all"], force: false, requester: "alice" });
      const claimed = await store.claimJobRequest(backend.name, "agent-1");
      if (claimed?.identifier !== request.identifier) throw new Error("the bench expected to claim the request it had just made");
      const at = new Date().toISOString();
      const jobs = ["generate_dataset", "measures", "report"].map((action, k) => ({
        identifier: `${request.identifier.slice(0, 12)}${k.toString().padStart(4, "0")}`,
        action,
        runCommand: `enclave:v1 ${action}`,
        status: "succeeded" as const,
        statusCode: "succeeded",
        statusMessage: "Completed successfully",
        started: at,
        finished: at,
        exitCode: 0,
      }));
      await store.reportJobs(request.identifier, backend.name, "agent-1", jobs);
      await store.finishJobRequest(request.identifier, backend.name, "agent-1", { status: "succeeded", message: "" });
      if ((i + 1) % 2000 === 0) log(`  ${i + 1} job requests stored (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  } finally {
    await store.close();
  }
}

function startServer(logCacheMs: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(root, "bin/enclave.js"), "jobserver", "--db", db, "--audit-db", auditDb, "--port", "0", "--log-cache-ms", String(logCacheMs)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /https?:\/\/127\.0\.0\.1:\d+/.exec(out);
      if (m) resolve({ url: m[0], child });
    });
    child.on("exit", (code) => reject(new Error(`the job server exited (${code}) before printing its address: ${out}`)));
  });
}

interface Result {
  latencies: number[];
  errors: number;
  elapsed: number;
}

/** Open loop: request i is due at start + i/rate whatever happened to the others. */
async function load(url: string, paths: readonly string[], n = Math.round(rate * seconds)): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const path = paths[i % paths.length]!;
    pending.push(
      new Promise<void>((resolve) => {
        const req = http.get(`${url}${path}`, { agent }, (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode !== 200) errors++;
            latencies.push(Math.max(0, performance.now() - due));
            resolve();
          });
        });
        req.on("error", () => {
          errors++;
          resolve();
        });
      }),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return { latencies: latencies.sort((a, b) => a - b), errors, elapsed };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function row(server: string, name: string, r: Result): string {
  const l = r.latencies;
  return `| ${server} | ${name} | ${(l.length / r.elapsed).toFixed(0)} req/s | ${pct(l, 50).toFixed(1)} ms | ${pct(l, 95).toFixed(1)} ms | ${pct(l, 99).toFixed(1)} ms | ${l[l.length - 1]!.toFixed(1)} ms | ${r.errors} |`;
}

/** Time from POST /api/v1/job-requests to the job reported running, through `enclave serve`. */
async function requestToRunning(): Promise<void> {
  const starts = Number(values.starts);
  const study = join(dir, "study");
  mkdirSync(join(study, "analysis"), { recursive: true });
  writeFileSync(join(study, "project.yaml"), "version: 4\nactions:\n  tick:\n    run: node:v1 analysis/tick.mjs\n    outputs:\n      moderately_sensitive:\n        tick: output/tick.txt\n");
  writeFileSync(join(study, "analysis/tick.mjs"), 'import * as fs from "node:fs";\nfs.mkdirSync("output", { recursive: true });\nfs.writeFileSync("output/tick.txt", "tick\\n");\n');
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=Bench", "-c", "user.email=bench@example.org", ...args], { cwd: study, stdio: "pipe" });
  git("init", "-q", "--initial-branch=main");
  git("add", "-A");
  git("commit", "-qm", "study");

  const backendDb = join(dir, "backend.duckdb");
  const synth = spawnSync(process.execPath, [join(root, "bin/enclave.js"), "synth", "--patients", "10", "--tables", "core", "--dsn", `duckdb://${backendDb}`], { encoding: "utf8" });
  if (synth.status !== 0) throw new Error(`enclave synth failed: ${synth.stderr}`);
  const serveDb = join(dir, "serve.db");
  const store = await Store.open(serveDb);
  let token: string;
  try {
    await store.createOrg("Bench org");
    await store.createUser({ username: "bob", password: "bench-password-123" });
    await store.createProject({ number: 1, name: "Bench", org: "Bench org" });
    await store.addMember(1, "bob", ["ProjectDeveloper"]);
    await store.createWorkspace({ project: 1, name: "tick", repo: study, branch: "main" });
    await store.createBackend("local");
    await store.addBackendMember("local", "bob");
    token = await store.rotateApiToken("bob");
  } finally {
    await store.close();
  }

  // The reference: the action run on its own by `enclave run` (sandbox, staging, level 4 checks).
  const local = [];
  for (let i = 0; i < starts; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [join(root, "bin/enclave.js"), "run", "tick", "--force-run-dependencies"], { cwd: study, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`enclave run failed: ${r.stderr}`);
    local.push(performance.now() - t);
  }
  git("clean", "-qfdx");

  const child = spawn(process.execPath, [join(root, "bin/enclave.js"), "serve", "--db", serveDb, "--allowed-repos", dir, "--audit-db", join(dir, "serve-audit.db"), "--port", "0", "--dir", join(dir, "agent"), "--database", `duckdb://${backendDb}`], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const m = /https?:\/\/127\.0\.0\.1:\d+/.exec(out);
        if (m && out.includes("agent")) resolve(m[0]);
      });
      child.on("exit", (code) => reject(new Error(`enclave serve exited (${code}): ${out}`)));
    });
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const times: number[] = [];
    for (let i = 0; i < starts + 1; i++) {
      const t = performance.now();
      const res = await fetch(`${url}/api/v1/job-requests`, { method: "POST", headers, body: JSON.stringify({ workspace: "tick", backend: "local", actions: ["tick"], force: false }) });
      if (res.status !== 201) throw new Error(`the job request was refused: ${res.status} ${await res.text()}`);
      const { jobRequest } = (await res.json()) as { jobRequest: { identifier: string } };
      let running: number | undefined;
      for (;;) {
        const view = (await (await fetch(`${url}/api/v1/job-requests/${jobRequest.identifier}`)).json()) as { jobRequest: { status: string }; jobs: { status: string }[] };
        if (running === undefined && view.jobs.some((j) => j.status !== "pending")) running = performance.now() - t;
        if (["succeeded", "failed", "cancelled"].includes(view.jobRequest.status)) {
          if (view.jobRequest.status !== "succeeded") throw new Error(`the bench's job request ${view.jobRequest.status}`);
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      // The first request pays for the agent's first fetch of the repository; it is not counted.
      if (i > 0) times.push(running!);
    }
    times.sort((a, b) => a - b);
    local.sort((a, b) => a - b);
    const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!;
    console.log(`\nFrom job request to running job (enclave serve, node:v1 action, ${starts} requests after a first one): median ${median(times).toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms; target < 2000 ms: ${times[times.length - 1]! < 2000 ? "met" : "NOT met"}`);
    console.log(`reference: the whole action by \`enclave run\` alone: median ${median(local).toFixed(0)} ms (ratio request-to-running / local run: ${(median(times) / median(local)).toFixed(2)}x)`);
  } finally {
    child.kill();
  }
}

async function auditedWrites(): Promise<void> {
  const writes = Number(values.writes);
  const store = await Store.open(join(dir, "writes.db"));
  const audit = await AuditLog.open(join(dir, "writes-audit.db"));
  try {
    store.attachAuditLog(audit, (e) => {
      throw e;
    });
    await store.createOrg("Uni");
    await store.createProject({ number: 1, name: "p", org: "Uni" });
    await store.createWorkspace({ project: 1, name: "w", repo: "/srv/git/none.git", branch: "main" });
    const time = async (audited: boolean): Promise<number> => {
      const started = performance.now();
      for (let i = 0; i < writes; i += 1) {
        const archived = i % 2 === 0;
        await store.setWorkspaceArchived("w", archived, audited ? { actor: "bench", action: archived ? "workspace.archive" : "workspace.unarchive", subject: "workspace:w", details: { project: 1 } } : undefined);
      }
      return (performance.now() - started) / writes;
    };
    await time(false); // warm-up
    const plain = await time(false);
    const audited = await time(true);
    const entries = (await audit.head()).seq;
    console.log(`\nA change with its audit entry (outbox, then the hash-chained log; SQLite both), ${writes.toLocaleString("en")} changes: ${audited.toFixed(2)} ms each; reference, the same change unaudited: ${plain.toFixed(2)} ms (ratio ${(audited / plain).toFixed(2)}x); ${entries} entries appended, ${await store.pendingAudit()} waiting`);
  } finally {
    await store.close();
    await audit.close();
  }
}

try {
  log(`storing ${total} job requests (3 jobs each) in ${db}`);
  await populate();
  console.log(`\nJob server: ${total.toLocaleString("en")} job requests in the store (SQLite), ${rate} req/s open loop for ${seconds} s each\n`);
  console.log("| server | what | achieved | p50 | p95 | p99 | max | errors |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  let met = true;
  // As deployed (a page of the log is reused for up to a second), and with no reuse at all: every request reads the store.
  for (const [label, cacheMs] of [["log cached 1 s (default)", 1000], ["no cache", 0]] as const) {
    const { url, child } = await startServer(cacheMs);
    try {
      const home = await fetch(`${url}/`);
      const style = /href="(\/static\/[^"]+\.css)"/.exec(await home.text())?.[1];
      if (!style) throw new Error("the event log page names no stylesheet");
      // Warm up: the first requests pay for loading code and filling caches.
      await load(url, ["/", "/api/v1/job-requests", style], rate * 2);
      const reference = await load(url, [style]);
      const page = await load(url, ["/", "/api/v1/job-requests"]);
      console.log(row(`${label}`, "public event log (/ and /api/v1/job-requests)", page));
      console.log(row(`${label}`, "reference: the static stylesheet", reference));
      console.log(`| ${label} | p99 event log / p99 reference | ${(pct(page.latencies, 99) / pct(reference.latencies, 99)).toFixed(2)}x | | | | | |`);
      met &&= pct(page.latencies, 99) < 100 && page.errors === 0;
    } finally {
      child.kill();
    }
  }
  console.log(`\ntarget (p99 < 100 ms at ${rate} req/s, no errors): ${met ? "met" : "NOT met"}`);
  await requestToRunning();
  await auditedWrites();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
