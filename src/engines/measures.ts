// Running measures on any engine, as ehrQL does: measures that share a
// denominator and intervals are computed together. The population is the
// denominator (bool: true; int: greater than 0); the columns are the
// numerators and denominators as ints and the group-by series. Each patient
// adds their numerator (when not NULL) and denominator to the totals of their
// combination of group values in each interval; so there is a row for each
// combination present in the denominator, in the order the patients
// (ascending id) first show it.
//
// SQL engines compute every interval in one set of statements (see
// `intervalTotals` and the compiler's intervals); others, the memory engine
// among them, run the dataset once per interval with the interval's dates
// filled in. Both give the same totals in the same order.
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
import type { Engine, GroupTotals, IntervalTotalsQuery, Row } from "./types.js";

export const SUPPRESSION_THRESHOLD = 7;
export const ROUNDING_MULTIPLE = 5;

/** Python's round(): to the nearest whole number, ties to the even one (so rounding many counts is unbiased). Shared with enclave/sdc. */
export function roundHalfEven(x: number): number {
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
    const groupings = measures.map((measure) => ({
      numerator: column(asInt(measure.numerator)),
      denominator: column(asInt(measure.denominator)),
      groups: measure.groupBy.map((g) => column(g.series)),
    }));
    const query: IntervalTotalsQuery = {
      population: denominatorPopulation(first.denominator),
      columns,
      parameters: [INTERVAL_START, INTERVAL_END],
      intervals: first.intervals,
      groupings,
    };
    const totals = engine.intervalTotals ? await engine.intervalTotals(query) : await totalsByInterval(engine, query);

    // Output: by interval, then measure, then group values in the order found.
    const cursor = totals.map(() => 0);
    for (const [k, [start, end]] of first.intervals.entries()) {
      const out: Row[] = [];
      measures.forEach((measure, j) => {
        const list = totals[j]!;
        for (; cursor[j]! < list.length && list[cursor[j]!]!.interval === k; cursor[j]!++) {
          const t = list[cursor[j]!]!;
          let numerator = t.numerator;
          let denominator = t.denominator;
          if (m.disclosureControl) {
            const where = `measure ${JSON.stringify(measure.name)}, interval ${start} to ${end}:`;
            numerator = applyDisclosureControl(numerator, `${where} the numerator`);
            denominator = applyDisclosureControl(denominator, `${where} the denominator`);
          }
          const ratio = denominator !== 0 ? numerator / denominator : null;
          const byName = new Map(measure.groupBy.map((g, i) => [g.name, t.values[i]!]));
          out.push([measure.name, start, end, ratio, numerator, denominator, ...groupColumns.map((g) => (byName.has(g) ? byName.get(g)! : null))]);
        }
      });
      if (out.length > 0) yield out;
    }
  }
}

/** The reference way: the dataset once per interval, the interval's dates filled in, summed here. */
export async function totalsByInterval(engine: Engine, q: IntervalTotalsQuery): Promise<GroupTotals[][]> {
  const out: GroupTotals[][] = q.groupings.map(() => []);
  for (const [k, [start, end]] of q.intervals.entries()) {
    const sub = parameterSubstituter({ [q.parameters[0]]: start, [q.parameters[1]]: end });
    const dataset = makeDataset(
      sub(q.population),
      q.columns.map((c, i) => ({ name: `column_${i}`, series: sub(c) })),
    );
    const totals = q.groupings.map(() => new Map<string, { interval: number; values: Scalar[]; numerator: number; denominator: number }>());
    for await (const batch of engine.execute(dataset)) {
      for (const row of batch) {
        q.groupings.forEach((g, j) => {
          const values = g.groups.map((c) => row[c + 1]!);
          const key = JSON.stringify(values);
          let t = totals[j]!.get(key);
          if (t === undefined) totals[j]!.set(key, (t = { interval: k, values, numerator: 0, denominator: 0 }));
          const n = row[g.numerator + 1];
          if (n !== null && n !== undefined) t.numerator += n as number;
          const d = row[g.denominator + 1];
          if (d !== null && d !== undefined) t.denominator += d as number;
        });
      }
    }
    totals.forEach((t, j) => out[j]!.push(...t.values()));
  }
  return out;
}
