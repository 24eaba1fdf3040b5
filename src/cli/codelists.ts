// `enclave codelists add|update|check`: the study's codelists from
// OpenCodelists (or a server that speaks its API), in the current folder's
// codelists/, kept exactly as opensafely-cli keeps them.

import type { Command } from "commander";
import {
  CodelistsError,
  DEFAULT_OPENCODELISTS_URL,
  OPENCODELISTS_URL_ENV,
  addCodelist,
  checkCodelists,
  updateCodelists,
} from "../pipeline/codelists.js";
import { UserError } from "./errors.js";

const URL_HELP = `the OpenCodelists server (default: $${OPENCODELISTS_URL_ENV}, else ${DEFAULT_OPENCODELISTS_URL})`;

export function registerCodelists(program: Command): void {
  const codelists = program
    .command("codelists")
    .description("Download the study's codelists from OpenCodelists and check them: codelists/codelists.txt, the CSV files and codelists/codelists.json.")
    .addHelpText(
      "after",
      "\ncodelists/codelists.txt lists the codelists, one id a line: project/codelist/version or\n" +
        "user/name/codelist/version (blank lines and # comments allowed). `update` downloads each to\n" +
        "codelists/<id without version, / as ->.csv and records it in codelists/codelists.json;\n" +
        "`check` compares the three, offline. Commit all of codelists/.",
    );

  codelists
    .command("add")
    .description("Add a codelist to codelists/codelists.txt and download it.")
    .argument("<id>", "the codelist version: project/codelist/version, user/name/codelist/version, or its address on OpenCodelists")
    .option("--url <url>", URL_HELP)
    .addHelpText("after", "\nExamples:\n  enclave codelists add opensafely/asthma-diagnosis/2020-04-15\n  enclave codelists add https://www.opencodelists.org/codelist/opensafely/asthma-diagnosis/2020-04-15/")
    .action((id: string, options: { url?: string }) =>
      userErrors(async () => {
        const added = await addCodelist(process.cwd(), id, { url: serverUrl(options.url), onProgress: progress });
        process.stdout.write(`added ${added.id} to codelists/codelists.txt (line ${added.line}) and downloaded it to codelists/${added.file}\n`);
      }),
    );

  codelists
    .command("update")
    .description("Download every codelist in codelists/codelists.txt, rewrite codelists/codelists.json and delete CSV files no codelist is downloaded to.")
    .option("--url <url>", URL_HELP)
    .addHelpText("after", "\nNothing is written unless every codelist downloads.\n\nExample:\n  enclave codelists update && git add codelists")
    .action((options: { url?: string }) =>
      userErrors(async () => {
        const { codelists, deleted } = await updateCodelists(process.cwd(), { url: serverUrl(options.url), onProgress: progress });
        const gone = deleted.length === 0 ? "" : `; deleted ${plural(deleted.length, "stale file")}`;
        process.stdout.write(`codelists updated: ${plural(codelists.length, "codelist")} in codelists/${gone}\n`);
      }),
    );

  codelists
    .command("check")
    .description("Check, offline, that codelists/codelists.txt, codelists/codelists.json and the CSV files agree and no CSV file has been changed.")
    .addHelpText("after", "\nPrints `codelists OK: N codelists`, or every problem and exits with 1.")
    .action(() => {
      const result = checkCodelists(process.cwd());
      if (result.nothing !== undefined) {
        process.stdout.write(`nothing to check: ${result.nothing}\n`);
        return;
      }
      if (result.ok) {
        process.stdout.write(`codelists OK: ${plural(result.count, "codelist")}\n`);
        return;
      }
      const [first, ...rest] = result.problems;
      throw new UserError(first!, [...rest, `${plural(result.problems.length, "problem")} with the codelists: ${result.hint ?? ""}`]);
    });
}

/** --url, else the environment's server, else OpenCodelists itself. */
function serverUrl(option: string | undefined): string {
  const env = process.env[OPENCODELISTS_URL_ENV];
  return option ?? (env !== undefined && env !== "" ? env : DEFAULT_OPENCODELISTS_URL);
}

function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function userErrors(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (!(e instanceof CodelistsError)) throw e;
    const [first, ...rest] = e.lines;
    throw new UserError(first!, rest);
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
