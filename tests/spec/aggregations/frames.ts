// countForPatient and existsForPatient on frames: they count rows, whatever
// the rows hold, and are never NULL.

import { type SpecCase, e, p } from "../harness.js";

const events = {
  p: "patient | i1\n4 | 1",
  e: `
    patient | i1 | b1
    1       | 1  | T
    1       | 2  | F
    1       |    |
    2       |    |
    3       | 5  | T
  `,
};

export const cases: SpecCase[] = [
  { name: "countForPatient on an event frame counts rows, NULL rows too", tables: events, series: () => e.countForPatient(), expected: { 1: 3, 2: 1, 3: 1, 4: 0 }, type: "int" },
  { name: "existsForPatient on an event frame", tables: events, series: () => e.existsForPatient(), expected: { 1: true, 2: true, 3: true, 4: false }, type: "bool" },
  {
    name: "countForPatient on a filtered frame",
    tables: events,
    series: () => e.where(e.b1).countForPatient(),
    expected: { 1: 1, 2: 0, 3: 1, 4: 0 },
  },
  {
    name: "existsForPatient on a filtered frame",
    tables: events,
    series: () => e.where(e.i1.gt(1)).existsForPatient(),
    expected: { 1: true, 2: false, 3: true, 4: false },
  },
  {
    name: "existsForPatient on a patient table",
    tables: events,
    series: () => p.existsForPatient(),
    expected: { 1: false, 2: false, 3: false, 4: true },
  },
  {
    name: "countForPatient on a patient table is 1 or 0",
    tables: events,
    series: () => p.countForPatient(),
    expected: { 1: 0, 2: 0, 3: 0, 4: 1 },
  },
  {
    name: "a count used in arithmetic",
    tables: events,
    series: () => e.countForPatient().mul(10),
    expected: { 1: 30, 2: 10, 3: 10, 4: 0 },
  },
  {
    name: "countForPatient on a picked row is 1 or 0",
    tables: events,
    series: () => e.where(e.b1).sortBy(e.i1).firstForPatient().countForPatient(),
    expected: { 1: 1, 2: 0, 3: 1, 4: 0 },
  },
];
