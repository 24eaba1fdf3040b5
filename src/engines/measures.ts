// Running measures on any engine, as ehrQL does: measures that share a
// denominator and intervals are computed together; for each interval the
// interval's dates replace INTERVAL's parameters, and one dataset is run whose
// population is the denominator (bool: true; int: greater than 0) and whose
// columns are the numerators and denominators as ints and the group-by columns.
// Each patient adds their numerator (when not NULL) and denominator to the
// totals of their combination of group values; so there is a row for each
// combination present in the denominator, in the order the patients (ascending
// id) first show it.
//
// Output rows: measure, interval_start, interval_end, ratio, numerator,
// denominator, then every group-by column across all measures (NULL for a
// measure without it). With disclosure control, each count of 7 or less becomes
// 0, then each rounds to the nearest 5, and the ratio comes from the rounded counts.

import {
  type Measure,
  type Measures,
  type Scalar,
  type Series,
  INTERVAL_END,
  INTERVAL_START,
  Q,
  denominatorPopulation,
  makeDataset,
  measureGroupColumns,
  nodeId,
  parameterSubstituter,
} from "../querymodel/index.js";
import type { Engine, Row } from "./types.js";

export const SUPPRESSION_THRESHOLD = 7;
export const ROUNDING_MULTIPLE = 5;

/** Python's round(): to the nearest whole number, ties to the even one. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export class MeasuresError extends Error {
  override name = "MeasuresError";
}

/** ehrQL's statistical disclosure control for one count. */
export function applyDisclosureControl(value: number, what = "a count"): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MeasuresError(`disclosure control applies to counts of 0 or more, but ${what} is ${value}`);
  }
  const v = value <= SUPPRESSION_THRESHOLD ? 0 : value;
  return ROUNDING_MULTIPLE * roundHalfEven(v / ROUNDING_MULTIPLE);
}

function asInt(s: Series): Series {
  return s.type === "int" ? s : Q.fn("CastToInt", s);
}

interface Fetcher {
  measure: Measure;
  numerator: number;
  denominator: number;
  groups: { name: string; column: number }[];
}

/** Runs the measures on `engine`; yields batches of output rows (one batch per interval of each group of measures). */
export async function* runMeasures(engine: Engine, m: Measures): AsyncIterable<Row[]> {
  const groupColumns = measureGroupColumns(m).map((g) => g.name);

  // Measures that share a denominator and intervals run together.
  const together = new Map<string, Measure[]>();
  for (const measure of m.measures) {
    const key = `${nodeId(measure.denominator)}|${JSON.stringify(measure.intervals)}`;
    const list = together.get(key);
    if (list) list.push(measure);
    else together.set(key, [measure]);
  }

  for (const measures of together.values()) {
    const first = measures[0]!;
    const columns: Series[] = [];
    const column = (s: Series): number => {
      const id = nodeId(s);
      const at = columns.findIndex((c) => nodeId(c) === id);
      if (at >= 0) return at;
      columns.push(s);
      return columns.length - 1;
    };
    const fetchers: Fetcher[] = measures.map((measure) => ({
      measure,
      numerator: column(asInt(measure.numerator)),
      denominator: column(asInt(measure.denominator)),
      groups: measure.groupBy.map((g) => ({ name: g.name, column: column(g.series) })),
    }));
    const population = denominatorPopulation(first.denominator);

    for (const [start, end] of first.intervals) {
      const sub = parameterSubstituter({ [INTERVAL_START]: start, [INTERVAL_END]: end });
      const dataset = makeDataset(
        sub(population),
        columns.map((c, i) => ({ name: `column_${i}`, series: sub(c) })),
      );
      const totals = fetchers.map(() => new Map<string, { values: Scalar[]; numerator: number; denominator: number }>());
      for await (const batch of engine.execute(dataset)) {
        for (const row of batch) {
          fetchers.forEach((f, k) => {
            const values = f.groups.map((g) => row[g.column + 1]!);
            const key = JSON.stringify(values);
            let t = totals[k]!.get(key);
            if (t === undefined) {
              t = { values, numerator: 0, denominator: 0 };
              totals[k]!.set(key, t);
            }
            const n = row[f.numerator + 1];
            if (n !== null && n !== undefined) t.numerator += n as number;
            // Never NULL: the population holds only patients whose denominator is true or above 0.
            const d = row[f.denominator + 1];
            if (d !== null && d !== undefined) t.denominator += d as number;
          });
        }
      }
      const out: Row[] = [];
      fetchers.forEach((f, k) => {
        for (const t of totals[k]!.values()) {
          let numerator = t.numerator;
          let denominator = t.denominator;
          if (m.disclosureControl) {
            const where = `measure ${JSON.stringify(f.measure.name)}, interval ${start} to ${end}:`;
            numerator = applyDisclosureControl(numerator, `${where} the numerator`);
            denominator = applyDisclosureControl(denominator, `${where} the denominator`);
          }
          const ratio = denominator !== 0 ? numerator / denominator : null;
          const byName = new Map(f.groups.map((g, i) => [g.name, t.values[i]!]));
          out.push([f.measure.name, start, end, ratio, numerator, denominator, ...groupColumns.map((g) => (byName.has(g) ? byName.get(g)! : null))]);
        }
      });
      if (out.length > 0) yield out;
    }
  }
}
