// `enclave generate-measures`: run a measures definition over a data source and
// write the measures table; with no data source, over dummy data whose
// patients are each in some measure's denominator in some interval.

import type { Command } from "commander";
import { runMeasures } from "../engines/measures.js";
import { measuresColumns } from "../querymodel/index.js";
import { measuresPopulation, withDefaults } from "../dummydata/index.js";
import { loadMeasuresDefinition } from "../pipeline/definitions.js";
import { type GenerateOptions as Options, addSourceOptions, checkOutputFormat, dummyDataEngine, requireDataSource, writeOutput } from "./data-source.js";


export function registerGenerateMeasures(program: Command): void {
  const command = program
    .command("generate-measures")
    .description(
      "Run a measures definition and write its measures: measure, interval_start, interval_end, ratio, numerator, denominator, then one column per group-by name.",
    )
    .argument("<definition>", "the measures definition, a TypeScript file");
  addSourceOptions(command, "measures")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  enclave generate-measures analysis/measures_definition.ts --dummy-tables dummy_tables --output output/measures.csv\n" +
        "  enclave generate-measures analysis/measures_definition.ts --dummy-tables dummy_tables --engine duckdb",
    )
    .action((definition: string, options: Options) => generateMeasures(definition, options));
}

async function generateMeasures(definition: string, options: Options): Promise<void> {
  checkOutputFormat(options.output);
  const { source, sandbox } = requireDataSource(options);
  const measures = await loadMeasuresDefinition(definition, { params: options.param, sandbox });
  let engine = source?.engine;
  if (engine === undefined) {
    const { population, others } = measuresPopulation(measures);
    engine = await dummyDataEngine(population, others, withDefaults(measures));
  }
  await writeOutput(options.output, measuresColumns(measures), runMeasures(engine, measures));
}
