// toCategory: a categorised codelist, or an object of code → category; codes
// not in it give NULL.

import { codelistFromCsv } from "../../../src/language/index.js";
import { type SpecCase, codelistPath, e, p } from "../harness.js";

const codes = { p: "patient | c1\n1 | 123456\n2 | 234567\n3 | 1000000\n4 | 345678\n5 |" };

export const cases: SpecCase[] = [
  {
    name: "toCategory with an object of code to category",
    tables: codes,
    series: () => p.c1.toCategory({ "123456": "resp", "234567": "resp", "1000000": "diab" }),
    expected: { 1: "resp", 2: "resp", 3: "diab", 4: null, 5: null },
    type: "str",
  },
  {
    name: "toCategory with a categorised codelist from a CSV file",
    tables: codes,
    series: () => p.c1.toCategory(codelistFromCsv(codelistPath("snomed.csv"), { column: "code", categoryColumn: "category" })),
    expected: { 1: "resp", 2: "resp", 3: "diab", 4: null, 5: null },
  },
  {
    name: "a category compared with a string",
    tables: codes,
    series: () => p.c1.toCategory({ "123456": "resp", "1000000": "diab" }).eq("diab"),
    expected: { 1: false, 2: null, 3: true, 4: null, 5: null },
  },
  {
    name: "categories of events, counted per category",
    tables: { e: "patient | c1\n1 | 123456\n1 | 999999\n1 | 1000000\n2 | 345678" },
    series: () =>
      e.where(e.c1.toCategory(codelistFromCsv(codelistPath("snomed.csv"), { column: "code", categoryColumn: "category" })).eq("diab")).countForPatient(),
    expected: { 1: 2, 2: 0 },
  },
  {
    name: "the category of the first event",
    tables: { e: "patient | c1 | d1\n1 | 1000000 | 2021-01-01\n1 | 123456 | 2020-01-01" },
    series: () => e.sortBy(e.d1).firstForPatient().c1.toCategory({ "123456": "resp", "1000000": "diab" }),
    expected: { 1: "resp" },
  },
];
