// Running one random case on two engines and comparing the results, and the
// settings of the property runs (seed, number of runs) from the environment.

import fc from "fast-check";
import type { SpecEngine } from "../spec/harness.js";
import type { Row } from "../../src/engines/types.js";
import { type Dataset, type Scalar, type SeriesType, datasetFromJson, datasetToJson } from "../../src/querymodel/index.js";
import type { Tables } from "./generators.js";

/** Floats agree when within 1e-9, relative to the larger magnitude (absolute below 1). -0 equals 0. */
export function sameScalar(a: Scalar | undefined, b: Scalar | undefined, type: SeriesType): boolean {
  if (a === null || b === null || a === undefined || b === undefined) return a === b;
  if (type === "float" && typeof a === "number" && typeof b === "number") {
    return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  if (type === "int" && (!Number.isInteger(a) || !Number.isInteger(b))) return false;
  return a === b;
}

/** The first difference between two results, described; undefined when they agree. */
export function difference(dataset: Dataset, expected: readonly Row[], actual: readonly Row[]): string | undefined {
  const types: SeriesType[] = ["int", ...dataset.variables.map((v) => v.series.type)];
  const names = ["patient_id", ...dataset.variables.map((v) => v.name)];
  const ids = (rows: readonly Row[]) => rows.map((r) => r[0]).join(",");
  if (ids(expected) !== ids(actual)) return `patients differ: memory [${ids(expected)}], other [${ids(actual)}]`;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!, a = actual[i]!;
    if (a.length !== e.length) return `row ${i}: ${a.length} values, expected ${e.length}`;
    for (let j = 1; j < e.length; j++) {
      if (!sameScalar(e[j], a[j], types[j]!)) {
        return `patient ${String(e[0])}, ${names[j]} (${types[j]}): memory ${JSON.stringify(e[j])}, other ${JSON.stringify(a[j])}`;
      }
    }
  }
  return undefined;
}

/** What a counterexample shows: the query model JSON and the rows. */
export function describeCase(dataset: Dataset, tables: Tables): string {
  return JSON.stringify({ dataset: datasetToJson(dataset), tables });
}

/**
 * Runs the dataset (after a JSON round trip, as the trusted side receives it)
 * on the memory engine and on `engine`; throws on any difference.
 */
export async function checkAgainstMemory(memory: SpecEngine, engine: SpecEngine, dataset: Dataset, tables: Tables): Promise<void> {
  const ds = datasetFromJson(JSON.parse(JSON.stringify(datasetToJson(dataset))));
  const expected = await memory.run(ds, tables);
  let actual: Row[];
  try {
    actual = await engine.run(ds, tables);
  } catch (e) {
    throw new Error(`${engine.name} failed: ${(e as Error).message}`, { cause: e });
  }
  const diff = difference(ds, expected, actual);
  if (diff) {
    throw new Error(
      `${engine.name} disagrees with memory: ${diff}\nmemory: ${JSON.stringify(expected)}\n${engine.name}: ${JSON.stringify(actual)}`,
    );
  }
}

// ==========================================================================
// SETTINGS
// ==========================================================================

/** The default seed: runs are reproducible unless ENCLAVE_PROPERTY_SEED says otherwise. */
export const DEFAULT_SEED = 20240229;

export function propertyParams(engine: string): fc.Parameters<unknown> {
  const runs = process.env.ENCLAVE_PROPERTY_RUNS;
  const seedEnv = process.env.ENCLAVE_PROPERTY_SEED;
  const path = process.env.ENCLAVE_PROPERTY_PATH;
  const numRuns = runs ? Number(runs) : engine === "postgres" ? 60 : 150;
  const seed = seedEnv === undefined ? DEFAULT_SEED : seedEnv === "random" ? Date.now() ^ (Math.random() * 0x100000000) : Number(seedEnv);
  return {
    numRuns,
    seed,
    ...(path ? { path, endOnFailure: true } : {}),
    // A failure prints the seed, the path and the shrunk counterexample.
    verbose: fc.VerbosityLevel.None,
    interruptAfterTimeLimit: Number(process.env.ENCLAVE_PROPERTY_TIME_LIMIT_MS ?? 0) || undefined,
  };
}
