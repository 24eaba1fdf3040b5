// The synthetic backend: a realistic, pseudonymised primary-care database with
// every core and TPP table and the opt-out lists, for trying the platform at
// scale without patient data. Deterministic by seed (the same seed gives the
// same bytes), independent of today's date (the data end on DATA_END), and
// streaming: patients are made in blocks and each block's rows are appended
// to every table before the next block is made.
//
//   await synthesize({ patients: 100_000, seed: 1, output: "synthetic/" });
//   await synthesize({ patients: 1_000_000, connection: await DuckdbConnection.open("tpp.duckdb") });

import type { Scalar } from "../querymodel/index.js";
import type { Row, TableSpec } from "../engines/types.js";
import type { SqlConnection } from "../engines/sql/connection.js";
import { type Day, DATA_END, iso } from "./calendar.js";
import { type Filler, GENERATORS, Households, PatientContext, type Rec, type TableGenerator, fillerFor, genericGenerator, validatorFor } from "./generators.js";
import { Practices, dayAlive, drawFacts } from "./patient.js";
import { Rng, hashString, seedKey } from "./random.js";
import { OPT_OUT_TABLES, type SynthTable, synthTables } from "./schema.js";
import { CsvDirectorySink, DuckdbCopySink, PostgresArraySink, type Sink, SqlSink, SynthError } from "./sinks.js";

export { SynthError } from "./sinks.js";
export { synthTables, OPT_OUT_TABLES, type SynthTable, type SynthColumn, type SynthConstraints } from "./schema.js";

/** The last day the synthetic data cover (ISO). */
export const SYNTH_DATA_END = iso(DATA_END);

export interface SynthOptions {
  /** How many patients (ids 1 to N). */
  patients: number;
  /** The same seed gives the same data, byte for byte (default 1). */
  seed?: number | string;
  /** A folder: one `<table>.csv.gz` per table. */
  output?: string;
  /** A database connection (empty): one table per table, with the stored names. */
  connection?: SqlConnection;
  /** The core tables only, or the core and TPP tables (default). */
  tables?: "core" | "all";
  /** Patients generated at a time (default 250); rows are written to a database in batches of their own. */
  blockSize?: number;
  /**
   * Load a database in bulk (the default): DuckDB through temporary CSV files and
   * its COPY, PostgreSQL through INSERT ... SELECT FROM unnest(arrays). With false,
   * rows go through the connection's insertRows (SQLite always does).
   */
  bulkLoad?: boolean;
  /** gzip level for CSV output, 1 (fastest, the default) to 9 (smallest). */
  gzipLevel?: number;
  onProgress?: (message: string) => void;
}

export interface SynthResult {
  /** Rows written, by table. */
  tables: Record<string, number>;
}

interface Plan {
  readonly table: SynthTable;
  readonly spec: TableSpec;
  readonly generate: TableGenerator;
  readonly fillers: readonly Filler[];
  readonly validators: readonly (((v: Scalar) => boolean) | undefined)[];
  readonly stream: number;
}

/** Writes a synthetic backend of `patients` patients to a folder or a database. */
export async function synthesize(options: SynthOptions): Promise<SynthResult> {
  const n = options.patients;
  if (!Number.isSafeInteger(n) || n < 0) throw new SynthError(`synthesize: patients must be a whole number of at least 0, got ${JSON.stringify(n)}`);
  if ((options.output === undefined) === (options.connection === undefined)) throw new SynthError("synthesize: give either an output folder or a database connection, not both or neither");
  const which = options.tables ?? "all";
  if (which !== "core" && which !== "all") throw new SynthError(`synthesize: tables must be "core" or "all", got ${JSON.stringify(which)}`);
  const blockSize = options.blockSize ?? 250;
  if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new SynthError(`synthesize: blockSize must be a positive whole number, got ${JSON.stringify(blockSize)}`);
  const seed = seedKey(options.seed ?? 1);
  const progress = options.onProgress ?? (() => undefined);

  const plans: Plan[] = synthTables(which).map((table) => ({
    table,
    spec: { name: table.name, schema: Object.fromEntries(table.columns.map((c) => [c.name, c.type])), patientLevel: table.patientLevel },
    generate: GENERATORS[table.name] ?? genericGenerator(table),
    fillers: table.columns.map((c) => fillerFor(table, c)),
    validators: table.columns.map((c) => validatorFor(c)),
    stream: hashString(`table:${table.name}`),
  }));
  const optOutSpecs: TableSpec[] = OPT_OUT_TABLES.map((name) => ({ name, schema: {}, patientLevel: true }));
  const specs = [...plans.map((p) => p.spec), ...optOutSpecs];
  const [t1oo, withoutNdoo] = [plans.length, plans.length + 1];

  const conn = options.connection;
  const sink: Sink =
    conn === undefined
      ? new CsvDirectorySink(options.output!, options.gzipLevel ?? 1)
      : options.bulkLoad === false
        ? new SqlSink(conn)
        : conn.dialect.name === "duckdb"
          ? new DuckdbCopySink(conn)
          : conn.dialect.name === "postgres"
            ? new PostgresArraySink(conn)
            : new SqlSink(conn);
  const counts = new Array<number>(specs.length).fill(0);
  const practices = new Practices(seed);
  const households = new Households(seed, n);
  const started = Date.now();
  let reported = started;

  let pending: Promise<void> = Promise.resolve();
  try {
    await sink.open(specs);
    for (let first = 1; first <= n; first += blockSize) {
      const last = Math.min(n, first + blockSize - 1);
      const block: Row[][] = specs.map(() => []);
      for (let id = first; id <= last; id++) {
        const facts = drawFacts(seed, id, practices);
        const ctx = new PatientContext(seed, facts, households);
        for (let t = 0; t < plans.length; t++) generateRows(plans[t]!, ctx, new Rng(seed, id, plans[t]!.stream), block[t]!);
        if (facts.typeOneDissent) block[t1oo]!.push([id]);
        if (!facts.nationalOptOut) block[withoutNdoo]!.push([id]);
      }
      block.forEach((rows, t) => (counts[t] += rows.length));
      // Write this block while the next one is made.
      await pending;
      pending = sink.write(block);
      // A failure is thrown where it is awaited; until then it must not count as unhandled.
      pending.catch(() => undefined);
      if (Date.now() - reported < 1000 && last !== n) continue;
      reported = Date.now();
      const seconds = (Date.now() - started) / 1000;
      const rows = counts.reduce((a, b) => a + b, 0);
      progress(`synth: ${last.toLocaleString("en-GB")} of ${n.toLocaleString("en-GB")} patients, ${rows.toLocaleString("en-GB")} rows, ${seconds.toFixed(1)} s`);
    }
    await pending;
    progress("synth: finishing tables");
    await sink.close();
  } catch (e) {
    await pending.catch(() => undefined);
    await sink.abort().catch(() => undefined);
    throw e;
  }
  return { tables: Object.fromEntries(specs.map((s, t) => [s.name, counts[t]!])) };
}

/** One patient's rows of one table: the generator's records, with the columns it left out filled from their types. */
function generateRows(plan: Plan, ctx: PatientContext, rng: Rng, out: Row[]): void {
  const columns = plan.table.columns;
  const id = ctx.facts.id;
  let emitted = 0;
  plan.generate(
    ctx,
    rng,
    (rec: Rec) => {
      if (plan.table.patientLevel && ++emitted > 1) throw new Error(`synth: the generator for ${plan.table.name} gave patient ${id} more than one row`);
      const row = new Array<Scalar>(columns.length + 1);
      row[0] = id;
      let anchor: Day | undefined;
      for (let i = 0; i < columns.length; i++) {
        const c = columns[i]!;
        let v = rec[c.name];
        if (v === undefined || (v === null ? c.constraints.notNull : plan.validators[i]?.(v) === false)) {
          // Dates a generator leaves out fall on one day of the record, the same for the row.
          if (c.type === "date") anchor ??= dayAlive(rng, ctx.facts, Math.max(ctx.facts.dob, ctx.facts.end - 365 * 15));
          v = plan.fillers[i]!(ctx, rng, anchor);
        }
        row[i + 1] = v;
      }
      out.push(row);
    },
    plan.table,
  );
}
