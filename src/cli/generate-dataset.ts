// `enclave generate-dataset`: run a dataset definition over a data source and
// write the dataset; with no data source, over dummy data that meets the
// population; or, with --dummy-data-file, write the researcher's own dummy
// dataset once it fits the definition.

import type { Command } from "commander";
import { type Row, datasetColumns } from "../engines/types.js";
import { withDefaults } from "../dummydata/index.js";
import { loadDefinition } from "../pipeline/definitions.js";
import { checkDummyDataFile, dummyDataFileOption, readDummyDataFile } from "./dummy-data-file.js";
import { type GenerateOptions as Options, addSourceOptions, checkOutputFormat, dummyDataEngine, requireDataSource, writeOutput } from "./data-source.js";


export function registerGenerateDataset(program: Command): void {
  const command = program
    .command("generate-dataset")
    .description("Run a dataset definition and write its dataset: patient_id, then one column per variable.")
    .argument("<definition>", "the dataset definition, a TypeScript file");
  addSourceOptions(command, "dataset", dummyDataFileOption())
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --output output/dataset.csv   (dummy data)\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --dummy-tables dummy_tables --output output/dataset.csv.gz\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --dummy-tables dummy_tables --engine duckdb\n" +
        "  enclave generate-dataset analysis/dataset_definition.ts --dummy-data-file analysis/dummy_dataset.csv --output output/dataset.csv\n" +
        "  DATABASE_URL=duckdb:///data/backend.duckdb enclave generate-dataset analysis/dataset_definition.ts --output output/dataset.parquet",
    )
    .action((definition: string, options: Options) => generateDataset(definition, options));
}

async function generateDataset(definition: string, given: Options): Promise<void> {
  checkOutputFormat(given.output);
  const { source, sandbox, options } = requireDataSource(given);
  if (options.dummyDataFile !== undefined) checkDummyDataFile(options.dummyDataFile);
  const dataset = await loadDefinition(definition, { params: options.param, sandbox });
  const columns = datasetColumns(dataset);
  let batches: AsyncIterable<Row[]>;
  if (options.dummyDataFile !== undefined) {
    // Checked in full before anything is written, so a bad file leaves no output behind.
    const rows = await readDummyDataFile(options.dummyDataFile, columns);
    process.stderr.write(`note: this is the dummy data in ${options.dummyDataFile}, checked against the definition\n`);
    batches = inBatches(rows);
  } else {
    const engine = source?.engine ?? (await dummyDataEngine(dataset.population, dataset.variables.map((v) => v.series), withDefaults(dataset)));
    batches = engine.execute(dataset);
  }
  await writeOutput(options.output, columns, batches);
}

async function* inBatches(rows: readonly Row[], size = 10_000): AsyncGenerator<Row[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}
