// countEpisodesForPatient(maximumGap): sorted dates, each one more than the
// gap after the previous starting a new episode; NULL dates ignored; never NULL.

import { days, weeks } from "../../../src/language/index.js";
import { type SpecCase, e } from "../harness.js";

const dates = {
  e: `
    patient | d1
    1       | 2020-01-01
    1       | 2020-01-04
    1       | 2020-01-06
    1       | 2020-01-10
    1       | 2020-01-12
    2       | 2020-01-01
    3       |
    4       | 2020-01-10
    4       |
    4       |
    4       | 2020-01-01
  `,
};

export const cases: SpecCase[] = [
  {
    name: "episodes with a gap of 3 days",
    tables: dates,
    series: () => e.d1.countEpisodesForPatient(days(3)),
    expected: { 1: 2, 2: 1, 3: 0, 4: 2 },
    type: "int",
  },
  {
    name: "a gap of exactly the maximum stays in the episode",
    tables: { e: "patient | d1\n1 | 2020-01-01\n1 | 2020-01-31\n1 | 2020-03-02" },
    series: () => e.d1.countEpisodesForPatient(days(30)),
    expected: { 1: 2 },
  },
  {
    name: "a gap given in weeks",
    tables: { e: "patient | d1\n1 | 2020-01-01\n1 | 2020-01-08\n1 | 2020-01-16" },
    series: () => e.d1.countEpisodesForPatient(weeks(1)),
    expected: { 1: 2 },
  },
  {
    name: "a gap of 0 days counts distinct dates",
    tables: { e: "patient | d1\n1 | 2020-01-01\n1 | 2020-01-01\n1 | 2020-01-02" },
    series: () => e.d1.countEpisodesForPatient(days(0)),
    expected: { 1: 2 },
  },
  {
    name: "episodes of a filtered frame",
    tables: { e: "patient | d1 | b1\n1 | 2020-01-01 | T\n1 | 2020-01-02 | F\n1 | 2020-01-03 | T" },
    series: () => e.where(e.b1).d1.countEpisodesForPatient(days(1)),
    expected: { 1: 2 },
  },
];
