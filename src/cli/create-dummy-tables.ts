// `enclave create-dummy-tables`: the dummy tables that generate-dataset would
// generate for a definition, written as table files to start from and edit by
// hand. Unedited, `generate-dataset --dummy-tables DIR` over them gives exactly
// the dataset that generate-dataset gives with no data source, on any engine.
// Files that already exist may hold a researcher's edits, so they are only
// replaced when asked to (--force).

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { Command } from "commander";
import { csvLine, formatCell } from "../engines/files/index.js";
import type { Row } from "../engines/types.js";
import { type DummyTable, tablesRead, withDefaults } from "../dummydata/index.js";
import { generateDummyTablesFor } from "./data-source.js";
import { UserError } from "./errors.js";
import { loadDefinition } from "../pipeline/definitions.js";
import { paramOption } from "./options.js";

interface Options {
  param: Record<string, string>;
  force?: boolean;
}

export function registerCreateDummyTables(program: Command): void {
  program
    .command("create-dummy-tables")
    .description(
      "Write the dummy tables that generate-dataset generates for a dataset definition, one <table>.csv for each table it reads, to edit and use with generate-dataset --dummy-tables.",
    )
    .argument("<definition>", "the dataset definition, a TypeScript file")
    .argument("<dir>", "the folder to write the table files into (made if absent)")
    .option("--force", "overwrite table files that already exist")
    .addOption(paramOption())
    .addHelpText(
      "after",
      "\nThe population size and seed come from the definition's configureDummyData({ populationSize, seed }).\n\n" +
        "Example:\n" +
        "  enclave create-dummy-tables analysis/dataset_definition.ts dummy_tables\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --dummy-tables dummy_tables --output output/dataset.csv",
    )
    .action((definition: string, dir: string, options: Options) => createDummyTables(definition, dir, options));
}

async function createDummyTables(definition: string, dir: string, options: Options): Promise<void> {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new UserError(`${dir} is not a folder`);
  // The definition is researcher code: never run unsandboxed beside database credentials.
  const dataset = await loadDefinition(definition, { params: options.param, sandbox: process.env.DATABASE_URL !== undefined ? "required" : "auto" });
  const roots = [dataset.population, ...dataset.variables.map((v) => v.series)];
  // The same tables the generator makes (it calls tablesRead too), known before the slow part.
  const files = tablesRead(roots).map((table) => ({ table, file: path.join(dir, `${table.name}.csv`) }));
  checkTargets(dir, files, options.force === true);

  const dummy = withDefaults(dataset);
  const { tables, rows } = await generateDummyTablesFor(dataset.population, roots.slice(1), dummy);
  const written = tables.map((table) => ({ table, file: path.join(dir, `${table.name}.csv`), rows: rows[table.name] ?? [] }));
  await writeTables(dir, written);

  process.stderr.write(`wrote dummy tables for ${dummy.populationSize} patients (seed ${dummy.seed}) to ${dir}:\n`);
  for (const w of written) process.stderr.write(`  ${w.table.name}.csv: ${w.rows.length} ${w.rows.length === 1 ? "row" : "rows"}\n`);
  if (written.length === 0) process.stderr.write("  nothing: the definition reads no tables\n");
}

/** Refuses to replace a file without --force, and to leave a table with two files (which the table reader rejects) even with it. */
function checkTargets(dir: string, files: readonly { table: DummyTable; file: string }[], force: boolean): void {
  const beside = files.flatMap(({ table, file }) =>
    [".csv.gz", ".parquet"].map((ending) => ({ table, file, other: path.join(dir, `${table.name}${ending}`) })).filter(({ other }) => fs.existsSync(other)),
  );
  if (beside.length > 0) {
    throw new UserError(
      beside.map(({ table, file, other }) => `${other} already exists: writing ${file} beside it would give table ${table.name} two files`).join("; "),
      [`move or remove ${beside.length === 1 ? "it" : "them"}, or write the dummy tables to another folder`],
    );
  }
  if (force) return;
  const existing = files.map(({ file }) => file).filter((file) => fs.existsSync(file));
  if (existing.length > 0) {
    throw new UserError(`${existing.join(", ")} already ${existing.length === 1 ? "exists" : "exist"}; not overwriting ${existing.length === 1 ? "it" : "them"}, as table files may hold your edits`, [
      "use --force to overwrite",
    ]);
  }
}

/** Writes every table under a temporary name first, then renames them all, so a failure part-way leaves no half-written table. */
async function writeTables(dir: string, tables: readonly { table: DummyTable; file: string; rows: readonly Row[] }[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const temporary = tables.map(({ table }) => path.join(dir, `.${table.name}.csv.${process.pid}-${randomBytes(4).toString("hex")}.tmp`));
  try {
    for (const [i, { table, rows }] of tables.entries()) {
      await writeFile(temporary[i]!, tableText(table, rows), { flag: "wx" });
    }
    for (const [i, { file }] of tables.entries()) await rename(temporary[i]!, file);
  } catch (e) {
    await Promise.all(temporary.map((t) => rm(t, { force: true })));
    throw e;
  }
}

function tableText(table: DummyTable, rows: readonly Row[]): string {
  const types = ["int", ...table.columns.map((c) => c.type)];
  const parts = [csvLine(["patient_id", ...table.columns.map((c) => c.name)])];
  let blanks = 0;
  for (const row of rows) {
    parts.push(csvLine(row.map((v, i) => formatCell(v, types[i]!))));
    blanks += row.filter((v) => v === "").length;
  }
  // A table file has no way to tell an empty string from NULL (an empty cell is NULL).
  if (blanks > 0) process.stderr.write(`note: ${table.name} has ${blanks} empty ${blanks === 1 ? "string" : "strings"}, written as empty cells, which are read back as NULL\n`);
  return parts.join("");
}
