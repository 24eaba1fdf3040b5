// `enclave dump-dataset-definition`: load a definition and print its validated
// query model as JSON, exactly what an engine would be given.

import type { Command } from "commander";
import { datasetToJson } from "../querymodel/index.js";
import { loadDefinition } from "../pipeline/definitions.js";
import { paramOption } from "./options.js";

export function registerDumpDatasetDefinition(program: Command): void {
  program
    .command("dump-dataset-definition")
    .description("Load a dataset definition and print its query model (validated, as JSON) on standard output.")
    .argument("<definition>", "the dataset definition, a TypeScript file")
    .addOption(paramOption())
    .action(async (definition: string, options: { param: Record<string, string> }) => {
      const dataset = await loadDefinition(definition, { params: options.param });
      process.stdout.write(`${JSON.stringify(datasetToJson(dataset), null, 2)}\n`);
    });
}
