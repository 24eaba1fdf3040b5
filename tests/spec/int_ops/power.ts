// pow gives a float; zero to a negative power gives NULL.

import { type SpecCase, p } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "int to an int power",
    tables: { p: "patient | i1 | i2\n1 | 2 | 3\n2 | -2 | 3\n3 | -2 | 2\n4 | 5 | 0\n5 | 0 | 0\n6 | | 2\n7 | 2 |" },
    series: () => p.i1.pow(p.i2),
    expected: { 1: 8, 2: -8, 3: 4, 4: 1, 5: 1, 6: null, 7: null },
    type: "float",
  },
  {
    name: "a negative exponent gives a fraction",
    tables: { p: "patient | i1\n1 | 2\n2 | 4\n3 | -2" },
    series: () => p.i1.pow(-1),
    expected: { 1: 0.5, 2: 0.25, 3: -0.5 },
    type: "float",
  },
  {
    name: "zero to a negative power is NULL",
    tables: { p: "patient | i1 | i2\n1 | 0 | -1\n2 | 0 | -2\n3 | 0 | 1" },
    series: () => p.i1.pow(p.i2),
    expected: { 1: null, 2: null, 3: 0 },
  },
  {
    name: "squaring with a literal",
    tables: { p: "patient | i1\n1 | 3\n2 | -3\n3 |" },
    series: () => p.i1.pow(2),
    expected: { 1: 9, 2: 9, 3: null },
  },
];
