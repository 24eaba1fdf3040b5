// What can be known of a query without running it.

import type { Frame, Series } from "./nodes.js";
import { isPatientLevel } from "./nodes.js";

type Tables = ReadonlySet<string>;
const NONE: Tables = new Set();
const union = (...sets: Tables[]): Tables => new Set(sets.flatMap((s) => [...s]));
const intersection = (a: Tables, b: Tables): Tables => new Set([...a].filter((t) => b.has(t)));

function rootTable(f: Frame): { name: string; patientLevel: boolean } | undefined {
  while (f.kind === "Filter" || f.kind === "Sort" || f.kind === "PickOneRowPerPatient") f = f.source;
  return f.kind === "InlinePatientTable" ? undefined : { name: f.name, patientLevel: f.kind === "SelectPatientTable" };
}

// Functions that give NULL whenever an argument is NULL.
const STRICT = new Set([
  "EQ", "NE", "LT", "LE", "GT", "GE", "Negate", "Absolute", "Add", "Subtract", "Multiply", "TrueDivide", "FloorDivide", "Power",
  "CastToInt", "CastToFloat", "StringContains", "YearFromDate", "MonthFromDate", "DayFromDate", "ToFirstOfYear", "ToFirstOfMonth",
  "DateAddDays", "DateAddMonths", "DateAddYears", "DateDifferenceInDays", "DateDifferenceInMonths", "DateDifferenceInYears",
]);

/** Tables a patient must have a row in for the series to be non-NULL. */
function nullWithout(s: Series): Tables {
  switch (s.kind) {
    case "SelectColumn": {
      if (!isPatientLevel(s)) return NONE;
      const t = rootTable(s.source);
      return t ? new Set([t.name]) : NONE;
    }
    case "Aggregate": {
      if (s.fn === "Sum" || s.fn === "Min" || s.fn === "Max" || s.fn === "Mean") {
        const t = s.source.kind === "SelectColumn" ? rootTable(s.source.source) : undefined;
        return t ? new Set([t.name]) : NONE;
      }
      return NONE;
    }
    case "Function":
      if (STRICT.has(s.fn)) return union(...s.args.map(nullWithout));
      if (s.fn === "Not") return nullWithout(s.args[0]!);
      return NONE;
    default:
      return NONE;
  }
}

/**
 * Tables a patient must have a row in for the bool series to be true: a
 * patient with no row in any of them cannot be in a population defined by it.
 * Sound but not complete: an empty answer means "could not tell".
 */
export function tablesRequiredFor(s: Series): Tables {
  switch (s.kind) {
    case "Aggregate":
      if (s.fn === "Exists") {
        const source = s.source;
        const t = "kind" in source && (source.kind === "SelectColumn" ? rootTable(source.source) : isFrameNode(source) ? rootTable(source) : undefined);
        return t ? new Set([t.name]) : NONE;
      }
      return NONE;
    case "Function":
      if (s.fn === "And") return union(tablesRequiredFor(s.args[0]!), tablesRequiredFor(s.args[1]!));
      if (s.fn === "Or") return intersection(tablesRequiredFor(s.args[0]!), tablesRequiredFor(s.args[1]!));
      if (s.fn === "In") return nullWithout(s.args[0]!);
      if (s.fn === "Not" || s.fn === "IsNull") return NONE;
      return nullWithout(s);
    case "SelectColumn":
      return nullWithout(s);
    default:
      return NONE;
  }
}

function isFrameNode(x: { kind: string }): x is Frame {
  return ["SelectTable", "Filter", "Sort", "SelectPatientTable", "InlinePatientTable", "PickOneRowPerPatient"].includes(x.kind);
}
