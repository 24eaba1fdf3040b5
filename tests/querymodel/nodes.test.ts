import { describe, expect, it } from "vitest";
import {
  DomainMismatchError,
  FUNCTIONS,
  AGGREGATIONS,
  PopulationError,
  Q,
  QueryModelError,
  TypeValidationError,
  checkPopulation,
  datasetFromJson,
  datasetToJson,
  domainOf,
  makeDataset,
  nodeId,
} from "../../src/querymodel/index.js";

const e = Q.selectTable("e", { i1: "int", f1: "float", d1: "date", b1: "bool", s1: "str", c1: "snomedct" });
const f = Q.selectTable("f", { i1: "int" });
const p = Q.selectPatientTable("p", { i1: "int", b1: "bool", d1: "date" });
const ei = Q.column(e, "i1");
const pi = Q.column(p, "i1");
const int = (n: number) => Q.value("int", n);

describe("types", () => {
  it("refuses int with float, naming the node and both types", () => {
    expect(() => Q.fn("Add", ei, Q.column(e, "f1"))).toThrow(TypeValidationError);
    expect(() => Q.fn("Add", ei, Q.column(e, "f1"))).toThrow(/Add\.args requires int on both sides but received int and float/);
  });
  it("gives the documented result types", () => {
    expect(Q.fn("TrueDivide", ei, int(2)).type).toBe("float");
    expect(Q.fn("FloorDivide", Q.column(e, "f1"), Q.value("float", 2)).type).toBe("int");
    expect(Q.fn("Power", ei, int(2)).type).toBe("float");
    expect(Q.fn("DateDifferenceInYears", Q.column(e, "d1"), Q.value("date", "2020-01-01")).type).toBe("int");
    expect(Q.aggregate("Mean", ei).type).toBe("float");
    expect(Q.aggregate("Sum", ei).type).toBe("int");
    expect(Q.aggregate("CombineAsSet", ei).type).toBe("set<int>");
  });
  it("refuses sum of a str series", () => {
    expect(() => Q.aggregate("Sum", Q.column(e, "s1"))).toThrow(/Sum\.source requires int or float but received str/);
  });
  it("checks literal values against their type", () => {
    expect(() => Q.value("int", 1.5)).toThrow(/expected an integer/);
    expect(() => Q.value("date", "2021-02-29")).toThrow(/expected a date/);
    expect(() => Q.value("snomedct", "0123")).toThrow(/not a valid SNOMED CT code/);
    expect(Q.value("set<snomedct>", ["123456", "123456", "654321"]).value).toEqual(["123456", "654321"]);
  });
  it("refuses an unknown column, listing the columns", () => {
    expect(() => Q.column(e, "nope")).toThrow(/no column "nope"; its columns are i1, f1, d1, b1, s1, c1/);
  });
  it("needs a sort before picking a row", () => {
    expect(() => Q.pick(e, "first")).toThrow(/requires a sorted frame/);
    expect(Q.pick(Q.filter(Q.sort(e, [ei]), Q.value("bool", true)), "last").kind).toBe("PickOneRowPerPatient");
  });
  it("refuses a Case whose branches differ in type", () => {
    expect(() => Q.case([{ when: Q.value("bool", true), then: int(1) }], Q.value("str", "x"))).toThrow(/Case\.then requires int in every branch but received str/);
  });
  it("freezes what it builds", () => {
    const n = Q.fn("Add", ei, int(1));
    expect(Object.isFrozen(n)).toBe(true);
    expect(Object.isFrozen(n.args)).toBe(true);
  });
});

describe("domains", () => {
  it("lets patient-level series combine with anything", () => {
    expect(domainOf(Q.fn("Add", ei, pi))).toEqual(domainOf(e));
  });
  it("refuses series from two tables", () => {
    expect(() => Q.fn("Add", ei, Q.column(f, "i1"))).toThrow(DomainMismatchError);
  });
  it("refuses the same table filtered differently", () => {
    const filtered = Q.filter(e, Q.column(e, "b1"));
    expect(() => Q.fn("Add", Q.column(filtered, "i1"), ei)).toThrow(DomainMismatchError);
  });
  it("treats structurally equal filters as one domain", () => {
    const a = Q.filter(e, Q.column(e, "b1"));
    const b = Q.filter(e, Q.column(e, "b1"));
    expect(nodeId(a)).toBe(nodeId(b));
    expect(Q.fn("Add", Q.column(a, "i1"), Q.column(b, "i1")).type).toBe("int");
  });
  it("lets a filter use a condition from an ancestor of its frame", () => {
    const a = Q.filter(e, Q.column(e, "b1"));
    expect(Q.filter(a, Q.fn("GT", ei, int(0))).kind).toBe("Filter");
    expect(Q.sort(a, [Q.column(e, "d1")]).kind).toBe("Sort");
  });
  it("refuses a filter condition from a sibling filter", () => {
    const a = Q.filter(e, Q.column(e, "b1"));
    const b = Q.filter(e, Q.fn("GT", ei, int(0)));
    expect(() => Q.filter(a, Q.column(b, "b1"))).toThrow(DomainMismatchError);
  });
  it("refuses sorting by a patient-level series and aggregating one", () => {
    expect(() => Q.sort(e, [pi])).toThrow(/one value per patient/);
    expect(() => Q.aggregate("Sum", pi)).toThrow(/already has one value per patient/);
  });
  it("keeps the dataset patient-level", () => {
    const pop = Q.aggregate("Exists", e);
    expect(() => makeDataset(pop, [{ name: "x", series: ei }])).toThrow(/many values per patient/);
    expect(() => makeDataset(Q.column(e, "b1"), [])).toThrow(/population must have one value per patient/);
  });
});

describe("population rule", () => {
  const ok = (pop: ReturnType<typeof Q.fn> | ReturnType<typeof Q.aggregate>) => () => checkPopulation(makeDataset(pop, []));
  it("refuses a population true for a patient with no rows", () => {
    expect(ok(Q.value("bool", true) as never)).toThrow(PopulationError);
    expect(ok(Q.fn("Not", Q.aggregate("Exists", e)))).toThrow(PopulationError);
    expect(ok(Q.fn("LT", Q.aggregate("Count", e), int(5)))).toThrow(PopulationError);
    expect(ok(Q.fn("IsNull", pi))).toThrow(PopulationError);
  });
  it("accepts populations that need data", () => {
    expect(ok(Q.aggregate("Exists", e))).not.toThrow();
    expect(ok(Q.fn("GT", pi, int(3)))).not.toThrow();
    expect(ok(Q.fn("Or", Q.aggregate("Exists", e), Q.fn("IsNull", Q.column(p, "b1"))))).toThrow(PopulationError);
    expect(ok(Q.fn("And", Q.aggregate("Exists", e), Q.fn("IsNull", Q.column(p, "b1"))))).not.toThrow();
  });
});

describe("JSON", () => {
  const sorted = Q.sort(Q.filter(e, Q.column(e, "b1")), [Q.column(e, "d1"), ei]);
  const row = Q.pick(sorted, "last");
  const inline = Q.inlinePatientTable({ region: "str" }, [[1, "North"], [2, null]]);
  const every = makeDataset(Q.aggregate("Exists", e), [
    { name: "a", series: Q.column(row, "i1") },
    { name: "b", series: Q.case([{ when: Q.fn("IsNull", pi), then: null }, { when: Q.column(p, "b1"), then: int(2) }], int(3)) },
    { name: "c", series: Q.fn("In", Q.column(p, "i1"), Q.aggregate("CombineAsSet", ei)) },
    { name: "d", series: Q.aggregate("CountEpisodes", Q.column(e, "d1"), 30) },
    { name: "e", series: Q.column(inline, "region") },
    { name: "f", series: Q.fn("MaximumOf", Q.column(p, "d1"), Q.value("date", "2020-02-29"), Q.parameter("start", "date")) },
    { name: "g", series: Q.fn("In", Q.column(p, "i1"), Q.value("set<int>", [1, 2, null])) },
  ], { populationSize: 10, seed: 3 });

  it("round-trips losslessly", () => {
    const json = JSON.parse(JSON.stringify(datasetToJson(every)));
    const back = datasetFromJson(json);
    expect(datasetToJson(back)).toEqual(json);
    expect(back.variables.map((v) => nodeId(v.series))).toEqual(every.variables.map((v) => nodeId(v.series)));
    expect(back.dummyData).toEqual({ populationSize: 10, seed: 3 });
  });
  it("writes a shared subtree once", () => {
    let x: ReturnType<typeof Q.fn> = Q.fn("Add", pi, int(1));
    for (let i = 0; i < 40; i++) x = Q.fn("Add", x, x); // 2^40 paths, 42 nodes
    const json = datasetToJson(makeDataset(Q.aggregate("Exists", e), [{ name: "x", series: x }]));
    expect(json.nodes.length).toBeLessThan(60);
  });
  it("validates what it reads", () => {
    const json = JSON.parse(JSON.stringify(datasetToJson(every)));
    const addIndex = json.nodes.findIndex((n: { kind: string; fn?: string }) => n.kind === "Aggregate" && n.fn === "Exists");
    json.nodes[addIndex] = { kind: "Aggregate", fn: "Sum", source: 0 };
    expect(() => datasetFromJson(json)).toThrow(QueryModelError);
    expect(() => datasetFromJson({ format: "enclave-querymodel", version: 99 })).toThrow(/version 99 is not supported/);
    expect(() => datasetFromJson({ format: "enclave-querymodel", version: 1, nodes: [{ kind: "Value", type: "int", value: 1 }, { kind: "Function", fn: "Add", args: [0, 5] }], dataset: {} })).toThrow(/refers to 5/);
  });
  it("applies the population rule on reading", () => {
    const json = datasetToJson(makeDataset(Q.fn("Not", Q.aggregate("Exists", e)), []));
    expect(() => datasetFromJson(json)).toThrow(PopulationError);
  });
});

it("has a signature for every function and aggregation", () => {
  expect(Object.keys(FUNCTIONS).length).toBe(35); // as ehrQL's Function namespace
  expect(Object.keys(AGGREGATIONS).sort()).toEqual(["CombineAsSet", "Count", "CountDistinct", "CountEpisodes", "Exists", "Max", "Mean", "Min", "Sum"]);
});
