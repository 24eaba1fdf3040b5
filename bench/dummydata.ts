// npm run bench:dummy: generates dummy data for bench/dummydata-definition.ts
// (a realistic cohort, 20 variables) at 1,000 and 10,000 patients, in this
// process, and prints the wall time, how many candidate patients were tried
// and what share of them was in the population, then the share of patients
// for whom each variable is not NULL. It fails when a generated patient is not
// in the population, or the count is not exactly the one asked for.
//
//   npm run bench:dummy -- [--patients 1000,10000] [--seed S]

import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadDefinition } from "../dist/pipeline/definitions.js";
import { DummyTableReader, generateTablesFor } from "../dist/dummydata/index.js";
import { MemoryEngine } from "../dist/engines/memory/index.js";
import type { Row, TableReader } from "../dist/engines/types.js";
import { type Dataset, makeDataset } from "../dist/querymodel/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    patients: { type: "string", default: "1000,10000" },
    seed: { type: "string", default: "1" },
  },
});
const sizes = values.patients!.split(",").map(Number);
const nproc = availableParallelism();
const seed = values.seed!;

async function run(dataset: Dataset, reader: TableReader): Promise<Row[]> {
  const out: Row[] = [];
  for await (const batch of new MemoryEngine(reader).execute(dataset)) out.push(...batch);
  return out;
}

const dataset = await loadDefinition(join(here, "dummydata-definition.ts"));
const names = dataset.variables.map((v) => v.name);
process.stderr.write(`definition: bench/dummydata-definition.ts, ${names.length} variables; seed ${seed}\n`);

const shares: number[][] = [];
let failed = false;
console.log(`\n${nproc} cores; wall time to generate the tables, to run the dataset over them, and both`);
console.log(`${"patients".padStart(8)}  ${"generate".padStart(9)}  ${"dataset".padStart(8)}  ${"total".padStart(7)}  ${"tried".padStart(7)}  ${"accepted".padStart(8)}  in population`);
for (const size of sizes) {
  const t0 = performance.now();
  const generated = await generateTablesFor(
    dataset.population,
    dataset.variables.map((v) => v.series),
    { populationSize: size, seed },
  );
  const t1 = performance.now();
  const reader = new DummyTableReader(generated.tables, generated.rows);
  const rows = await run(dataset, reader);
  const t2 = performance.now();

  // Every patient of every generated table must be one of the population's.
  const inPopulation = await run(makeDataset(dataset.population, []), reader);
  const ids = new Set<number>();
  for (const table of Object.values(generated.rows)) for (const r of table) ids.add(r[0] as number);
  const ok = rows.length === size && inPopulation.length === size && ids.size === size && inPopulation.every((r, i) => r[0] === i + 1);
  failed ||= !ok;

  shares.push(names.map((_, i) => rows.filter((r) => r[i + 1] !== null).length / Math.max(1, rows.length)));
  console.log(
    [
      size.toLocaleString("en").padStart(8),
      `${((t1 - t0) / 1000).toFixed(2)} s`.padStart(9),
      `${((t2 - t1) / 1000).toFixed(2)} s`.padStart(8),
      `${((t2 - t0) / 1000).toFixed(2)} s`.padStart(7),
      generated.tried.toLocaleString("en").padStart(7),
      `${((100 * size) / Math.max(1, generated.tried)).toFixed(1)}%`.padStart(8),
      ok ? `all ${size.toLocaleString("en")}` : `NO: ${inPopulation.length} of ${rows.length} rows (${ids.size} patient ids)`,
    ].join("  "),
  );
}

console.log(`\nnon-NULL share of each variable (${sizes.map((s) => s.toLocaleString("en")).join(" / ")} patients)`);
const width = Math.max(...names.map((n) => n.length));
names.forEach((name, i) => {
  console.log(`  ${name.padEnd(width)}  ${shares.map((s) => `${(100 * s[i]!).toFixed(1)}%`.padStart(6)).join("  ")}`);
});
if (failed) {
  console.error("\nsome generated patients are not in the population, or the count is wrong");
  process.exit(1);
}
