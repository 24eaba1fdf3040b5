import { describe, expect, it } from "vitest";
import { Q, tablesRequiredFor } from "../../src/querymodel/index.js";

const e = Q.selectTable("e", { i1: "int", b1: "bool" });
const f = Q.selectTable("f", { i1: "int" });
const p = Q.selectPatientTable("p", { i1: "int", b1: "bool" });
const existsE = Q.aggregate("Exists", Q.filter(e, Q.column(e, "b1")));
const existsF = Q.aggregate("Exists", f);
const pGt = Q.fn("GT", Q.column(p, "i1"), Q.value("int", 3));
const req = (s: Parameters<typeof tablesRequiredFor>[0]) => [...tablesRequiredFor(s)].sort();

describe("tablesRequiredFor", () => {
  it("knows an Exists needs a row in its table, even filtered", () => expect(req(existsE)).toEqual(["e"]));
  it("knows a comparison needs its patient column non-NULL", () => expect(req(pGt)).toEqual(["p"]));
  it("adds up through And", () => expect(req(Q.fn("And", existsE, pGt))).toEqual(["e", "p"]));
  it("keeps only what both sides of Or need", () => {
    expect(req(Q.fn("Or", existsE, existsF))).toEqual([]);
    expect(req(Q.fn("Or", Q.fn("And", existsE, pGt), Q.fn("And", existsE, existsF)))).toEqual(["e"]);
  });
  it("says nothing of negations, IsNull and counts", () => {
    expect(req(Q.fn("Not", existsE))).toEqual([]);
    expect(req(Q.fn("IsNull", Q.column(p, "i1")))).toEqual([]);
    expect(req(Q.fn("GE", Q.aggregate("Count", e), Q.value("int", 0)))).toEqual([]);
  });
  it("follows a picked row and a maximum to their table", () => {
    const last = Q.pick(Q.sort(e, [Q.column(e, "i1")]), "last");
    expect(req(Q.fn("GT", Q.column(last, "i1"), Q.aggregate("Max", Q.column(f, "i1"))))).toEqual(["e", "f"]);
  });
});
