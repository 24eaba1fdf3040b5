// Running the built `enclave` command as a user would: a subprocess, on
// definitions written into fresh folders that have no node_modules anywhere
// above them, so that `import ... from "enclave"` is really resolved by Enclave.

import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(ROOT, "bin", "enclave.js");
const BUILT = path.join(ROOT, "dist", "cli", "main.js");

/** Builds dist/ if a source file is newer than it (once, even with test files running in parallel). */
export function ensureBuilt(): void {
  if (!stale()) return;
  const lock = path.join(os.tmpdir(), `enclave-build-${Buffer.from(ROOT).toString("hex").slice(-32)}.lock`);
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // Another test file is building; a lock left by a run that died is cleared after two minutes.
      const since = fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs;
      if (since !== undefined && Date.now() - since > 120_000) fs.rmSync(lock, { recursive: true, force: true });
      sleep(200);
      if (!fs.existsSync(lock) && !stale()) return;
    }
  }
  try {
    if (stale()) {
      const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
      const { status, stdout, stderr } = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT, encoding: "utf8" });
      if (status !== 0) throw new Error(`the build failed:\n${stdout}${stderr}`);
    }
  } finally {
    fs.rmdirSync(lock);
  }
}

function stale(): boolean {
  if (!fs.existsSync(BUILT)) return true;
  const built = fs.statSync(BUILT).mtimeMs;
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
    }, 0);
  return newest(path.join(ROOT, "src")) > built || fs.statSync(path.join(ROOT, "package.json")).mtimeMs > built;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const studies: string[] = [];

/** A fresh folder under the system's temporary folder, holding `files` (path → text). */
export function study(files: Record<string, string>): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-cli-")));
  studies.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Removes the folders that study() made. */
export function removeStudies(): void {
  for (const dir of studies.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `enclave ...args` in `cwd`, with the environment `env` added to this one. */
export function enclave(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Table files for `people` and `events`, the tables of DEFINITION below. */
export const TABLES = {
  "tables/people.csv": "patient_id,date_of_birth,sex\n1,1980-05-01,female\n2,2001-12-31,male\n3,,\n",
  "tables/events.csv": "patient_id,date,code,value\n1,2020-01-01,123456,1.5\n1,2021-06-01,123456,\n2,2019-03-03,654321,2.25\n",
};

/** A small definition over those tables. */
export const DEFINITION = `
import { createDataset, eventTable, patientTable } from "enclave";

const people = patientTable("people", { date_of_birth: "date", sex: "str" });
const events = eventTable("events", { date: "date", code: "snomedct", value: "float" });

const dataset = createDataset();
dataset.definePopulation(people.existsForPatient());
dataset.addColumn("sex", people.sex);
dataset.addColumn("events", events.countForPatient());
dataset.addColumn("last_value", events.sortBy(events.date).lastForPatient().value);
export default dataset;
`;
