// What the agent's tests share: a git repository holding a small study, a
// synthetic backend database, and folders that are removed afterwards.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DuckdbConnection } from "../../src/engines/sql/index.js";
import { BIN } from "../cli/helpers.js";
import { commitFiles, git } from "../support/git.js";

const made: string[] = [];

export function tempDir(prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A git repository; commit() writes files (path → text, null to delete) and commits them, returning the commit's hash. */
export class Repo {
  readonly dir = tempDir("enclave-agent-repo-");

  constructor() {
    git(this.dir, "init", "--quiet", "--initial-branch=main");
  }

  commit(files: Record<string, string | null>, message = "change"): string {
    return commitFiles(this.dir, files, message);
  }
}

/** A synthetic backend in a DuckDB file (core tables), made with `enclave synth`. */
export function makeDatabase(patients = 40): string {
  const file = path.join(tempDir("enclave-agent-db-"), "backend.duckdb");
  const r = spawnSync(process.execPath, [BIN, "synth", "--patients", String(patients), "--tables", "core", "--seed", "5", "--dsn", `duckdb://${file}`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`enclave synth failed:\n${r.stderr}`);
  return `duckdb://${file}`;
}

/** The study: a dataset from the database (level 3), and an aggregate of it (level 4). */
export const STUDY: Record<string, string> = {
  "project.yaml": `version: 4
actions:
  generate_dataset:
    run: enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv
    outputs:
      highly_sensitive:
        dataset: output/dataset.csv
  aggregate:
    run: node:v1 analysis/aggregate.mjs
    needs: [generate_dataset]
    outputs:
      moderately_sensitive:
        counts: output/counts.csv
        environment: output/environment.json
`,
  "analysis/dataset_definition.ts": `import { createDataset } from "enclave";
import { patients } from "enclave/tables/core";

const dataset = createDataset();
dataset.configureDummyData({ populationSize: 10 });
dataset.definePopulation(patients.sex.isNotNull());
dataset.addColumn("sex", patients.sex);
export default dataset;
`,
  // Counts by sex, and the names of the variables in its environment.
  "analysis/aggregate.mjs": `import * as fs from "node:fs";
const rows = fs.readFileSync("output/dataset.csv", "utf8").trim().split("\\n").slice(1);
const counts = new Map();
for (const row of rows) {
  const sex = row.split(",")[1];
  counts.set(sex, (counts.get(sex) ?? 0) + 1);
}
fs.writeFileSync("output/counts.csv", "sex,patients\\n" + [...counts].sort().map(([s, n]) => s + "," + n).join("\\n") + "\\n");
fs.writeFileSync("output/environment.json", JSON.stringify(Object.keys(process.env).sort()));
console.log("aggregated " + rows.length + " rows");
`,
};

/** A project.yaml of node:v1 actions, each running analysis/act.mjs with its arguments (see ACT). */
export function nodeProject(actions: Record<string, { args: string; outputs: Record<string, string>; needs?: string[]; level?: "highly_sensitive" | "moderately_sensitive" }>): string {
  let yaml = "version: 4\nactions:\n";
  for (const [name, a] of Object.entries(actions)) {
    yaml += `  ${name}:\n    run: node:v1 analysis/act.mjs ${a.args}\n`;
    if (a.needs) yaml += `    needs: [${a.needs.join(", ")}]\n`;
    yaml += `    outputs:\n      ${a.level ?? "moderately_sensitive"}:\n`;
    for (const [k, p] of Object.entries(a.outputs)) yaml += `        ${k}: ${p}\n`;
  }
  return yaml;
}

/**
 * A script that does what its arguments say, in order:
 *   sleep MS            waits
 *   write FILE TEXT     writes TEXT to FILE
 *   times FILE          writes {"start": ..., "end": ...} (ms since the epoch) at the end, start taken now
 *   print TEXT          prints TEXT
 *   exit N              exits with N
 */
export const ACT = `import * as fs from "node:fs";
import * as path from "node:path";
const args = process.argv.slice(2);
const start = Date.now();
let times;
for (let i = 0; i < args.length; ) {
  const op = args[i++];
  if (op === "sleep") await new Promise((r) => setTimeout(r, Number(args[i++])));
  else if (op === "write") { const f = args[i++]; fs.mkdirSync(path.dirname(f), { recursive: true }); fs.writeFileSync(f, args[i++] + "\\n"); }
  else if (op === "times") times = args[i++];
  else if (op === "print") console.log(args[i++]);
  else if (op === "exit") process.exit(Number(args[i++]));
  else throw new Error("unknown op " + op);
}
if (times) { fs.mkdirSync(path.dirname(times), { recursive: true }); fs.writeFileSync(times, JSON.stringify({ start, end: Date.now() })); }
`;

/** The first column of a query on a DuckDB file, as sorted numbers (patient ids, mostly). */
export async function queryColumn(dbFile: string, sql: string): Promise<number[]> {
  const conn = await DuckdbConnection.open(dbFile, { readonly: true });
  try {
    const out: number[] = [];
    for await (const batch of conn.query(sql)) for (const row of batch) out.push(Number(row[0]));
    return out.sort((a, b) => a - b);
  } finally {
    await conn.close();
  }
}
