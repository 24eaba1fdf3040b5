// The property has teeth: SQLite engines with small, deliberate bugs in their
// dialect (the kind a real dialect could have) are each caught within a few
// hundred random cases.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ENGINES, type SpecEngine } from "../spec/harness.js";
import { SqlEngine, SqliteConnection } from "../../src/engines/sql/index.js";
import type { SqliteDialect } from "../../src/engines/sql/sqlite.js";
import { RowsTableReader } from "../../src/engines/files/index.js";
import type { Row } from "../../src/engines/types.js";
import { caseArb } from "./generators.js";
import { DEFAULT_SEED, checkAgainstMemory } from "./compare.js";

const MUTANTS: Record<string, (d: SqliteDialect) => void> = {
  "addMonths without the roll-forward to the 1st": (d) => {
    d.addMonths = (x, n) => `date(${x}, (${n}) || ' months')`;
  },
  "contains with LIKE (% and _ as wildcards)": (d) => {
    d.contains = (h, n) => `(${h} LIKE '%' || ${n} || '%')`;
  },
  "greatest that is NULL when any argument is": (d) => {
    d.greatest = (a) => `MAX(${a.join(", ")})`;
  },
  "date difference off by one from Feb 29": (d) => {
    const diff = d.diffDays.bind(d);
    d.diffDays = (a, b) => `(${diff(a, b)} + (CASE WHEN ${a} = '2020-02-29' THEN 1 ELSE 0 END))`;
  },
  "float to int rounding instead of truncating": (d) => {
    d.truncToInt = (x) => `CAST(ROUND(${x}) AS INTEGER)`;
  },
};

function mutant(name: string, mutate: (d: SqliteDialect) => void): SpecEngine {
  return {
    name,
    run: async (dataset, tables) => {
      const connect = async () => {
        const c = new SqliteConnection();
        mutate(c.dialect);
        return c;
      };
      const rows: Row[] = [];
      for await (const batch of new SqlEngine(name, connect, { tables: new RowsTableReader(tables) }).execute(dataset)) rows.push(...batch);
      return rows;
    },
  };
}

const memory = ENGINES.find((e) => e.name === "memory")!;

describe("the property catches a deliberately broken dialect", () => {
  for (const [name, mutate] of Object.entries(MUTANTS)) {
    it(name, async () => {
      const engine = mutant(name, mutate);
      const out = await fc.check(
        fc.asyncProperty(caseArb, ({ dataset, tables }) => checkAgainstMemory(memory, engine, dataset, tables)),
        { numRuns: 400, seed: DEFAULT_SEED, endOnFailure: true },
      );
      expect(out.failed, `not caught in ${out.numRuns} runs`).toBe(true);
    }, 120_000);
  }
});
