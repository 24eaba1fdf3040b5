// `enclave sdc ...`: statistical disclosure control. `enclave sdc check` is a
// public contract (../shared/spec/sdc-check.md): its exit statuses are 0 when
// every file passes, 1 when any fails or needs review, 2 for a usage error or
// an unreadable file; main.ts maps UserError to 1 and UsageError to 2.

import * as fs from "node:fs";
import * as path from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { type Results, SdcInputError, checkFiles, loadDeclarations, findDeclaration, DEFAULT_BASE, DEFAULT_THRESHOLD } from "../sdc/check.js";
import { addToLedger, LEDGER_FILE } from "../sdc/ledger.js";
import { UsageError, UserError } from "./errors.js";

interface CheckOptions {
  declarations?: string;
  ledger?: string;
  threshold: number;
  base: number;
  output?: string;
}

function wholeNumber(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[0-9]+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`Expected a whole number of ${min} or more.`);
    return n;
  };
}

/** Registers the `sdc` command group; its subcommands are added to the group. */
export function registerSdc(program: Command): Command {
  const sdc = program.command("sdc").description("Statistical disclosure control: check output files before they are released.");
  sdc
    .command("check")
    .description("Check output files for disclosure risk: each gets pass, fail or review, with every failing cell.")
    .argument("<files...>", "the files to check (tables as CSV; figures with their data as <stem>.csv beside them)")
    .option("--declarations <file>", "a JSON file of one table declaration or a list of them (<file>.sdc.json beside a table is read anyway)")
    .option("--ledger <dir>", "the ledger folder of released tables (see `sdc ledger add`): fail cells whose difference from a released one may isolate 1 to --threshold patients; an absent folder is an empty ledger")
    .option("--threshold <n>", "counts from 1 to this are small and must be redacted", wholeNumber(0), DEFAULT_THRESHOLD)
    .option("--base <n>", "counts must be multiples of this", wholeNumber(1), DEFAULT_BASE)
    .option("--output <file>", "write the results as JSON (results.json) instead of printing a report")
    .addHelpText(
      "after",
      "\nExit status: 0 when every file passes; 1 when any file fails or needs review;\n2 for a usage error or a file that cannot be read.\n" +
        "\nRules: patient_level, small_count, unrounded, not_midpoint6, total_mismatch,\ndominance_nk, dominance_p, declaration_mismatch, differencing (with --ledger),\nno_underlying_data (review), file_type.\n" +
        "\nExamples:\n" +
        "  enclave sdc check output/table.csv output/figure.png\n" +
        "  enclave sdc check output/*.csv --threshold 10 --base 10 --output results.json",
    )
    .action((files: string[], options: CheckOptions) => check(files, options));
  const ledger = sdc.command("ledger").description("The ledger of a project's released tables, for the differencing check (sdc check --ledger).");
  ledger
    .command("add")
    .description(`Record the release of tables in the ledger (DIR/${LEDGER_FILE}, one line per release): population, dimensions, categories and published counts.`)
    .argument("<files...>", "the released tables (CSV; other files are skipped)")
    .requiredOption("--ledger <dir>", "the ledger folder (made if absent)")
    .option("--declarations <file>", "a JSON file of one table declaration or a list of them (<file>.sdc.json beside a table is read anyway)")
    .addHelpText("after", "\nExample:\n  enclave sdc ledger add output/by_region.csv --ledger releases/ledger\n  enclave sdc check output/by_region_2025.csv --ledger releases/ledger")
    .action((files: string[], options: { ledger: string; declarations?: string }) => addReleases(files, options));
  return sdc;
}

async function check(files: string[], options: CheckOptions): Promise<void> {
  let results: Results;
  try {
    results = await checkFiles(files, { declarations: options.declarations, ledger: options.ledger, threshold: options.threshold, base: options.base });
  } catch (e) {
    if (e instanceof SdcInputError) throw new UsageError(e.message);
    throw e;
  }
  const counts = { pass: 0, fail: 0, review: 0 };
  for (const f of results.files) counts[f.status] += 1;
  const summary = `${results.files.length} ${results.files.length === 1 ? "file" : "files"}: ${counts.pass} pass, ${counts.fail} fail, ${counts.review} review`;
  if (options.output !== undefined) {
    fs.mkdirSync(path.dirname(path.resolve(options.output)), { recursive: true });
    fs.writeFileSync(options.output, JSON.stringify(results, null, 2) + "\n");
    process.stdout.write(`${summary}; results in ${options.output}\n`);
  } else {
    process.stdout.write(report(results) + `${summary}\n`);
  }
  if (counts.fail + counts.review > 0) {
    throw new UserError(`${counts.fail + counts.review} of ${results.files.length} files ${counts.review === 0 ? "fail" : counts.fail === 0 ? "need review" : "fail or need review"}`);
  }
}

function addReleases(files: string[], options: { ledger: string; declarations?: string }): void {
  try {
    const given = options.declarations === undefined ? [] : loadDeclarations(options.declarations);
    for (const file of files) {
      if (path.extname(file).toLowerCase() !== ".csv") {
        process.stdout.write(`${file}: skipped (not a CSV table)\n`);
        continue;
      }
      const entry = addToLedger(options.ledger, file, findDeclaration(file, given));
      process.stdout.write(`${file}: recorded (population ${JSON.stringify(entry.population)}, ${entry.counts.length} count ${entry.counts.length === 1 ? "column" : "columns"})\n`);
    }
  } catch (e) {
    if (e instanceof SdcInputError) throw new UsageError(e.message);
    throw e;
  }
}

/** The readable report: each file's status, then each failure with its row, column and rule. */
export function report(results: Results): string {
  let out = "";
  for (const f of results.files) {
    out += `${f.path}: ${f.status}\n`;
    for (const x of f.failures) {
      const where = x.row !== null ? `row ${x.row}, column ${JSON.stringify(x.column)}` : x.column !== null ? `column ${JSON.stringify(x.column)}` : "file";
      out += `  ${where}: ${x.rule}: ${x.message}\n`;
    }
  }
  return out;
}
