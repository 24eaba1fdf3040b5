// Running measures: the worked example by hand, disclosure control and its
// rounding, and every engine agreeing with the memory engine.

import { describe, expect, it } from "vitest";
import { createMeasures, eventTable, months, patientTable, weeks, INTERVAL } from "../../src/language/index.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyDisclosureControl, totalsByInterval } from "../../src/engines/measures.js";
import { INTERVAL_END, INTERVAL_START, Q, type Schema, denominatorPopulation, measuresColumns } from "../../src/querymodel/index.js";
import type { IntervalTotalsQuery, Row } from "../../src/engines/types.js";
import { DuckdbConnection, SqlEngine, SqliteConnection, loadTable } from "../../src/engines/sql/index.js";
import { ENGINES, EXPECTED_WITHOUT_DISCLOSURE_CONTROL, TABLES, exampleMeasures, run } from "./fixtures.js";

const memory = ENGINES[0]!;

describe("the worked example", () => {
  it("has the columns in order: the fixed ones, then group-by columns by first appearance", () => {
    expect(measuresColumns(exampleMeasures(false))).toEqual([
      { name: "measure", type: "str" },
      { name: "interval_start", type: "date" },
      { name: "interval_end", type: "date" },
      { name: "ratio", type: "float" },
      { name: "numerator", type: "int" },
      { name: "denominator", type: "int" },
      { name: "sex", type: "str" },
      { name: "ever", type: "bool" },
    ]);
  });

  it("gives the hand-computed rows without disclosure control", async () => {
    expect(await run(memory.make(TABLES), exampleMeasures(false))).toEqual(EXPECTED_WITHOUT_DISCLOSURE_CONTROL);
  });

  it("with disclosure control (the default), counts of 7 or less are 0 and the ratio of a 0 denominator is NULL", async () => {
    const expected = EXPECTED_WITHOUT_DISCLOSURE_CONTROL.map((r) => [r[0], r[1], r[2], null, 0, 0, r[6], r[7]]);
    expect(await run(memory.make(TABLES), exampleMeasures(true))).toEqual(expected);
  });
});

describe("disclosure control", () => {
  it("suppresses 7 or less, then rounds to the nearest 5", () => {
    const cases: [number, number][] = [[0, 0], [1, 0], [7, 0], [8, 10], [9, 10], [10, 10], [12, 10], [13, 15], [22, 20], [23, 25], [27, 25], [28, 30], [1002, 1000], [1003, 1005]];
    for (const [v, want] of cases) expect(applyDisclosureControl(v), `${v}`).toBe(want);
    expect(() => applyDisclosureControl(-1)).toThrow(/0 or more/);
  });

  // Group → [denominator, numerator]: a patient per unit, each registered; the numerator flags the first ones.
  const GROUPS: Record<string, [number, number]> = { a: [23, 9], b: [12, 3], c: [5, 5], d: [13, 8], e: [22, 22] };
  const p = patientTable("p", { grp: "str", flag: "bool" });
  const rows: Row[] = [];
  for (const [g, [den, num]] of Object.entries(GROUPS)) for (let i = 0; i < den; i++) rows.push([rows.length + 1, g, i < num]);

  function measures(enabled: boolean) {
    const m = createMeasures();
    m.defineMeasure("flagged", { numerator: p.flag, denominator: p.grp.isNotNull(), groupBy: { grp: p.grp }, intervals: [["2024-01-01", "2024-12-31"]] });
    if (!enabled) m.configureDisclosureControl({ enabled: false });
    return m.toQueryModel();
  }

  it("computes the ratio from the rounded counts", async () => {
    const I = ["2024-01-01", "2024-12-31"];
    expect(await run(memory.make({ p: rows }), measures(true))).toEqual([
      ["flagged", ...I, 10 / 25, 10, 25, "a"],
      ["flagged", ...I, 0, 0, 10, "b"],
      ["flagged", ...I, null, 0, 0, "c"],
      ["flagged", ...I, 10 / 15, 10, 15, "d"],
      ["flagged", ...I, 1, 20, 20, "e"],
    ]);
  });

  it("can be turned off", async () => {
    const I = ["2024-01-01", "2024-12-31"];
    expect(await run(memory.make({ p: rows }), measures(false))).toEqual([
      ["flagged", ...I, 9 / 23, 9, 23, "a"],
      ["flagged", ...I, 3 / 12, 3, 12, "b"],
      ["flagged", ...I, 1, 5, 5, "c"],
      ["flagged", ...I, 8 / 13, 8, 13, "d"],
      ["flagged", ...I, 1, 22, 22, "e"],
    ]);
  });
});

describe.each(ENGINES)("which patients and rows count ($name)", ({ make }) => {
  it("gives no rows for an interval in which no patient is in the denominator", async () => {
    const e = eventTable("events", { date: "date", value: "int" });
    const m = createMeasures();
    m.configureDisclosureControl({ enabled: false });
    const during = e.where(e.date.isDuring(INTERVAL));
    m.defineMeasure("any", { numerator: during.existsForPatient(), denominator: during.existsForPatient(), groupBy: {}, intervals: weeks(3).startingOn("2023-01-01") });
    const got = await run(make(TABLES), m.toQueryModel());
    // Events on 2 and 5 January (week 1) and 10 and 15 January (week 2); none in week 3.
    expect(got).toEqual([
      ["any", "2023-01-01", "2023-01-07", 1, 2, 2],
      ["any", "2023-01-08", "2023-01-14", 1, 1, 1],
      ["any", "2023-01-15", "2023-01-21", 1, 2, 2],
    ]);
  });

  it("uses INTERVAL.startDate and endDate in any series; a NULL group value is a group of its own", async () => {
    const people = patientTable("people", { sex: "str", registered: "bool" });
    const e = eventTable("events", { date: "date", value: "int" });
    const m = createMeasures();
    m.configureDisclosureControl({ enabled: false });
    const before = e.where(e.date.isBefore(INTERVAL.startDate)).existsForPatient();
    m.defineMeasure("seen_before", {
      numerator: before,
      denominator: e.where(e.date.isOnOrBefore(INTERVAL.endDate)).existsForPatient().or(people.registered.isNotNull()),
      groupBy: { registered: people.registered },
      intervals: months(1).endingOn("2023-02-28"),
    });
    // Denominator: 1, 2, 3, 6 (registered T), 4 (F), 7 (events, no people row: NULL); not 5 (NULL, no events).
    // Events before 1 February: 1, 2, 4, 7.
    expect(await run(make(TABLES), m.toQueryModel())).toEqual([
      ["seen_before", "2023-02-01", "2023-02-28", 0.5, 2, 4, true],
      ["seen_before", "2023-02-01", "2023-02-28", 1, 1, 1, false],
      ["seen_before", "2023-02-01", "2023-02-28", 1, 1, 1, null],
    ]);
  });
});

describe.each(ENGINES.slice(1))("the $name engine", ({ make }) => {
  it("gives what the memory engine gives, with and without disclosure control", { timeout: 30_000 }, async () => {
    expect(await run(make(TABLES), exampleMeasures(false))).toEqual(EXPECTED_WITHOUT_DISCLOSURE_CONTROL);
    expect(await run(make(TABLES), exampleMeasures(true))).toEqual(await run(memory.make(TABLES), exampleMeasures(true)));
  });
});

describe.each(ENGINES.slice(1))("the $name engine computes all intervals together", ({ make }) => {
  it("the same totals, in the same order, as one run per interval", { timeout: 30_000 }, async () => {
    const m = exampleMeasures(false);
    const engine = make(TABLES);
    const first = m.measures[0]!;
    const query: IntervalTotalsQuery = {
      population: denominatorPopulation(first.denominator),
      columns: [Q.fn("CastToInt", first.numerator), Q.fn("CastToInt", first.denominator), ...first.groupBy.map((g) => g.series)],
      parameters: [INTERVAL_START, INTERVAL_END],
      intervals: first.intervals,
      groupings: [{ numerator: 0, denominator: 1, groups: [2] }, { numerator: 0, denominator: 1, groups: [] }],
    };
    expect(engine.intervalTotals).toBeDefined();
    const together = await engine.intervalTotals!(query);
    expect(together).toEqual(await totalsByInterval(engine, query));
    expect(together[1]!.map((t) => [t.interval, t.numerator, t.denominator])).toEqual([[0, 2, 4], [1, 2, 4], [2, 1, 4]]);
  });
});

describe.each(["sqlite", "duckdb"] as const)("measures on a %s backend", (kind) => {
  const people = patientTable("people", { sex: "str", registered: "bool" });
  const OPTOUT: Record<string, Row[]> = {
    ...TABLES,
    patients_with_type_one_dissent: [[2]],
    patients_without_ndoo: [[1], [2], [3], [4], [5], [6], [7]],
  };
  async function backend(permissions: string[]): Promise<SqlEngine> {
    const dir = mkdtempSync(join(tmpdir(), "enclave-measures-"));
    const file = join(dir, `backend.${kind}`);
    const conn = kind === "sqlite" ? new SqliteConnection(file, { create: true }) : await DuckdbConnection.open(file);
    for (const [name, rows] of Object.entries(OPTOUT)) {
      const schema = name === "people" ? { sex: "str", registered: "bool" } : name === "events" ? { date: "date", value: "int" } : {};
      await loadTable(conn, { name, schema: schema as Schema, patientLevel: name !== "events" }, rows);
    }
    await conn.close();
    const connect = async () => (kind === "sqlite" ? new SqliteConnection(file, { readonly: true }) : DuckdbConnection.open(file, { readonly: true }));
    return new SqlEngine(kind, connect, { backend: { permissions } });
  }
  function measures() {
    const m = createMeasures();
    m.configureDisclosureControl({ enabled: false });
    m.defineMeasure("registered", { numerator: people.registered, denominator: people.existsForPatient(), groupBy: { sex: people.sex }, intervals: [["2023-01-01", "2023-12-31"]] });
    return m.toQueryModel();
  }

  it("leaves out patients with a type 1 opt-out, unless the project may include them", { timeout: 30_000 }, async () => {
    const I = ["2023-01-01", "2023-12-31"];
    // People 1-6 (registered: F 1, 3, 6 and 5 NULL; M 2 and 4 false); patient 2 opted out.
    expect(await run(await backend([]), measures())).toEqual([
      ["registered", ...I, 3 / 4, 3, 4, "F"],
      ["registered", ...I, 0, 0, 1, "M"],
    ]);
    expect(await run(await backend(["include_t1oo"]), measures())).toEqual([
      ["registered", ...I, 3 / 4, 3, 4, "F"],
      ["registered", ...I, 1 / 2, 1, 2, "M"],
    ]);
  });
});
