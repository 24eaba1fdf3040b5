// Multi-code strings (icd10multi, opcs4multi) hold several codes in one value;
// contains looks for one code (or prefix), containsAnyOf for any of several.
// (Our text tables split cells on |, so these strings use , and ; between codes.)

import { codelistFromCsv } from "../../../src/language/index.js";
import { type SpecCase, codelistPath, e, p } from "../harness.js";

const diagnoses = {
  p: `
    patient | m1
    1       | E119 ,J849 ;I10
    2       | J45X ,J849
    3       | I10
    4       |
  `,
};

export const cases: SpecCase[] = [
  {
    name: "contains a full code",
    tables: diagnoses,
    series: () => p.m1.contains("I10"),
    expected: { 1: true, 2: false, 3: true, 4: null },
  },
  {
    name: "contains a code prefix",
    tables: diagnoses,
    series: () => p.m1.contains("E11"),
    expected: { 1: true, 2: false, 3: false, 4: null },
  },
  {
    name: "containsAnyOf an array of codes",
    tables: diagnoses,
    series: () => p.m1.containsAnyOf(["E11", "J45"]),
    expected: { 1: true, 2: true, 3: false, 4: null },
  },
  {
    name: "containsAnyOf a codelist from a CSV file",
    tables: diagnoses,
    series: () => p.m1.containsAnyOf(codelistFromCsv(codelistPath("icd10.csv"), { column: "code" })),
    expected: { 1: true, 2: true, 3: false, 4: null },
  },
  {
    name: "containsAnyOf with one code",
    tables: diagnoses,
    series: () => p.m1.containsAnyOf(["J849"]),
    expected: { 1: true, 2: true, 3: false, 4: null },
  },
  {
    name: "contains on an event multi-code series, then exists",
    tables: { e: "patient | m1\n1 | E119\n1 | I10\n2 | I10\n3 |" },
    series: () => e.where(e.m1.contains("E11")).existsForPatient(),
    expected: { 1: true, 2: false, 3: false },
  },
];
