// `enclave generate-dataset`: run a dataset definition over a data source and
// write the dataset.

import * as fs from "node:fs";
import { type Command, Option } from "commander";
import { MemoryEngine } from "../engines/memory/index.js";
import { FileTableReader, writeDataset } from "../engines/files/index.js";
import { datasetColumns } from "../engines/types.js";
import { UserError } from "./errors.js";
import { loadDefinition } from "./load-definition.js";
import { paramOption } from "./options.js";

/** The engines the contract names; only these may be asked for. */
const ENGINES = ["memory", "sqlite", "duckdb", "postgres"];
const AVAILABLE_ENGINES = ["memory"];
const OUTPUT_FORMATS = [".csv", ".csv.gz"];
const LATER_OUTPUT_FORMATS = [".arrow", ".parquet"];

interface Options {
  output?: string;
  dummyTables?: string;
  engine: string;
  param: Record<string, string>;
}

export function registerGenerateDataset(program: Command): void {
  program
    .command("generate-dataset")
    .description("Run a dataset definition and write its dataset: patient_id, then one column per variable.")
    .argument("<definition>", "the dataset definition, a TypeScript file")
    .option("--output <file>", `where to write the dataset (${OUTPUT_FORMATS.join(" or ")}, by the file's ending); default: standard output, as CSV`)
    .option("--dummy-tables <dir>", "a folder of table files, <table>.csv or <table>.csv.gz, to run the query over")
    .addOption(new Option("--engine <name>", `the engine that runs the query (available so far: ${AVAILABLE_ENGINES.join(", ")})`).choices(ENGINES).default("memory"))
    .addOption(paramOption())
    .addHelpText(
      "after",
      "\nExample:\n  enclave generate-dataset analysis/dataset_definition.ts --dummy-tables dummy_tables --output output/dataset.csv.gz",
    )
    .action((definition: string, options: Options) => generateDataset(definition, options));
}

async function generateDataset(definition: string, options: Options): Promise<void> {
  if (!AVAILABLE_ENGINES.includes(options.engine)) {
    throw new UserError(`engine ${options.engine} is not available yet (available: ${AVAILABLE_ENGINES.join(", ")})`);
  }
  if (options.dummyTables === undefined) {
    throw new UserError("generating dummy data is not implemented yet: pass --dummy-tables DIR, a folder with a file per table");
  }
  if (!isDirectory(options.dummyTables)) throw new UserError(`--dummy-tables ${options.dummyTables}: no such folder`);
  if (options.output !== undefined) checkOutputFormat(options.output);

  const dataset = await loadDefinition(definition, { params: options.param });
  const engine = new MemoryEngine(new FileTableReader(options.dummyTables));
  const { rows } = await writeDataset(options.output ?? null, datasetColumns(dataset), engine.execute(dataset));
  if (options.output !== undefined) process.stderr.write(`wrote ${rows} ${rows === 1 ? "row" : "rows"} to ${options.output}\n`);
}

function checkOutputFormat(output: string): void {
  const name = output.toLowerCase();
  if (OUTPUT_FORMATS.some((f) => name.endsWith(f))) return;
  const later = LATER_OUTPUT_FORMATS.find((f) => name.endsWith(f));
  if (later !== undefined) throw new UserError(`writing ${later} files is not available yet: use ${OUTPUT_FORMATS.join(" or ")}`);
  throw new UserError(`--output ${output}: cannot tell the format from the file's ending; use ${OUTPUT_FORMATS.join(" or ")}`);
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
