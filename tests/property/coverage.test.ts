// The generators reach the whole query model: every node kind (but Parameter,
// which no runnable dataset holds), every function and every aggregation, and
// the shapes the SQL compiler treats specially.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AGGREGATIONS, FUNCTIONS, type Dataset, type Node, walk } from "../../src/querymodel/index.js";
import { NODE_KINDS, NOT_RUNNABLE_IN_A_DATASET } from "../spec/harness.js";
import { caseArb, datasetArb } from "./generators.js";
import { DEFAULT_SEED } from "./compare.js";

const SAMPLES = 500;

/** Everything a dataset exercises, as "kind:X", "fn:X", "agg:X" and a few shapes. */
export function features(ds: Dataset): Set<string> {
  const seen = new Set<string>();
  const nodes: Node[] = walk([ds.population, ...ds.variables.map((v) => v.series)]);
  for (const n of nodes) {
    seen.add(`kind:${n.kind}`);
    switch (n.kind) {
      case "Function":
        seen.add(`fn:${n.fn}`);
        if (n.fn === "In") {
          const rhs = n.args[1]!;
          if (rhs.kind === "Value") seen.add((rhs.value as unknown[]).filter((v) => v !== null).length > 20 ? "shape:long set" : "shape:short set");
          if (rhs.kind === "Value" && (rhs.value as unknown[]).length === 0) seen.add("shape:empty set");
        }
        if (n.fn === "StringContains") seen.add(`shape:contains ${n.args[0]!.type}`);
        break;
      case "Aggregate":
        seen.add(`agg:${n.fn}`);
        if (n.source.kind === "SelectPatientTable" || n.source.kind === "PickOneRowPerPatient" || n.source.kind === "InlinePatientTable") {
          seen.add(`shape:${n.fn} of a patient frame`);
        }
        break;
      case "Sort":
        if (n.sortBy.length > 1) seen.add("shape:several sort keys");
        break;
      case "PickOneRowPerPatient":
        seen.add(`shape:pick ${n.position}`);
        break;
      case "Filter":
        if (n.source.kind === "Filter") seen.add("shape:filter chain");
        if (walk([n.condition]).every((m) => m.kind !== "SelectColumn" || !["SelectTable", "Filter", "Sort"].includes(m.source.kind))) {
          seen.add("shape:patient-level filter condition");
        }
        break;
      case "SelectColumn":
        seen.add(`column of ${n.source.kind}`);
        break;
      case "Case":
        if (n.otherwise === null) seen.add("shape:case without otherwise");
        break;
    }
  }
  return seen;
}

describe("the generators", () => {
  it(`reach every node kind, function and aggregation in ${SAMPLES} datasets`, () => {
    const counts = new Map<string, number>();
    for (const ds of fc.sample(datasetArb, { numRuns: SAMPLES, seed: DEFAULT_SEED })) {
      for (const f of features(ds)) counts.set(f, (counts.get(f) ?? 0) + 1);
    }
    const wanted = [
      ...NODE_KINDS.map((k) => `kind:${k}`).filter((k) => !Object.hasOwn(NOT_RUNNABLE_IN_A_DATASET, k)),
      ...Object.keys(FUNCTIONS).map((f) => `fn:${f}`),
      ...Object.keys(AGGREGATIONS).map((a) => `agg:${a}`),
      "shape:long set",
      "shape:short set",
      "shape:empty set",
      "shape:several sort keys",
      "shape:pick first",
      "shape:pick last",
      "shape:filter chain",
      "shape:patient-level filter condition",
      "shape:contains str",
      "shape:contains snomedct",
      "shape:contains icd10multi",
      "shape:Exists of a patient frame",
      "shape:Count of a patient frame",
      "shape:case without otherwise",
      "column of InlinePatientTable",
      "column of PickOneRowPerPatient",
      "column of SelectPatientTable",
      "column of Sort",
      "column of Filter",
      "column of SelectTable",
    ];
    // Each must be common, not a fluke: in at least 1% of the datasets.
    const rare = wanted.filter((w) => (counts.get(w) ?? 0) < SAMPLES / 100).map((w) => `${w}: ${counts.get(w) ?? 0}`);
    expect(rare, "reached in fewer than 1% of the sampled datasets").toEqual([]);
  });

  it("make tables with NULLs, duplicates and patients in one table only", () => {
    let nulls = 0, duplicates = 0, onlyOne = 0;
    for (const { tables } of fc.sample(caseArb, { numRuns: 200, seed: DEFAULT_SEED })) {
      const rows = [...tables.e, ...tables.g];
      if (rows.some((r) => r.includes(null))) nulls++;
      if (new Set(tables.e.map((r) => JSON.stringify(r))).size < tables.e.length) duplicates++;
      const inP = new Set(tables.p.map((r) => r[0])), inE = new Set(tables.e.map((r) => r[0]));
      if ([...inE].some((id) => !inP.has(id)) && [...inP].some((id) => !inE.has(id))) onlyOne++;
    }
    expect(nulls).toBeGreaterThan(100);
    expect(duplicates).toBeGreaterThan(50);
    expect(onlyOne).toBeGreaterThan(50);
  });
});
