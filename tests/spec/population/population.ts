// definePopulation: patients for whom the condition is true are in the
// dataset; false and NULL are out. A population that would be true for a
// patient with no rows in any table is refused.

import { createDataset, tableFromRows } from "../../../src/language/index.js";
import { type ErrorCase, type SpecCase, datasetWith, e, p, untyped } from "../harness.js";

const both = {
  p: "patient | b1 | i1\n1 | T | 10\n2 | F | 20\n3 | | 30\n4 | T | 40",
  e: "patient | i1\n1 | 1\n2 | 2\n2 | 3\n5 | 5",
};

export const cases: SpecCase[] = [
  {
    name: "true is in; false and NULL are out",
    tables: both,
    population: () => p.b1,
    series: () => p.i1,
    expected: { 1: 10, 4: 40 },
  },
  {
    name: "patients with an event",
    tables: both,
    population: () => e.existsForPatient(),
    series: () => e.countForPatient(),
    expected: { 1: 1, 2: 2, 5: 1 },
  },
  {
    name: "patients with more than one event",
    tables: both,
    population: () => e.countForPatient().gt(1),
    series: () => p.i1,
    expected: { 2: 20 },
  },
  {
    name: "patients in either table",
    tables: both,
    population: () => p.existsForPatient().or(e.existsForPatient()),
    series: () => p.b1,
    expected: { 1: true, 2: false, 3: null, 4: true, 5: null },
  },
  {
    name: "patients in the patient table without events: allowed, it needs a row",
    tables: both,
    population: () => p.existsForPatient().and(e.existsForPatient().not()),
    series: () => p.i1,
    expected: { 3: 30, 4: 40 },
  },
  {
    name: "a NULL-safe condition with whenNullThen(false)",
    tables: both,
    population: () => p.b1.whenNullThen(false).or(e.i1.sumForPatient().gt(4)),
    series: () => p.i1,
    expected: { 1: 10, 2: 20, 4: 40, 5: null },
  },
  {
    name: "a filtered event frame",
    tables: both,
    population: () => e.where(e.i1.ge(2)).existsForPatient(),
    series: () => e.i1.maximumForPatient(),
    expected: { 2: 3, 5: 5 },
  },
  {
    name: "a comparison that is NULL for patients without rows",
    tables: both,
    population: () => p.i1.ge(20),
    series: () => p.i1,
    expected: { 2: 20, 3: 30, 4: 40 },
  },
  {
    name: "a count condition made safe by existsForPatient",
    tables: both,
    population: () => e.countForPatient().lt(2).and(e.existsForPatient()),
    series: () => e.countForPatient(),
    expected: { 1: 1, 5: 1 },
  },
  {
    name: "a population nobody meets gives no rows",
    tables: both,
    population: () => p.i1.gt(1000),
    series: () => p.i1,
    expected: {},
  },
  {
    name: "patients in an inline table",
    tables: both,
    population: () => tableFromRows({ keep: "bool" }, [[2, true], [3, false], [7, true]]).keep,
    series: () => p.i1,
    expected: { 2: 20, 7: null },
  },
];

const NO_ROWS = /no rows|every patient|no data/i;

export const errors: ErrorCase[] = [
  { name: "true for everyone: definePopulation(true)", build: () => datasetWith(() => p.i1, () => true), message: /no rows|every patient|bool/i },
  { name: "patients without events", build: () => datasetWith(() => p.i1, () => e.existsForPatient().not()), message: NO_ROWS },
  { name: "fewer than five events (true for zero)", build: () => datasetWith(() => p.i1, () => e.countForPatient().lt(5)), message: NO_ROWS },
  { name: "a NULL test on a patient column", build: () => datasetWith(() => p.i1, () => p.i1.isNull()), message: NO_ROWS },
  { name: "whenNullThen(true)", build: () => datasetWith(() => p.i1, () => p.b1.whenNullThen(true)), message: NO_ROWS },
  { name: "isNotIn an empty array", build: () => datasetWith(() => p.i1, () => p.i1.isNotIn([])), message: NO_ROWS },
  {
    name: "an or that is true when there are no rows",
    build: () => datasetWith(() => p.i1, () => e.existsForPatient().not().or(p.b1)),
    message: NO_ROWS,
  },
  {
    name: "definePopulation twice",
    build: () => {
      const ds = createDataset();
      ds.definePopulation(e.existsForPatient());
      ds.definePopulation(p.existsForPatient());
    },
    message: /once|already/i,
  },
  {
    name: "a dataset without a population",
    build: () => {
      const ds = createDataset();
      ds.addColumn("v", p.i1);
      return ds.toQueryModel();
    },
    message: /population/i,
  },
  {
    name: "an event-level population",
    build: () => datasetWith(() => p.i1, () => untyped(e.b1)),
    message: /per patient|many|aggregate/i,
  },
  {
    name: "a population that is not bool",
    build: () => datasetWith(() => p.i1, () => untyped(p.i1)),
    message: /bool/i,
  },
];
