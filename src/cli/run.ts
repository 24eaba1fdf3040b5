// `enclave run ACTION... | run_all`: runs a study's actions on this machine,
// with dummy data, the way the backend runs a job request (see
// pipeline/runner.ts). Progress goes to standard error, live on a terminal and a
// line per event otherwise; the summary goes to standard output.

import * as fs from "node:fs";
import * as path from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { ProjectError, dependenciesOf, expandRunAll, isDatabaseAction } from "../pipeline/project.js";
import { checkCodelists } from "../pipeline/codelists.js";
import { SdcInputError, checkFiles } from "../sdc/check.js";
import { type ActionOutcome, DEFAULT_CONCURRENCY, type RunEvent, RunnerError, type RunSummary, TAIL_LINES, runPipeline } from "../pipeline/runner.js";
import { formatBytes, formatDuration } from "../pipeline/metadata.js";
import { executeAction } from "../pipeline/runtimes.js";
import { UsageError, UserError, displayPath } from "./errors.js";
import { readProjectFile } from "./validate.js";

interface RunCommandOptions {
  forceRunDependencies?: boolean;
  continueOnError?: boolean;
  concurrency: number;
  projectDir: string;
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("Run a study's actions on this machine (with dummy data), each in its own sandbox, as the backend runs them.")
    .argument("[actions...]", "the actions to run, or run_all for every action")
    .option("-f, --force-run-dependencies", "run the actions they need again too, rather than reuse their outputs")
    .option("--continue-on-error", "after an action fails, go on with the actions that do not need it")
    .option("--concurrency <n>", "how many actions may run at once", positiveInteger, DEFAULT_CONCURRENCY)
    .option("--project-dir <dir>", "the study's folder, which holds project.yaml", ".")
    .addHelpText(
      "after",
      "\nThe actions named run, always; the actions they need are reused when their last run\n" +
        "succeeded and their outputs are unchanged, and run otherwise. Each action sees the\n" +
        "study's code and the outputs of the actions it needs, nothing else.\n" +
        "\nOutputs go to the study's folder; moderately_sensitive ones that pass the level 4\n" +
        "checks are copied to metadata/level4/. Each action's log is metadata/<action>.log;\n" +
        "metadata/manifest.json describes every output.\n" +
        "\nExits with 0 when every action succeeded (or was reused), 1 otherwise.\n" +
        "\nExamples:\n" +
        "  enclave run run_all\n" +
        "  enclave run describe_cohort            (and what it needs, reused where possible)\n" +
        "  enclave run -f describe_cohort         (and everything it needs, again)\n" +
        "  enclave run run_all --continue-on-error --concurrency 4",
    )
    .action(async (actions: string[], opts: RunCommandOptions) => runCommand(actions, opts));
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("Expected a whole number of at least 1.");
  return n;
}

async function runCommand(actions: string[], opts: RunCommandOptions): Promise<void> {
  if (actions.length === 0) throw new UsageError("name the actions to run, or run_all for every action (enclave run run_all)");
  const projectDir = path.resolve(opts.projectDir);
  if (!fs.existsSync(path.join(projectDir, "project.yaml"))) {
    const where = opts.projectDir === "." ? "the current folder" : displayPath(projectDir);
    throw new UserError(`there is no project.yaml in ${where}: run enclave run in the study's folder, or give it with --project-dir DIR`);
  }
  const { project } = readProjectFile(projectDir);
  let requested: string[];
  try {
    requested = expandRunAll(project, actions);
  } catch (e) {
    if (!(e instanceof ProjectError)) throw e;
    throw new UserError(e.problems[0]!.message, e.problems.slice(1).map((p) => p.message));
  }
  // A database action reads codelists that must be the ones codelists.txt names, as downloaded.
  const database = dependenciesOf(project, requested).filter((name) => isDatabaseAction(project.actions.get(name)!));
  if (database.length > 0) {
    const codelists = checkCodelists(projectDir);
    if (!codelists.ok) {
      throw new UserError(`the codelists are out of date, so the database actions (${database.join(", ")}) cannot run`, [
        ...codelists.problems,
        ...(codelists.hint ? [codelists.hint] : []),
      ]);
    }
  }

  const progress = new Progress(process.stderr, process.stderr.isTTY === true);
  const controller = new AbortController();
  // The first Ctrl-C stops the running actions and records them as cancelled; a second one is Node's (it exits).
  const onInterrupt = () => {
    progress.message("cancelling: stopping the running actions (press Ctrl-C again to quit at once)");
    controller.abort();
  };
  process.once("SIGINT", onInterrupt);
  let summary: RunSummary;
  try {
    summary = await runPipeline({
      projectDir,
      project,
      actions,
      executor: executeAction,
      forceRunDependencies: opts.forceRunDependencies ?? false,
      continueOnError: opts.continueOnError ?? false,
      concurrency: opts.concurrency,
      signal: controller.signal,
      reporter: (event) => progress.handle(event),
    });
  } catch (e) {
    if (e instanceof RunnerError) throw new UserError(e.message);
    throw e;
  } finally {
    progress.stop();
    process.removeListener("SIGINT", onInterrupt);
  }
  process.stdout.write(formatSummary(summary));
  process.stdout.write(await disclosureWarnings(projectDir, summary));
  if (!summary.ok) {
    const bad = summary.actions.filter((a) => a.status !== "succeeded" && a.status !== "reused");
    throw new UserError(`${bad.length} of ${summary.actions.length} actions did not succeed: ${bad.map((a) => `${a.action} (${a.statusCode ?? "not started"})`).join(", ")}`);
  }
}

// ---------------------------------------------------------------------------
// PROGRESS

interface Running {
  since: number;
  last: string;
}

/**
 * Progress on standard error. On a terminal, a block at the bottom shows each
 * running action, how long it has run and its last line of output, redrawn in
 * place; finished actions are printed above it. Elsewhere (a CI log, a file),
 * one plain line per event.
 */
export class Progress {
  private readonly running = new Map<string, Running>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WritableStream & { columns?: number },
    private readonly live: boolean,
    private readonly clock: () => number = Date.now,
  ) {}

  handle(event: RunEvent): void {
    switch (event.type) {
      case "plan": {
        const runs = event.actions.filter((a) => a.decision === "run");
        const width = Math.max(...event.actions.map((a) => a.action.length));
        this.message(`request ${event.requestId}: ${runs.length} to run, ${event.actions.length - runs.length} reused`);
        for (const a of event.actions) this.message(`  ${a.decision === "run" ? "run  " : "reuse"}  ${a.action.padEnd(width)}  (${a.reason})`);
        break;
      }
      case "warning":
        this.message(`warning: ${event.message}`);
        break;
      case "started":
        this.running.set(event.action, { since: this.clock(), last: "" });
        if (this.live) this.start();
        else this.message(`started   ${event.action} (job ${event.jobId})`);
        break;
      case "output": {
        const r = this.running.get(event.action);
        if (r !== undefined && event.line.trim() !== "") r.last = event.line;
        break;
      }
      case "finished": {
        const o = event.outcome;
        this.running.delete(o.action);
        const time = o.durationMs === null ? "" : `  ${formatDuration(o.durationMs)}`;
        const word = o.status === "succeeded" ? "succeeded" : o.status === "failed" ? "FAILED   " : "not run  ";
        this.message(`${word} ${o.action}${time}${o.status === "succeeded" ? "" : `: ${o.statusMessage}`}`);
        break;
      }
      case "summary":
        this.stop();
        break;
    }
  }

  /** Prints a line above the live block. */
  message(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private start(): void {
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.redraw(), 250);
      this.timer.unref();
    }
    this.redraw();
  }

  private redraw(): void {
    this.clear();
    this.draw();
  }

  private clear(): void {
    if (!this.live || this.drawn === 0) return;
    // To the start of the block, then erase to the end of the screen.
    this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (!this.live || this.running.size === 0) return;
    const width = Math.max(20, (this.out.columns ?? 80) - 1);
    const names = Math.max(...[...this.running.keys()].map((n) => n.length));
    const lines = [...this.running].map(([name, r]) => {
      const line = `  running ${name.padEnd(names)}  ${clock(this.clock() - r.since)}  ${r.last.replace(/\s+/g, " ")}`;
      return line.length > width ? `${line.slice(0, width - 3)}...` : line;
    });
    this.out.write(`${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// ---------------------------------------------------------------------------
// THE SUMMARY

/** The table of actions, their logs, the level 4 exclusions and the tail of each failed action's log. */
export function formatSummary(summary: RunSummary): string {
  const rows = summary.actions.map((a) => [a.action, statusText(a), a.durationMs === null ? "-" : formatDuration(a.durationMs), outputsText(a)]);
  const header = ["action", "status", "time", "outputs"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.split("\n")[0]!.length)));
  const out: string[] = [""];
  const line = (cells: string[]) => {
    const [first, ...more] = cells[3]!.split("\n");
    out.push([...cells.slice(0, 3).map((c, i) => c.padEnd(widths[i]!)), first].join("  ").trimEnd());
    const indent = " ".repeat(widths[0]! + widths[1]! + widths[2]! + 6);
    for (const m of more) out.push(`${indent}${m}`);
  };
  line(header);
  for (const r of rows) line(r);

  const logs = summary.actions.filter((a) => a.logFile !== null && a.status !== "reused");
  if (logs.length > 0) {
    out.push("", "logs:");
    for (const a of logs) out.push(`  ${a.action}: ${displayPath(a.logFile!)}`);
  }

  const ran = summary.actions.filter((a) => a.status === "succeeded" || a.status === "failed");
  const level4 = ran.flatMap((a) => a.outputs.filter((o) => o.level4 !== undefined));
  if (level4.length > 0) {
    const copied = level4.filter((o) => o.level4!.copied).length;
    out.push("", `level 4 (${displayPath(summary.level4Dir)}): ${copied} of ${level4.length} moderately_sensitive files copied`);
    for (const o of level4.filter((f) => !f.level4!.copied)) {
      out.push(`  not copied: ${o.path}: it ${o.level4!.reasons.join("; it ")} (see ${displayPath(o.level4!.placeholder!)})`);
    }
  }

  for (const a of summary.actions.filter((x) => x.status === "failed" && x.statusCode !== "dependency_failed")) {
    out.push("", `${a.action} failed (${a.statusCode}): ${a.statusMessage}`);
    if (a.hint !== undefined) out.push(`  hint: ${a.hint}`);
    if (a.outputTail.length > 0) {
      out.push(`  the last ${a.outputTail.length === TAIL_LINES ? `${TAIL_LINES} lines` : "lines"} of its output${a.logFile === null ? "" : ` (all of it in ${displayPath(a.logFile)})`}:`);
      for (const l of a.outputTail) out.push(`  | ${l}`);
    }
  }
  out.push("");
  return out.join("\n");
}

function statusText(a: ActionOutcome): string {
  switch (a.status) {
    case "succeeded":
      return "succeeded";
    case "reused":
      return "reused";
    case "failed":
      return `failed: ${a.statusCode}`;
    case "not_started":
      return "not started";
  }
}

function outputsText(a: ActionOutcome): string {
  if (a.outputs.length === 0) return "-";
  return a.outputs
    .map((o) => {
      const l4 = o.level4 === undefined ? "" : o.level4.copied ? ", level 4" : ", NOT in level 4";
      return `${o.path} (${o.level === "highly_sensitive" ? "highly" : "moderately"}_sensitive, ${formatBytes(o.size)}${l4})`;
    })
    .join("\n");
}

// ---------------------------------------------------------------------------
// DISCLOSURE CHECKS

const FAILURES_SHOWN = 10;

/**
 * Warnings from `enclave sdc check` on the moderately_sensitive outputs of the
 * actions that ran, so that a researcher fixes a disclosive table before
 * asking for its release. They do not fail the run: the output checkers decide.
 */
async function disclosureWarnings(projectDir: string, summary: RunSummary): Promise<string> {
  const files = summary.actions
    .filter((a) => a.status === "succeeded")
    .flatMap((a) => a.outputs.filter((o) => o.level === "moderately_sensitive").map((o) => o.path));
  if (files.length === 0) return "";
  let results;
  try {
    results = await checkFiles(files.map((f) => path.join(projectDir, f)));
  } catch (e) {
    if (!(e instanceof SdcInputError)) throw e;
    return `\nwarning: the disclosure check could not read the outputs: ${e.message}\n`;
  }
  const lines: string[] = [];
  results.files.forEach((r, i) => {
    if (r.status === "pass") return;
    lines.push(`warning: ${files[i]}: ${r.status === "fail" ? "fails the disclosure check" : "needs a checker's review"}`);
    for (const f of r.failures.slice(0, FAILURES_SHOWN)) {
      const where = f.row === null ? "" : `row ${f.row}${f.column === null ? "" : `, column ${JSON.stringify(f.column)}`}: `;
      lines.push(`  ${where}${f.rule}: ${f.message}`);
    }
    if (r.failures.length > FAILURES_SHOWN) lines.push(`  and ${r.failures.length - FAILURES_SHOWN} more (enclave sdc check ${files[i]})`);
  });
  const passed = results.files.filter((r) => r.status === "pass").length;
  const head = `\ndisclosure check of ${files.length} moderately_sensitive ${files.length === 1 ? "output" : "outputs"}: ${passed} passed\n`;
  return head + lines.map((l) => `${l}\n`).join("");
}
