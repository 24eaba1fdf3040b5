// Codes are strings: compared case-sensitively and as strings, never as numbers.

import { type SpecCase, e, p } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "eq with a code string",
    tables: { p: "patient | c1\n1 | 123456\n2 | 1234567\n3 |" },
    series: () => p.c1.eq("123456"),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "ne on two code series",
    tables: { p: "patient | c1\n1 | 123456\n2 | 234567", e: "patient | c1\n1 | 123456\n2 | 123456" },
    series: () => e.where(e.c1.ne(p.c1)).countForPatient(),
    expected: { 1: 0, 2: 1 },
  },
  {
    name: "the largest code is the last as a string: 999999 after 1000000",
    tables: { e: "patient | c1\n1 | 1000000\n1 | 999999\n2 | 200000\n2 | 1000000\n3 |" },
    series: () => e.c1.maximumForPatient(),
    expected: { 1: "999999", 2: "200000", 3: null },
    type: "snomedct",
  },
  {
    name: "the smallest code is the first as a string: 1000000 before 999999",
    tables: { e: "patient | c1\n1 | 1000000\n1 | 999999\n2 | 123456" },
    series: () => e.c1.minimumForPatient(),
    expected: { 1: "1000000", 2: "123456" },
  },
  {
    name: "sorting by a code sorts as strings",
    tables: { e: "patient | c1 | i1\n1 | 999999 | 1\n1 | 1000000 | 2\n1 | 12345678 | 3" },
    series: () => e.sortBy(e.c1).firstForPatient().i1,
    expected: { 1: 2 },
  },
  {
    name: "CTV3 codes are case-sensitive",
    tables: { p: "patient | k1\n1 | Xa1bc\n2 | XA1BC\n3 | xa1bc" },
    series: () => p.k1.eq("Xa1bc"),
    expected: { 1: true, 2: false, 3: false },
  },
  {
    name: "CTV3 codes with dots",
    tables: { p: "patient | k1\n1 | XE0e.\n2 | XE0eX" },
    series: () => p.k1.isIn(["XE0e."]),
    expected: { 1: true, 2: false },
  },
  {
    name: "countDistinctForPatient on codes",
    tables: { e: "patient | c1\n1 | 123456\n1 | 123456\n1 | 234567\n1 |\n2 |" },
    series: () => e.c1.countDistinctForPatient(),
    expected: { 1: 2, 2: 0 },
  },
  {
    name: "a code whenNullThen another code",
    tables: { p: "patient | c1\n1 | 123456\n2 |" },
    series: () => p.c1.whenNullThen("999999"),
    expected: { 1: "123456", 2: "999999" },
    type: "snomedct",
  },
  {
    name: "the code of the latest event",
    tables: { e: "patient | c1 | d1\n1 | 123456 | 2020-01-01\n1 | 234567 | 2021-01-01\n2 | 345678 | 2020-01-01" },
    series: () => e.sortBy(e.d1).lastForPatient().c1,
    expected: { 1: "234567", 2: "345678" },
  },
  {
    name: "isIn an event code series",
    tables: { p: "patient | c1\n1 | 123456\n2 | 123456", e: "patient | c1\n1 | 123456\n2 | 234567" },
    series: () => p.c1.isIn(e.c1),
    expected: { 1: true, 2: false },
  },
];
