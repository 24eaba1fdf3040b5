// The SQL engine: compiles the query model, runs the statements on a
// connection, and streams the rows back in batches, converting each value to
// the model's representation (ISO dates, booleans, numbers).

import type { Dataset, Scalar, SeriesType } from "../../querymodel/index.js";
import { isPatientLevel, walk } from "../../querymodel/index.js";
import type { Engine, Row, TableReader, TableSpec } from "../types.js";
import { compileDataset, type CompileOptions, type CompiledQuery } from "./compiler.js";
import { type SqlConnection, loadTable } from "./connection.js";

export interface SqlEngineOptions {
  /** Table files to load into the (fresh) database before running: `--dummy-tables`. */
  tables?: TableReader;
  /** Changes to the population (opt-out rules). */
  compile?: CompileOptions;
  /** Rows per batch. */
  batchSize?: number;
}

export class SqlEngine implements Engine {
  constructor(
    readonly name: string,
    private readonly connect: () => Promise<SqlConnection>,
    private readonly options: SqlEngineOptions = {},
  ) {}

  /** The SQL this engine would run, for `dump-dataset-sql`. */
  async compile(dataset: Dataset): Promise<CompiledQuery> {
    const conn = await this.connect();
    try {
      return compileDataset(conn.dialect, dataset, this.options.compile);
    } finally {
      await conn.close();
    }
  }

  async *execute(dataset: Dataset): AsyncIterable<Row[]> {
    const conn = await this.connect();
    try {
      if (this.options.tables) await loadTables(conn, dataset, this.options.tables);
      const q = compileDataset(conn.dialect, dataset, this.options.compile);
      for (const s of q.setup) await conn.exec(s);
      const types: SeriesType[] = ["int", ...dataset.variables.map((v) => v.series.type)];
      for await (const batch of conn.query(q.select, this.options.batchSize)) {
        yield batch.map((r) => r.map((v, i) => fromSql(v, types[i]!)));
      }
      for (const s of q.cleanup) await conn.exec(s);
    } finally {
      await conn.close();
    }
  }
}

/** The tables a dataset reads, with their schemas. */
export function tablesOf(dataset: Dataset): TableSpec[] {
  const seen = new Map<string, TableSpec>();
  for (const n of walk([dataset.population, ...dataset.variables.map((v) => v.series)])) {
    if (n.kind === "SelectTable" || n.kind === "SelectPatientTable") {
      const spec: TableSpec = { name: n.name, schema: n.schema, patientLevel: isPatientLevel(n) };
      const known = seen.get(n.name);
      // Two definitions of one table (a core and a TPP view, say) read the union of their columns.
      seen.set(n.name, known ? { ...known, schema: { ...known.schema, ...n.schema } } : spec);
    }
  }
  return [...seen.values()];
}

async function loadTables(conn: SqlConnection, dataset: Dataset, reader: TableReader): Promise<void> {
  for (const spec of tablesOf(dataset)) await loadTable(conn, spec, await reader.read(spec));
}

/** Converts a value from a driver to the model's representation. */
export function fromSql(v: unknown, t: SeriesType): Scalar {
  if (v === null || v === undefined) return null;
  switch (t) {
    case "bool":
      return typeof v === "boolean" ? v : Number(v) !== 0;
    case "int":
    case "float":
      return Number(v);
    case "date":
      if (typeof v === "string") return v.slice(0, 10);
      if (v instanceof Date) return v.toISOString().slice(0, 10);
      return String(v).slice(0, 10);
    default:
      return String(v);
  }
}
