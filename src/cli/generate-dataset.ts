// `enclave generate-dataset`: run a dataset definition over a data source and
// write the dataset.

import type { Command } from "commander";
import { writeDataset } from "../engines/files/index.js";
import { datasetColumns } from "../engines/types.js";
import { UserError } from "./errors.js";
import { loadDefinition } from "./load-definition.js";
import { paramOption } from "./options.js";
import { type SourceOptions, dsnOption, dummyTablesOption, engineOption, openDataSource } from "./data-source.js";

const OUTPUT_FORMATS = [".csv", ".csv.gz", ".arrow", ".parquet"];

interface Options extends SourceOptions {
  output?: string;
  param: Record<string, string>;
}

export function registerGenerateDataset(program: Command): void {
  program
    .command("generate-dataset")
    .description("Run a dataset definition and write its dataset: patient_id, then one column per variable.")
    .argument("<definition>", "the dataset definition, a TypeScript file")
    .option("--output <file>", `where to write the dataset (${OUTPUT_FORMATS.join(", ")}, by the file's ending); default: standard output, as CSV`)
    .addOption(dummyTablesOption())
    .addOption(engineOption())
    .addOption(dsnOption())
    .addOption(paramOption())
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --dummy-tables dummy_tables --output output/dataset.csv.gz\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --dummy-tables dummy_tables --engine duckdb\n" +
        "  DATABASE_URL=duckdb:///data/backend.duckdb enclave generate-dataset analysis/dataset_definition.ts --output output/dataset.parquet",
    )
    .action((definition: string, options: Options) => generateDataset(definition, options));
}

async function generateDataset(definition: string, options: Options): Promise<void> {
  if (options.output !== undefined) checkOutputFormat(options.output);
  const source = openDataSource(options);
  if (source === undefined) {
    throw new UserError("generating dummy data is not implemented yet: pass --dummy-tables DIR (a folder with a file per table) or --dsn URL");
  }
  // Researcher code never runs unsandboxed beside database credentials.
  const credentials = source.backend || process.env.DATABASE_URL !== undefined;
  const dataset = await loadDefinition(definition, { params: options.param, sandbox: credentials ? "required" : "auto" });
  const { rows } = await writeDataset(options.output ?? null, datasetColumns(dataset), source.engine.execute(dataset));
  if (options.output !== undefined) process.stderr.write(`wrote ${rows} ${rows === 1 ? "row" : "rows"} to ${options.output}\n`);
}

function checkOutputFormat(output: string): void {
  const name = output.toLowerCase();
  if (OUTPUT_FORMATS.some((f) => name.endsWith(f))) return;
  throw new UserError(`--output ${output}: cannot tell the format from the file's ending; use ${OUTPUT_FORMATS.join(", ")}`);
}
