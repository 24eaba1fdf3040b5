// `enclave synth`: a synthetic pseudonymised backend to develop and measure on.

import * as fs from "node:fs";
import * as path from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { synthesize } from "../synth/index.js";
import type { SqlConnection } from "../engines/sql/index.js";
import { parseDsn } from "./data-source.js";
import { UsageError } from "./errors.js";

interface Options {
  patients: number;
  seed?: string;
  output?: string;
  dsn?: string;
  tables: "core" | "all";
}

export function registerSynth(program: Command): void {
  program
    .command("synth")
    .description("Write a synthetic backend: every core and TPP table, and the opt-out tables, deterministic by seed.")
    .requiredOption("--patients <n>", "how many patients", (v: string) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("Expected a whole number of 1 or more.");
      return n;
    })
    .option("--seed <seed>", "the seed; the same seed gives the same data", "1")
    .option("--output <dir>", "a folder to write <table>.csv.gz files into")
    .option("--dsn <url>", "a new database to write into: sqlite:///path.db, duckdb:///path.duckdb or postgresql://...")
    .option("--tables <which>", "core (the core tables only) or all (core and TPP)", "all")
    .addHelpText("after", "\nExample:\n  enclave synth --patients 100000 --seed 7 --dsn duckdb:///data/backend.duckdb")
    .action((options: Options) => synth(options));
}

async function synth(options: Options): Promise<void> {
  if ((options.output === undefined) === (options.dsn === undefined)) throw new UsageError("give one of --output DIR or --dsn URL");
  if (options.tables !== "core" && options.tables !== "all") throw new UsageError("--tables must be core or all");
  let connection: SqlConnection | undefined;
  if (options.dsn !== undefined) {
    // A new SQLite or DuckDB file is created; the DSN itself is never printed.
    const file = /^(sqlite|duckdb):\/\/(.*)$/i.exec(options.dsn)?.[2];
    if (file !== undefined) {
      const full = file.startsWith("/") ? file : path.resolve(file);
      fs.mkdirSync(path.dirname(full), { recursive: true });
    }
    connection = await parseDsn(options.dsn, { create: true }).connect(false);
  }
  const start = Date.now();
  try {
    const result = await synthesize({
      patients: options.patients,
      seed: options.seed,
      output: options.output,
      connection,
      tables: options.tables,
      onProgress: (m) => process.stderr.write(`${m}\n`),
    });
    const rows = Object.values(result.tables).reduce((a, b) => a + b, 0);
    process.stderr.write(`wrote ${Object.keys(result.tables).length} tables, ${rows} rows, in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
  } finally {
    await connection?.close();
  }
}
