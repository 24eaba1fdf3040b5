// asInt of a float rounds towards zero; asFloat of a float is itself.

import { type SpecCase, e, p } from "../harness.js";

const fractions = { p: "patient | f1\n1 | 2.7\n2 | -2.7\n3 | 2.2\n4 | -2.2\n5 | 3.0\n6 | 0.5\n7 |" };

export const cases: SpecCase[] = [
  {
    name: "asInt rounds towards zero",
    tables: fractions,
    series: () => p.f1.asInt(),
    expected: { 1: 2, 2: -2, 3: 2, 4: -2, 5: 3, 6: 0, 7: null },
    type: "int",
  },
  {
    name: "asFloat on a float series",
    tables: fractions,
    series: () => p.f1.asFloat(),
    expected: { 1: 2.7, 2: -2.7, 3: 2.2, 4: -2.2, 5: 3, 6: 0.5, 7: null },
    type: "float",
  },
  {
    name: "asInt lets a float combine with an int",
    tables: { p: "patient | f1 | i1\n1 | 2.9 | 10\n2 | -0.9 | 10" },
    series: () => p.f1.asInt().add(p.i1),
    expected: { 1: 12, 2: 10 },
    type: "int",
  },
  {
    name: "asInt on an event series, then summed",
    tables: { e: "patient | f1\n1 | 1.9\n1 | 2.9\n2 | -1.5" },
    series: () => e.f1.asInt().sumForPatient(),
    expected: { 1: 3, 2: -1 },
    type: "int",
  },
];
