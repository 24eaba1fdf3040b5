// A checker's view of a large table in Airlock: a 5,000-row, 10-column CSV in
// a submitted release request, fetched over HTTP as the output checker sees
// it (the page with its column summary, the check's verdict and the whole
// table), once the server is warm. Airlock runs in this process on
// 127.0.0.1 with SQLite files, behind an in-process stand-in for the job
// server (the pages ask it nothing once the session is made, bar the
// workspace, which is cached). Printed: the median and p95 over the runs, and
// as the reference, in the same run, the time to read and parse the CSV alone.
//
//   npm run build && node --import ./dist/cli/loader/register.js bench/airlock.ts [--rows N] [--runs R]

import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Access, type JobServerApi, startAirlockServer } from "../dist/airlock/index.js";
import { parseTable } from "../dist/sdc/inputs.js";

const { values } = parseArgs({ options: { rows: { type: "string", default: "5000" }, runs: { type: "string", default: "30" } } });
const ROWS = Number(values.rows);
const RUNS = Number(values.runs);
const TARGET_MS = 300;
const log = (s: string) => process.stderr.write(`${s}\n`);

const dir = mkdtempSync(join(tmpdir(), "enclave-bench-airlock-"));
const agentDir = join(dir, "agent");
const airlockDir = join(dir, "airlock");
const CSV = "output/table.csv";

/** A table as studies write them: categories, counts rounded to 5 (some redacted), a midpoint-6 column, rates. */
function table(rows: number): string {
  const regions = ["North East", "North West", "Yorkshire", "East Midlands", "West Midlands", "East", "London", "South East", "South West"];
  const lines = ["practice,region,sex,age_band,year,population,events,events_midpoint6,rate_per_1000,flag"];
  for (let i = 0; i < rows; i++) {
    const population = 1000 + ((i * 7919) % 9000);
    const events = ((i * 104729) % 400) * 5;
    lines.push(
      [
        `P${String(i).padStart(5, "0")}`,
        regions[i % regions.length],
        i % 2 === 0 ? "F" : "M",
        `${(i % 9) * 10}-${(i % 9) * 10 + 9}`,
        2015 + (i % 10),
        population - (population % 5),
        i % 97 === 0 ? "[REDACTED]" : events,
        Math.ceil(((i % 50) + 1) / 6) * 6 - 3,
        ((events / population) * 1000).toFixed(2),
        i % 13 === 0 ? "" : "ok",
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

function agentFolder(content: string): void {
  const metadata = join(agentDir, "workspaces", "ws", "metadata");
  mkdirSync(metadata, { recursive: true });
  mkdirSync(join(agentDir, "level4", "ws", "output"), { recursive: true });
  writeFileSync(join(agentDir, "level4", "ws", ...CSV.split("/")), content);
  const entry = {
    level: "moderately_sensitive",
    action: "analyse",
    job_id: "job-bench",
    job_request: "request-bench",
    user: "alice",
    repo: null,
    commit: "0123456789abcdef0123456789abcdef01234567",
    size: Buffer.byteLength(content),
    timestamp: new Date().toISOString(),
    sha256: createHash("sha256").update(content).digest("hex"),
    excluded: false,
    excluded_reason: null,
    rows: ROWS,
    columns: 10,
  };
  writeFileSync(join(metadata, "manifest.json"), JSON.stringify({ version: 1, workspace: "ws", repo: null, files: { [CSV]: entry } }));
}

const project = { number: 1, name: "Bench", status: "ongoing" as const, category: "approved" };
const workspace = { name: "ws", project: 1, archived: false, repo: "", branch: "main" };
const ACCESS: Record<string, Access> = {
  alice: { globalRoles: [], projectRoles: [{ project: 1, roles: ["ProjectDeveloper"] }], projects: [project], workspaces: [workspace] },
  bob: { globalRoles: ["OutputChecker"], projectRoles: [], projects: [project], workspaces: [workspace] },
};
const jobServer: JobServerApi = {
  login: async (username, password) => {
    if (!(username in ACCESS) || password !== "bench") throw new Error("wrong password");
    return { user: { username, fullName: username }, access: ACCESS[username]! };
  },
  access: async (username) => (username in ACCESS ? { user: { username, fullName: username }, access: ACCESS[username]! } : undefined),
  workspace: async (name) => (name === "ws" ? { workspace, project } : undefined),
  createRelease: async () => {
    throw new Error("the benchmark releases nothing");
  },
  putFile: async () => {
    throw new Error("the benchmark releases nothing");
  },
};

function stats(samples: number[]): { median: number; p95: number; min: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95), min: s[0]!, max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  const content = table(ROWS);
  agentFolder(content);
  log(`a ${ROWS}-row, 10-column CSV (${(Buffer.byteLength(content) / 1024).toFixed(0)} KiB) in ${dir}`);
  const server = await startAirlockServer({ jobServer, backend: "bench", agentDir, airlockDir, uploader: false, log });
  try {
    const alice = { username: "alice", globalRoles: [], projectRoles: { 1: ["ProjectDeveloper" as const] } };
    const t0 = performance.now();
    const view = await server.airlock.addFile(alice, { workspace: "ws", path: CSV, group: "tables" });
    log(`added to request ${view.request.id} with its automated check in ${(performance.now() - t0).toFixed(0)} ms`);
    const id = view.request.id;
    await server.airlock.setGroupText(alice, id, "tables", { context: "events by practice", controls: "rounded to 5, small counts redacted" });
    await server.airlock.submit(alice, id, { confirm: true });

    // The checker's session, as a browser makes it.
    const loginPage = await fetch(`${server.url}/login`);
    const pre = loginPage.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ");
    const csrf = /name="csrf" value="([^"]+)"/.exec(await loginPage.text())![1]!;
    const login = await fetch(`${server.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: pre },
      body: new URLSearchParams({ username: "bob", password: "bench", csrf }).toString(),
      redirect: "manual",
    });
    const cookie = login.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ");
    const url = `${server.url}/requests/${id}/file?path=${encodeURIComponent(CSV)}`;
    const get = async (): Promise<{ ms: number; bytes: number }> => {
      const start = performance.now();
      const res = await fetch(url, { headers: { cookie } });
      const text = await res.text();
      const ms = performance.now() - start;
      if (res.status !== 200 || !text.includes("Column summary") || !text.includes(`<th scope="row">${ROWS}</th>`)) throw new Error(`the viewer answered ${res.status}: ${text.slice(0, 300)}`);
      return { ms, bytes: Buffer.byteLength(text) };
    };
    for (let i = 0; i < 5; i++) await get();
    const page: number[] = [];
    let size = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await get();
      page.push(r.ms);
      size = r.bytes;
    }
    const sorted: number[] = [];
    for (let i = 0; i < 5; i++) await fetch(`${url}&sort=events&dir=desc&filter=${encodeURIComponent("region:North")}`, { headers: { cookie } }).then((r) => r.text());
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      await fetch(`${url}&sort=events&dir=desc&filter=${encodeURIComponent("region:North")}`, { headers: { cookie } }).then((r) => r.text());
      sorted.push(performance.now() - start);
    }
    const parse: number[] = [];
    const file = join(agentDir, "level4", "ws", ...CSV.split("/"));
    for (let i = 0; i < RUNS + 5; i++) {
      const start = performance.now();
      const t = parseTable(CSV, readFileSync(file));
      if (t.rows.length !== ROWS) throw new Error("the CSV did not parse whole");
      if (i >= 5) parse.push(performance.now() - start);
    }
    const p = stats(page);
    const s = stats(sorted);
    const r = stats(parse);
    const ms = (n: number) => `${n.toFixed(1)} ms`;
    process.stdout.write(
      [
        `checker's view of a ${ROWS}-row x 10-column CSV with its summary (GET, ${RUNS} runs, warm; page ${(size / 1024 / 1024).toFixed(2)} MiB):`,
        `  median ${ms(p.median)}   p95 ${ms(p.p95)}   min ${ms(p.min)}   max ${ms(p.max)}`,
        `the same, sorted by a column and filtered (${RUNS} runs):`,
        `  median ${ms(s.median)}   p95 ${ms(s.p95)}`,
        `reference: read and parse the CSV alone (${RUNS} runs):`,
        `  median ${ms(r.median)}   p95 ${ms(r.p95)}`,
        `target: p95 under ${TARGET_MS} ms: ${p.p95 < TARGET_MS ? "met" : "NOT met"} (page/parse median ratio ${(p.median / r.median).toFixed(1)}x)`,
        "",
      ].join("\n"),
    );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
