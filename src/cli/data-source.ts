// Where a dataset's rows come from, chosen from the command line: dummy table
// files (run by any engine, each loading the files itself), a backend
// database (`--dsn`, or DATABASE_URL), where opt-outs and permissions apply,
// the researcher's own dataset file (`--dummy-data-file`, see dummy-data-file.ts),
// or, with none of these, dummy data generated to meet the population.
// A DSN holds credentials: it is never printed, not even in errors.

import * as fs from "node:fs";
import { type Command, Option } from "commander";
import type { Engine, Row, TableReader } from "../engines/types.js";
import { MemoryEngine } from "../engines/memory/index.js";
import { FileTableReader, writeDataset } from "../engines/files/index.js";
import {
  type BackendScope,
  DuckdbConnection,
  PostgresConnection,
  SqlEngine,
  SqliteConnection,
  type Dialect,
  DuckdbDialect,
  PostgresDialect,
  SqliteDialect,
  scopeFromEnvironment,
  DsnError,
  type ParsedDsn,
  parseDsn as parseDsnText,
} from "../engines/sql/index.js";
import { UsageError, UserError } from "./errors.js";
import { paramOption } from "./options.js";
import type { Series } from "../querymodel/index.js";
import { DEFAULT_POPULATION_SIZE, DEFAULT_SEED, type DummyDataOptions, DummyDataError, DummyTableReader, type GeneratedTables, generateTablesFor } from "../dummydata/index.js";

export const ENGINES = ["memory", "sqlite", "duckdb", "postgres"] as const;
export type EngineName = (typeof ENGINES)[number];

export interface SourceOptions {
  engine?: string;
  dummyTables?: string;
  dsn?: string;
  /** A dataset file standing in for the dataset (generate-dataset only). */
  dummyDataFile?: string;
}

function engineOption(): Option {
  return new Option("--engine <name>", "the engine that runs the query over --dummy-tables (default memory; with --dsn, the database's own)").choices([...ENGINES]);
}
function dummyTablesOption(): Option {
  return new Option("--dummy-tables <dir>", "a folder of table files, <table>.csv, .csv.gz or .parquet, to run the query over");
}
function dsnOption(): Option {
  return new Option(
    "--dsn <url>",
    "a backend database: sqlite:///path.db, duckdb:///path.duckdb or postgresql://...; also read from DATABASE_URL. Opt-outs and permissions (ENCLAVE_PERMISSIONS) apply",
  );
}

/** What generate-dataset and generate-measures are given besides the definition. */
export interface GenerateOptions extends SourceOptions {
  output?: string;
  param: Record<string, string>;
}

/**
 * The options of a command that runs a definition over a data source, in the
 * order its help lists them; `more` (generate-dataset's --dummy-data-file)
 * stands beside --dummy-tables, the other way of giving dummy data.
 */
export function addSourceOptions(command: Command, what: string, ...more: Option[]): Command {
  command.addOption(outputOption(what)).addOption(dummyTablesOption());
  for (const option of more) command.addOption(option);
  return command.addOption(engineOption()).addOption(dsnOption()).addOption(paramOption());
}

export interface DataSource {
  engine: Engine;
  /** True when the rows are real data (a backend): credentials are about. */
  backend: boolean;
  describe: string;
}

/** The DSN from --dsn, else DATABASE_URL. */
export function chosenDsn(options: SourceOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return options.dsn ?? (env.DATABASE_URL || undefined);
}

/**
 * In a backend the platform sets DATABASE_URL, and that database is the data,
 * as with ehrQL: the options that give dummy data (which a project.yaml keeps,
 * for running on one's own machine) are ignored there, and --engine with
 * them, each named in a note, rather than turning a backend job into a run
 * over dummy data. An explicit --dsn beside them stays a usage error.
 */
export function backendOptions<T extends SourceOptions>(options: T, env: NodeJS.ProcessEnv = process.env, note: (text: string) => void = (t) => process.stderr.write(`${t}\n`)): T {
  if (options.dsn !== undefined || !env.DATABASE_URL) return options;
  const ignored = [
    options.dummyTables !== undefined ? `--dummy-tables ${options.dummyTables}` : undefined,
    options.dummyDataFile !== undefined ? `--dummy-data-file ${options.dummyDataFile}` : undefined,
    options.dummyTables !== undefined && options.engine !== undefined ? `--engine ${options.engine}` : undefined,
  ].filter((x): x is string => x !== undefined);
  if (ignored.length === 0) return options;
  note(`note: DATABASE_URL is set, so this runs against that database; ${ignored.join(", ")} ${ignored.length === 1 ? "is" : "are"} for dummy data on your own machine, and ignored here`);
  return { ...options, dummyTables: undefined, dummyDataFile: undefined, engine: options.dummyTables !== undefined ? undefined : options.engine };
}

/** Parses a DSN (see engines/sql/dsn.ts), its errors as the command reports them: a malformed DSN is a usage error. */
export function parseDsn(dsn: string, options: { create?: boolean } = {}): ParsedDsn {
  let parsed: ParsedDsn;
  try {
    parsed = parseDsnText(dsn, options);
  } catch (e) {
    throw asUserError(e);
  }
  return {
    ...parsed,
    connect: async (readonly) => {
      try {
        return await parsed.connect(readonly);
      } catch (e) {
        throw asUserError(e);
      }
    },
  };
}

function asUserError(e: unknown): unknown {
  if (!(e instanceof DsnError)) return e;
  return e.kind === "usage" ? new UsageError(e.message) : new UserError(e.message);
}

export function dialectFor(engine: string): Dialect {
  if (engine === "sqlite") return new SqliteDialect();
  if (engine === "duckdb") return new DuckdbDialect();
  if (engine === "postgres") return new PostgresDialect();
  throw new UsageError(`the ${engine} engine does not use SQL; choose sqlite, duckdb or postgres`);
}

/** Builds the engine for the options; undefined when neither tables nor a database were given (a dummy data file needs no engine). */
export function openDataSource(options: SourceOptions, env: NodeJS.ProcessEnv = process.env): DataSource | undefined {
  if (options.dummyDataFile !== undefined) {
    const other = options.dummyTables !== undefined ? "--dummy-tables" : options.dsn !== undefined ? "--dsn" : undefined;
    if (other !== undefined) throw new UsageError(`give either --dummy-data-file or ${other}, not both: the dummy data file is the dataset itself`);
    return undefined;
  }
  const dsn = chosenDsn(options, env);
  if (dsn !== undefined && options.dummyTables !== undefined) throw new UsageError("give either --dummy-tables or --dsn, not both");
  if (dsn !== undefined) {
    const db = parseDsn(dsn);
    if (options.engine !== undefined && options.engine !== db.engine) {
      throw new UsageError(`--engine ${options.engine} does not match the DSN, which is a ${db.engine} database`);
    }
    const scope: BackendScope = scopeFromEnvironment(env);
    return { engine: new SqlEngine(db.engine, () => db.connect(true), { backend: scope }), backend: true, describe: db.where };
  }
  if (options.dummyTables !== undefined) {
    const dir = options.dummyTables;
    if (!isDirectory(dir)) throw new UserError(`--dummy-tables ${dir}: no such folder`);
    const reader: TableReader = new FileTableReader(dir);
    const engine = (options.engine ?? "memory") as EngineName;
    return { engine: tableEngine(engine, reader, env), backend: false, describe: `${engine} engine over ${dir}` };
  }
  return undefined;
}

function tableEngine(engine: EngineName, tables: TableReader, env: NodeJS.ProcessEnv): Engine {
  switch (engine) {
    case "memory":
      return new MemoryEngine(tables);
    case "sqlite":
      return new SqlEngine("sqlite", async () => new SqliteConnection(), { tables });
    case "duckdb":
      return new SqlEngine("duckdb", () => DuckdbConnection.open(), { tables });
    case "postgres": {
      // The tables go into a scratch schema of a server given for the purpose, dropped afterwards.
      const url = env.ENCLAVE_POSTGRES_URL;
      if (!url) throw new UserError("--engine postgres with --dummy-tables needs a PostgreSQL server to load them into: set ENCLAVE_POSTGRES_URL");
      return new SqlEngine("postgres", () => PostgresConnection.open(url, { scratch: true }), { tables });
    }
  }
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export const OUTPUT_FORMATS = [".csv", ".csv.gz", ".arrow", ".parquet"];

function outputOption(what: string): Option {
  return new Option("--output <file>", `where to write the ${what} (${OUTPUT_FORMATS.join(", ")}, by the file's ending); default: standard output, as CSV`);
}

export function checkOutputFormat(output: string | undefined): void {
  if (output === undefined || OUTPUT_FORMATS.some((f) => output.toLowerCase().endsWith(f))) return;
  throw new UserError(`--output ${output}: cannot tell the format from the file's ending; use ${OUTPUT_FORMATS.join(", ")}`);
}

/**
 * The data source for a command that runs a definition, how to sandbox the
 * definition (researcher code never runs unsandboxed beside database
 * credentials), and the options as they apply (see backendOptions). No source
 * (neither tables nor a database given) means generated dummy data.
 */
export function requireDataSource<T extends SourceOptions>(given: T, env: NodeJS.ProcessEnv = process.env): { source: DataSource | undefined; sandbox: "required" | "auto"; options: T } {
  const options = backendOptions(given, env);
  const source = openDataSource(options, env);
  if (options.dummyDataFile !== undefined && options.engine !== undefined) {
    throw new UsageError(`--engine ${options.engine} has nothing to run with --dummy-data-file: the file is the dataset, written out as it is`);
  }
  if (source === undefined && options.engine !== undefined && options.engine !== "memory") {
    throw new UsageError(`--engine ${options.engine} needs --dummy-tables DIR or --dsn URL; dummy data is run by the memory engine`);
  }
  return { source, sandbox: source?.backend || env.DATABASE_URL !== undefined ? "required" : "auto", options };
}

/** Dummy tables generated to meet the population; a population that cannot be met is the user's to fix. */
export async function generateDummyTablesFor(population: Series, others: readonly Series[], options: DummyDataOptions): Promise<GeneratedTables> {
  try {
    return await generateTablesFor(population, others, options);
  } catch (e) {
    if (e instanceof DummyDataError) throw new UserError(`cannot generate dummy data: ${e.message}`);
    throw e;
  }
}

/** Runs the query over dummy tables generated to meet the population, saying so on standard error. */
export async function dummyDataEngine(population: Series, others: readonly Series[], options: DummyDataOptions): Promise<Engine> {
  const generated = await generateDummyTablesFor(population, others, options);
  process.stderr.write(`note: no data source given, so this is dummy data (${options.populationSize ?? DEFAULT_POPULATION_SIZE} patients, seed ${options.seed ?? DEFAULT_SEED})\n`);
  return new MemoryEngine(new DummyTableReader(generated.tables, generated.rows));
}

/** Writes the rows to --output (standard output without it) and, for a file, says how many on standard error. */
export async function writeOutput(output: string | undefined, columns: readonly { name: string; type: string }[], batches: AsyncIterable<Row[]>): Promise<void> {
  const { rows } = await writeDataset(output ?? null, columns, batches);
  if (output !== undefined) process.stderr.write(`wrote ${rows} ${rows === 1 ? "row" : "rows"} to ${output}\n`);
}
