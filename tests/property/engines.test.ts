// Property-based differential tests: on random tables (NULLs, edge values,
// duplicate rows, ties, patients in one table only) and random well-typed
// datasets (every function and aggregation, Case, sets short and long, filter
// chains, sorts with several keys, first/last picks, inline tables), every
// engine gives exactly what the memory engine gives: the same patients, the
// same values (floats within 1e-9).
//
// Settings (environment):
//   ENCLAVE_PROPERTY_RUNS=n     runs per engine (default 150; 60 for postgres)
//   ENCLAVE_PROPERTY_SEED=s     the seed (default fixed, see compare.ts); "random" for a fresh one
//   ENCLAVE_PROPERTY_PATH=p     replay one case: with the seed fast-check printed
//   ENCLAVE_TEST_POSTGRES_URL   adds postgres, as in the spec tests
//
// To reproduce a failure, take the `seed` and `path` from fast-check's report:
//   ENCLAVE_PROPERTY_SEED=<seed> ENCLAVE_PROPERTY_PATH=<path> npx vitest run tests/property/engines.test.ts -t <engine>
// The report also prints the shrunk counterexample: the dataset as query-model
// JSON (`datasetFromJson` reads it back) and the table rows.

import fc from "fast-check";
import { describe, it } from "vitest";
import { ENGINES } from "../spec/harness.js";
import { caseArb } from "./generators.js";
import { checkAgainstMemory, describeCase, propertyParams } from "./compare.js";

const memory = ENGINES.find((e) => e.name === "memory")!;

describe("every engine agrees with the memory engine on random datasets", () => {
  for (const engine of ENGINES.filter((e) => e !== memory)) {
    const params = propertyParams(engine.name);
    it(
      `${engine.name} (${params.numRuns} runs)`,
      async () => {
        await fc.assert(
          fc.asyncProperty(caseArb, async ({ dataset, tables }) => {
            await checkAgainstMemory(memory, engine, dataset, tables);
          }),
          { ...params, reporter: reporterFor(engine.name) },
        );
      },
      // Generous: shrinking a failure runs the engines many more times.
      600_000,
    );
  }
});

/** fast-check's default report, plus the counterexample as JSON one can paste into a test. */
function reporterFor(engine: string) {
  return (out: fc.RunDetails<unknown>) => {
    if (!out.failed) return;
    const [c] = (out.counterexample ?? []) as [{ dataset: Parameters<typeof describeCase>[0]; tables: Parameters<typeof describeCase>[1] }?];
    const json = c ? describeCase(c.dataset, c.tables) : "(none)";
    throw new Error(
      `[${engine}] property failed after ${out.numRuns} runs (seed ${out.seed}, path "${out.counterexamplePath}", ${out.numShrinks} shrinks)\n` +
        `replay: ENCLAVE_PROPERTY_SEED=${out.seed} ENCLAVE_PROPERTY_PATH="${out.counterexamplePath}" npx vitest run tests/property/engines.test.ts -t ${engine}\n` +
        `${out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance)}\n` +
        `counterexample: ${json}`,
    );
  };
}
