// Measures compute every interval in one set of SQL statements (the compiler's
// intervals): whatever reads INTERVAL's dates is keyed by patient and interval.
// Here random datasets have their date literals turned into the two interval
// parameters, and each SQL engine's all-intervals run must give, for every
// interval, exactly what the memory engine gives for the dataset with that
// interval's dates filled in.
//
// Settings as in engines.test.ts (ENCLAVE_PROPERTY_RUNS, _SEED, _PATH).

import fc from "fast-check";
import { describe, it } from "vitest";
import { ENGINES } from "../spec/harness.js";
import { DATES, caseArb } from "./generators.js";
import { difference, describeCase, propertyParams } from "./compare.js";
import type { Row } from "../../src/engines/types.js";
import {
  type Dataset,
  INTERVAL_END,
  INTERVAL_START,
  Q,
  makeDataset,
  nodeRewriter,
  parameterSubstituter,
  parseIsoDate,
  walk,
} from "../../src/querymodel/index.js";

const memory = ENGINES.find((e) => e.name === "memory")!;
const DAYS = DATES.map((d) => parseIsoDate(d)!);
const LO = Math.min(...DAYS);
const HI = Math.max(...DAYS);

/** The dataset with every date literal equal to `start` (then `end`) replaced by INTERVAL's parameter. */
function withParameters(dataset: Dataset, start: string, end: string | undefined): Dataset {
  const map = nodeRewriter((n) => {
    if (n.kind !== "Value" || n.type !== "date") return undefined;
    if (n.value === start) return Q.parameter(INTERVAL_START, "date");
    if (n.value === end) return Q.parameter(INTERVAL_END, "date");
    return undefined;
  });
  return makeDataset(map(dataset.population), dataset.variables.map((v) => ({ name: v.name, series: map(v.series) })));
}

/** Date literals within the ordinary range (the extremes stay literal: arithmetic on them is bounded for those values only). */
function dateLiterals(dataset: Dataset): string[] {
  const found = new Set<string>();
  for (const n of walk([dataset.population, ...dataset.variables.map((v) => v.series)])) {
    if (n.kind === "Value" && n.type === "date" && typeof n.value === "string") {
      const d = parseIsoDate(n.value)!;
      if (d >= LO && d <= HI) found.add(n.value);
    }
  }
  return [...found];
}

const intervalsArb = fc.array(fc.tuple(fc.constantFrom(...DATES), fc.constantFrom(...DATES)), { minLength: 1, maxLength: 4 });

describe("all intervals at once agree with one run per interval", () => {
  for (const engine of ENGINES.filter((e) => e.sql)) {
    const params = propertyParams(engine.name);
    const numRuns = Math.max(10, Math.round((params.numRuns ?? 100) / 2));
    it(`${engine.name} (${numRuns} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, intervalsArb, async ({ dataset, tables }, intervals) => {
          const literals = dateLiterals(dataset);
          fc.pre(literals.length > 0);
          const ds = withParameters(dataset, literals[0]!, literals[1]);
          const rows: Row[] = [];
          for await (const batch of engine.sql!(tables).executeIntervals(ds, { parameters: [INTERVAL_START, INTERVAL_END], values: intervals })) rows.push(...batch);
          for (const [k, [start, end]] of intervals.entries()) {
            const sub = parameterSubstituter({ [INTERVAL_START]: start, [INTERVAL_END]: end });
            const one = makeDataset(sub(ds.population), ds.variables.map((v) => ({ name: v.name, series: sub(v.series) })));
            const expected = await memory.run(one, tables);
            const actual = rows.filter((r) => r[1] === k).map((r) => [r[0]!, ...r.slice(2)]);
            const diff = difference(one, expected, actual);
            if (diff) {
              throw new Error(`interval ${k} (${start} to ${end}): ${diff}\nmemory: ${JSON.stringify(expected)}\n${engine.name}: ${JSON.stringify(actual)}\ncase: ${describeCase(ds, tables)}`);
            }
          }
        }),
        { ...params, numRuns },
      );
    }, 600_000);
  }
});
