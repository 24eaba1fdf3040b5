// Measures: ratios of a numerator to a denominator, counted over patients, for
// each of several intervals and each combination of group-by values.
//
//   const measures = createMeasures();
//   measures.defineDefaults({ intervals: months(12).startingOn("2023-04-01") });
//   measures.defineMeasure("had_event", { numerator: ..., denominator: ..., groupBy: { sex: patients.sex } });
//   export default measures;

import {
  type DummyDataConfig,
  type MeasureInput,
  type Measures as QMeasures,
  INTERVAL_END,
  INTERVAL_START,
  Q,
  checkGroupName,
  checkInterval,
  isPatientLevel,
  makeMeasures,
} from "../querymodel/index.js";
import { EnclaveError, build } from "./errors.js";
import { type BoolSeries, type DateSeries, type IntSeries, type IntervalLike, type PatientSeries, isSeries, nodeOf, typeName, wrap } from "./series.js";

const MEASURES = Symbol.for("enclave.measures");

/** The current interval: `INTERVAL.startDate` and `INTERVAL.endDate`, usable anywhere a date series is. */
export const INTERVAL: IntervalLike = Object.freeze({
  startDate: wrap(Q.parameter(INTERVAL_START, "date")) as DateSeries<"patient">,
  endDate: wrap(Q.parameter(INTERVAL_END, "date")) as DateSeries<"patient">,
});

/** A numerator or denominator: a bool or int series with one value per patient. */
export type MeasureCount = BoolSeries<"patient"> | IntSeries<"patient">;

/** What `defineMeasure` and `defineDefaults` take; what a measure lacks comes from the defaults. */
export interface MeasureOptions {
  numerator?: MeasureCount;
  denominator?: MeasureCount;
  /** Output column name → a series with one value per patient. */
  groupBy?: Readonly<Record<string, PatientSeries>>;
  /** `[start, end]` pairs, as `months(12).startingOn("2023-04-01")` gives. */
  intervals?: readonly (readonly [string, string])[];
}

const PARTS = ["numerator", "denominator", "groupBy", "intervals"] as const;

function describeArg(x: unknown): string {
  if (isSeries(x)) return `${isPatientLevel(nodeOf(x)) ? "a patient-level" : "an event-level"} ${typeName(nodeOf(x).type)} series`;
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  return typeof x === "object" ? "an object" : `${typeof x} ${JSON.stringify(x)}`;
}

/** Checks what was given (not what is missing); `method` names the call in errors. */
function checkOptions(method: string, options: unknown): MeasureOptions {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new EnclaveError(`${method}: expected an object { numerator, denominator, groupBy, intervals }, got ${describeArg(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(PARTS as readonly string[]).includes(k)) throw new EnclaveError(`${method}: unknown option ${JSON.stringify(k)}; the options are ${PARTS.join(", ")}`);
  }
  for (const part of ["numerator", "denominator"] as const) {
    const s = o[part];
    if (s === undefined) continue;
    if (!isSeries(s) || (nodeOf(s).type !== "bool" && nodeOf(s).type !== "int")) {
      throw new EnclaveError(`${method}: the ${part} must be a bool or int series with one value per patient, got ${describeArg(s)}`);
    }
    if (!isPatientLevel(nodeOf(s))) {
      throw new EnclaveError(`${method}: the ${part} has many values per patient; it needs one per patient (for example .existsForPatient(), .countForPatient())`);
    }
  }
  if (o.groupBy !== undefined) {
    const g = o.groupBy;
    if (typeof g !== "object" || g === null || Array.isArray(g) || isSeries(g)) {
      throw new EnclaveError(`${method}: groupBy must be an object of column name → patient series, got ${describeArg(g)}`);
    }
    for (const [name, s] of Object.entries(g)) {
      build(method, () => checkGroupName("groupBy", name));
      if (!isSeries(s)) throw new EnclaveError(`${method}: groupBy.${name} must be a series with one value per patient, got ${describeArg(s)}`);
      if (!isPatientLevel(nodeOf(s))) throw new EnclaveError(`${method}: groupBy.${name} has many values per patient; a group-by column needs one per patient`);
    }
  }
  if (o.intervals !== undefined) {
    if (!Array.isArray(o.intervals)) {
      throw new EnclaveError(`${method}: intervals must be an array of [start, end] pairs (for example months(12).startingOn("2023-04-01")), got ${describeArg(o.intervals)}`);
    }
    o.intervals.forEach((i, k) => build(method, () => checkInterval(`intervals[${k}]`, i)));
  }
  return o as MeasureOptions;
}

export class Measures {
  /** @internal */ readonly [MEASURES] = true;
  #defaults: MeasureOptions | undefined;
  readonly #measures: MeasureInput[] = [];
  #disclosureControl = true;
  #dummyData: DummyDataConfig | undefined;

  /** What every measure uses for what it does not give itself. Once only. */
  defineDefaults(options: MeasureOptions): void {
    if (this.#defaults !== undefined) throw new EnclaveError("defineDefaults(): the defaults are already defined; define them once");
    this.#defaults = { ...checkOptions("defineDefaults()", options) };
  }

  /** Adds a measure; a part it does not give comes from the defaults. */
  defineMeasure(name: string, options: MeasureOptions = {}): void {
    if (typeof name !== "string" || name === "") throw new EnclaveError(`defineMeasure(): the first argument is the measure's name, a non-empty string; got ${describeArg(name)}`);
    const method = `defineMeasure(${JSON.stringify(name)})`;
    if (this.#measures.some((m) => m.name === name)) throw new EnclaveError(`${method}: a measure of that name is already defined; measure names must be unique`);
    const given = checkOptions(method, options);
    const defaults = this.#defaults ?? {};
    const pick = <K extends (typeof PARTS)[number]>(part: K): NonNullable<MeasureOptions[K]> => {
      const v = given[part] ?? defaults[part];
      if (v === undefined) {
        throw new EnclaveError(`${method}: no ${part} given, and no default ${part}; pass ${part} here or in measures.defineDefaults({ ${part} })`);
      }
      return v as NonNullable<MeasureOptions[K]>;
    };
    const numerator = pick("numerator");
    const denominator = pick("denominator");
    const groupBy = pick("groupBy");
    const intervals = pick("intervals");
    const input: MeasureInput = {
      name,
      numerator: nodeOf(numerator),
      denominator: nodeOf(denominator),
      groupBy: Object.entries(groupBy).map(([g, s]) => ({ name: g, series: nodeOf(s) })),
      intervals: intervals.map(([a, b]) => [a, b] as const),
    };
    // The whole set is checked again: group-by names must mean the same series across measures.
    build(method, () => makeMeasures([...this.#measures, input]));
    this.#measures.push(input);
  }

  /** Disclosure control (on by default): counts of 7 or less become 0, then counts round to the nearest 5. */
  configureDisclosureControl(options: { enabled: boolean }): void {
    if (typeof options !== "object" || options === null || typeof options.enabled !== "boolean") {
      throw new EnclaveError(`configureDisclosureControl(): expected { enabled: true } or { enabled: false }, got ${describeArg(options)}`);
    }
    this.#disclosureControl = options.enabled;
  }

  /** How much dummy data to generate. */
  configureDummyData(options: { populationSize?: number; seed?: number | string }): void {
    if (typeof options !== "object" || options === null) throw new EnclaveError("configureDummyData(): expected { populationSize, seed }");
    const { populationSize, seed } = options;
    if (populationSize !== undefined && (!Number.isSafeInteger(populationSize) || populationSize < 0)) {
      throw new EnclaveError(`configureDummyData(): populationSize must be a whole number, got ${JSON.stringify(populationSize)}`);
    }
    if (seed !== undefined && typeof seed !== "number" && typeof seed !== "string") {
      throw new EnclaveError(`configureDummyData(): seed must be a number or a string, got ${JSON.stringify(seed)}`);
    }
    this.#dummyData = { ...(populationSize !== undefined ? { populationSize } : {}), ...(seed !== undefined ? { seed } : {}) };
  }

  /** The validated query model of these measures. */
  toQueryModel(): QMeasures {
    if (this.#measures.length === 0) throw new EnclaveError("the measures definition defines no measures: call measures.defineMeasure(name, { ... })");
    return build("measures", () =>
      makeMeasures(this.#measures, { disclosureControl: this.#disclosureControl, ...(this.#dummyData ? { dummyData: this.#dummyData } : {}) }),
    );
  }
}

export function isMeasures(x: unknown): x is Measures {
  return typeof x === "object" && x !== null && MEASURES in x;
}

/** A new, empty set of measures. */
export function createMeasures(): Measures {
  return new Measures();
}
