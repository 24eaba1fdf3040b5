// Arithmetic on int series: NULL in, NULL out; results stay ints.

import { value } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

const pairs = {
  p: `
    patient | i1 | i2
    1       | 7  | 2
    2       | -7 | 2
    3       | 0  | -3
    4       |    | 2
    5       | 4  |
  `,
};

export const cases: SpecCase[] = [
  { name: "add two series", tables: pairs, series: () => p.i1.add(p.i2), expected: { 1: 9, 2: -5, 3: -3, 4: null, 5: null }, type: "int" },
  { name: "sub two series", tables: pairs, series: () => p.i1.sub(p.i2), expected: { 1: 5, 2: -9, 3: 3, 4: null, 5: null }, type: "int" },
  { name: "mul two series", tables: pairs, series: () => p.i1.mul(p.i2), expected: { 1: 14, 2: -14, 3: 0, 4: null, 5: null }, type: "int" },
  { name: "add a literal", tables: pairs, series: () => p.i1.add(10), expected: { 1: 17, 2: 3, 3: 10, 4: null, 5: 14 }, type: "int" },
  { name: "sub a negative literal", tables: pairs, series: () => p.i1.sub(-1), expected: { 1: 8, 2: -6, 3: 1, 4: null, 5: 5 } },
  { name: "mul by a literal", tables: pairs, series: () => p.i2.mul(3), expected: { 1: 6, 2: 6, 3: -9, 4: 6, 5: null } },
  { name: "neg", tables: pairs, series: () => p.i1.neg(), expected: { 1: -7, 2: 7, 3: 0, 4: null, 5: -4 }, type: "int" },
  { name: "abs", tables: pairs, series: () => p.i1.abs(), expected: { 1: 7, 2: 7, 3: 0, 4: null, 5: 4 }, type: "int" },
  {
    name: "a literal on the left: value(1).add(series)",
    tables: pairs,
    series: () => value(1).add(p.i1),
    expected: { 1: 8, 2: -6, 3: 1, 4: null, 5: 5 },
    type: "int",
  },
  {
    name: "a literal on the left: value(10).sub(series)",
    tables: pairs,
    series: () => value(10).sub(p.i2),
    expected: { 1: 8, 2: 8, 3: 13, 4: 8, 5: null },
  },
  {
    name: "arithmetic chains left to right",
    tables: pairs,
    series: () => p.i1.add(p.i2).mul(2).sub(1),
    expected: { 1: 17, 2: -11, 3: -7, 4: null, 5: null },
  },
  {
    name: "an event series plus a patient series, summed",
    tables: {
      p: "patient | i1\n1 | 10\n2 |",
      e: "patient | i1\n1 | 1\n1 | 2\n2 | 5",
    },
    series: () => e.i1.add(p.i1).sumForPatient(),
    expected: { 1: 23, 2: null },
  },
  {
    name: "two event series of the same table, row by row",
    tables: { e: "patient | i1 | i2\n1 | 1 | 10\n1 | 2 | 20\n1 | 3 |\n2 | 4 | 40" },
    series: () => e.i1.mul(e.i2).sumForPatient(),
    expected: { 1: 50, 2: 160 },
  },
  {
    name: "int comparisons with a value() literal on the left",
    tables: pairs,
    series: () => value(0).gt(p.i1),
    expected: { 1: false, 2: true, 3: false, 4: null, 5: false },
  },
  {
    name: "products beyond 32 bits stay exact",
    tables: { p: "patient | i1 | i2\n1 | 100000 | 100000\n2 | 3000000000 | 3" },
    series: () => p.i1.mul(p.i2),
    expected: { 1: 10000000000, 2: 9000000000 },
  },
  {
    name: "sums beyond 32 bits stay exact",
    tables: { e: "patient | i1\n1 | 2147483647\n1 | 2147483647\n1 | 2" },
    series: () => e.i1.sumForPatient(),
    expected: { 1: 4294967296 },
  },
];
