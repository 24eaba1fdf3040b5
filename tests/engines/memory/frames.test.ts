import { describe, expect, it } from "vitest";
import { Q } from "../../../src/querymodel/index.js";
import { bool, byPatient, col, dataset, date, e, ev, everyone, fn, int, p, pv } from "./helpers.js";

const count = (f: Parameters<typeof Q.aggregate>[1]) => Q.aggregate("Count", f);
const sumI1 = (f: Parameters<typeof Q.column>[0]) => Q.aggregate("Sum", col(f, "i1"));

describe("Filter", () => {
  it("keeps rows whose condition is exactly true, dropping NULL and false", async () => {
    const kept = Q.filter(e, col(e, "b1"));
    const ds = dataset(everyone, { n: count(kept), s: sumI1(kept) });
    const got = await byPatient(ds, {
      e: [ev(1, { i1: 1, b1: true }), ev(1, { i1: 10, b1: false }), ev(1, { i1: 100, b1: null }), ev(1, { i1: 1000, b1: true }), ev(2, { i1: 5, b1: null })],
    });
    expect(got).toEqual({ 1: [2, 1001], 2: [0, null] });
  });

  it("exceptWhere (a filter on NOT c OR c IS NULL) keeps the NULL rows", async () => {
    const c = col(e, "b1");
    const kept = Q.filter(e, fn("Or", fn("Not", c), fn("IsNull", c)));
    const ds = dataset(everyone, { s: sumI1(kept) });
    const got = await byPatient(ds, { e: [ev(1, { i1: 1, b1: true }), ev(1, { i1: 10, b1: false }), ev(1, { i1: 100, b1: null })] });
    expect(got).toEqual({ 1: [110] });
  });

  it("accepts a condition from an ancestor domain on a filtered frame", async () => {
    // e.where(e.b1).where(e.i1 > 0): the second condition is a column of the unfiltered table.
    const f1 = Q.filter(e, col(e, "b1"));
    const f2 = Q.filter(f1, fn("GT", col(e, "i1"), int(0)));
    // ...and one from the filtered frame's own domain.
    const f3 = Q.filter(f2, fn("LT", col(f2, "i2"), int(50)));
    const ds = dataset(everyone, { n2: count(f2), s2: sumI1(f2), n3: count(f3), s3: sumI1(f3) });
    const got = await byPatient(ds, {
      e: [
        ev(1, { i1: 1, i2: 10, b1: true }),
        ev(1, { i1: -1, i2: 10, b1: true }),
        ev(1, { i1: 2, i2: 60, b1: true }),
        ev(1, { i1: 3, i2: 10, b1: false }),
        ev(1, { i1: 4, i2: null, b1: true }),
      ],
    });
    expect(got).toEqual({ 1: [3, 7, 1, 1] });
  });

  it("applies a patient-level series to each of the patient's rows", async () => {
    const f = Q.filter(e, fn("GT", col(e, "i1"), col(p, "i1")));
    const ds = dataset(everyone, { n: count(f), s: sumI1(f), total: Q.aggregate("Sum", fn("Add", col(e, "i1"), col(p, "i1"))) });
    const got = await byPatient(ds, {
      p: [pv(1, { i1: 2 }), pv(2, { i1: null })],
      e: [ev(1, { i1: 1 }), ev(1, { i1: 3 }), ev(1, { i1: 5 }), ev(2, { i1: 9 }), ev(3, { i1: 1 })],
    });
    expect(got).toEqual({
      1: [2, 8, 15], // (1+2)+(3+2)+(5+2)
      2: [0, null, null], // every comparison with NULL is NULL
      3: [0, null, null], // no row in p: p.i1 is NULL
    });
  });

  it("accepts a literal condition (where(true)) and a patient-level aggregate condition", async () => {
    const all = Q.filter(e, bool(true));
    const aboveMean = Q.filter(e, fn("GT", fn("CastToFloat", col(e, "i1")), Q.aggregate("Mean", col(e, "i1"))));
    const ds = dataset(everyone, { n: count(all), above: sumI1(aboveMean) });
    const got = await byPatient(ds, { e: [ev(1, { i1: 1 }), ev(1, { i1: 2 }), ev(1, { i1: 6 }), ev(2, { i1: null })] });
    expect(got).toEqual({ 1: [3, 6], 2: [1, null] });
  });
});

describe("Sort and PickOneRowPerPatient", () => {
  const byD1 = Q.sort(e, [col(e, "d1")]);

  it("first is the minimum and last the maximum; NULL sorts first", async () => {
    const first = Q.pick(byD1, "first");
    const last = Q.pick(byD1, "last");
    const ds = dataset(everyone, { fd: col(first, "d1"), fi: col(first, "i1"), ld: col(last, "d1"), li: col(last, "i1") });
    const got = await byPatient(ds, {
      e: [
        ev(1, { d1: "2020-05-01", i1: 1 }),
        ev(1, { d1: "2019-01-01", i1: 2 }),
        ev(1, { d1: "2021-01-01", i1: 3 }),
        ev(2, { d1: "2020-01-01", i1: 4 }),
        ev(2, { d1: null, i1: 5 }),
      ],
    });
    expect(got).toEqual({
      1: ["2019-01-01", 2, "2021-01-01", 3],
      2: [null, 5, "2020-01-01", 4],
    });
  });

  it("gives NULL columns and a false Exists for a patient with no rows", async () => {
    const first = Q.pick(Q.sort(Q.filter(e, col(e, "b1")), [col(e, "d1")]), "first");
    const ds = dataset(everyone, { d: col(first, "d1"), has: Q.aggregate("Exists", first), n: Q.aggregate("Count", first) });
    const got = await byPatient(ds, { e: [ev(1, { d1: "2020-01-01", b1: true }), ev(1, { d1: "2019-01-01", b1: false }), ev(2, { b1: false })] });
    expect(got).toEqual({ 1: ["2020-01-01", true, 1], 2: [null, false, 0] });
  });

  it("compares by later keys when earlier ones tie (first key most significant)", async () => {
    const sorted = Q.sort(e, [col(e, "d1"), col(e, "i1")]);
    const ds = dataset(everyone, { first: col(Q.pick(sorted, "first"), "s1"), last: col(Q.pick(sorted, "last"), "s1") });
    const got = await byPatient(ds, {
      e: [
        ev(1, { d1: "2020-01-01", i1: 5, s1: "a" }),
        ev(1, { d1: "2020-01-01", i1: 2, s1: "b" }),
        ev(1, { d1: "2020-01-01", i1: null, s1: "c" }),
        ev(1, { d1: "2019-01-01", i1: 9, s1: "d" }),
        ev(1, { d1: "2021-01-01", i1: 1, s1: "e" }),
        ev(1, { d1: "2021-01-01", i1: 3, s1: "f" }),
      ],
    });
    expect(got).toEqual({ 1: ["d", "f"] });
  });

  it("gives the outer Sort's keys precedence; the inner ones break ties", async () => {
    const inner = Q.sort(e, [col(e, "i1")]);
    const outer = Q.sort(inner, [col(e, "d1")]);
    // A filter between the two sorts changes nothing about the order.
    const outerOverFilter = Q.sort(Q.filter(inner, bool(true)), [col(e, "d1")]);
    const ds = dataset(everyone, {
      first: col(Q.pick(outer, "first"), "s1"),
      last: col(Q.pick(outer, "last"), "s1"),
      first2: col(Q.pick(outerOverFilter, "first"), "s1"),
      innerFirst: col(Q.pick(inner, "first"), "s1"),
    });
    const got = await byPatient(ds, {
      e: [
        ev(1, { d1: "2020-01-01", i1: 1, s1: "a" }),
        ev(1, { d1: "2019-01-01", i1: 7, s1: "b" }),
        ev(1, { d1: "2019-01-01", i1: 3, s1: "c" }),
        ev(1, { d1: "2021-01-01", i1: 9, s1: "d" }),
        ev(1, { d1: "2021-01-01", i1: 8, s1: "e" }),
      ],
    });
    expect(got).toEqual({ 1: ["c", "d", "c", "a"] });
  });

  it("sorts by a key of an ancestor domain and by expressions", async () => {
    const f = Q.filter(e, col(e, "b1"));
    const sorted = Q.sort(f, [fn("Negate", col(e, "i1"))]);
    const ds = dataset(everyone, { top: col(Q.pick(sorted, "first"), "i1") });
    const got = await byPatient(ds, { e: [ev(1, { i1: 5, b1: true }), ev(1, { i1: 9, b1: false }), ev(1, { i1: 7, b1: true })] });
    expect(got).toEqual({ 1: [7] });
  });

  it("sorts bools false before true, and codes and strings as strings", async () => {
    const byBool = Q.sort(e, [col(e, "b1")]);
    const byCode = Q.sort(e, [col(e, "c1")]);
    const ds = dataset(everyone, {
      fb: col(Q.pick(byBool, "first"), "i1"),
      lb: col(Q.pick(byBool, "last"), "i1"),
      lc: col(Q.pick(byCode, "last"), "c1"),
    });
    const got = await byPatient(ds, {
      e: [ev(1, { b1: true, i1: 1, c1: "900000" }), ev(1, { b1: false, i1: 2, c1: "1000000" }), ev(1, { b1: true, i1: 3, c1: "123456" })],
    });
    // As strings, "900000" > "1000000" (as numbers it would be the other way round).
    expect(got[1]![0]).toBe(2);
    expect(got[1]![2]).toBe("900000");
    // The two rows with b1 = true tie; last = the row with the larger i1, the only column selected from that pick.
    expect(got[1]![1]).toBe(3);
  });
});

describe("tie-breaking between rows equal on every sort key", () => {
  // Rows A and B tie on d1; the columns disagree on which is smaller:
  // by i1, B (3) < A (5); by s1, A ("a") < B ("b").
  const tables = {
    e: [
      ev(1, { d1: "2020-01-01", i1: 5, s1: "a" }), // A
      ev(1, { d1: "2020-01-01", i1: 3, s1: "b" }), // B
      ev(1, { d1: "2019-01-01", i1: 9, s1: "z" }),
    ],
  };
  const sorted = () => Q.sort(e, [col(e, "d1")]);

  it("uses every selected column, ascending, in column-name order (i1 before s1)", async () => {
    const last = Q.pick(sorted(), "last");
    const first = Q.pick(Q.sort(Q.filter(e, fn("GT", col(e, "d1"), date("2019-06-01"))), [col(e, "d1")]), "first");
    const ds = dataset(everyone, { ls: col(last, "s1"), li: col(last, "i1"), fs: col(first, "s1"), fi: col(first, "i1") });
    // last = maximum: A (i1 5); first = minimum: B (i1 3).
    expect(await byPatient(ds, tables)).toEqual({ 1: ["a", 5, "b", 3] });
  });

  it("uses only the columns selected from that pick", async () => {
    const last = Q.pick(sorted(), "last");
    const ds = dataset(everyone, { ls: col(last, "s1") });
    // Only s1 is selected: the maximum s1 is B's.
    expect(await byPatient(ds, tables)).toEqual({ 1: ["b"] });
  });

  it("treats structurally equal picks built separately as one pick", async () => {
    const ds = dataset(everyone, { li: col(Q.pick(sorted(), "last"), "i1"), ls: col(Q.pick(sorted(), "last"), "s1") });
    // Both variables see the tie-break {i1, s1}, so they describe the same row, A.
    expect(await byPatient(ds, tables)).toEqual({ 1: [5, "a"] });
  });

  it("counts columns selected anywhere in the dataset, even only in the population", async () => {
    const last = Q.pick(sorted(), "last");
    // i1 is selected only in the population: the tie-break is still {i1, s1}, giving A.
    const ds = dataset(fn("Not", fn("IsNull", col(last, "i1"))), { ls: col(last, "s1") });
    expect(await byPatient(ds, tables)).toEqual({ 1: ["a"] });
  });

  it("puts NULL first among tie-break values", async () => {
    const t = { e: [ev(1, { d1: "2020-01-01", i1: 2 }), ev(1, { d1: "2020-01-01", i1: null }), ev(1, { d1: "2020-01-01", i1: 1 })] };
    const s = Q.sort(e, [col(e, "d1")]);
    const ds = dataset(everyone, { fi: col(Q.pick(s, "first"), "i1"), li: col(Q.pick(s, "last"), "i1") });
    expect(await byPatient(ds, t)).toEqual({ 1: [null, 2] });
  });
});
