// The dataset: a population and the variables to extract for each patient.

import { type Dataset as QDataset, type DummyDataConfig, checkPopulation, checkVariableName, isPatientLevel, makeDataset } from "../querymodel/index.js";
import { EnclaveError, build } from "./errors.js";
import { type BoolSeries, type PatientSeries, isSeries, nodeOf, typeName, value } from "./series.js";

const DATASET = Symbol.for("enclave.dataset");

export class Dataset {
  /** @internal */ readonly [DATASET] = true;
  #population: BoolSeries<"patient"> | undefined;
  readonly #variables = new Map<string, PatientSeries>();
  #dummyData: DummyDataConfig | undefined;
  /** `dataset.x = series` works too, as in ehrQL. */
  [variable: string]: unknown;

  /** Sets who is in the dataset: a bool series with one value per patient. Once only. */
  definePopulation(condition: BoolSeries<"patient"> | boolean): void {
    if (this.#population) throw new EnclaveError("definePopulation(): the population is already defined; define it once");
    // A boolean literal stands for a constant series (and `true` is then refused by the population rule).
    if (typeof condition === "boolean") condition = value(condition);
    if (!isSeries(condition) || nodeOf(condition).type !== "bool") {
      throw new EnclaveError(`definePopulation(): expected a bool series, got ${isSeries(condition) ? `a ${typeName(nodeOf(condition).type)} series` : JSON.stringify(condition)}`);
    }
    if (!isPatientLevel(nodeOf(condition))) {
      throw new EnclaveError("definePopulation(): the condition has many values per patient; aggregate it first (for example with .existsForPatient())");
    }
    this.#population = condition;
    build("definePopulation()", () => checkPopulation(makeDataset(nodeOf(condition), [])));
  }

  /** Adds a column: a series with one value per patient. */
  addColumn(name: string, series: PatientSeries): void {
    if (typeof name !== "string") throw new EnclaveError("addColumn(): the first argument is the column's name, a string");
    build(`addColumn(${JSON.stringify(name)})`, () => checkVariableName(name));
    if (this.#variables.has(name)) throw new EnclaveError(`addColumn(${JSON.stringify(name)}): a column of that name already exists`);
    if (!isSeries(series)) throw new EnclaveError(`addColumn(${JSON.stringify(name)}): expected a series, got ${series === null ? "null" : typeof series}`);
    if (!isPatientLevel(nodeOf(series))) {
      throw new EnclaveError(
        `addColumn(${JSON.stringify(name)}): this series has many values per patient; a dataset column needs one per patient (for example .firstForPatient(), .countForPatient(), .maximumForPatient())`,
      );
    }
    this.#variables.set(name, series);
  }

  /** How much dummy data to generate, and from which seed. */
  configureDummyData(options: { populationSize?: number; seed?: number | string }): void {
    if (typeof options !== "object" || options === null) throw new EnclaveError("configureDummyData(): expected { populationSize, seed }");
    const { populationSize, seed } = options;
    if (populationSize !== undefined && (!Number.isSafeInteger(populationSize) || populationSize < 0)) {
      throw new EnclaveError(`configureDummyData(): populationSize must be a whole number, got ${JSON.stringify(populationSize)}`);
    }
    this.#dummyData = { ...(populationSize !== undefined ? { populationSize } : {}), ...(seed !== undefined ? { seed } : {}) };
  }

  /** The validated query model of this dataset. */
  toQueryModel(): QDataset {
    if (!this.#population) throw new EnclaveError("the dataset has no population: call dataset.definePopulation(...)");
    const variables = [...this.#variables].map(([name, s]) => ({ name, series: nodeOf(s) }));
    return build("dataset", () => makeDataset(nodeOf(this.#population!), variables, this.#dummyData));
  }
}

export function isDataset(x: unknown): x is Dataset {
  return typeof x === "object" && x !== null && DATASET in x;
}

/** A new, empty dataset. */
export function createDataset(): Dataset {
  const ds = new Dataset();
  // Assigning an unknown property adds a column, as `dataset.age = ...` does in ehrQL.
  return new Proxy(ds, {
    set(target, prop, value) {
      if (typeof prop === "string" && !(prop in target)) {
        target.addColumn(prop, value as PatientSeries);
        return true;
      }
      throw new EnclaveError(`dataset.${String(prop)} cannot be assigned`);
    },
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
