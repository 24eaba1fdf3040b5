// pow on floats: NULL for zero to a negative power, and for a negative base
// with a fractional exponent (no real answer).

import { type SpecCase, p } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "a square root by a fractional exponent",
    tables: { p: "patient | f1\n1 | 4.0\n2 | 2.25\n3 |" },
    series: () => p.f1.pow(0.5),
    expected: { 1: 2, 2: 1.5, 3: null },
    type: "float",
  },
  {
    name: "a negative base with a fractional exponent is NULL",
    tables: { p: "patient | f1 | f2\n1 | -8.0 | 0.5\n2 | -8.0 | 2.0\n3 | -2.0 | 3.0" },
    series: () => p.f1.pow(p.f2),
    expected: { 1: null, 2: 64, 3: -8 },
  },
  {
    name: "zero to a negative power is NULL",
    tables: { p: "patient | f1 | f2\n1 | 0.0 | -1.0\n2 | 0.0 | -0.5\n3 | 0.0 | 0.5\n4 | 0.0 | 0.0" },
    series: () => p.f1.pow(p.f2),
    expected: { 1: null, 2: null, 3: 0, 4: 1 },
  },
  {
    name: "an integral literal exponent",
    tables: { p: "patient | f1\n1 | 1.5\n2 | -0.5" },
    series: () => p.f1.pow(2),
    expected: { 1: 2.25, 2: 0.25 },
  },
];
