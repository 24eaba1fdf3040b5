// The `enclave` command. Each command lives in its own file and registers
// itself here; this is the one place where errors become messages and exit codes:
//   0  done (and --help, --version)
//   1  an error the user can fix, reported as `error: <message>`, no stack trace
//   2  the command line is wrong (commander's own message, or a UsageError)

import * as fs from "node:fs";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { TableFileError } from "../engines/files/index.js";
import { PermissionError, SqlExecutionError } from "../engines/sql/index.js";
import { SynthError } from "../synth/index.js";
import { QueryModelError } from "../querymodel/index.js";
import { registerDumpDatasetDefinition } from "./dump-dataset-definition.js";
import { registerDumpDatasetSql } from "./dump-dataset-sql.js";
import { registerSynth } from "./synth.js";
import { registerValidate } from "./validate.js";
import { registerRun } from "./run.js";
import { registerCodelists } from "./codelists.js";
import { registerInit } from "./init.js";
import { registerSdc } from "./sdc.js";
import { registerAudit } from "./audit.js";
import { registerAdmin } from "./admin.js";
import { registerBreach } from "./breach.js";
import { registerAgent } from "./agent.js";
import { registerJobserver } from "./jobserver.js";
import { registerServe } from "./serve.js";
import { registerDemo } from "./demo.js";
import { registerPublish } from "./publish.js";
import { registerAirlock } from "./airlock.js";
import { UsageError, UserError } from "./errors.js";
import { registerGenerateDataset } from "./generate-dataset.js";
import { registerCreateDummyTables } from "./create-dummy-tables.js";
import { registerGenerateMeasures } from "./generate-measures.js";
import { MeasuresError } from "../engines/measures.js";
import { packageRoot } from "../pipeline/package-root.js";
import { DefinitionError } from "../pipeline/definitions.js";

export function createProgram(): Command {
  const { version } = JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string };
  const program = new Command("enclave")
    .description("Enclave: a trusted research environment for pseudonymised health records.")
    .version(version)
    .exitOverride()
    .showHelpAfterError("(add --help for usage)");
  // Commands inherit the settings above, so they are registered after them.
  registerGenerateDataset(program);
  registerGenerateMeasures(program);
  registerCreateDummyTables(program);
  registerDumpDatasetDefinition(program);
  registerDumpDatasetSql(program);
  registerSynth(program);
  registerValidate(program);
  registerRun(program);
  registerCodelists(program);
  registerInit(program);
  registerSdc(program);
  registerAudit(program);
  registerAdmin(program);
  registerBreach(program);
  registerJobserver(program);
  registerAgent(program);
  registerServe(program);
  registerAirlock(program);
  registerPublish(program);
  registerDemo(program);
  return program;
}

/** Runs the command line; returns the exit code. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  // A reader that stops early (`| head`) is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  try {
    await createProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    return report(e);
  }
}

function report(e: unknown): number {
  // Commander has already printed its message (or the help).
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
  if (e instanceof UserError || e instanceof DefinitionError) {
    for (const line of e.lines) process.stderr.write(`error: ${line}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
  if (e instanceof TableFileError || e instanceof QueryModelError || e instanceof PermissionError || e instanceof SqlExecutionError || e instanceof SynthError || e instanceof MeasuresError || isSystemError(e)) {
    process.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`error: internal error in Enclave: ${err.message}\n${err.stack ?? ""}\n`);
  return 1;
}

/** Node's errors about files and the like (ENOENT, EACCES, ...): their message says it all. */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" && /^E[A-Z]+$/.test((e as NodeJS.ErrnoException).code!);
}
