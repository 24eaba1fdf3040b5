// The SQL engine: compiles the query model, runs the statements on a
// connection, and streams the rows back in batches, converting each value to
// the model's representation (ISO dates, booleans, numbers).

import type { Dataset, Scalar, SeriesType } from "../../querymodel/index.js";
import { isPatientLevel, makeDataset, walk } from "../../querymodel/index.js";
import type { Engine, GroupTotals, IntervalTotalsQuery, Row, TableReader, TableSpec } from "../types.js";
import { compileDataset, type CompileOptions, type CompiledQuery, type IntervalOptions } from "./compiler.js";
import { type SqlConnection, loadTable } from "./connection.js";
import type { Dialect } from "./dialect.js";

/**
 * Running against a backend's real data: the project's analysis scope. Deny by
 * default: without `include_t1oo`, patients with a type 1 opt-out are removed
 * from the population; without `include_ndoo`, only patients in
 * `patients_without_ndoo` remain; a table that requires a permission cannot be
 * read without it.
 */
export interface BackendScope {
  readonly permissions: readonly string[];
}

export const T1OO_TABLE = "patients_with_type_one_dissent";
export const NDOO_TABLE = "patients_without_ndoo";

export class PermissionError extends Error {
  override name = "PermissionError";
}

/** The database refused or failed a statement. */
export class SqlExecutionError extends Error {
  override name = "SqlExecutionError";
}

export interface SqlEngineOptions {
  /** Set when the database is a backend's real data: opt-outs and permissions are enforced. */
  backend?: BackendScope;
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
      yield* this.run(conn, dataset);
    } catch (e) {
      throw this.failure(e);
    } finally {
      await conn.close();
    }
  }

  /**
   * The dataset for every interval at once: its parameters `intervals.parameters`
   * take each interval's dates; rows are [patient_id, interval index, ...variables],
   * by patient then interval. (For tests and tools; measures use intervalTotals.)
   */
  async *executeIntervals(dataset: Dataset, intervals: IntervalOptions): AsyncIterable<Row[]> {
    const conn = await this.connect();
    try {
      const q = await this.prepare(conn, dataset, intervals);
      for (const s of q.setup) await conn.exec(s);
      const types: SeriesType[] = ["int", "int", ...dataset.variables.map((v) => v.series.type)];
      for await (const batch of conn.query(`SELECT * FROM (${q.select}) AS x ORDER BY patient_id, interval_id`, this.options.batchSize)) {
        yield batch.map((r) => r.map((v, i) => fromSql(v, types[i]!)));
      }
      for (const s of q.cleanup) await conn.exec(s);
    } catch (e) {
      throw this.failure(e);
    } finally {
      await conn.close();
    }
  }

  /** Measures: every interval in one set of statements, summed by the database. */
  async intervalTotals(query: IntervalTotalsQuery): Promise<GroupTotals[][]> {
    const dataset = makeDataset(query.population, query.columns.map((series, i) => ({ name: `column_${i}`, series })));
    const conn = await this.connect();
    try {
      const d = conn.dialect;
      const q = await this.prepare(conn, dataset, { parameters: query.parameters, values: query.intervals });
      for (const s of q.setup) await conn.exec(s);
      // Groupings with the same group columns (measures that differ only in
      // their numerators, often) are summed by one GROUP BY.
      const byGroups = new Map<string, number[]>();
      query.groupings.forEach((g, j) => {
        const key = g.groups.join(",");
        byGroups.set(key, [...(byGroups.get(key) ?? []), j]);
      });
      // With one GROUP BY the rows per patient and interval are summed as they
      // are made; with several, they are kept in a temporary table for each to read.
      const kept = byGroups.size > 1 ? `${this.options.compile?.prefix ?? "enc"}_measure_rows` : undefined;
      if (kept) for (const s of d.createTempTableAs(kept, q.select)) await conn.exec(s);
      const from = kept ? d.quote(kept) : `(${q.select}) AS x`;
      const col = (i: number) => d.quote(`column_${i}`);
      const out: GroupTotals[][] = query.groupings.map(() => []);
      for (const members of byGroups.values()) {
        const groups = query.groupings[members[0]!]!.groups;
        const sums = members.flatMap((j) => [`COALESCE(SUM(${col(query.groupings[j]!.numerator)}), 0)`, `SUM(${col(query.groupings[j]!.denominator)})`]);
        const keys = groups.map(col).map((c) => `, ${c}`).join("");
        const sql = `SELECT interval_id${keys}, ${sums.join(", ")}\nFROM ${from}\nGROUP BY interval_id${keys}\nORDER BY interval_id, MIN(patient_id)`;
        for await (const batch of conn.query(sql, this.options.batchSize)) {
          for (const r of batch) {
            const values = groups.map((c, k) => fromSql(r[k + 1], query.columns[c]!.type));
            const at = 1 + groups.length;
            members.forEach((j, m) => {
              out[j]!.push({ interval: Number(r[0]), values, numerator: Number(r[at + 2 * m]), denominator: Number(r[at + 2 * m + 1]) });
            });
          }
        }
      }
      if (kept) await conn.exec(d.dropTempTable(kept));
      for (const s of q.cleanup) await conn.exec(s);
      return out;
    } catch (e) {
      throw this.failure(e);
    } finally {
      await conn.close();
    }
  }

  private failure(e: unknown): Error {
    if (e instanceof PermissionError || e instanceof SqlExecutionError) return e;
    // The driver's message (never a connection string: those stay with the connection).
    return new SqlExecutionError(`the ${this.name} database failed: ${(e as Error).message}`);
  }

  /** Loads or checks the tables, enforces the backend's scope, and compiles. */
  private async prepare(conn: SqlConnection, dataset: Dataset, intervals?: IntervalOptions): Promise<CompiledQuery> {
    if (this.options.tables) await loadTables(conn, dataset, this.options.tables);
    else {
      const missing = [];
      for (const t of tablesOf(dataset)) if (!(await conn.tableExists(t.name))) missing.push(t.name);
      if (missing.length) throw new SqlExecutionError(`the database has no table ${missing.join(", ")}, which the definition reads`);
    }
    const filters = this.options.backend ? await enforceScope(conn, dataset, this.options.backend) : [];
    return compileDataset(conn.dialect, dataset, {
      ...this.options.compile,
      populationFilters: [...(this.options.compile?.populationFilters ?? []), ...filters],
      intervals,
    });
  }

  private async *run(conn: SqlConnection, dataset: Dataset): AsyncIterable<Row[]> {
    const q = await this.prepare(conn, dataset);
    for (const s of q.setup) await conn.exec(s);
    const types: SeriesType[] = ["int", ...dataset.variables.map((v) => v.series.type)];
    for await (const batch of conn.query(q.select, this.options.batchSize)) {
      yield batch.map((r) => r.map((v, i) => fromSql(v, types[i]!)));
    }
    for (const s of q.cleanup) await conn.exec(s);
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

/** Refuses tables the scope does not grant and backends without opt-out lists; returns the opt-out conditions. */
export async function enforceScope(conn: SqlConnection, dataset: Dataset, scope: BackendScope): Promise<string[]> {
  checkPermissions(dataset, scope);
  for (const table of optOutTablesNeeded(scope)) {
    // A backend without the opt-out list cannot show who opted out: never run as if nobody had.
    if (!(await conn.tableExists(table))) {
      throw new PermissionError(`the backend has no ${table} table, so opt-outs cannot be applied; refusing to run (the table must exist, even if empty)`);
    }
  }
  return optOutFilters(conn.dialect, scope);
}

function optOutTablesNeeded(scope: BackendScope): string[] {
  const granted = new Set(scope.permissions);
  return [...(granted.has("include_t1oo") ? [] : [T1OO_TABLE]), ...(granted.has("include_ndoo") ? [] : [NDOO_TABLE])];
}

/** The population conditions that keep opted-out patients out, over the universe alias `u`. */
export function optOutFilters(dialect: Dialect, scope: BackendScope): string[] {
  return optOutTablesNeeded(scope).map((table) => {
    const keep = table === NDOO_TABLE; // the NDOO list names who may be included
    return `${keep ? "" : "NOT "}EXISTS (SELECT 1 FROM ${dialect.quote(table)} AS o WHERE o.patient_id = u.patient_id)`;
  });
}

/** Every table the dataset reads must be within the scope's permissions. */
export function checkPermissions(dataset: Dataset, scope: BackendScope): void {
  const granted = new Set(scope.permissions);
  for (const n of walk([dataset.population, ...dataset.variables.map((v) => v.series)])) {
    if ((n.kind === "SelectTable" || n.kind === "SelectPatientTable") && n.requiredPermission && !granted.has(n.requiredPermission)) {
      throw new PermissionError(`table ${n.name} requires the permission ${JSON.stringify(n.requiredPermission)}, which this project does not have`);
    }
  }
}

/** The analysis scope from ENCLAVE_PERMISSIONS: a JSON list of permission names (absent: none). */
export function scopeFromEnvironment(env: NodeJS.ProcessEnv = process.env): BackendScope {
  const raw = env.ENCLAVE_PERMISSIONS;
  if (raw === undefined || raw.trim() === "") return { permissions: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new PermissionError("ENCLAVE_PERMISSIONS must be a JSON list of permission names, such as [\"include_t1oo\"]");
  }
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === "string")) {
    throw new PermissionError("ENCLAVE_PERMISSIONS must be a JSON list of permission names, such as [\"include_t1oo\"]");
  }
  return { permissions: parsed };
}
