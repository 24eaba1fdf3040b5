// `enclave generate-dataset`: run a dataset definition over a data source and
// write the dataset; with no data source, over dummy data that meets the population.

import type { Command } from "commander";
import { writeDataset } from "../engines/files/index.js";
import { datasetColumns } from "../engines/types.js";
import { withDefaults } from "../dummydata/index.js";
import { loadDefinition } from "./load-definition.js";
import { paramOption } from "./options.js";
import { type SourceOptions, checkOutputFormat, dsnOption, dummyTablesOption, engineOption, dummyDataEngine, outputOption, requireDataSource } from "./data-source.js";


interface Options extends SourceOptions {
  output?: string;
  param: Record<string, string>;
}

export function registerGenerateDataset(program: Command): void {
  program
    .command("generate-dataset")
    .description("Run a dataset definition and write its dataset: patient_id, then one column per variable.")
    .argument("<definition>", "the dataset definition, a TypeScript file")
    .addOption(outputOption("dataset"))
    .addOption(dummyTablesOption())
    .addOption(engineOption())
    .addOption(dsnOption())
    .addOption(paramOption())
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --output output/dataset.csv   (dummy data)\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --dummy-tables dummy_tables --output output/dataset.csv.gz\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --dummy-tables dummy_tables --engine duckdb\n" +
        "  DATABASE_URL=duckdb:///data/backend.duckdb enclave generate-dataset analysis/dataset_definition.ts --output output/dataset.parquet",
    )
    .action((definition: string, options: Options) => generateDataset(definition, options));
}

async function generateDataset(definition: string, options: Options): Promise<void> {
  checkOutputFormat(options.output);
  const { source, sandbox } = requireDataSource(options);
  const dataset = await loadDefinition(definition, { params: options.param, sandbox });
  const engine = source?.engine ?? (await dummyDataEngine(dataset.population, dataset.variables.map((v) => v.series), withDefaults(dataset)));
  const { rows } = await writeDataset(options.output ?? null, datasetColumns(dataset), engine.execute(dataset));
  if (options.output !== undefined) process.stderr.write(`wrote ${rows} ${rows === 1 ? "row" : "rows"} to ${options.output}\n`);
}
