// The worked example shared by the measures tests: two small tables, four
// measures over three monthly intervals, and the engines to run them on.

import { INTERVAL, createMeasures, eventTable, months, patientTable } from "../../src/language/index.js";
import { MemoryEngine } from "../../src/engines/memory/index.js";
import { RowsTableReader } from "../../src/engines/files/index.js";
import { runMeasures } from "../../src/engines/measures.js";
import type { Engine, Row } from "../../src/engines/types.js";
import { DuckdbConnection, PostgresConnection, SqlEngine, SqliteConnection } from "../../src/engines/sql/index.js";
import type { Measures as QMeasures } from "../../src/querymodel/index.js";

export const people = patientTable("people", { sex: "str", registered: "bool" });
export const events = eventTable("events", { date: "date", value: "int" });

/** [patient_id, sex, registered] and [patient_id, date, value]. Patient 7 has events but no people row. */
export const TABLES: Record<string, Row[]> = {
  people: [
    [1, "F", true],
    [2, "M", true],
    [3, "F", true],
    [4, "M", false],
    [5, "F", null],
    [6, "F", true],
  ],
  events: [
    [1, "2023-01-05", 2],
    [1, "2023-01-20", 3],
    [1, "2023-02-10", null],
    [2, "2023-01-15", 5],
    [3, "2023-02-01", 1],
    [3, "2023-03-31", 4],
    [4, "2023-01-10", 7],
    [7, "2023-01-02", 10],
  ],
};

/** The example's measures, with disclosure control as given. */
export function exampleMeasures(disclosureControl: boolean): QMeasures {
  const inInterval = events.where(events.date.isDuring(INTERVAL));
  const measures = createMeasures();
  measures.defineDefaults({ denominator: people.registered, intervals: months(3).startingOn("2023-01-01"), groupBy: { sex: people.sex } });
  // bool numerator, bool denominator
  measures.defineMeasure("had_event", { numerator: inInterval.existsForPatient() });
  // int numerator, NULL for patients without events in the interval
  measures.defineMeasure("event_value", { numerator: inInterval.value.sumForPatient() });
  // int denominator (patients with a count of 0 are not counted), no group-by
  measures.defineMeasure("high_events", {
    numerator: inInterval.where(events.value.ge(3)).countForPatient(),
    denominator: inInterval.countForPatient(),
    groupBy: {},
  });
  // two group-by columns, the second a bool
  measures.defineMeasure("by_history", { numerator: inInterval.existsForPatient(), groupBy: { sex: people.sex, ever: events.existsForPatient() } });
  if (!disclosureControl) measures.configureDisclosureControl({ enabled: false });
  return measures.toQueryModel();
}

const JAN = ["2023-01-01", "2023-01-31"] as const;
const FEB = ["2023-02-01", "2023-02-28"] as const;
const MAR = ["2023-03-01", "2023-03-31"] as const;

/**
 * Worked out by hand. Denominator people.registered: patients 1 (F), 2 (M), 3 (F), 6 (F);
 * 4 is false and 5 NULL. Measures sharing a denominator and intervals run together, so
 * high_events (its own denominator) comes last, as in ehrQL.
 * Columns: measure, interval_start, interval_end, ratio, numerator, denominator, sex, ever.
 */
export const EXPECTED_WITHOUT_DISCLOSURE_CONTROL: Row[] = [
  // January: events for 1 (2 and 3), 2 (5), 4 (7), 7 (10)
  ["had_event", ...JAN, 1 / 3, 1, 3, "F", null],
  ["had_event", ...JAN, 1, 1, 1, "M", null],
  ["event_value", ...JAN, 5 / 3, 5, 3, "F", null],
  ["event_value", ...JAN, 5, 5, 1, "M", null],
  ["by_history", ...JAN, 0.5, 1, 2, "F", true],
  ["by_history", ...JAN, 1, 1, 1, "M", true],
  ["by_history", ...JAN, 0, 0, 1, "F", false],
  // February: events for 1 (NULL value) and 3 (1, on the first day)
  ["had_event", ...FEB, 2 / 3, 2, 3, "F", null],
  ["had_event", ...FEB, 0, 0, 1, "M", null],
  ["event_value", ...FEB, 1 / 3, 1, 3, "F", null],
  ["event_value", ...FEB, 0, 0, 1, "M", null],
  ["by_history", ...FEB, 1, 2, 2, "F", true],
  ["by_history", ...FEB, 0, 0, 1, "M", true],
  ["by_history", ...FEB, 0, 0, 1, "F", false],
  // March: an event for 3 (4, on the last day)
  ["had_event", ...MAR, 1 / 3, 1, 3, "F", null],
  ["had_event", ...MAR, 0, 0, 1, "M", null],
  ["event_value", ...MAR, 4 / 3, 4, 3, "F", null],
  ["event_value", ...MAR, 0, 0, 1, "M", null],
  ["by_history", ...MAR, 0.5, 1, 2, "F", true],
  ["by_history", ...MAR, 0, 0, 1, "M", true],
  ["by_history", ...MAR, 0, 0, 1, "F", false],
  // high_events: denominator = events in the interval (patients 4 and 7 count too)
  ["high_events", ...JAN, 0.8, 4, 5, null, null],
  ["high_events", ...FEB, 0, 0, 2, null, null],
  ["high_events", ...MAR, 1, 1, 1, null, null],
];

export async function collect(rows: AsyncIterable<Row[]>): Promise<Row[]> {
  const out: Row[] = [];
  for await (const batch of rows) out.push(...batch);
  return out;
}

export const TEST_POSTGRES_URL = process.env.ENCLAVE_TEST_POSTGRES_URL;

export const ENGINES: { name: string; make: (tables: Record<string, Row[]>) => Engine }[] = [
  { name: "memory", make: (t) => new MemoryEngine(new RowsTableReader(t)) },
  { name: "sqlite", make: (t) => new SqlEngine("sqlite", async () => new SqliteConnection(), { tables: new RowsTableReader(t) }) },
  { name: "duckdb", make: (t) => new SqlEngine("duckdb", () => DuckdbConnection.open(), { tables: new RowsTableReader(t) }) },
  ...(TEST_POSTGRES_URL
    ? [{ name: "postgres", make: (t: Record<string, Row[]>) => new SqlEngine("postgres", () => PostgresConnection.open(TEST_POSTGRES_URL, { scratch: true }), { tables: new RowsTableReader(t) }) }]
    : []),
];

export function run(engine: Engine, m: QMeasures): Promise<Row[]> {
  return collect(runMeasures(engine, m));
}
