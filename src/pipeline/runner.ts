// The local runner: `enclave run ACTION... | run_all` on the researcher's
// machine, the way the backend runs a job request.
//
// A request names actions; they always run. What they need, directly or not,
// is reused when its latest job succeeded and nothing it stands on has changed
// (its outputs, its definition in project.yaml, the outputs of its own needs),
// and run otherwise; -f runs every dependency. Each action runs in a fresh
// folder holding the study's code without any file that matches an output
// pattern, plus the outputs of the actions it `needs` and nothing else, so a
// missing `needs` fails here as it would in the backend. Afterwards its files
// are matched against its output patterns; matched files go to the project
// folder (level 3) and moderately_sensitive ones, once they pass the checks, to
// the level 4 folder. Everything is recorded under metadata/ (see metadata.ts).
//
// The runner never builds a command line: an ActionExecutor (runtimes.ts, or a
// test's fake) runs each action's command in the folder it is given.

import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { type ActionExecutor, type ActionLimits, type ActionResult, type ActionRun, DEFAULT_LIMITS } from "./action.js";
import { checkLevel4, describeFile, isCsv, placeholderText } from "./level4.js";
import {
  type ActionRecord,
  type LogSummary,
  type Manifest,
  type ManifestEntry,
  METADATA_DIR,
  type OutputRecord,
  type RunState,
  type StatusCode,
  currentUser,
  formatLogSummary,
  gitCommit,
  gitRepo,
  readManifest,
  readState,
  updateManifest,
  writeState,
} from "./metadata.js";
import { type Action, OUTPUT_LEVELS, type OutputLevel, type Project, dependenciesOf, expandRunAll, matchesPattern, nearest, outputPatterns, parseProject } from "./project.js";

export { type StatusCode } from "./metadata.js";

/** Independent actions run two at a time unless told otherwise: enough to overlap a dataset and a measures action. */
export const DEFAULT_CONCURRENCY = 2;
/** How many lines of a failed action's output the summary keeps. */
export const TAIL_LINES = 20;

export interface RunOptions {
  /** The study's folder, holding project.yaml; its outputs and metadata/ are kept here. */
  projectDir: string;
  /**
   * Where the study's code comes from (default: projectDir). The backend runs
   * a commit checked out into a fresh folder while the workspace's outputs stay
   * in projectDir: code is then taken from here, outputs from projectDir.
   */
  codeDir?: string;
  /** The requested actions, or ["run_all"]. */
  actions: readonly string[];
  /** Runs one action's command (runtimes.ts's executeAction). */
  executor: ActionExecutor;
  /** The parsed project.yaml; read from projectDir when absent. */
  project?: Project;
  /** Run every dependency again, even those whose outputs could be reused (-f). */
  forceRunDependencies?: boolean;
  /** After a failure, go on with the actions that do not depend on it (by default, no new action starts). */
  continueOnError?: boolean;
  /** How many actions may run at once (default DEFAULT_CONCURRENCY). */
  concurrency?: number;
  limits?: ActionLimits;
  sandbox?: "auto" | "required";
  /** Where level 4 files go (default <projectDir>/metadata/level4). */
  level4Dir?: string;
  /** The clock (for tests). */
  now?: () => Date;
  /** Progress, as it happens. */
  reporter?: (event: RunEvent) => void;
  /** The request's id (default: random); job ids are derived from it and the action's name. */
  requestId?: string;
  /** Who asked for the run, for the manifest (default: the operating system's user). */
  user?: string;
  /** The repository to record in the manifest (default: asked of git when commit is not given). */
  repo?: string | null;
  /** The commit to record; by default asked of git (null outside a repository). */
  commit?: string | null;
  /** Extra environment per action (locally none); its values are redacted from logs. */
  env?: (action: Action) => Readonly<Record<string, string>>;
  /** Aborting cancels: running actions are killed, no new ones start. */
  signal?: AbortSignal;
  /** Where the actions' working folders are made (default: the system's temporary folder). */
  tmpDir?: string;
  /** Leave the working folders in place (for debugging). */
  keepWorkdirs?: boolean;
}

/** What happened to an action in this request. */
export type OutcomeStatus = "succeeded" | "failed" | "reused" | "not_started";

export interface OutputSummary {
  path: string;
  level: OutputLevel;
  size: number;
  sha256: string;
  rows: number | null;
  columns: number | null;
  /** For moderately_sensitive files. */
  level4?: { copied: boolean; reasons: string[]; /** The absolute path of `<path>.txt` when not copied. */ placeholder?: string };
}

export interface ActionOutcome {
  action: string;
  requested: boolean;
  status: OutcomeStatus;
  /** The job's status code (for a reused action, that of the job reused); null when it did not start. */
  statusCode: StatusCode | null;
  statusMessage: string;
  /** Why it ran, or why it could be reused. */
  reason: string;
  jobId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  exitCode: number | null;
  /** CPU time of the action's processes, in seconds, as the executor measured it; null when it did not run here or was not measured. */
  cpuSeconds: number | null;
  /** Peak resident memory of the action's processes, in bytes; null likewise. */
  peakMemoryBytes: number | null;
  /** The absolute path of metadata/<action>.log, when the action ran (or was reused and has one). */
  logFile: string | null;
  outputs: OutputSummary[];
  /** Files the action wrote that match none of its patterns (not kept). */
  discarded: string[];
  hint?: string;
  /** The last lines of the action's output. */
  outputTail: string[];
}

export interface PlannedAction {
  action: string;
  requested: boolean;
  decision: "run" | "reuse";
  reason: string;
}

export interface RunSummary {
  requestId: string;
  /** Every action of the request succeeded or was reused. */
  ok: boolean;
  /** In the order they could run (each after what it needs). */
  actions: ActionOutcome[];
  metadataDir: string;
  level4Dir: string;
}

export type RunEvent =
  | { type: "plan"; requestId: string; actions: PlannedAction[] }
  | { type: "warning"; message: string }
  | { type: "started"; action: string; jobId: string; at: Date }
  | { type: "output"; action: string; line: string }
  | { type: "finished"; outcome: ActionOutcome }
  | { type: "summary"; summary: RunSummary };

/** A request the runner refuses before running anything (another run holds the study, say). */
export class RunnerError extends Error {
  override name = "RunnerError";
}

/** Runs a request: plans, runs what must run, records it all under metadata/; resolves when nothing is left running. */
export async function runPipeline(options: RunOptions): Promise<RunSummary> {
  const projectDir = fs.realpathSync(path.resolve(options.projectDir));
  const project = options.project ?? parseProject(fs.readFileSync(path.join(projectDir, "project.yaml"), "utf8"));
  if (options.actions.length === 0) throw new RunnerError("no action requested: name the actions to run, or run_all");
  const requested = expandRunAll(project, options.actions);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RunnerError(`the concurrency must be a whole number of at least 1, not ${concurrency}`);

  const metadataDir = path.join(projectDir, METADATA_DIR);
  fs.mkdirSync(metadataDir, { recursive: true });
  const release = lock(metadataDir);
  try {
    return await new Run(options, project, projectDir, metadataDir, requested, concurrency).execute();
  } finally {
    release();
  }
}

// One process runs a study at a time: two would overwrite each other's outputs and state.
function lock(metadataDir: string): () => void {
  const file = path.join(metadataDir, ".enclave-run.lock");
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => fs.rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(fs.readFileSync(file, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new RunnerError(`another enclave run (process ${pid}) is running this study; wait for it to finish (or stop it) and run again`);
      }
      // Left by a run that died.
      fs.rmSync(file, { force: true });
    }
  }
  throw new RunnerError(`cannot lock ${file}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A hash of what defines an action in project.yaml: a dependency whose definition changed is not reused. */
export function definitionHash(action: Action): string {
  const outputs = OUTPUT_LEVELS.map((level) => Object.entries(action.outputs[level] ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
  const text = JSON.stringify([action.run.image, action.run.version, action.run.command, [...action.needs].sort(), outputs, action.config ?? null]);
  return createHash("sha256").update(text).digest("hex");
}

/** The job id of an action in a request: the same request and action always give the same id. */
export function jobIdFor(requestId: string, action: string): string {
  return createHash("sha256").update(`${requestId}\n${action}`).digest("hex").slice(0, 16);
}

interface StudyFiles {
  /** The study's files an action sees (relative, with /). */
  code: string[];
  /** Action → files in the project folder that match its output patterns. */
  outputs: Map<string, string[]>;
  /** Notes for each action's log (a skipped symlink, say). */
  notes: string[];
}

interface Listed {
  rel: string;
  size: number;
  mtimeMs: number;
  regular: boolean;
}

class Run {
  private readonly now: () => Date;
  private readonly report: (event: RunEvent) => void;
  private readonly requestId: string;
  private readonly level4Dir: string;
  private readonly commit: string | null;
  private readonly state: RunState;
  private readonly manifest: Manifest;
  private readonly user: string;
  private readonly outcomes = new Map<string, ActionOutcome>();
  private readonly codeDir: string;
  private study!: StudyFiles;

  constructor(
    private readonly options: RunOptions,
    private readonly project: Project,
    private readonly projectDir: string,
    private readonly metadataDir: string,
    private readonly requested: string[],
    private readonly concurrency: number,
  ) {
    this.now = options.now ?? (() => new Date());
    this.report = options.reporter ?? (() => {});
    this.requestId = options.requestId ?? randomBytes(8).toString("hex");
    this.level4Dir = path.resolve(options.level4Dir ?? path.join(metadataDir, "level4"));
    this.codeDir = options.codeDir === undefined ? projectDir : fs.realpathSync(path.resolve(options.codeDir));
    this.commit = options.commit !== undefined ? options.commit : gitCommit(projectDir);
    const repo = options.repo !== undefined ? options.repo : options.commit !== undefined ? null : gitRepo(projectDir);
    this.user = options.user ?? currentUser();
    this.state = readState(metadataDir, (message) => this.report({ type: "warning", message }));
    this.manifest = readManifest(metadataDir, path.basename(projectDir), repo);
  }

  async execute(): Promise<RunSummary> {
    const plan = await this.plan();
    this.report({ type: "plan", requestId: this.requestId, actions: plan });
    this.study = await this.listStudy();
    for (const p of plan) if (p.decision === "reuse") this.outcomes.set(p.action, this.reusedOutcome(p));

    const order = plan.map((p) => p.action);
    const pending = plan.filter((p) => p.decision === "run").map((p) => p.action);
    const reasons = new Map(plan.map((p) => [p.action, p.reason]));
    const running = new Map<string, Promise<void>>();
    let stop = false;
    const failed = (n: string) => this.outcomes.get(n)?.status === "failed";
    const done = (n: string) => ["succeeded", "reused"].includes(this.outcomes.get(n)?.status ?? "");
    const signal = this.options.signal;

    for (;;) {
      for (let i = 0; i < pending.length && !stop && !signal?.aborted; ) {
        const name = pending[i]!;
        const needs = this.action(name).needs;
        if (needs.some(failed)) {
          pending.splice(i, 1);
          this.finish(this.dependencyFailed(name, needs.filter(failed), reasons.get(name)!));
          continue;
        }
        if (running.size < this.concurrency && needs.every(done)) {
          pending.splice(i, 1);
          const job = this.runAction(name, reasons.get(name)!).then((outcome) => {
            running.delete(name);
            this.finish(outcome);
            if (outcome.status === "failed" && !this.options.continueOnError) stop = true;
          });
          running.set(name, job);
          continue;
        }
        i += 1;
      }
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
    // What is left did not start: because what it needs failed, or because the run stopped.
    for (const name of pending) {
      const needs = this.action(name).needs;
      if (needs.some(failed)) this.finish(this.dependencyFailed(name, needs.filter(failed), reasons.get(name)!));
      else this.finish(this.notStarted(name, reasons.get(name)!, signal?.aborted ? "the run was cancelled before it started" : "not started: an earlier action failed (with --continue-on-error the actions that do not need it run)"));
    }

    const actions = order.map((n) => this.outcomes.get(n)!);
    const summary: RunSummary = {
      requestId: this.requestId,
      ok: actions.every((o) => o.status === "succeeded" || o.status === "reused"),
      actions,
      metadataDir: this.metadataDir,
      level4Dir: this.level4Dir,
    };
    this.report({ type: "summary", summary });
    return summary;
  }

  private action(name: string): Action {
    return this.project.actions.get(name)!;
  }

  private finish(outcome: ActionOutcome): void {
    this.outcomes.set(outcome.action, outcome);
    this.report({ type: "finished", outcome });
  }

  // ---- planning

  /**
   * Requested actions run. A dependency of an action that runs is reused when
   * reuseProblem finds nothing wrong with it (and -f is not given), else it
   * runs too; and an action whose need runs in this request runs after it,
   * since what it was made from is being made again. Repeated until nothing
   * changes; then in the order of the graph.
   */
  private async plan(): Promise<PlannedAction[]> {
    const run = new Map<string, string>(this.requested.map((n) => [n, "requested"]));
    const reuse = new Map<string, string>();
    const queue = [...this.requested];
    const force = this.options.forceRunDependencies ?? false;
    for (;;) {
      while (queue.length > 0) {
        const name = queue.shift()!;
        for (const need of this.action(name).needs) {
          if (run.has(need) || reuse.has(need)) continue;
          const problem = force ? "dependencies are run again (-f)" : await this.reuseProblem(need);
          if (problem === undefined) {
            const finished = this.state.actions[need]?.finishedAt;
            reuse.set(need, `its job of ${finished ?? "an earlier run"} succeeded and its outputs are unchanged`);
          } else {
            run.set(need, problem);
            queue.push(need);
          }
        }
      }
      let changed = false;
      for (const name of [...reuse.keys()]) {
        const need = this.action(name).needs.find((n) => run.has(n));
        if (need === undefined) continue;
        reuse.delete(name);
        run.set(name, `it needs ${need}, which runs again`);
        queue.push(name);
        changed = true;
      }
      if (!changed) break;
    }
    const requested = new Set(this.requested);
    return dependenciesOf(this.project, this.requested)
      .filter((n) => run.has(n) || reuse.has(n))
      .map((n) => ({ action: n, requested: requested.has(n), decision: run.has(n) ? "run" : "reuse", reason: run.get(n) ?? reuse.get(n)! }));
  }

  /** Why a dependency cannot be reused, or undefined when it can. */
  private async reuseProblem(name: string): Promise<string | undefined> {
    const record = this.state.actions[name];
    if (record === undefined) return "it has not run before";
    if (record.status === "running") return "its last run did not finish";
    if (record.status !== "succeeded") return `its last job failed (${record.statusCode ?? "failed"})`;
    if (record.definition !== definitionHash(this.action(name))) return "its definition in project.yaml changed since it last ran";
    for (const [file, o] of Object.entries(record.outputs)) {
      const problem = await this.outputProblem(file, o);
      if (problem !== undefined) return `its output ${file} ${problem}`;
    }
    for (const need of this.action(name).needs) {
      const needRecord = this.state.actions[need];
      // A need that has since failed, or never ran, did not replace what this action was made from.
      if (needRecord?.status !== "succeeded") continue;
      const now = Object.fromEntries(Object.entries(needRecord.outputs).map(([f, o]) => [f, o.sha256]));
      if (!sameRecord(now, record.inputs[need] ?? {})) return `${need} has written other outputs since it last ran`;
    }
    return undefined;
  }

  private async outputProblem(file: string, o: OutputRecord): Promise<string | undefined> {
    const full = path.join(this.projectDir, file);
    const stat = await fsp.stat(full).catch(() => undefined);
    if (stat === undefined || !stat.isFile()) return "was deleted";
    // Hashing a large dataset takes time; a file of the same size and time is taken to be the same.
    if (stat.size === o.size && stat.mtimeMs === o.mtimeMs) return undefined;
    const facts = await describeFile(full);
    return facts.sha256 === o.sha256 ? undefined : "was changed";
  }

  // ---- the study's files

  /**
   * The study's code (files that match no output pattern) and the outputs
   * already in the project folder. With a separate codeDir, a file there that
   * matches an output pattern is not code (an action sees only the outputs of
   * its needs), and a file in the project folder that matches none is not an
   * output; and, as in the project folder, a metadata/ folder is never code.
   */
  private async listStudy(): Promise<StudyFiles> {
    const patterns = outputPatterns(this.project);
    const study: StudyFiles = { code: [], outputs: new Map(), notes: [] };
    const owner = (r: string) => patterns.find((p) => matchesPattern(p.pattern, r));
    const addOutput = (r: string, action: string) => study.outputs.set(action, [...(study.outputs.get(action) ?? []), r]);
    const tmp = path.resolve(this.options.tmpDir ?? os.tmpdir());
    if (this.codeDir === this.projectDir) {
      await this.walkStudy(this.projectDir, [this.metadataDir, this.level4Dir, tmp], study.notes, (r) => {
        const o = owner(r);
        if (o === undefined) study.code.push(r);
        else addOutput(r, o.action);
      });
      return study;
    }
    await this.walkStudy(this.codeDir, [path.join(this.codeDir, METADATA_DIR), this.level4Dir, tmp], study.notes, (r) => {
      if (owner(r) === undefined) study.code.push(r);
    });
    await this.walkStudy(this.projectDir, [this.metadataDir, this.level4Dir, tmp], [], (r) => {
      const o = owner(r);
      if (o !== undefined) addOutput(r, o.action);
    });
    return study;
  }

  /** Calls `visit` with each file under `root` (relative, with /), in order; links are followed only to files inside `root`. */
  private async walkStudy(root: string, skipped: readonly string[], notes: string[], visit: (rel: string) => void): Promise<void> {
    const skip = new Set(skipped);
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = await fsp.readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const e of entries) {
        const full = path.join(dir, e.name);
        const r = rel === "" ? e.name : `${rel}/${e.name}`;
        if (e.name === ".git" || e.name === "node_modules" || skip.has(full)) continue;
        let isFile = e.isFile();
        if (e.isSymbolicLink()) {
          // A link is followed only to a file inside the study: the action is to see the study, not the machine.
          const target = await fsp.realpath(full).catch(() => undefined);
          const stat = target === undefined ? undefined : await fsp.stat(target).catch(() => undefined);
          if (target === undefined || stat === undefined || !stat.isFile() || !target.startsWith(root + path.sep)) {
            notes.push(`${r} is a symbolic link to something other than a file in the study, so actions do not see it`);
            continue;
          }
          isFile = true;
        }
        if (e.isDirectory()) await walk(full, r);
        else if (isFile) visit(r);
      }
    };
    await walk(root, "");
  }

  // ---- one action

  private async runAction(name: string, reason: string): Promise<ActionOutcome> {
    const action = this.action(name);
    const jobId = jobIdFor(this.requestId, name);
    const started = this.now();
    const logFile = path.join(this.metadataDir, `${name}.log`);
    const previous = this.state.actions[name];
    const record: ActionRecord = {
      jobId,
      requestId: this.requestId,
      status: "running",
      statusCode: null,
      statusMessage: "running",
      definition: definitionHash(action),
      startedAt: started.toISOString(),
      finishedAt: null,
      exitCode: null,
      commit: this.commit,
      // Kept until the new outputs replace them, so that a run that dies still knows what to clear.
      outputs: previous?.outputs ?? {},
      inputs: {},
    };
    this.state.actions[name] = record;
    writeState(this.metadataDir, this.state);
    this.report({ type: "started", action: name, jobId, at: started });

    const env = this.options.env?.(action) ?? {};
    const log = new LogWriter(logFile, Object.values(env), (line) => this.report({ type: "output", action: name, line }));
    log.note(`enclave: job ${jobId} of request ${this.requestId}: ${action.run.raw}`);
    let workdir: string | undefined;
    let statusCode: StatusCode;
    let statusMessage: string;
    let hint: string | undefined;
    let exitCode: number | null = null;
    let usage: Pick<ActionResult, "cpuSeconds" | "peakMemoryBytes"> = { cpuSeconds: null, peakMemoryBytes: null };
    const outputs: OutputSummary[] = [];
    let discarded: string[] = [];
    try {
      workdir = await this.stage(action, record, log);
      const staged = new Map((await listFiles(workdir)).map((f) => [f.rel, f]));
      const signal = this.options.signal;
      let result: ActionResult | undefined;
      let thrown: string | undefined;
      const cancelledEarly = signal?.aborted ?? false;
      if (!cancelledEarly) {
        const run: ActionRun = {
          action,
          workdir,
          env,
          limits: this.options.limits ?? DEFAULT_LIMITS,
          onOutput: (chunk) => log.output(chunk),
          sandbox: this.options.sandbox ?? "auto",
          ...(signal === undefined ? {} : { signal }),
        };
        try {
          result = await this.options.executor(run);
        } catch (e) {
          thrown = e instanceof Error ? e.message : String(e);
        }
      }
      log.flush();
      exitCode = result?.exitCode ?? null;
      // An executor written before these were measured may leave them out.
      if (result !== undefined) usage = { cpuSeconds: result.cpuSeconds ?? null, peakMemoryBytes: result.peakMemoryBytes ?? null };

      // Which files are the action's outputs, and which it wrote besides.
      const after = await listFiles(workdir);
      const written = after.filter((f) => {
        const before = staged.get(f.rel);
        return before === undefined || before.size !== f.size || before.mtimeMs !== f.mtimeMs;
      });
      const matched = new Map<string, OutputLevel>();
      const unmatched: string[] = [];
      for (const level of OUTPUT_LEVELS) {
        for (const pattern of Object.values(action.outputs[level] ?? {})) {
          const hits = after.filter((f) => f.regular && matchesPattern(pattern, f.rel));
          if (hits.length === 0) unmatched.push(pattern);
          for (const h of hits) matched.set(h.rel, level);
        }
      }
      discarded = written.filter((f) => !matched.has(f.rel)).map((f) => (f.regular ? f.rel : `${f.rel} (not a regular file)`));

      // An action that finished well just as the run was cancelled keeps its result.
      if (cancelledEarly || (signal?.aborted && result?.exitCode !== 0)) {
        statusCode = "cancelled_by_user";
        statusMessage = "cancelled by the user (the action was stopped)";
      } else if (thrown !== undefined) {
        statusCode = "internal_error";
        statusMessage = `Enclave could not run the action: ${thrown}`;
      } else if (result!.exitCode !== 0) {
        statusCode = "nonzero_exit";
        statusMessage = exitMessage(result!, this.options.limits ?? DEFAULT_LIMITS);
      } else if (unmatched.length > 0) {
        statusCode = "unmatched_patterns";
        statusMessage = `no file matches the output pattern${unmatched.length === 1 ? "" : "s"} ${unmatched.join(", ")}`;
        hint = unmatchedHint(unmatched, discarded);
      } else {
        statusCode = "succeeded";
        statusMessage = "Completed successfully";
      }
      if (statusCode !== "succeeded" && statusCode !== "unmatched_patterns" && unmatched.length > 0 && discarded.length > 0) hint = unmatchedHint(unmatched, discarded);

      // A cancelled action, or one that never ran, leaves the earlier outputs alone; its state says it failed, so it runs next time.
      if (statusCode !== "cancelled_by_user" && statusCode !== "internal_error") {
        await this.removeOutputs(name, record);
        const { files, entries } = await this.keepOutputs(name, jobId, workdir, matched);
        outputs.push(...files);
        record.outputs = Object.fromEntries(await Promise.all(files.map(async (f) => [f.path, await outputRecord(this.projectDir, f)] as const)));
        updateManifest(this.metadataDir, this.manifest, name, entries);
      }
    } catch (e) {
      // Staging or finalising failed (a full disk, a file that could not be read): Enclave's fault, not the action's.
      statusCode = "internal_error";
      statusMessage = `Enclave failed while ${workdir === undefined ? "preparing" : "finishing"} the action: ${e instanceof Error ? e.message : String(e)}`;
    }

    const finished = this.now();
    const status = statusCode === "succeeded" ? "succeeded" : "failed";
    Object.assign(record, { status, statusCode, statusMessage, finishedAt: finished.toISOString(), exitCode });
    writeState(this.metadataDir, this.state);
    const durationMs = finished.getTime() - started.getTime();
    const summary: LogSummary = {
      jobId,
      requestId: this.requestId,
      action: name,
      run: action.run.raw,
      commit: this.commit,
      status,
      statusCode,
      exitCode,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs,
      ...usage,
      statusMessage,
      outputs: outputs.map((o) => ({ path: o.path, level: o.level, size: o.size, ...(o.level4 === undefined ? {} : { level4: { ...o.level4, ...(o.level4.placeholder === undefined ? {} : { placeholder: path.relative(this.projectDir, o.level4.placeholder) }) } }) })),
      discarded,
      ...(hint === undefined ? {} : { hint }),
    };
    log.close(formatLogSummary(summary));
    if (workdir !== undefined && !this.options.keepWorkdirs) await fsp.rm(workdir, { recursive: true, force: true }).catch(() => {});

    return {
      action: name,
      requested: this.requested.includes(name),
      status,
      statusCode,
      statusMessage,
      reason,
      jobId,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs,
      exitCode,
      ...usage,
      logFile,
      outputs,
      discarded,
      ...(hint === undefined ? {} : { hint }),
      outputTail: log.tail(),
    };
  }

  /** A fresh folder with the study's code and the outputs of the action's needs; records those inputs. */
  private async stage(action: Action, record: ActionRecord, log: LogWriter): Promise<string> {
    const root = path.resolve(this.options.tmpDir ?? os.tmpdir());
    const workdir = await fsp.realpath(await fsp.mkdtemp(path.join(root, `enclave-${action.name}-`)));
    const made = new Set<string>();
    const copy = async (from: string, rel: string) => {
      const to = path.join(workdir, ...rel.split("/"));
      const dir = path.dirname(to);
      if (!made.has(dir)) {
        await fsp.mkdir(dir, { recursive: true });
        made.add(dir);
      }
      await fsp.copyFile(from, to, fs.constants.COPYFILE_FICLONE);
    };
    for (const rel of this.study.code) await copy(path.join(this.codeDir, ...rel.split("/")), rel);
    for (const note of this.study.notes) log.note(`enclave: ${note}`);
    for (const need of action.needs) {
      const needRecord = this.state.actions[need];
      if (needRecord === undefined) throw new Error(`${need} has no recorded outputs`);
      record.inputs[need] = {};
      for (const [file, o] of Object.entries(needRecord.outputs)) {
        const from = path.join(this.projectDir, ...file.split("/"));
        if (!fs.existsSync(from)) throw new Error(`${file}, an output of ${need}, is missing from the project folder`);
        await copy(from, file);
        record.inputs[need]![file] = o.sha256;
      }
    }
    const inputs = Object.values(record.inputs).reduce((n, files) => n + Object.keys(files).length, 0);
    log.note(`enclave: the action sees ${this.study.code.length} file${this.study.code.length === 1 ? "" : "s"} of the study` + (action.needs.length > 0 ? ` and ${inputs} output${inputs === 1 ? "" : "s"} of ${action.needs.join(", ")}` : ""));
    return workdir;
  }

  /** Removes the action's earlier outputs from level 3 and level 4 (and their placeholders). */
  private async removeOutputs(name: string, record: ActionRecord): Promise<void> {
    const files = new Set([...Object.keys(record.outputs), ...(this.study.outputs.get(name) ?? [])]);
    for (const file of files) {
      const parts = file.split("/");
      await fsp.rm(path.join(this.projectDir, ...parts), { force: true });
      await fsp.rm(path.join(this.level4Dir, ...parts), { force: true });
      await fsp.rm(`${path.join(this.level4Dir, ...parts)}.txt`, { force: true });
    }
  }

  /** Copies matched files to level 3, and moderately_sensitive ones that pass the checks to level 4. */
  private async keepOutputs(name: string, jobId: string, workdir: string, matched: Map<string, OutputLevel>): Promise<{ files: OutputSummary[]; entries: Record<string, ManifestEntry> }> {
    const files: OutputSummary[] = [];
    const entries: Record<string, ManifestEntry> = {};
    for (const [file, level] of [...matched].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const parts = file.split("/");
      const target = path.join(this.projectDir, ...parts);
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await fsp.copyFile(path.join(workdir, ...parts), target, fs.constants.COPYFILE_FICLONE);
      const facts = await describeFile(target, { csv: isCsv(file) });
      const summary: OutputSummary = { path: file, level, size: facts.size, sha256: facts.sha256, rows: facts.csv?.rows ?? null, columns: facts.csv?.columns ?? null };
      if (level === "moderately_sensitive") {
        const check = checkLevel4(file, facts);
        const copy = path.join(this.level4Dir, ...parts);
        await fsp.mkdir(path.dirname(copy), { recursive: true });
        if (check.ok) {
          await fsp.copyFile(target, copy, fs.constants.COPYFILE_FICLONE);
          summary.level4 = { copied: true, reasons: [] };
        } else {
          const placeholder = `${copy}.txt`;
          await fsp.writeFile(placeholder, placeholderText(file, check.reasons));
          summary.level4 = { copied: false, reasons: check.reasons, placeholder };
        }
      }
      files.push(summary);
      entries[file] = {
        level,
        action: name,
        job_id: jobId,
        job_request: this.requestId,
        user: this.user,
        repo: this.manifest.repo,
        commit: this.commit,
        size: facts.size,
        timestamp: this.now().toISOString(),
        sha256: facts.sha256,
        excluded: summary.level4 === undefined ? null : !summary.level4.copied,
        excluded_reason: summary.level4 === undefined || summary.level4.copied ? null : summary.level4.reasons.join("; "),
        rows: summary.rows,
        columns: summary.columns,
      };
    }
    return { files, entries };
  }

  // ---- outcomes of actions that did not run

  private reusedOutcome(p: PlannedAction): ActionOutcome {
    const record = this.state.actions[p.action]!;
    const logFile = path.join(this.metadataDir, `${p.action}.log`);
    return {
      action: p.action,
      requested: p.requested,
      status: "reused",
      statusCode: record.statusCode,
      statusMessage: record.statusMessage,
      reason: p.reason,
      jobId: record.jobId,
      startedAt: record.startedAt,
      finishedAt: record.finishedAt,
      durationMs: null,
      exitCode: record.exitCode,
      // What the reused job used was spent in an earlier run.
      cpuSeconds: null,
      peakMemoryBytes: null,
      logFile: fs.existsSync(logFile) ? logFile : null,
      outputs: Object.entries(record.outputs).map(([file, o]) => {
        const entry = this.manifest.files[file];
        const summary: OutputSummary = { path: file, level: o.level, size: o.size, sha256: o.sha256, rows: entry?.rows ?? null, columns: entry?.columns ?? null };
        if (o.level === "moderately_sensitive" && entry !== undefined && entry.excluded !== null) {
          const placeholder = `${path.join(this.level4Dir, ...file.split("/"))}.txt`;
          summary.level4 = entry.excluded ? { copied: false, reasons: (entry.excluded_reason ?? "").split("; "), placeholder } : { copied: true, reasons: [] };
        }
        return summary;
      }),
      discarded: [],
      outputTail: [],
    };
  }

  private dependencyFailed(name: string, failedNeeds: string[], reason: string): ActionOutcome {
    const at = this.now().toISOString();
    const jobId = jobIdFor(this.requestId, name);
    const message = `not run: it needs ${failedNeeds.join(" and ")}, which failed`;
    const previous = this.state.actions[name];
    // Recorded as the action's latest job, as the backend does: it runs again next time.
    this.state.actions[name] = {
      jobId,
      requestId: this.requestId,
      status: "failed",
      statusCode: "dependency_failed",
      statusMessage: message,
      definition: definitionHash(this.action(name)),
      startedAt: null,
      finishedAt: at,
      exitCode: null,
      commit: this.commit,
      outputs: previous?.outputs ?? {},
      inputs: previous?.inputs ?? {},
    };
    writeState(this.metadataDir, this.state);
    return { ...this.notStarted(name, reason, message), status: "failed", statusCode: "dependency_failed", jobId, finishedAt: at };
  }

  private notStarted(name: string, reason: string, message: string): ActionOutcome {
    return {
      action: name,
      requested: this.requested.includes(name),
      status: "not_started",
      statusCode: null,
      statusMessage: message,
      reason,
      jobId: null,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      exitCode: null,
      cpuSeconds: null,
      peakMemoryBytes: null,
      logFile: null,
      outputs: [],
      discarded: [],
      outputTail: [],
    };
  }
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

async function outputRecord(projectDir: string, f: OutputSummary): Promise<OutputRecord> {
  const stat = await fsp.stat(path.join(projectDir, ...f.path.split("/")));
  return { level: f.level, size: f.size, sha256: f.sha256, mtimeMs: stat.mtimeMs };
}

function exitMessage(result: ActionResult, limits: ActionLimits): string {
  let message: string;
  if (result.timedOut) message = `stopped after the time limit of ${limits.wallSeconds}s`;
  else if (result.exitCode === null) message = `killed by ${result.signal ?? "a signal"}`;
  else message = `exited with code ${result.exitCode}`;
  return result.message === undefined || result.message === "" ? message : `${message}: ${result.message}`;
}

/** What to tell a researcher whose patterns matched nothing: the files that were written instead, the likeliest first. */
function unmatchedHint(unmatched: readonly string[], written: readonly string[]): string {
  const files = written.filter((f) => !f.endsWith("(not a regular file)"));
  if (files.length === 0) return "the action wrote no other files: check that it writes its outputs to the paths in project.yaml, relative to the study's folder";
  const guesses = unmatched.map((p) => nearest(p, files) ?? nearest(path.posix.basename(p), files.map((f) => path.posix.basename(f))));
  const parts: string[] = [];
  unmatched.forEach((p, i) => {
    const g = guesses[i];
    if (g === undefined) return;
    const file = files.find((f) => f === g || path.posix.basename(f) === g)!;
    parts.push(`${file} was written; did you mean it (for ${p})?`);
  });
  const listed = files.slice(0, 10).join(", ") + (files.length > 10 ? `, and ${files.length - 10} more` : "");
  parts.push(`files written that match no output pattern: ${listed}`);
  return parts.join(" ");
}

/** Every file and link under `root`, as paths relative to it (with /). */
async function listFiles(root: string): Promise<Listed[]> {
  const out: Listed[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        await walk(full, r);
        continue;
      }
      const stat = await fsp.lstat(full);
      out.push({ rel: r, size: stat.size, mtimeMs: stat.mtimeMs, regular: stat.isFile() });
    }
  };
  await walk(root, "");
  return out.sort((a, b) => (a.rel < b.rel ? -1 : 1));
}

// metadata/<action>.log as the action runs: its output a line at a time (so
// that a secret split across two chunks is still found and redacted), with
// the last lines kept for the summary of a failed action.
class LogWriter {
  private readonly fd: number;
  private partial = "";
  private readonly last: string[] = [];
  private closed = false;
  private readonly secrets: string[];

  constructor(
    file: string,
    secrets: readonly string[],
    private readonly onLine: (line: string) => void,
  ) {
    this.fd = fs.openSync(file, "w");
    // Short values (a port, "1") are not secrets, and redacting them would garble the log.
    this.secrets = secrets.filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
  }

  note(line: string): void {
    if (!this.closed) fs.writeSync(this.fd, `${line}\n`);
  }

  output(chunk: string): void {
    if (this.closed) return;
    this.partial += chunk;
    const lines = this.partial.split(/\r?\n/);
    this.partial = lines.pop()!;
    // A long line without an end (a progress bar) is written as it is rather than held.
    if (this.partial.length > 65_536) {
      lines.push(this.partial);
      this.partial = "";
    }
    for (const line of lines) this.line(line);
  }

  flush(): void {
    if (this.partial !== "") this.line(this.partial);
    this.partial = "";
  }

  tail(): string[] {
    return [...this.last];
  }

  close(summary: string): void {
    if (this.closed) return;
    this.flush();
    fs.writeSync(this.fd, summary);
    fs.closeSync(this.fd);
    this.closed = true;
  }

  private line(raw: string): void {
    let line = raw;
    for (const s of this.secrets) line = line.split(s).join("[redacted]");
    fs.writeSync(this.fd, `${line}\n`);
    this.last.push(line);
    if (this.last.length > TAIL_LINES) this.last.shift();
    this.onLine(line);
  }
}
