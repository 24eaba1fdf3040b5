// div always gives a float; floorDiv always an int, rounded down (towards
// minus infinity, as Python's //); division by zero gives NULL.

import { type SpecCase, p } from "../harness.js";

const pairs = {
  p: `
    patient | i1 | i2
    1       | 7  | 2
    2       | -7 | 2
    3       | 7  | -2
    4       | 6  | 3
    5       | 7  | 0
    6       |    | 2
    7       | 7  |
    8       | 0  | 5
  `,
};

export const cases: SpecCase[] = [
  {
    name: "div gives a float",
    tables: pairs,
    series: () => p.i1.div(p.i2),
    expected: { 1: 3.5, 2: -3.5, 3: -3.5, 4: 2, 5: null, 6: null, 7: null, 8: 0 },
    type: "float",
  },
  {
    name: "floorDiv gives an int, rounded down",
    tables: pairs,
    series: () => p.i1.floorDiv(p.i2),
    expected: { 1: 3, 2: -4, 3: -4, 4: 2, 5: null, 6: null, 7: null, 8: 0 },
    type: "int",
  },
  {
    name: "div by a literal",
    tables: pairs,
    series: () => p.i1.div(4),
    expected: { 1: 1.75, 2: -1.75, 3: 1.75, 4: 1.5, 5: 1.75, 6: null, 7: 1.75, 8: 0 },
    type: "float",
  },
  {
    name: "floorDiv by a literal",
    tables: pairs,
    series: () => p.i1.floorDiv(4),
    expected: { 1: 1, 2: -2, 3: 1, 4: 1, 5: 1, 6: null, 7: 1, 8: 0 },
    type: "int",
  },
  {
    name: "div by the literal 0 is NULL",
    tables: pairs,
    series: () => p.i1.div(0),
    expected: { 1: null, 2: null, 3: null, 4: null, 5: null, 6: null, 7: null, 8: null },
  },
  {
    name: "floorDiv by the literal 0 is NULL",
    tables: pairs,
    series: () => p.i1.floorDiv(0),
    expected: { 1: null, 2: null, 3: null, 4: null, 5: null, 6: null, 7: null, 8: null },
  },
  {
    name: "a NULL from division by zero flows on: isNull is true",
    tables: pairs,
    series: () => p.i1.div(p.i2).isNull(),
    expected: { 1: false, 2: false, 3: false, 4: false, 5: true, 6: true, 7: true, 8: false },
  },
];
