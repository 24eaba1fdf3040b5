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
//   npm run bench:jobserver -- [--requests N] [--rate R] [--seconds S]

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Store } from "../dist/jobserver/store.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "10000" },
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "15" },
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

function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(root, "bin/enclave.js"), "jobserver", "--db", db, "--audit-db", auditDb, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
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
            latencies.push(performance.now() - due);
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

function row(name: string, r: Result): string {
  const l = r.latencies;
  return `| ${name} | ${(l.length / r.elapsed).toFixed(0)} req/s | ${pct(l, 50).toFixed(1)} ms | ${pct(l, 95).toFixed(1)} ms | ${pct(l, 99).toFixed(1)} ms | ${l[l.length - 1]!.toFixed(1)} ms | ${r.errors} |`;
}

try {
  log(`storing ${total} job requests (3 jobs each) in ${db}`);
  await populate();
  const { url, child } = await startServer();
  try {
    // Warm up: the first requests pay for loading code and filling caches.
    await load(url, ["/", "/api/v1/job-requests", "/static/style.css"], rate * 2);
    const reference = await load(url, ["/static/style.css"]);
    const page = await load(url, ["/", "/api/v1/job-requests"]);
    console.log(`\nJob server: ${total.toLocaleString("en")} job requests in the store (SQLite), ${rate} req/s open loop for ${seconds} s each\n`);
    console.log("| what | achieved | p50 | p95 | p99 | max | errors |");
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    console.log(row("public event log (/ and /api/v1/job-requests)", page));
    console.log(row("reference: /static/style.css", reference));
    console.log(`\np99 event log / p99 reference: ${(pct(page.latencies, 99) / pct(reference.latencies, 99)).toFixed(2)}x; target p99 < 100 ms: ${pct(page.latencies, 99) < 100 ? "met" : "NOT met"}`);
  } finally {
    child.kill();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
