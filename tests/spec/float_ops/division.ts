// div on floats; floorDiv gives an int even on floats; by zero gives NULL.

import { type SpecCase, p } from "../harness.js";

const pairs = {
  p: `
    patient | f1   | f2
    1       | 7.5  | 2.0
    2       | -7.5 | 2.0
    3       | 1.0  | 0.0
    4       |      | 1.0
    5       | 1.0  |
    6       | 0.0  | 4.0
  `,
};

export const cases: SpecCase[] = [
  { name: "div", tables: pairs, series: () => p.f1.div(p.f2), expected: { 1: 3.75, 2: -3.75, 3: null, 4: null, 5: null, 6: 0 }, type: "float" },
  {
    name: "floorDiv gives an int, rounded down",
    tables: pairs,
    series: () => p.f1.floorDiv(p.f2),
    expected: { 1: 3, 2: -4, 3: null, 4: null, 5: null, 6: 0 },
    type: "int",
  },
  { name: "div by a literal 0 is NULL", tables: pairs, series: () => p.f1.div(0), expected: { 1: null, 2: null, 3: null, 4: null, 5: null, 6: null } },
  { name: "floorDiv by a literal 0 is NULL", tables: pairs, series: () => p.f1.floorDiv(0), expected: { 1: null, 2: null, 3: null, 4: null, 5: null, 6: null } },
  {
    name: "floorDiv by a fractional literal",
    tables: pairs,
    series: () => p.f1.floorDiv(0.5),
    expected: { 1: 15, 2: -15, 3: 2, 4: null, 5: 2, 6: 0 },
    type: "int",
  },
  { name: "div by an integral literal", tables: pairs, series: () => p.f1.div(3), expected: { 1: 2.5, 2: -2.5, 3: 1 / 3, 4: null, 5: 1 / 3, 6: 0 } },
  {
    name: "floorDiv of two negative floats",
    tables: { p: "patient | f1 | f2\n1 | -7.5 | -2.0\n2 | 7.5 | -2.0" },
    series: () => p.f1.floorDiv(p.f2),
    expected: { 1: 3, 2: -4 },
    type: "int",
  },
];
