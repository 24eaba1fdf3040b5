// Compile-time checks for measures: numerators and denominators are bool or int
// patient series. Each `@ts-expect-error` fails `npm run typecheck` if the line
// below it compiles. Nothing here runs.

import { INTERVAL, createMeasures, eventTable, months, patientTable } from "../../src/language/index.js";

export function compileTimeChecks(): void {
  const p = patientTable("p", { s: "str", b: "bool", i: "int", f: "float", d: "date" });
  const e = eventTable("e", { b: "bool", i: "int", d: "date" });
  const m = createMeasures();
  const intervals = months(3).startingOn("2023-01-01");

  m.defineMeasure("ok", { numerator: p.b, denominator: p.i, groupBy: { s: p.s, d: p.d }, intervals });
  m.defineMeasure("ok2", { numerator: e.where(e.d.isDuring(INTERVAL)).countForPatient(), denominator: e.existsForPatient() });
  m.defineDefaults({ numerator: p.i.gt(INTERVAL.startDate.year) });

  // @ts-expect-error a str series is not a numerator
  m.defineMeasure("a", { numerator: p.s });
  // @ts-expect-error a float series is not a numerator
  m.defineMeasure("a", { numerator: p.f });
  // @ts-expect-error an event series is not a denominator
  m.defineMeasure("a", { denominator: e.b });
  // @ts-expect-error an event-level int series is not a numerator
  m.defineDefaults({ numerator: e.i });
  // @ts-expect-error a group-by column is a patient series
  m.defineMeasure("a", { groupBy: { x: e.i } });
  // @ts-expect-error intervals are [start, end] pairs
  m.defineMeasure("a", { intervals: ["2023-01-01"] });
}
