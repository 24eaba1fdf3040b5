// Loading a definition safely. The researcher's TypeScript runs in a child
// process that holds no credentials (an empty environment), with a time and a
// memory limit; it hands back the query model as JSON over IPC, and this side
// rebuilds it through the validating constructors, so nothing but checked plain
// data crosses from researcher code. Meanwhile this process type-checks the
// definition; the child's result (and what it printed) counts only if that passes.
//
// Where bubblewrap is available the child also runs in a sandbox: no network,
// no view of other processes (a child could otherwise read this process's
// environment in /proc/<pid>/environ), and only Enclave's own files, the
// definition's folder and the study's folder, read-only. When this process
// holds credentials (a database URL), the sandbox is required.
//
// The CLI loads definitions on the researcher's machine, the job server checks
// them before it accepts a job request; errors are DefinitionErrors, which the
// CLI prints as its own.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { type Dataset, type DatasetJson, type Measures, type MeasuresJson, QueryModelError, datasetFromJson, measuresFromJson } from "../querymodel/index.js";
import { packageRoot } from "./package-root.js";
import { sandboxAvailable, sandboxed } from "./sandbox.js";
import { typecheckDefinition } from "./typecheck.js";

/**
 * A definition that cannot be loaded, said so that its author can fix it: the
 * file (and line) and why. `lines` is the whole report; the first is the
 * message, the rest more of the same (a list of type errors, say).
 */
export class DefinitionError extends Error {
  override name = "DefinitionError";
  readonly lines: readonly string[];
  constructor(message: string, more: readonly string[] = []) {
    super(message);
    this.lines = [message, ...more];
  }
}

export interface LoadOptions {
  /** Values given with `--param name=value`. */
  params?: Readonly<Record<string, string>>;
  /** How long the definition may run; 60 s by default. */
  timeoutMs?: number;
  /** The child's heap limit, in MB; 1024 by default. */
  maxMemoryMb?: number;
  /**
   * "auto" (the default): sandboxed when bubblewrap works here; "required":
   * refuse to run without it (when credentials are about); "off": never.
   */
  sandbox?: "auto" | "required" | "off";
  /**
   * The study's folder: the sandbox may read it (codelists beside the
   * definition's folder, say), and paths in messages are relative to it. The
   * current folder by default, which is the study's when a researcher runs it.
   */
  studyDir?: string;
  /** Where what the definition prints goes, once the type-check has passed; stderr by default. */
  print?: (chunk: Buffer) => void;
}

/** What the parent tells the child (as its one argument, JSON). */
export interface ChildRequest {
  file: string;
  params: Record<string, string>;
  /** What the definition must export: a Dataset (the default) or a Measures. */
  want?: DefinitionKind;
}

export type DefinitionKind = "dataset" | "measures";

/** What the child answers (one IPC message). */
export type ChildMessage =
  | { kind: "dataset"; json: DatasetJson }
  | { kind: "measures"; json: MeasuresJson }
  | { kind: "error"; message: string; file?: string; line?: number; column?: number };

const DEFINITION_EXTENSIONS = [".ts", ".mts"];

/** Type-checks and runs the dataset definition in `file`; returns its validated query model. */
export async function loadDefinition(file: string, options: LoadOptions = {}): Promise<Dataset> {
  const json = (await runDefinition(file, "dataset", options)) as DatasetJson;
  return fromJson(file, () => datasetFromJson(json), options);
}

/** Type-checks and runs the measures definition in `file`; returns its validated query model. */
export async function loadMeasuresDefinition(file: string, options: LoadOptions = {}): Promise<Measures> {
  const json = (await runDefinition(file, "measures", options)) as MeasuresJson;
  return fromJson(file, () => measuresFromJson(json), options);
}

function fromJson<T>(file: string, read: () => T, options: LoadOptions): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof QueryModelError) throw new DefinitionError(`${displayPath(path.resolve(file), options)}: ${e.message}`);
    throw e;
  }
}

/** A path as the definition's author knows it: relative to the study's folder. */
function displayPath(file: string, options: LoadOptions): string {
  return path.relative(options.studyDir ?? process.cwd(), file) || file;
}

async function runDefinition(file: string, want: DefinitionKind, options: LoadOptions): Promise<DatasetJson | MeasuresJson> {
  const absolute = path.resolve(file);
  checkDefinitionFile(file, absolute, want);
  const root = packageRoot();
  const entry = path.join(root, "dist", "pipeline", "definition-child.js");
  // The module hooks stay with the CLI's other `node --import` entries (cli/loader/).
  const register = path.join(root, "dist", "cli", "loader", "register.js");
  for (const needed of [entry, register, path.join(root, "dist", "language", "index.d.ts")]) {
    if (!fs.existsSync(needed)) throw new DefinitionError(`Enclave is not built (no ${path.relative(process.cwd(), needed) || needed}): run \`npm run build\` in ${root}`);
  }

  const child = startChild(absolute, entry, register, want, options);
  let problems: string[];
  try {
    problems = await typecheckDefinition(absolute, root, options.studyDir);
  } catch (e) {
    child.discard();
    throw e;
  }
  if (problems.length > 0) {
    child.discard();
    throw new DefinitionError(problems[0]!, problems.slice(1));
  }
  child.release();
  return child.result;
}

function checkDefinitionFile(given: string, absolute: string, want: DefinitionKind): void {
  const what = `${want} definition`;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch {
    throw new DefinitionError(`${what} ${given} does not exist`);
  }
  if (!stat.isFile()) throw new DefinitionError(`${what} ${given} is not a file`);
  if (!DEFINITION_EXTENSIONS.includes(path.extname(absolute))) {
    throw new DefinitionError(`${what} ${given} must be a TypeScript file (${DEFINITION_EXTENSIONS.join(" or ")})`);
  }
}

interface RunningChild {
  /** The query model, or a DefinitionError saying where and why the definition failed. */
  result: Promise<DatasetJson | MeasuresJson>;
  /** From now on, what the definition prints goes to stderr (what it printed so far first). */
  release(): void;
  /** Stops the child and forgets what it printed. */
  discard(): void;
}

function startChild(file: string, entry: string, register: string, want: DefinitionKind, options: LoadOptions): RunningChild {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const maxMemoryMb = options.maxMemoryMb ?? 1024;
  const shown = displayPath(file, options);
  const request: ChildRequest = { file, params: { ...options.params }, want };

  const nodeArgs = [
    "--enable-source-maps",
    `--max-old-space-size=${maxMemoryMb}`,
    "--stack-trace-limit=100",
    "--import",
    pathToFileURL(register).href,
    entry,
    JSON.stringify(request),
  ];
  const mode = options.sandbox ?? "auto";
  const useSandbox = mode === "required" || (mode === "auto" && sandboxAvailable());
  if (useSandbox && !sandboxAvailable()) {
    throw new DefinitionError(
      "refusing to run the definition: this process holds database credentials, and bubblewrap (bwrap), which keeps researcher code away from them, is not available here (apt-get install bubblewrap)",
    );
  }
  const { command, args } = useSandbox
    ? sandboxed(process.execPath, nodeArgs, { readOnly: [packageRoot(), path.dirname(file), options.studyDir ?? process.cwd()], cwd: path.dirname(file) })
    : { command: process.execPath, args: nodeArgs };
  const child = spawn(
    command,
    args,
    // No credentials reach researcher code: not one variable of this process's environment.
    { cwd: path.dirname(file), env: {}, stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "json" },
  );

  // What the definition prints goes to our stderr, so that stdout stays the dataset's;
  // it is held back until the type-check has passed. Its end tells whether V8 ran out of memory.
  let held: Buffer[] | undefined = [];
  let tail = "";
  const out = options.print ?? ((chunk: Buffer) => void process.stderr.write(chunk));
  const print = (chunk: Buffer) => (held ? held.push(chunk) : out(chunk));
  child.stdout!.on("data", print);
  child.stderr!.on("data", (chunk: Buffer) => {
    print(chunk);
    tail = (tail + chunk.toString("utf8")).slice(-4096);
  });

  const result = new Promise<DatasetJson | MeasuresJson>((resolve, reject) => {
    let answer: ChildMessage | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("message", (m: unknown) => {
      if (answer === undefined && isChildMessage(m)) answer = m;
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start the process that runs the definition: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (answer?.kind === "dataset" || answer?.kind === "measures") return resolve(answer.json);
      if (answer?.kind === "error") {
        const where = answer.file === undefined ? shown : `${displayPath(answer.file, options)}:${answer.line}`;
        return reject(new DefinitionError(`${where}: ${answer.message}`));
      }
      if (timedOut) return reject(new DefinitionError(`${shown}: the definition did not finish within ${timeoutMs / 1000} s`));
      if (tail.includes("heap out of memory")) return reject(new DefinitionError(`${shown}: the definition ran out of memory (the limit is ${maxMemoryMb} MB)`));
      // Node exits with 13 when the module's top-level await can never finish.
      if (code === 13) return reject(new DefinitionError(`${shown}: the definition awaits a promise that never settles`));
      reject(new DefinitionError(`${shown}: the definition exited (${signal ?? `code ${code}`}) before it produced ${want === "dataset" ? "a dataset" : "its measures"}`));
    });
  });
  result.catch(() => {}); // Awaited only once the type-check passes; until then a failure is not unhandled.

  return {
    result,
    release() {
      for (const chunk of held ?? []) out(chunk);
      held = undefined;
    },
    discard() {
      held = [];
      child.kill("SIGKILL");
    },
  };
}

function isChildMessage(m: unknown): m is ChildMessage {
  if (typeof m !== "object" || m === null) return false;
  const k = (m as { kind?: unknown }).kind;
  return k === "dataset" || k === "measures" || (k === "error" && typeof (m as { message?: unknown }).message === "string");
}
