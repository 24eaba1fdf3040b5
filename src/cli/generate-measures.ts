// `enclave generate-measures`: run a measures definition over a data source and
// write the measures table.

import type { Command } from "commander";
import { writeDataset } from "../engines/files/index.js";
import { runMeasures } from "../engines/measures.js";
import { measuresColumns } from "../querymodel/index.js";
import { UserError } from "./errors.js";
import { loadMeasuresDefinition } from "./load-definition.js";
import { paramOption } from "./options.js";
import { type SourceOptions, dsnOption, dummyTablesOption, engineOption, openDataSource } from "./data-source.js";

const OUTPUT_FORMATS = [".csv", ".csv.gz", ".arrow", ".parquet"];

interface Options extends SourceOptions {
  output?: string;
  param: Record<string, string>;
}

export function registerGenerateMeasures(program: Command): void {
  program
    .command("generate-measures")
    .description(
      "Run a measures definition and write its measures: measure, interval_start, interval_end, ratio, numerator, denominator, then one column per group-by name.",
    )
    .argument("<definition>", "the measures definition, a TypeScript file")
    .option("--output <file>", `where to write the measures (${OUTPUT_FORMATS.join(", ")}, by the file's ending); default: standard output, as CSV`)
    .addOption(dummyTablesOption())
    .addOption(engineOption())
    .addOption(dsnOption())
    .addOption(paramOption())
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  enclave generate-measures analysis/measures_definition.ts --dummy-tables dummy_tables --output output/measures.csv\n" +
        "  enclave generate-measures analysis/measures_definition.ts --dummy-tables dummy_tables --engine duckdb",
    )
    .action((definition: string, options: Options) => generateMeasures(definition, options));
}

async function generateMeasures(definition: string, options: Options): Promise<void> {
  if (options.output !== undefined) checkOutputFormat(options.output);
  const source = openDataSource(options);
  if (source === undefined) {
    throw new UserError("generating dummy data is not implemented yet: pass --dummy-tables DIR (a folder with a file per table) or --dsn URL");
  }
  // Researcher code never runs unsandboxed beside database credentials.
  const credentials = source.backend || process.env.DATABASE_URL !== undefined;
  const measures = await loadMeasuresDefinition(definition, { params: options.param, sandbox: credentials ? "required" : "auto" });
  const { rows } = await writeDataset(options.output ?? null, measuresColumns(measures), runMeasures(source.engine, measures));
  if (options.output !== undefined) process.stderr.write(`wrote ${rows} ${rows === 1 ? "row" : "rows"} to ${options.output}\n`);
}

function checkOutputFormat(output: string): void {
  const name = output.toLowerCase();
  if (OUTPUT_FORMATS.some((f) => name.endsWith(f))) return;
  throw new UserError(`--output ${output}: cannot tell the format from the file's ending; use ${OUTPUT_FORMATS.join(", ")}`);
}
