// The population rule: a population that is true for a patient with no rows in
// any table would make every patient in the database part of the dataset,
// including people who are only names in a register. ehrQL refuses these, and
// so do we. Refused: `definePopulation(true)`,
// `definePopulation(e.existsForPatient().not())`,
// `definePopulation(e.countForPatient().lt(5))`.

import { type Dataset, type Series, PopulationError } from "./nodes.js";
import { applyFunction } from "./semantics.js";
import type { Scalar } from "./types.js";

const UNKNOWN = Symbol("unknown");
type Val = Scalar | ReadonlySet<Scalar> | typeof UNKNOWN;

/** Evaluates a patient-level series for a patient who has no rows anywhere. */
export function valueForPatientWithNoRows(s: Series): Val {
  switch (s.kind) {
    case "Value":
      return Array.isArray(s.value) ? new Set(s.value as Scalar[]) : (s.value as Scalar);
    case "Parameter":
      return UNKNOWN;
    case "SelectColumn":
      return null;
    case "Aggregate":
      switch (s.fn) {
        case "Exists":
          return false;
        case "Count":
        case "CountDistinct":
        case "CountEpisodes":
          return 0;
        case "CombineAsSet":
          return new Set();
        default:
          return null;
      }
    case "Function": {
      const args = s.args.map(valueForPatientWithNoRows);
      if (args.includes(UNKNOWN)) return UNKNOWN;
      return applyFunction(s.fn, args as (Scalar | ReadonlySet<Scalar>)[]);
    }
    case "Case": {
      for (const c of s.cases) {
        const w = valueForPatientWithNoRows(c.when);
        if (w === UNKNOWN) return UNKNOWN;
        if (w === true) return c.then ? valueForPatientWithNoRows(c.then) : null;
      }
      return s.otherwise ? valueForPatientWithNoRows(s.otherwise) : null;
    }
  }
}

export function checkPopulation(dataset: Dataset): void {
  if (valueForPatientWithNoRows(dataset.population) === true) {
    throw new PopulationError(
      "definePopulation: this population is true for a patient who has no rows in any table, so it would include every " +
        "patient in the database; add a condition that needs data, for example " +
        "practiceRegistrations.forPatientOn(date).existsForPatient() or patients.dateOfBirth.isNotNull()",
    );
  }
}
