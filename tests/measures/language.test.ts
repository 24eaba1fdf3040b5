// The measures language: what it accepts, and the errors it gives.

import { describe, expect, it } from "vitest";
import { INTERVAL, createMeasures, eventTable, isMeasures, months, patientTable, value, years } from "../../src/language/index.js";
import { nodeOf } from "../../src/language/series.js";
import { INTERVAL_END, INTERVAL_START } from "../../src/querymodel/index.js";

const p = patientTable("p", { sex: "str", flag: "bool", n: "int", x: "float", d: "date" });
const e = eventTable("e", { date: "date", n: "int" });
const den = e.existsForPatient();
const intervals = months(2).startingOn("2023-01-01");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const loose = (x: unknown): any => x;

describe("createMeasures", () => {
  it("fills what a measure lacks from the defaults", () => {
    const m = createMeasures();
    expect(isMeasures(m)).toBe(true);
    m.defineDefaults({ denominator: den, intervals, groupBy: { sex: p.sex } });
    m.defineMeasure("a", { numerator: p.flag });
    m.defineMeasure("b", { numerator: p.n, groupBy: {}, intervals: years(1).startingOn("2020-01-01") });
    const q = m.toQueryModel();
    expect(q.disclosureControl).toBe(true);
    expect(q.measures.map((x) => x.name)).toEqual(["a", "b"]);
    expect(q.measures[0]!.denominator).toBe(nodeOf(den));
    expect(q.measures[0]!.groupBy.map((g) => g.name)).toEqual(["sex"]);
    expect(q.measures[0]!.intervals).toEqual([["2023-01-01", "2023-01-31"], ["2023-02-01", "2023-02-28"]]);
    expect(q.measures[1]!.groupBy).toEqual([]);
    expect(q.measures[1]!.intervals).toEqual([["2020-01-01", "2020-12-31"]]);
    expect(Object.isFrozen(q) && Object.isFrozen(q.measures[0])).toBe(true);
  });

  it("sorts intervals and drops repeats, as ehrQL does", () => {
    const m = createMeasures();
    m.defineMeasure("a", { numerator: p.flag, denominator: den, groupBy: {}, intervals: [["2023-02-01", "2023-02-28"], ["2023-01-01", "2023-01-31"], ["2023-02-01", "2023-02-28"]] });
    expect(m.toQueryModel().measures[0]!.intervals).toEqual([["2023-01-01", "2023-01-31"], ["2023-02-01", "2023-02-28"]]);
  });

  it("INTERVAL's dates are the interval_start and interval_end date parameters", () => {
    expect(nodeOf(INTERVAL.startDate)).toEqual({ kind: "Parameter", name: INTERVAL_START, type: "date" });
    expect(nodeOf(INTERVAL.endDate)).toEqual({ kind: "Parameter", name: INTERVAL_END, type: "date" });
    const m = createMeasures();
    m.defineMeasure("a", { numerator: e.where(e.date.isDuring(INTERVAL)).existsForPatient(), denominator: den, groupBy: {}, intervals });
    m.configureDisclosureControl({ enabled: false });
    m.configureDummyData({ populationSize: 50, seed: "pilot" });
    const q = m.toQueryModel();
    expect(q.disclosureControl).toBe(false);
    expect(q.dummyData).toEqual({ populationSize: 50, seed: "pilot" });
  });
});

describe("errors", () => {
  const ok = { numerator: p.flag, denominator: den, groupBy: {}, intervals };

  it("names the measure and the missing part", () => {
    const m = createMeasures();
    expect(() => m.defineMeasure("m1", { denominator: den, groupBy: {}, intervals })).toThrow('defineMeasure("m1"): no numerator given, and no default numerator');
    expect(() => m.defineMeasure("m2", { numerator: p.flag, groupBy: {}, intervals })).toThrow(/defineMeasure\("m2"\): no denominator given/);
    expect(() => m.defineMeasure("m3", { numerator: p.flag, denominator: den, intervals })).toThrow(/defineMeasure\("m3"\): no groupBy given/);
    expect(() => m.defineMeasure("m4", { numerator: p.flag, denominator: den, groupBy: {} })).toThrow(/defineMeasure\("m4"\): no intervals given.*defineDefaults/);
  });

  it("refuses defaults twice, repeated names and an empty definition", () => {
    const m = createMeasures();
    expect(() => m.toQueryModel()).toThrow(/defines no measures/);
    m.defineDefaults({});
    expect(() => m.defineDefaults({})).toThrow(/already defined; define them once/);
    m.defineMeasure("a", ok);
    expect(() => m.defineMeasure("a", ok)).toThrow(/defineMeasure\("a"\): a measure of that name is already defined/);
    expect(() => m.defineMeasure("", ok)).toThrow(/non-empty string/);
  });

  it("refuses numerators and denominators that are not bool or int patient series", () => {
    const m = createMeasures();
    expect(() => m.defineMeasure("a", { ...ok, numerator: loose(p.sex) })).toThrow(/the numerator must be a bool or int series.*str series/);
    expect(() => m.defineMeasure("a", { ...ok, numerator: loose(p.x) })).toThrow(/the numerator must be a bool or int series.*float series/);
    expect(() => m.defineMeasure("a", { ...ok, denominator: loose(e.n) })).toThrow(/the denominator has many values per patient/);
    expect(() => m.defineMeasure("a", { ...ok, denominator: loose(true) })).toThrow(/the denominator must be a bool or int series.*boolean true/);
    expect(() => m.defineDefaults({ numerator: loose(3) })).toThrow(/defineDefaults\(\): the numerator must be/);
  });

  it("refuses a denominator that would count every patient", () => {
    const m = createMeasures();
    expect(() => m.defineMeasure("all", { ...ok, denominator: value(true) })).toThrow(/measure "all": the denominator is true for a patient who has no rows/);
    expect(() => m.defineMeasure("all", { ...ok, denominator: e.countForPatient().lt(5) })).toThrow(/no rows in any table/);
    expect(() => m.defineMeasure("all", { ...ok, denominator: value(1) })).toThrow(/the denominator is above 0/);
    // The check is made with each interval's dates filled in.
    expect(() => m.defineMeasure("all", { ...ok, denominator: INTERVAL.startDate.isBefore("2023-02-01").or(den) })).toThrow(/in the interval 2023-01-01 to 2023-01-31/);
  });

  it("refuses bad group-by names and series", () => {
    const m = createMeasures();
    for (const name of ["measure", "numerator", "denominator", "ratio", "interval_start", "interval_end"]) {
      expect(() => m.defineMeasure("a", { ...ok, groupBy: { [name]: p.sex } })).toThrow(new RegExp(`"${name}" is reserved`));
    }
    expect(() => m.defineMeasure("a", { ...ok, groupBy: { "bad name": p.sex } })).toThrow(/must start with a letter/);
    expect(() => m.defineMeasure("a", { ...ok, groupBy: { g: loose(e.n) } })).toThrow(/groupBy.g has many values per patient/);
    expect(() => m.defineMeasure("a", { ...ok, groupBy: { g: loose("F") } })).toThrow(/groupBy.g must be a series/);
    expect(() => m.defineMeasure("a", { ...ok, groupBy: loose([p.sex]) })).toThrow(/groupBy must be an object/);
    m.defineMeasure("a", { ...ok, groupBy: { g: p.sex } });
    expect(() => m.defineMeasure("b", { ...ok, groupBy: { g: p.flag } })).toThrow(/"g" is defined differently by an earlier measure/);
    m.defineMeasure("c", { ...ok, groupBy: { g: p.sex, h: p.flag } });
  });

  it("refuses bad intervals", () => {
    const m = createMeasures();
    expect(() => m.defineMeasure("a", { ...ok, intervals: [["2023-02-01", "2023-01-01"]] })).toThrow(/starts \(2023-02-01\) after it ends/);
    expect(() => m.defineMeasure("a", { ...ok, intervals: [["2023-02-30", "2023-03-01"]] })).toThrow(/pair of dates as YYYY-MM-DD/);
    expect(() => m.defineMeasure("a", { ...ok, intervals: loose([["2023-01-01"]]) })).toThrow(/pair of dates/);
    expect(() => m.defineMeasure("a", { ...ok, intervals: loose("2023") })).toThrow(/intervals must be an array/);
    expect(() => m.defineMeasure("a", { ...ok, intervals: [] })).toThrow(/intervals is empty/);
    expect(() => m.defineMeasure("a", loose({ ...ok, interval: intervals }))).toThrow(/unknown option "interval"/);
  });

  it("refuses bad configuration", () => {
    const m = createMeasures();
    expect(() => m.configureDisclosureControl(loose({ enabled: "no" }))).toThrow(/configureDisclosureControl/);
    expect(() => m.configureDummyData({ populationSize: -1 })).toThrow(/populationSize must be a whole number/);
    expect(() => m.configureDummyData({ seed: [1] as never })).toThrow(/seed must be a number or a string/);
  });
});
