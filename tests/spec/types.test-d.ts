// Compile-time checks: misuse that the contract says TypeScript catches. Each
// `@ts-expect-error` fails `npm run typecheck` if the line below it compiles,
// and each unmarked line fails it if it does not. Nothing here runs.

import { createDataset, days, maximumOf, value, when, years } from "../../src/language/index.js";
import { e, p } from "./harness.js";

export function compileTimeChecks(): void {
  const dataset = createDataset();

  // A date compared with an int.
  // @ts-expect-error a date is not comparable with a number
  p.d1.lt(5);
  // @ts-expect-error a date is not comparable with an int series
  p.d1.eq(p.i1);
  // @ts-expect-error an int is not comparable with a date series
  p.i1.gt(p.d1);

  // sumForPatient() on a str series, and other aggregations a type lacks.
  // @ts-expect-error str has no sum
  e.s1.sumForPatient();
  // @ts-expect-error str has no mean
  e.s1.meanForPatient();
  // @ts-expect-error a date has no sum
  e.d1.sumForPatient();

  // firstForPatient() before sortBy().
  // @ts-expect-error an unsorted frame cannot pick a row
  e.firstForPatient();
  // @ts-expect-error an unsorted filtered frame cannot pick a row either
  e.where(e.b1).lastForPatient();

  // An event series as a dataset column, or as the population.
  // @ts-expect-error a dataset column needs one value per patient
  dataset.addColumn("x", e.i1);
  // @ts-expect-error so does a column computed from event series
  dataset.addColumn("y", e.i1.add(p.i1));
  // @ts-expect-error the population too
  dataset.definePopulation(e.b1);

  // Other misuse the types see.
  // @ts-expect-error int and float do not mix without a cast
  p.i1.add(p.f1);
  // @ts-expect-error a patient series has no per-patient aggregation
  p.i1.sumForPatient();
  // @ts-expect-error a str is not a number
  p.i1.add("1");
  // @ts-expect-error a date plus a number: a duration is needed
  p.d1.add(5);
  // @ts-expect-error and/or take bools
  p.b1.and(p.i1);

  // And what must compile.
  dataset.definePopulation(e.existsForPatient());
  dataset.addColumn("a", e.sortBy(e.d1).firstForPatient().i1);
  dataset.addColumn("b", e.i1.sumForPatient().add(p.i1));
  dataset.addColumn("c", p.f1.add(1));
  dataset.addColumn("d", value(1).add(p.i1));
  dataset.addColumn("e", value("2024-03-31").sub(years(1)).year);
  dataset.addColumn("f", days(100).add(p.d1));
  dataset.addColumn("g", when(p.b1).then(p.i1).otherwise(null));
  dataset.addColumn("h", maximumOf(p.i1, 3));
  dataset.addColumn("i", e.where(true).countForPatient());
  dataset.addColumn("j", p.d1.sub(p.d2).months);
}

// Sorting a core table with helpers keeps its columns' types.
import { practiceRegistrations as coreRegistrations } from "../../src/language/tables/core.js";
const sortedRegistrations = coreRegistrations.sortBy(coreRegistrations.startDate).lastForPatient();
export const practiceId: import("../../src/language/index.js").IntSeries<"patient"> = sortedRegistrations.practicePseudoId;
// @ts-expect-error: no such column
void sortedRegistrations.practiceId;
