import { describe, expect, it } from "vitest";
import { CellParseError, csvField, csvLine, formatCell, parseCell, parseCsv } from "../../../src/engines/files/index.js";

const problem = (v: unknown) => (v instanceof CellParseError ? v.message : `parsed as ${JSON.stringify(v)}`);

describe("parseCell", () => {
  it("reads an empty cell as NULL for every type", () => {
    for (const t of ["bool", "int", "float", "str", "date", "snomedct", "icd10multi"] as const) expect(parseCell("", t)).toBeNull();
  });

  it("reads booleans as T/F, true/false, 1/0, in any case", () => {
    expect(["T", "t", "true", "TRUE", "1"].map((s) => parseCell(s, "bool"))).toEqual([true, true, true, true, true]);
    expect(["F", "f", "False", "0"].map((s) => parseCell(s, "bool"))).toEqual([false, false, false, false]);
    expect(problem(parseCell("yes", "bool"))).toBe('"yes" is not a boolean (expected T or F)');
  });

  it("reads ints as digits with an optional minus, nothing else", () => {
    expect(parseCell("42", "int")).toBe(42);
    expect(parseCell("-7", "int")).toBe(-7);
    expect(parseCell("007", "int")).toBe(7);
    expect(Object.is(parseCell("-0", "int"), 0)).toBe(true);
    for (const bad of ["1.0", "1e3", "+1", " 1", "0x10", "one"]) {
      expect(problem(parseCell(bad, "int"))).toBe(`${JSON.stringify(bad)} is not an integer (expected digits, optionally preceded by -)`);
    }
    expect(problem(parseCell("99999999999999999999", "int"))).toMatch(/^"99999999999999999999" is not an integer in the supported range/);
  });

  it("reads floats as any finite decimal number, integers included", () => {
    expect(["58", "-1.5", ".5", "5.", "1e-3", "+2.5E2"].map((s) => parseCell(s, "float"))).toEqual([58, -1.5, 0.5, 5, 0.001, 250]);
    for (const bad of ["NaN", "Infinity", "inf", "1,5", "0x1", "1e999", "abc"]) {
      expect(problem(parseCell(bad, "float"))).toBe(`${JSON.stringify(bad)} is not a number (expected a finite decimal number such as 58 or -1.5)`);
    }
  });

  it("reads dates as strict, real YYYY-MM-DD", () => {
    expect(parseCell("2024-02-29", "date")).toBe("2024-02-29");
    for (const bad of ["2023-02-29", "2020-13-01", "2020-1-01", "20200101", "2020-01-01T00:00"]) {
      expect(problem(parseCell(bad, "date"))).toBe(`${JSON.stringify(bad)} is not a date (expected YYYY-MM-DD)`);
    }
  });

  it("checks single codes against their system, and passes multi-code strings as they come", () => {
    expect(parseCell("22298006", "snomedct")).toBe("22298006");
    expect(problem(parseCell("0123", "snomedct"))).toBe('"0123" is not a valid SNOMED CT code');
    expect(problem(parseCell("i21", "icd10"))).toBe('"i21" is not a valid ICD-10 code');
    expect(parseCell("I21||I22 ,J45", "icd10multi")).toBe("I21||I22 ,J45");
  });

  it("reads strings as they are", () => {
    expect(parseCell(" a, \"b\" ", "str")).toBe(' a, "b" ');
  });
});

describe("formatCell", () => {
  it("writes NULL empty, bools T/F, dates ISO", () => {
    expect([formatCell(null, "int"), formatCell(true, "bool"), formatCell(false, "bool"), formatCell("2020-01-02", "date")]).toEqual(["", "T", "F", "2020-01-02"]);
  });
  it("writes ints as integers and integral floats with .0, as Python does", () => {
    expect(formatCell(7, "int")).toBe("7");
    expect(formatCell(-0, "int")).toBe("0");
    expect(formatCell(7, "float")).toBe("7.0");
    expect(formatCell(-0, "float")).toBe("0.0");
    expect(formatCell(-3, "float")).toBe("-3.0");
    expect(formatCell(1e15, "float")).toBe("1000000000000000.0");
    expect(formatCell(1e16, "float")).toBe("1e+16");
    expect(formatCell(0.1 + 0.2, "float")).toBe("0.30000000000000004");
    expect(formatCell(1e-7, "float")).toBe("1e-7");
  });
  it("refuses a value that does not fit its type", () => {
    expect(() => formatCell(1.5, "int")).toThrow(/1.5 is not a value of type int/);
    expect(() => formatCell("x", "bool")).toThrow();
    expect(() => formatCell("2020-02-30", "date")).toThrow();
  });
  it("round-trips through parseCell", () => {
    const cases: [unknown, "bool" | "int" | "float" | "date" | "str"][] = [
      [true, "bool"], [-12, "int"], [2.5, "float"], [3, "float"], [1e16, "float"], [1 / 3, "float"], ["1999-12-31", "date"], ["x,y", "str"], [null, "str"],
    ];
    for (const [v, t] of cases) expect(parseCell(formatCell(v as never, t), t)).toBe(v);
  });
});

describe("CSV text", () => {
  it("quotes cells holding a comma, a quote, CR or LF, and only those", () => {
    expect(["plain", "a,b", 'say "hi"', "two\nlines", "cr\r", ""].map(csvField)).toEqual(["plain", '"a,b"', '"say ""hi"""', '"two\nlines"', '"cr\r"', ""]);
    expect(csvLine(["1", "a,b"])).toBe('1,"a,b"\n');
  });

  it("parses quotes, doubled quotes, CRLF, quoted newlines and a BOM, with each record's first line", () => {
    const text = '\uFEFFpatient_id,s\r\n1,"a,b"\r\n2,"say ""hi"""\r\n3,"two\r\nlines"\n4,\n\n5,"x"';
    expect([...parseCsv(text)]).toEqual([
      { line: 1, cells: ["patient_id", "s"] },
      { line: 2, cells: ["1", "a,b"] },
      { line: 3, cells: ["2", 'say "hi"'] },
      { line: 4, cells: ["3", "two\r\nlines"] },
      { line: 6, cells: ["4", ""] },
      { line: 8, cells: ["5", "x"] },
    ]);
  });

  it("takes a quote inside an unquoted cell literally, and keeps a trailing empty cell", () => {
    expect([...parseCsv('a"b,c,\n')]).toEqual([{ line: 1, cells: ['a"b', "c", ""] }]);
  });

  it("refuses an unterminated quote, naming the line it opens on", () => {
    expect(() => [...parseCsv('h\n1\n"open\nstill open\n')]).toThrow(expect.objectContaining({ line: 3, message: expect.stringMatching(/unterminated quote/) }));
  });

  it("refuses text after a closing quote", () => {
    expect(() => [...parseCsv('h\n"a"b\n')]).toThrow(expect.objectContaining({ line: 2 }));
  });
});
