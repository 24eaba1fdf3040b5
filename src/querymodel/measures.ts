// Measures in the query model: for each measure, a numerator and a denominator
// (bool or int, one value per patient), the columns to group by, and the
// intervals to compute it over. Series may hold the Parameter nodes
// `interval_start` and `interval_end` (dates), which stand for the current
// interval's dates and are substituted before anything runs.
//
// Like a dataset, a measures definition crosses to the trusted side as JSON (one
// node table for every series) and is rebuilt through validating constructors.

import { type DummyDataConfig, type Node, type Series, DomainMismatchError, PopulationError, Q, QueryModelError, TypeValidationError, isPatientLevel, isSeries, makeDataset, nodeId, walk } from "./nodes.js";
import { type Json, readNodeTable, nodeTableWriter } from "./json.js";
import { checkPopulation } from "./population.js";
import { type Scalar, checkScalar, describe, isIsoDate, isSetType } from "./types.js";

export const INTERVAL_START = "interval_start";
export const INTERVAL_END = "interval_end";

/** Output columns of the measures table: no group-by column may take these names. */
export const RESERVED_MEASURE_COLUMNS: readonly string[] = Object.freeze(["measure", "numerator", "denominator", "ratio", "interval_start", "interval_end"]);

export type Interval = readonly [string, string];

export interface Measure {
  readonly name: string;
  readonly numerator: Series;
  readonly denominator: Series;
  readonly groupBy: readonly { readonly name: string; readonly series: Series }[];
  /** Sorted, without repeats, each `[start, end]` with start ≤ end. */
  readonly intervals: readonly Interval[];
}

export interface Measures {
  readonly kind: "Measures";
  readonly measures: readonly Measure[];
  /** Small numbers suppressed and counts rounded (on unless turned off). */
  readonly disclosureControl: boolean;
  readonly dummyData?: DummyDataConfig;
}

export interface MeasureInput {
  name: string;
  numerator: Series;
  denominator: Series;
  groupBy: readonly { name: string; series: Series }[];
  intervals: readonly (readonly [string, string])[];
}

const GROUP_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** The one Parameter names a measure's series may hold. */
function checkParameters(where: string, s: Series): void {
  for (const n of walk([s])) {
    if (n.kind !== "Parameter") continue;
    if ((n.name !== INTERVAL_START && n.name !== INTERVAL_END) || n.type !== "date") {
      throw new QueryModelError(`${where}: the parameter ${JSON.stringify(n.name)} (${n.type}) is not one a measure can fill in; only ${INTERVAL_START} and ${INTERVAL_END}, dates (INTERVAL.startDate and INTERVAL.endDate)`);
    }
  }
}

function checkCount(where: string, s: unknown): Series {
  if (!isSeries(s)) throw new TypeValidationError(where, "series", "a bool or int series", describe(s));
  if (s.type !== "bool" && s.type !== "int") throw new TypeValidationError(where, "series", "bool or int", s.type);
  if (!isPatientLevel(s)) throw new DomainMismatchError(`${where} has many values per patient; it needs one value per patient (for example .existsForPatient(), .countForPatient())`);
  checkParameters(where, s);
  return s;
}

/** Checks one interval; returns it as a frozen pair. */
export function checkInterval(where: string, interval: unknown): Interval {
  if (!Array.isArray(interval) || interval.length !== 2) throw new QueryModelError(`${where}: expected a pair of dates [start, end], got ${describe(interval)}`);
  const [start, end] = interval as unknown[];
  for (const d of [start, end]) {
    if (typeof d !== "string" || !isIsoDate(d) || checkScalar("date", d) !== undefined) {
      throw new QueryModelError(`${where}: expected a pair of dates as YYYY-MM-DD, got ${describe(d)}`);
    }
  }
  if ((start as string) > (end as string)) throw new QueryModelError(`${where}: the interval starts (${start as string}) after it ends (${end as string})`);
  return Object.freeze([start as string, end as string] as const);
}

/** Sorted and without repeats, as ehrQL keeps them. */
function normaliseIntervals(where: string, intervals: unknown): readonly Interval[] {
  if (!Array.isArray(intervals)) throw new QueryModelError(`${where}: intervals must be an array of [start, end] pairs, got ${describe(intervals)}`);
  if (intervals.length === 0) throw new QueryModelError(`${where}: intervals is empty; give at least one [start, end] pair (for example months(12).startingOn("2023-04-01"))`);
  const checked = intervals.map((i) => checkInterval(where, i));
  const unique = new Map(checked.map((i) => [`${i[0]}/${i[1]}`, i]));
  return Object.freeze([...unique.values()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)));
}

/** Checks a group-by column's name. */
export function checkGroupName(where: string, name: unknown): string {
  if (typeof name !== "string" || !GROUP_NAME.test(name)) {
    throw new QueryModelError(`${where}: group-by column name ${describe(name)} must start with a letter and hold only letters, digits and _`);
  }
  if (name.length > 100) throw new QueryModelError(`${where}: group-by column name ${JSON.stringify(name.slice(0, 20))}... is longer than 100 characters`);
  if (RESERVED_MEASURE_COLUMNS.includes(name)) {
    throw new QueryModelError(`${where}: group-by column name ${JSON.stringify(name)} is reserved (${RESERVED_MEASURE_COLUMNS.join(", ")} are the output's own columns)`);
  }
  return name;
}

function checkGroupSeries(where: string, s: unknown): Series {
  if (!isSeries(s)) throw new TypeValidationError(where, "series", "a series", describe(s));
  if (isSetType(s.type)) throw new TypeValidationError(where, "series", "a scalar series", s.type);
  if (!isPatientLevel(s)) throw new DomainMismatchError(`${where} has many values per patient; a group-by column needs one value per patient`);
  checkParameters(where, s);
  return s;
}

/** The denominator as a population: bool as it is; int when greater than 0 (as ehrQL). */
export function denominatorPopulation(denominator: Series): Series {
  return denominator.type === "bool" ? denominator : Q.fn("GT", denominator, Q.value("int", 0));
}

/** The denominator picks the patients, as a dataset's population does, and under the same rule (in every interval). */
function checkDenominator(where: string, denominator: Series, intervals: readonly Interval[]): void {
  const population = denominatorPopulation(denominator);
  for (const [start, end] of intervals) {
    try {
      checkPopulation(makeDataset(substituteParameters(population, { [INTERVAL_START]: start, [INTERVAL_END]: end }), []));
    } catch (e) {
      if (!(e instanceof PopulationError)) throw e;
      throw new PopulationError(
        `${where}: the denominator is ${denominator.type === "bool" ? "true" : "above 0"} for a patient who has no rows in any table` +
          ` (in the interval ${start} to ${end}), so it would count every patient in the database; ` +
          "add a condition that needs data, for example practiceRegistrations.forPatientOn(INTERVAL.startDate).existsForPatient()",
      );
    }
  }
}

/** Builds and validates a measures structure, frozen. */
export function makeMeasures(measures: readonly MeasureInput[], options: { disclosureControl?: boolean; dummyData?: DummyDataConfig } = {}): Measures {
  if (!Array.isArray(measures) || measures.length === 0) throw new QueryModelError("Measures: no measures are defined; define at least one with defineMeasure()");
  const disclosureControl = options.disclosureControl ?? true;
  if (typeof disclosureControl !== "boolean") throw new TypeValidationError("Measures", "disclosureControl", "true or false", describe(disclosureControl));
  const dummy = options.dummyData;
  if (dummy !== undefined && (typeof dummy !== "object" || dummy === null)) throw new TypeValidationError("Measures", "dummyData", "an object", describe(dummy));
  if (dummy?.populationSize !== undefined && (!Number.isSafeInteger(dummy.populationSize) || dummy.populationSize < 0)) {
    throw new QueryModelError(`configureDummyData: populationSize must be a whole number, got ${describe(dummy.populationSize)}`);
  }
  const names = new Set<string>();
  const groups = new Map<string, number>();
  const built = measures.map((m): Measure => {
    if (typeof m !== "object" || m === null) throw new QueryModelError(`Measures: expected a measure, got ${describe(m)}`);
    if (typeof m.name !== "string" || m.name === "") throw new QueryModelError(`Measures: a measure's name must be a non-empty string, got ${describe(m.name)}`);
    const where = `measure ${JSON.stringify(m.name)}`;
    if (names.has(m.name)) throw new QueryModelError(`${where} is defined twice; measure names must be unique`);
    names.add(m.name);
    const numerator = checkCount(`${where}: numerator`, m.numerator);
    const denominator = checkCount(`${where}: denominator`, m.denominator);
    if (!Array.isArray(m.groupBy)) throw new QueryModelError(`${where}: groupBy must be an array of { name, series }`);
    const seen = new Set<string>();
    const groupBy = (m.groupBy as readonly unknown[]).map((g) => {
      const name = checkGroupName(where, (g as { name?: unknown } | null)?.name);
      if (seen.has(name)) throw new QueryModelError(`${where}: group-by column ${JSON.stringify(name)} is given twice`);
      seen.add(name);
      const series = checkGroupSeries(`${where}: group-by column ${JSON.stringify(name)}`, (g as { series?: unknown }).series);
      const known = groups.get(name);
      if (known !== undefined && known !== nodeId(series)) {
        throw new QueryModelError(`${where}: group-by column ${JSON.stringify(name)} is defined differently by an earlier measure; one name must mean one series across all measures`);
      }
      groups.set(name, nodeId(series));
      return Object.freeze({ name, series });
    });
    const intervals = normaliseIntervals(where, m.intervals);
    checkDenominator(where, denominator, intervals);
    return Object.freeze({ name: m.name, numerator, denominator, groupBy: Object.freeze(groupBy), intervals });
  });
  return Object.freeze({
    kind: "Measures",
    measures: Object.freeze(built),
    disclosureControl,
    ...(dummy ? { dummyData: Object.freeze({ ...dummy }) } : {}),
  });
}

/** The group-by columns across all measures, in order of first appearance, with their series. */
export function measureGroupColumns(m: Measures): { name: string; series: Series }[] {
  const out = new Map<string, Series>();
  for (const measure of m.measures) for (const g of measure.groupBy) if (!out.has(g.name)) out.set(g.name, g.series);
  return [...out].map(([name, series]) => ({ name, series }));
}

/** The output's columns, with their types, in output order. */
export function measuresColumns(m: Measures): { name: string; type: string }[] {
  return [
    { name: "measure", type: "str" },
    { name: "interval_start", type: "date" },
    { name: "interval_end", type: "date" },
    { name: "ratio", type: "float" },
    { name: "numerator", type: "int" },
    { name: "denominator", type: "int" },
    ...measureGroupColumns(m).map((g) => ({ name: g.name, type: g.series.type })),
  ];
}

// ==========================================================================
// SUBSTITUTION
// ==========================================================================

/**
 * The series with every Parameter node replaced by a Value of the given value,
 * each node rebuilt through its constructor. A parameter without a value is an error.
 */
export function substituteParameters(series: Series, values: Readonly<Record<string, Scalar>>): Series {
  return parameterSubstituter(values)(series);
}

/**
 * A function doing what substituteParameters does, remembering what it rebuilt,
 * so that series sharing subtrees keep sharing them.
 */
export function parameterSubstituter(values: Readonly<Record<string, Scalar>>): (series: Series) => Series {
  return nodeRewriter((n) => {
    if (n.kind !== "Parameter") return undefined;
    if (!Object.hasOwn(values, n.name)) throw new QueryModelError(`no value given for the parameter ${JSON.stringify(n.name)}`);
    return Q.value(n.type, values[n.name]!);
  });
}

/**
 * A function that rebuilds a tree through the validating constructors, with
 * each node for which `replace` returns a node replaced by it (its children
 * not visited). Shared subtrees stay shared: every node is rebuilt once.
 */
export function nodeRewriter(replace: (n: Node) => Node | undefined): <N extends Node>(n: N) => N {
  const memo = new Map<Node, Node>();
  const sub = <N extends Node>(n: N): N => {
    const known = memo.get(n);
    if (known) return known as N;
    const out = (replace(n) ?? rebuild(n)) as N;
    memo.set(n, out);
    return out;
  };
  const rebuild = (n: Node): Node => {
    switch (n.kind) {
      case "SelectTable":
      case "SelectPatientTable":
      case "InlinePatientTable":
      case "Value":
      case "Parameter":
        return n;
      case "Filter":
        return Q.filter(sub(n.source), sub(n.condition));
      case "Sort":
        return Q.sort(sub(n.source), n.sortBy.map(sub));
      case "PickOneRowPerPatient":
        return Q.pick(sub(n.source), n.position);
      case "SelectColumn":
        return Q.column(sub(n.source), n.name);
      case "Aggregate":
        return Q.aggregate(n.fn, sub(n.source), n.maximumGapDays);
      case "Function":
        return Q.fn(n.fn, ...n.args.map(sub));
      case "Case":
        return Q.case(
          n.cases.map((c) => ({ when: sub(c.when), then: c.then === null ? null : sub(c.then) })),
          n.otherwise === null ? null : sub(n.otherwise),
        );
    }
  };
  return sub;
}

// ==========================================================================
// JSON
// ==========================================================================

export const MEASURES_FORMAT = "enclave-measures";
export const MEASURES_VERSION = 1;

export interface MeasuresJson {
  format: typeof MEASURES_FORMAT;
  version: number;
  nodes: Json[];
  measures: {
    measures: { name: string; numerator: number; denominator: number; groupBy: { name: string; series: number }[]; intervals: [string, string][] }[];
    disclosureControl: boolean;
    dummyData?: Json;
  };
}

export function measuresToJson(m: Measures): MeasuresJson {
  const { nodes, ref } = nodeTableWriter();
  const measures = m.measures.map((x) => ({
    name: x.name,
    numerator: ref(x.numerator),
    denominator: ref(x.denominator),
    groupBy: x.groupBy.map((g) => ({ name: g.name, series: ref(g.series) })),
    intervals: x.intervals.map(([a, b]): [string, string] => [a, b]),
  }));
  return {
    format: MEASURES_FORMAT,
    version: MEASURES_VERSION,
    nodes,
    measures: { measures, disclosureControl: m.disclosureControl, ...(m.dummyData ? { dummyData: m.dummyData as Json } : {}) },
  };
}

/** Rebuilds and validates measures from their JSON form. */
export function measuresFromJson(doc: unknown): Measures {
  const d = doc as MeasuresJson;
  if (typeof d !== "object" || d === null || d.format !== MEASURES_FORMAT) throw new QueryModelError(`not an ${MEASURES_FORMAT} document`);
  if (d.version !== MEASURES_VERSION) {
    throw new QueryModelError(`${MEASURES_FORMAT} version ${String(d.version)} is not supported (this Enclave reads version ${MEASURES_VERSION})`);
  }
  const get = readNodeTable(MEASURES_FORMAT, d.nodes);
  const body = d.measures;
  if (typeof body !== "object" || body === null || !Array.isArray(body.measures)) throw new QueryModelError(`${MEASURES_FORMAT}: "measures" is missing or malformed`);
  const seriesAt = (i: unknown, what: string): Series => {
    const n = get(i);
    if (!isSeries(n)) throw new QueryModelError(`${MEASURES_FORMAT}: ${what} refers to a ${n.kind}, not a series`);
    return n;
  };
  const inputs = body.measures.map((raw, k): MeasureInput => {
    if (typeof raw !== "object" || raw === null) throw new QueryModelError(`${MEASURES_FORMAT}: measure ${k + 1} is not an object`);
    if (!Array.isArray(raw.groupBy)) throw new QueryModelError(`${MEASURES_FORMAT}: measure ${k + 1}: groupBy must be an array`);
    return {
      name: raw.name,
      numerator: seriesAt(raw.numerator, `measure ${k + 1}'s numerator`),
      denominator: seriesAt(raw.denominator, `measure ${k + 1}'s denominator`),
      groupBy: raw.groupBy.map((g) => {
        if (typeof g !== "object" || g === null) throw new QueryModelError(`${MEASURES_FORMAT}: measure ${k + 1}: a groupBy entry is not an object`);
        return { name: g.name, series: seriesAt(g.series, `measure ${k + 1}'s group-by column`) };
      }),
      intervals: raw.intervals,
    };
  });
  if (typeof body.disclosureControl !== "boolean") throw new QueryModelError(`${MEASURES_FORMAT}: disclosureControl must be true or false, got ${describe(body.disclosureControl)}`);
  if (body.dummyData !== undefined && (typeof body.dummyData !== "object" || body.dummyData === null || Array.isArray(body.dummyData))) {
    throw new QueryModelError(`${MEASURES_FORMAT}: dummyData must be an object`);
  }
  return makeMeasures(inputs, { disclosureControl: body.disclosureControl, dummyData: body.dummyData as DummyDataConfig | undefined });
}

export function isMeasuresJson(x: unknown): x is MeasuresJson {
  return typeof x === "object" && x !== null && (x as { format?: unknown }).format === MEASURES_FORMAT;
}
