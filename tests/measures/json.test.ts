// The measures' JSON form: lossless, one node table, and validated on reading.

import { describe, expect, it } from "vitest";
import { INTERVAL, createMeasures, eventTable, months } from "../../src/language/index.js";
import { Q, makeMeasures, measuresFromJson, measuresToJson, nodeId, substituteParameters } from "../../src/querymodel/index.js";
import { nodeOf } from "../../src/language/series.js";
import { exampleMeasures, people } from "./fixtures.js";

const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as ReturnType<typeof measuresToJson>;

describe("measures JSON", () => {
  it("round-trips losslessly, through a JSON string", () => {
    for (const m of [exampleMeasures(true), exampleMeasures(false)]) {
      const doc = json(measuresToJson(m));
      const back = measuresFromJson(doc);
      expect(back).toEqual(m);
      back.measures.forEach((x, i) => {
        expect(nodeId(x.numerator)).toBe(nodeId(m.measures[i]!.numerator));
        expect(nodeId(x.denominator)).toBe(nodeId(m.measures[i]!.denominator));
      });
      expect(measuresToJson(back)).toEqual(doc);
    }
  });

  it("keeps dummy data settings", () => {
    const m = createMeasures();
    m.defineMeasure("a", { numerator: people.registered, denominator: people.sex.isNotNull(), groupBy: {}, intervals: [["2020-01-01", "2020-01-01"]] });
    m.configureDummyData({ populationSize: 20 });
    const q = m.toQueryModel();
    expect(measuresFromJson(json(measuresToJson(q)))).toEqual(q);
  });

  it("writes shared series once, in one node table", () => {
    const doc = measuresToJson(exampleMeasures(false));
    const denominators = new Set(doc.measures.measures.map((m) => m.denominator));
    expect(denominators.size).toBe(2);
    const keys = doc.nodes.map((n) => JSON.stringify(n));
    expect(new Set(keys).size).toBe(keys.length);
    expect(doc.nodes.filter((n) => (n as { kind: string }).kind === "Parameter")).toHaveLength(2);
  });

  describe("refuses", () => {
    const good = () => json(measuresToJson(exampleMeasures(false)));
    const cases: [string, (d: ReturnType<typeof good>) => unknown, RegExp][] = [
      ["another format", (d) => ({ ...d, format: "enclave-querymodel" }), /not an enclave-measures document/],
      ["another version", (d) => ({ ...d, version: 2 }), /version 2 is not supported/],
      ["a reference to no node", (d) => ((d.measures.measures[0]!.numerator = 999), d), /node 999, which does not exist/],
      ["a frame as a numerator", (d) => ((d.measures.measures[0]!.numerator = d.nodes.findIndex((n) => (n as { kind: string }).kind === "SelectTable")), d), /not a series/],
      ["a str numerator", (d) => ((d.measures.measures[0]!.numerator = d.measures.measures[0]!.groupBy[0]!.series), d), /numerator.*requires bool or int but received str/],
      ["a reserved group name", (d) => ((d.measures.measures[0]!.groupBy[0]!.name = "ratio"), d), /"ratio" is reserved/],
      ["a repeated measure name", (d) => ((d.measures.measures[1]!.name = "had_event"), d), /defined twice/],
      ["a bad interval date", (d) => ((d.measures.measures[0]!.intervals[0]![0] = "2023-13-01"), d), /pair of dates as YYYY-MM-DD/],
      ["a reversed interval", (d) => ((d.measures.measures[0]!.intervals[0] = ["2023-02-01", "2023-01-01"]), d), /after it ends/],
      ["a missing disclosure setting", (d) => (delete (d.measures as { disclosureControl?: boolean }).disclosureControl, d), /disclosureControl must be true or false/],
      ["no measures", (d) => ((d.measures.measures = []), d), /no measures are defined/],
      ["an unknown parameter", (d) => ((d.nodes[d.nodes.findIndex((n) => (n as { kind: string }).kind === "Parameter")] = { kind: "Parameter", name: "other", type: "date" }), d), /parameter "other"/],
      ["a malformed node", (d) => ((d.nodes[0] = { kind: "Nonsense" }), d), /unknown node kind/],
    ];
    it.each(cases)("%s", (_, tamper, error) => {
      expect(() => measuresFromJson(tamper(good()))).toThrow(error);
    });
  });
});

describe("substituteParameters", () => {
  it("replaces the parameters with values, rebuilding through Q", () => {
    const e = eventTable("e", { date: "date" });
    const during = e.where(e.date.isDuring(INTERVAL)).countForPatient();
    const got = substituteParameters(nodeOf(during), { interval_start: "2023-01-01", interval_end: "2023-01-31" });
    const want = nodeOf(e.where(e.date.isDuring(["2023-01-01", "2023-01-31"])).countForPatient());
    expect(nodeId(got)).toBe(nodeId(want));
    expect(got).toEqual(want);
    expect(() => substituteParameters(nodeOf(during), { interval_start: "2023-01-01" })).toThrow(/no value given for the parameter "interval_end"/);
    expect(() => substituteParameters(Q.parameter("interval_start", "date"), { interval_start: 3 })).toThrow();
  });

  it("makeMeasures refuses parameters a measure cannot fill", () => {
    const n = Q.fn("GT", Q.parameter("x", "int"), Q.value("int", 0));
    expect(() =>
      makeMeasures([{ name: "a", numerator: n, denominator: nodeOf(people.registered), groupBy: [], intervals: months(1).startingOn("2020-01-01") }]),
    ).toThrow(/the parameter "x" \(int\) is not one a measure can fill in/);
  });
});
