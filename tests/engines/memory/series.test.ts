import { describe, expect, it } from "vitest";
import { FUNCTIONS, type FunctionName, type Scalar, type Series, Q } from "../../../src/querymodel/index.js";
import { bool, byPatient, col, dataset, date, e, ev, everyone, fn, int, p, pv, setOf } from "./helpers.js";

const f = (x: number | null) => Q.value("float", x);
const str = (x: string | null) => Q.value("str", x);
const intNull = Q.value("int", null);

// One expected value per function, evaluated through the engine. The scalar
// meaning lives in semantics.ts; this checks the engine feeds it the right
// arguments in the right order.
const CASES: [FunctionName, Series[], Scalar][] = [
  ["EQ", [int(1), int(1)], true],
  ["NE", [int(1), int(2)], true],
  ["LT", [str("a"), str("b")], true],
  ["LE", [date("2020-01-02"), date("2020-01-01")], false],
  ["GT", [f(2.5), f(2)], true],
  ["GE", [int(2), intNull], null],
  ["And", [bool(false), bool(null)], false],
  ["Or", [bool(true), bool(null)], true],
  ["Not", [bool(false)], true],
  ["IsNull", [intNull], true],
  ["Negate", [int(3)], -3],
  ["Absolute", [f(-1.5)], 1.5],
  ["Add", [int(2), int(3)], 5],
  ["Subtract", [int(2), int(3)], -1],
  ["Multiply", [f(1.5), f(2)], 3],
  ["TrueDivide", [int(7), int(2)], 3.5],
  ["FloorDivide", [int(-7), int(2)], -4],
  ["Power", [int(2), int(10)], 1024],
  ["CastToInt", [f(-2.7)], -2],
  ["CastToFloat", [bool(true)], 1],
  ["StringContains", [str("a%b"), str("%")], true],
  ["In", [int(2), setOf("int", [1, 2, null])], true],
  ["YearFromDate", [date("2021-03-04")], 2021],
  ["MonthFromDate", [date("2021-03-04")], 3],
  ["DayFromDate", [date("2021-03-04")], 4],
  ["ToFirstOfYear", [date("2021-03-04")], "2021-01-01"],
  ["ToFirstOfMonth", [date("2021-03-04")], "2021-03-01"],
  ["DateAddDays", [date("2020-02-28"), int(2)], "2020-03-01"],
  ["DateAddMonths", [date("2021-01-31"), int(1)], "2021-03-01"],
  ["DateAddYears", [date("2020-02-29"), int(1)], "2021-03-01"],
  ["DateDifferenceInDays", [date("2020-03-01"), date("2020-02-01")], 29],
  ["DateDifferenceInMonths", [date("2020-03-01"), date("2020-01-02")], 1],
  ["DateDifferenceInYears", [date("2021-02-28"), date("2020-02-29")], 0],
  ["MinimumOf", [int(3), intNull, int(1)], 1],
  ["MaximumOf", [date("2020-01-01"), date("2021-01-01")], "2021-01-01"],
];

describe("Function", () => {
  it("has a case for every function of the query model", () => {
    expect(CASES.map(([name]) => name).sort()).toEqual(Object.keys(FUNCTIONS).sort());
  });

  it.each(CASES)("%s", async (name, args, expected) => {
    const ds = dataset(Q.aggregate("Exists", p), { v: fn(name, ...args) });
    expect(await byPatient(ds, { p: [pv(1, {})] })).toEqual({ 1: [expected] });
  });

  it("applies row by row on a many-rows frame, with patient-level arguments on each row", async () => {
    const diff = fn("DateDifferenceInDays", col(e, "d1"), col(p, "d1"));
    const ds = dataset(everyone, { days: Q.aggregate("Sum", diff) });
    const got = await byPatient(ds, {
      p: [pv(1, { d1: "2020-01-01" })],
      e: [ev(1, { d1: "2020-01-11" }), ev(1, { d1: "2020-01-02" }), ev(1, { d1: null })],
    });
    expect(got).toEqual({ 1: [11] });
  });
});

describe("Value", () => {
  it("gives its scalar to every patient, NULL included", async () => {
    const ds = dataset(Q.aggregate("Exists", p), { a: int(7), b: str("x"), c: intNull, d: date("2024-02-29") });
    expect(await byPatient(ds, { p: [pv(1, {}), pv(2, {})] })).toEqual({ 1: [7, "x", null, "2024-02-29"], 2: [7, "x", null, "2024-02-29"] });
  });

  it("gives a set for In: NULLs in the set ignored, an empty set false even for NULL", async () => {
    const ds = dataset(Q.aggregate("Exists", p), {
      inSet: fn("In", col(p, "s1"), setOf("str", ["a", null])),
      inEmpty: fn("In", col(p, "s1"), setOf("str", [])),
      onlyNull: fn("In", col(p, "s1"), setOf("str", [null])),
    });
    expect(await byPatient(ds, { p: [pv(1, { s1: "a" }), pv(2, { s1: "b" }), pv(3, {})] })).toEqual({
      1: [true, false, false],
      2: [false, false, false],
      3: [null, false, false],
    });
  });

  it("compares codes as strings, case-sensitively", async () => {
    const code = Q.selectPatientTable("codes", { c: "ctv3" });
    const ds = dataset(everyone, { isX: fn("In", col(code, "c"), setOf("ctv3", ["XaBc1"])), eq: fn("EQ", col(code, "c"), Q.value("ctv3", "xabc1")) });
    expect(await byPatient(ds, { codes: [[1, "XaBc1"], [2, "xabc1"]] })).toEqual({ 1: [true, false], 2: [false, true] });
  });
});

describe("Case", () => {
  const i1 = col(p, "i1");
  const caseOf = (otherwise: Series | null) =>
    Q.case(
      [
        { when: fn("LT", i1, int(0)), then: str("negative") },
        { when: fn("EQ", i1, int(0)), then: null },
        { when: fn("LT", i1, int(10)), then: str("small") },
        { when: fn("LT", i1, int(100)), then: str("unreached for < 10") },
      ],
      otherwise,
    );
  const rows = { p: [pv(1, { i1: -5 }), pv(2, { i1: 0 }), pv(3, { i1: 5 }), pv(4, { i1: 50 }), pv(5, { i1: 500 }), pv(6, {})] };

  it("takes the first when that is exactly true; a NULL condition is not taken; a null then gives NULL", async () => {
    const ds = dataset(everyone, { withOtherwise: caseOf(str("large")), without: caseOf(null) });
    expect(await byPatient(ds, rows)).toEqual({
      1: ["negative", "negative"],
      2: [null, null],
      3: ["small", "small"],
      4: ["unreached for < 10", "unreached for < 10"],
      5: ["large", null],
      6: ["large", null], // every condition NULL: the otherwise
    });
  });

  it("evaluates row by row inside an aggregation", async () => {
    const bucket = Q.case([{ when: fn("GT", col(e, "i1"), col(p, "i1")), then: int(1) }], int(0));
    const ds = dataset(everyone, { above: Q.aggregate("Sum", bucket), kinds: Q.aggregate("CountDistinct", bucket) });
    const got = await byPatient(ds, { p: [pv(1, { i1: 3 })], e: [ev(1, { i1: 1 }), ev(1, { i1: 4 }), ev(1, { i1: 9 }), ev(1, {})] });
    expect(got).toEqual({ 1: [2, 2] });
  });
});
