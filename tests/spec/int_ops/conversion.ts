// asInt and asFloat on int series.

import { type SpecCase, e, p } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "asFloat keeps the value and makes it a float",
    tables: { p: "patient | i1\n1 | 3\n2 | -4\n3 |" },
    series: () => p.i1.asFloat(),
    expected: { 1: 3, 2: -4, 3: null },
    type: "float",
  },
  {
    name: "asInt on an int series is the same series",
    tables: { p: "patient | i1\n1 | 3\n2 |" },
    series: () => p.i1.asInt(),
    expected: { 1: 3, 2: null },
    type: "int",
  },
  {
    name: "asFloat lets an int combine with a float",
    tables: { p: "patient | i1 | f1\n1 | 3 | 0.5\n2 | | 0.5" },
    series: () => p.i1.asFloat().add(p.f1),
    expected: { 1: 3.5, 2: null },
    type: "float",
  },
  {
    name: "asFloat then div by a literal",
    tables: { p: "patient | i1\n1 | 1\n2 | 2" },
    series: () => p.i1.asFloat().div(4),
    expected: { 1: 0.25, 2: 0.5 },
  },
  {
    name: "asFloat on an event series, then mean",
    tables: { e: "patient | i1\n1 | 1\n1 | 2\n2 | 5" },
    series: () => e.i1.asFloat().meanForPatient(),
    expected: { 1: 1.5, 2: 5 },
  },
];
