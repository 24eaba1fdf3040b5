// `enclave dump-dataset-sql`: the SQL an engine would run for a definition.

import type { Command } from "commander";
import { Option } from "commander";
import { compileDataset, optOutFilters, scopeFromEnvironment } from "../engines/sql/index.js";
import { loadDefinition } from "../pipeline/definitions.js";
import { paramOption } from "./options.js";
import { dialectFor } from "./data-source.js";

interface Options {
  engine: string;
  backend?: boolean;
  param: Record<string, string>;
}

export function registerDumpDatasetSql(program: Command): void {
  program
    .command("dump-dataset-sql")
    .description("Print the SQL statements that an engine runs for a dataset definition.")
    .argument("<definition>", "the dataset definition, a TypeScript file")
    .addOption(new Option("--engine <name>", "the SQL dialect").choices(["sqlite", "duckdb", "postgres"]).makeOptionMandatory())
    .option("--backend", "as run against a backend: with the opt-out conditions that ENCLAVE_PERMISSIONS leaves in place")
    .addOption(paramOption())
    .action(async (definition: string, options: Options) => {
      const dataset = await loadDefinition(definition, { params: options.param });
      const dialect = dialectFor(options.engine);
      const filters = options.backend ? optOutFilters(dialect, scopeFromEnvironment()) : [];
      const q = compileDataset(dialect, dataset, { populationFilters: filters });
      process.stdout.write([...q.setup, q.select, ...q.cleanup].map((s) => `${s};\n`).join("\n"));
    });
}
