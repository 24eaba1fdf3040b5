// The runner's overhead per action: `enclave run ACTION` (parse project.yaml,
// stage a fresh folder, the sandbox, match and copy outputs, level 4 checks,
// log and manifest) against running the same action's command directly in the
// study's folder, for a node:v1 script that does nothing and an enclave:v1
// generate-dataset on dummy data. Median of --runs (default 5) each.
//
//   node --import ./dist/cli/loader/register.js bench/runner.ts [--runs R]

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
const bin = join(root, "bin", "enclave.js");

const study = mkdtempSync(join(tmpdir(), "enclave-bench-runner-"));
const files: Record<string, string> = {
  "project.yaml": [
    "version: 4",
    "actions:",
    "  noop:",
    "    run: node:v1 analysis/noop.ts",
    "    outputs:",
    "      moderately_sensitive:",
    "        note: output/noop.txt",
    "  dataset:",
    "    run: enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv",
    "    outputs:",
    "      highly_sensitive:",
    "        dataset: output/dataset.csv",
    "",
  ].join("\n"),
  "analysis/noop.ts": `import { mkdirSync, writeFileSync } from "node:fs";\nmkdirSync("output", { recursive: true });\nwriteFileSync("output/noop.txt", "done\\n");\n`,
  "analysis/dataset_definition.ts": [
    `import { createDataset } from "enclave";`,
    `import { patients, practiceRegistrations } from "enclave/tables/core";`,
    `const dataset = createDataset();`,
    `dataset.definePopulation(practiceRegistrations.existsForPatientOn("2024-01-01"));`,
    `dataset.addColumn("age", patients.ageOn("2024-01-01"));`,
    `dataset.addColumn("sex", patients.sex);`,
    `export default dataset;`,
    ``,
  ].join("\n"),
};
for (const [name, text] of Object.entries(files)) {
  mkdirSync(dirname(join(study, name)), { recursive: true });
  writeFileSync(join(study, name), text);
}

const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: study, LANG: "C.UTF-8", TZ: "UTC" };
function time(command: string, args: string[]): number {
  const start = performance.now();
  const r = spawnSync(command, args, { cwd: study, env, encoding: "utf8" });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return ms;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const best = (f: () => number) => median(Array.from({ length: runs }, f));

const rows: string[] = [];
for (const [action, direct] of [
  ["noop", [process.execPath, "--import", join(root, "dist/cli/loader/register-script.js"), "analysis/noop.ts"]],
  ["dataset", [process.execPath, bin, "generate-dataset", "analysis/dataset_definition.ts", "--output", "output/dataset.csv"]],
] as const) {
  const alone = best(() => time(direct[0], direct.slice(1)));
  // -f is not needed: a requested action always reruns.
  const viaRunner = best(() => time(process.execPath, [bin, "run", action]));
  rows.push(
    [action.padEnd(8), `${(alone / 1000).toFixed(2)} s`.padStart(9), `${(viaRunner / 1000).toFixed(2)} s`.padStart(11), `${((viaRunner - alone) / 1000).toFixed(2)} s`.padStart(9), `${(viaRunner / alone).toFixed(2)}x`.padStart(7)].join("  "),
  );
}
rmSync(study, { recursive: true, force: true });
console.log(`\nrunner overhead per action (median of ${runs}; enclave run ACTION against the action's command run directly)`);
console.log(["action".padEnd(8), "directly".padStart(9), "enclave run".padStart(11), "overhead".padStart(9), "ratio".padStart(7)].join("  "));
for (const r of rows) console.log(r);
