// The tables a synthetic backend holds, read from the table modules themselves:
// every exported frame over a stored table (its query-model node carries the
// stored name, the columns and their types). Nothing here lists the tables, so
// a table added to `enclave/tables/tpp` is generated without a change here.
// Column constraints (categories, ranges, first-of-month dates, patterns) come
// from the modules' descriptions (`coreTables`, `tppTables`).

import type { ScalarType } from "../querymodel/index.js";
import * as core from "../language/tables/core.js";
import * as tpp from "../language/tables/tpp.js";

const FRAME = Symbol.for("enclave.frame");

/** What is known of a column's values (the core and TPP constraints, all optional). */
export interface SynthConstraints {
  readonly notNull?: boolean;
  readonly categories?: readonly (string | number | boolean)[];
  readonly firstOfMonth?: boolean;
  readonly range?: readonly [number, number];
  readonly step?: number;
  readonly regex?: string;
  readonly unique?: boolean;
}

export interface SynthColumn {
  readonly name: string;
  readonly type: ScalarType;
  readonly constraints: SynthConstraints;
}

export interface SynthTable {
  readonly name: string;
  /** One row per patient at most. */
  readonly patientLevel: boolean;
  readonly columns: readonly SynthColumn[];
}

/** `patients_with_type_one_dissent` and `patients_without_ndoo`: one column, `patient_id`. */
export const OPT_OUT_TABLES = ["patients_with_type_one_dissent", "patients_without_ndoo"] as const;

interface TableNode {
  readonly kind: "SelectTable" | "SelectPatientTable";
  readonly name: string;
  readonly schema: Readonly<Record<string, ScalarType>>;
}

function tableNodeOf(x: unknown): TableNode | undefined {
  if ((typeof x !== "object" && typeof x !== "function") || x === null) return undefined;
  let node: unknown;
  try {
    node = (x as Record<symbol, unknown>)[FRAME];
  } catch {
    return undefined;
  }
  if (typeof node !== "object" || node === null) return undefined;
  const n = node as Partial<TableNode>;
  if ((n.kind === "SelectTable" || n.kind === "SelectPatientTable") && typeof n.name === "string" && typeof n.schema === "object" && n.schema !== null) {
    return n as TableNode;
  }
  return undefined;
}

/** Constraints by table and stored column, from a module's `tppTables`-like description. */
function describedConstraints(module: Record<string, unknown>): Map<string, Map<string, SynthConstraints>> {
  const out = new Map<string, Map<string, SynthConstraints>>();
  for (const value of Object.values(module)) {
    if (typeof value !== "object" || value === null || tableNodeOf(value)) continue;
    for (const table of Object.values(value as Record<string, unknown>)) {
      const t = table as { name?: unknown; columns?: unknown };
      if (typeof t !== "object" || t === null || typeof t.name !== "string" || typeof t.columns !== "object" || t.columns === null) continue;
      const columns = new Map<string, SynthConstraints>();
      for (const spec of Object.values(t.columns as Record<string, unknown>)) {
        if (!Array.isArray(spec) || typeof spec[0] !== "string") continue;
        const constraints = spec[2];
        if (typeof constraints === "object" && constraints !== null) columns.set(spec[0], constraints as SynthConstraints);
      }
      out.set(t.name, columns);
    }
  }
  return out;
}

function collect(modules: readonly Record<string, unknown>[]): SynthTable[] {
  const tables = new Map<string, { patientLevel: boolean; schema: Map<string, ScalarType> }>();
  const constraints = new Map<string, Map<string, SynthConstraints>>();
  for (const module of modules) {
    for (const value of Object.values(module)) {
      const node = tableNodeOf(value);
      if (!node) continue;
      const known = tables.get(node.name);
      const entry = known ?? { patientLevel: node.kind === "SelectPatientTable", schema: new Map<string, ScalarType>() };
      // A core table and the TPP table of the same name: the union of their columns, the wider definition's order first.
      const merged = new Map<string, ScalarType>(Object.entries(node.schema).length >= entry.schema.size ? Object.entries(node.schema) : entry.schema);
      for (const [c, t] of [...entry.schema, ...Object.entries(node.schema)]) if (!merged.has(c)) merged.set(c, t);
      entry.schema = merged;
      tables.set(node.name, entry);
    }
    for (const [table, cols] of describedConstraints(module)) {
      const into = constraints.get(table) ?? new Map<string, SynthConstraints>();
      for (const [c, k] of cols) into.set(c, k);
      constraints.set(table, into);
    }
  }
  return [...tables].map(([name, { patientLevel, schema }]) => ({
    name,
    patientLevel,
    columns: [...schema].map(([column, type]) => ({
      name: column,
      type,
      constraints: { ...constraints.get(name)?.get(column) },
    })),
  }));
}

/** The tables to generate: the core tables, or the core and TPP tables (TPP's columns where both define one). */
export function synthTables(which: "core" | "all"): SynthTable[] {
  const modules: Record<string, unknown>[] = which === "core" ? [core] : [core, tpp];
  return collect(modules).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
