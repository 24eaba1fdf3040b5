// A short, readable rendering of a series for error messages:
// `("2024-01-01" - patients.date_of_birth).years < 10`.

import type { Frame, Node, Series } from "../querymodel/index.js";
import { rootTableName } from "./analyse.js";

const INFIX: Record<string, string> = {
  EQ: "=", NE: "!=", LT: "<", LE: "<=", GT: ">", GE: ">=", And: "and", Or: "or",
  Add: "+", Subtract: "-", Multiply: "*", TrueDivide: "/", FloorDivide: "//", Power: "**",
  DateAddDays: "+ days", DateAddMonths: "+ months", DateAddYears: "+ years",
};
const UNITS: Record<string, string> = { DateDifferenceInDays: "days", DateDifferenceInMonths: "months", DateDifferenceInYears: "years" };

function frameText(f: Frame): string {
  const t = rootTableName(f) ?? "inline table";
  return f.kind === "Filter" || (f.kind !== "SelectTable" && f.kind !== "SelectPatientTable" && f.kind !== "InlinePatientTable" && f.source.kind === "Filter") ? `${t}.where(...)` : t;
}

function literal(v: unknown): string {
  if (Array.isArray(v)) return `[${v.slice(0, 3).map(literal).join(", ")}${v.length > 3 ? `, ... ${v.length - 3} more` : ""}]`;
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

export function describeSeries(s: Series): string {
  switch (s.kind) {
    case "Value":
      return literal(s.value);
    case "Parameter":
      return s.name;
    case "SelectColumn":
      return `${frameText(s.source)}.${s.name}`;
    case "Aggregate": {
      const src = s.source as Node;
      const what = src.kind === "SelectTable" || src.kind === "Filter" || src.kind === "Sort" || src.kind === "SelectPatientTable" || src.kind === "PickOneRowPerPatient" || src.kind === "InlinePatientTable" ? frameText(src) : describeSeries(src as Series);
      return `${what}.${s.fn.charAt(0).toLowerCase()}${s.fn.slice(1)}ForPatient()`;
    }
    case "Case":
      return "when(...)";
    case "Function": {
      const a = s.args.map((x) => describeSeries(x));
      if (UNITS[s.fn]) return `(${a[0]} - ${a[1]}).${UNITS[s.fn]}`;
      if (s.fn === "Not") return `not (${a[0]})`;
      if (s.fn === "IsNull") return `${a[0]} is null`;
      if (s.fn === "In") return `${a[0]} in ${a[1]}`;
      if (s.fn === "And" || s.fn === "Or") return `(${a[0]} ${INFIX[s.fn]} ${a[1]})`;
      if (INFIX[s.fn]) return `${a[0]} ${INFIX[s.fn]} ${a[1]}`;
      return `${s.fn}(${a.join(", ")})`;
    }
  }
}
