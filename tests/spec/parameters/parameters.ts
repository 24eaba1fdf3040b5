// getParameter: values given with `--param name=value`, as strings, read when
// the definition is built.

import { getParameter } from "../../../src/language/index.js";
import { type ErrorCase, type SpecCase, datasetWith, e, p } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "a str parameter compared with a column",
    tables: { p: "patient | s1\n1 | north\n2 | south" },
    params: { region: "north" },
    series: () => p.s1.eq(getParameter("region")),
    expected: { 1: true, 2: false },
  },
  {
    name: "a date parameter",
    tables: { e: "patient | d1\n1 | 2020-01-01\n1 | 2021-06-01\n2 | 2019-01-01" },
    params: { start: "2020-06-01" },
    series: () => e.where(e.d1.isOnOrAfter(getParameter("start"))).countForPatient(),
    expected: { 1: 1, 2: 0 },
  },
  {
    name: "a number parameter, converted by the definition",
    tables: { p: "patient | i1\n1 | 5\n2 | 50" },
    params: { threshold: "10" },
    series: () => p.i1.gt(Number(getParameter("threshold"))),
    expected: { 1: false, 2: true },
  },
  {
    name: "several parameters",
    tables: { p: "patient | d1\n1 | 2020-03-01\n2 | 2021-03-01" },
    params: { from: "2020-01-01", to: "2020-12-31" },
    series: () => p.d1.isOnOrBetween(getParameter("from"), getParameter("to")),
    expected: { 1: true, 2: false },
  },
  {
    name: "a default for a parameter not given",
    tables: { p: "patient | s1\n1 | x\n2 | y" },
    series: () => p.s1.eq(getParameter("letter", { default: "y" })),
    expected: { 1: false, 2: true },
  },
];

export const errors: ErrorCase[] = [
  {
    name: "a parameter that is not given",
    build: () => datasetWith(() => p.s1.eq(getParameter("region"))),
    message: /region/,
  },
  {
    name: "a parameter that is not a date where a date is needed",
    params: { start: "last tuesday" },
    build: () => datasetWith(() => p.d1.isAfter(getParameter("start"))),
    message: /last tuesday|date/i,
  },
];
