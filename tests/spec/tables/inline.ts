// Patient tables written in the definition (ehrQL's table_from_rows).

import { tableFromRows } from "../../../src/language/index.js";
import { type SpecCase, p } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "a column of an inline table; patients not in it read NULL",
    tables: { p: "patient | i1\n1 | 1\n2 | 2\n3 | 3" },
    series: () => tableFromRows({ region: "str" }, [[1, "north"], [3, "south"], [9, "east"]]).region,
    expected: { 1: "north", 2: null, 3: "south" },
  },
  {
    name: "an inline table's columns combine with other tables",
    tables: { p: "patient | i1\n1 | 10\n2 | 20" },
    series: () => tableFromRows({ bonus: "int" }, [[1, 5], [2, null]]).bonus.add(p.i1),
    expected: { 1: 15, 2: null },
  },
  {
    name: "an inline table's existsForPatient",
    tables: { p: "patient | i1\n1 | 10\n2 | 20" },
    series: () => tableFromRows({ flag: "bool" }, [[2, true]]).existsForPatient(),
    expected: { 1: false, 2: true },
  },
];
