import { describe, expect, it } from "vitest";
import { type AggregationName, AGGREGATIONS, Q } from "../../../src/querymodel/index.js";
import { byPatient, col, dataset, e, ev, everyone, fn, int, p, pv } from "./helpers.js";

// Patient 1 has values, patient 2 only NULLs, patient 3 no rows at all (only in p).
const tables = {
  p: [pv(1, {}), pv(2, {}), pv(3, {})],
  e: [
    ev(1, { i1: 4, f1: 1.5, d1: "2020-01-10", s1: "b" }),
    ev(1, { i1: 2, f1: 2.25, d1: "2020-01-01", s1: "a" }),
    ev(1, { i1: 4, f1: null, d1: "2020-03-01", s1: "c" }),
    ev(1, { i1: null, f1: -0.75, d1: null, s1: null }),
    ev(2, {}),
    ev(2, {}),
  ],
};

async function aggregateOf(fnName: AggregationName, column: string, maximumGapDays?: number) {
  const ds = dataset(Q.aggregate("Exists", p), { v: Q.aggregate(fnName, col(e, column), maximumGapDays), anchor: Q.aggregate("Count", p) });
  const got = await byPatient(ds, tables);
  return [1, 2, 3].map((pid) => got[pid]![0]);
}

describe("aggregations over a series: values, and what no non-NULL value gives", () => {
  it("Exists: at least one non-NULL value; never NULL", async () => {
    expect(await aggregateOf("Exists", "i1")).toEqual([true, false, false]);
  });
  it("Count: the non-NULL values; never NULL", async () => {
    expect(await aggregateOf("Count", "i1")).toEqual([3, 0, 0]);
  });
  it("CountDistinct: distinct non-NULL values; never NULL", async () => {
    expect(await aggregateOf("CountDistinct", "i1")).toEqual([2, 0, 0]);
  });
  it("CountEpisodes: with the maximum gap; never NULL", async () => {
    // 01-01, 01-10 (9 days later: same episode when the gap allows 9), 03-01.
    expect(await aggregateOf("CountEpisodes", "d1", 9)).toEqual([2, 0, 0]);
    expect(await aggregateOf("CountEpisodes", "d1", 8)).toEqual([3, 0, 0]);
    expect(await aggregateOf("CountEpisodes", "d1", 100)).toEqual([1, 0, 0]);
  });
  it("Sum: int stays int, float stays float; NULL when there is no value", async () => {
    expect(await aggregateOf("Sum", "i1")).toEqual([10, null, null]);
    expect(await aggregateOf("Sum", "f1")).toEqual([3, null, null]);
  });
  it("Mean: a float; NULL when there is no value", async () => {
    expect(await aggregateOf("Mean", "i1")).toEqual([10 / 3, null, null]);
    expect(await aggregateOf("Mean", "f1")).toEqual([1, null, null]);
  });
  it("Min and Max: over ints, dates and strings; NULL when there is no value", async () => {
    expect(await aggregateOf("Min", "i1")).toEqual([2, null, null]);
    expect(await aggregateOf("Max", "i1")).toEqual([4, null, null]);
    expect(await aggregateOf("Min", "d1")).toEqual(["2020-01-01", null, null]);
    expect(await aggregateOf("Max", "d1")).toEqual(["2020-03-01", null, null]);
    expect(await aggregateOf("Min", "s1")).toEqual(["a", null, null]);
    expect(await aggregateOf("Max", "s1")).toEqual(["c", null, null]);
    expect(await aggregateOf("Min", "f1")).toEqual([-0.75, null, null]);
  });
  it("CombineAsSet: the patient's non-NULL values, for the right side of In; empty for no values", async () => {
    const set = Q.aggregate("CombineAsSet", col(e, "i1"));
    const ds = dataset(Q.aggregate("Exists", p), {
      has2: fn("In", int(2), set),
      has3: fn("In", int(3), set),
      // An empty set gives false even for a NULL left side; otherwise NULL gives NULL.
      nullIn: fn("In", Q.value("int", null), set),
    });
    expect(await byPatient(ds, tables)).toEqual({
      1: [true, false, null],
      2: [false, false, false],
      3: [false, false, false],
    });
  });
  it("sums a lone -0 to 0", async () => {
    const ds = dataset(everyone, { s: Q.aggregate("Sum", col(e, "f1")) });
    const got = await byPatient(ds, { e: [ev(1, { f1: -0 })] });
    expect(Object.is(got[1]![0], 0)).toBe(true);
  });
  it("covers every aggregation", () => {
    // Keeps this file honest when an aggregation is added to the query model.
    const tested = ["Exists", "Count", "CountDistinct", "CountEpisodes", "Sum", "Mean", "Min", "Max", "CombineAsSet"];
    expect(Object.keys(AGGREGATIONS).sort()).toEqual(tested.sort());
  });
});

describe("aggregations over a frame count rows, NULL or not", () => {
  it("Exists and Count of a frame count every row", async () => {
    const ds = dataset(Q.aggregate("Exists", p), { has: Q.aggregate("Exists", e), n: Q.aggregate("Count", e) });
    expect(await byPatient(ds, tables)).toEqual({ 1: [true, 4], 2: [true, 2], 3: [false, 0] });
  });

  it("an aggregation over a filtered frame's column sees only the kept rows", async () => {
    const f = Q.filter(e, fn("GE", col(e, "d1"), Q.value("date", "2020-01-05")));
    const ds = dataset(Q.aggregate("Exists", p), { s: Q.aggregate("Sum", col(f, "i1")), n: Q.aggregate("Count", f), m: Q.aggregate("Min", col(f, "s1")) });
    expect(await byPatient(ds, tables)).toEqual({ 1: [8, 2, "b"], 2: [null, 0, null], 3: [null, 0, null] });
  });

  it("an aggregation over an expression on a sorted frame ignores the order", async () => {
    const sorted = Q.sort(e, [col(e, "d1")]);
    const ds = dataset(Q.aggregate("Exists", p), { s: Q.aggregate("Sum", fn("Multiply", col(sorted, "i1"), int(10))) });
    expect(await byPatient(ds, tables)).toEqual({ 1: [100], 2: [null], 3: [null] });
  });
});
