// The runtimes: how one action's command runs, sandboxed (see action.ts for
// the contract with the runner). The `run:` line names an image, and each image
// is a command on this machine:
//
//   enclave:v1 CMD ARGS     Enclave's own CLI, `node bin/enclave.js CMD ARGS`
//   node:v1 SCRIPT ARGS     node with Enclave's loader: .ts runs as is, and the
//                           script imports only NODE_V1_LIBRARIES and enclave/...
//   python:v1 SCRIPT ARGS   this machine's python3
//   r:v1 SCRIPT ARGS        this machine's Rscript
//   sqlrunner:v1 SQL ARGS   Enclave's SQL runner (sqlrunner.ts)
//
// and `config:` reaches node, python and R scripts as `--config <json>`.
//
// THE SANDBOX. Every action runs under bubblewrap when it works here (but
// enclave:v1: see below):
//   --unshare-all          no network (loopback included), no view of other
//                          processes, their environments or IPC
//   --unshare-user --uid 65534 --gid 65534
//                          an unprivileged user ("nobody") in a user namespace
//                          of its own; it maps to the runner's user outside, so
//                          what the action writes belongs to the runner
//   --cap-drop ALL         no capabilities, even inside its namespaces
//   --die-with-parent, --new-session
//                          dies with bwrap; cannot push keystrokes into the terminal
//   file system            system folders (/usr, /lib, ...) and what the image
//                          needs (node's folder; Enclave's package.json, bin,
//                          dist and node_modules; python's prefix) read-only;
//                          the action's folder read-write and its working
//                          folder; /tmp a private tmpfs; /proc of its own PID
//                          namespace; a minimal /dev; nothing else: no /home,
//                          no /etc beyond the dynamic linker's cache, so neither
//                          /etc/passwd nor any other file of the host
// and around bwrap, `prlimit` sets the memory (address space), CPU-time and
// core-file (none) limits, and `setpriv --pdeathsig KILL` ties the action's
// life to the runner's. The wall-time limit and cancellation kill bwrap, and
// with it the action's whole PID namespace.
//
// sqlrunner:v1, a database action, also sees its database: the folder of a
// sqlite/duckdb file, read-only, or, for a PostgreSQL server, the host's
// network (--share-net) and the files that name resolution needs. What it runs
// of the researcher's is SQL, which the database runs.
//
// ENCLAVE:V1 runs outside bubblewrap, with the clean environment, the limits and
// the paths it is given checked to lead into the action's folder. The only
// researcher code it runs is the definition, and Enclave's CLI already loads
// that in a bubblewrap sandbox of its own (required when DATABASE_URL is set).
// That sandbox cannot be nested inside another: bwrap covers parts of the /proc
// it mounts, and the kernel lets no user namespace mount a new /proc while the
// one it sees is partly covered ("Can't mount proc on /newroot/proc: Operation
// not permitted"). Outside, Enclave's own code also reaches a database server
// while the definition, in its sandbox, has no network at all.
//
// WITHOUT BUBBLEWRAP. "required" (the backend) refuses to run anything.
// "auto" (a researcher's machine) warns through onOutput, then: a node:v1
// script runs under Node's permission model (reads only the action's folder and
// Enclave's files, writes only the action's folder, no child processes; the
// network is not cut); enclave:v1 and sqlrunner:v1 are Enclave's own code and
// run as they are (the definition still runs with an empty environment);
// python:v1 and r:v1 run unsandboxed: it is the researcher's own code on the
// researcher's own machine, and refusing would only push them to run it by
// hand, with no limits at all. The limits (prlimit and the wall-time kill)
// apply either way, where prlimit exists.
//
// WHAT IT USES. The CPU time and peak memory of the action's whole process
// tree are measured while it runs, in and out of bubblewrap alike: see
// ProcessTreeUsage below.
//
// The environment is always clean: PATH=/usr/local/bin:/usr/bin:/bin,
// HOME and TMPDIR a private folder, LANG=C.UTF-8, TZ=UTC, and run.env (the
// database's DSN for a database action in the backend). Nothing of the
// runner's own environment reaches an action.

import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { ActionExecutor, ActionResult, ActionRun } from "./action.js";
import { sandboxed } from "./sandbox.js";
import { packageRoot } from "./package-root.js";

export { NODE_V1_LIBRARIES } from "./node-libraries.js";

/** The user (and group) an action runs as inside its sandbox: "nobody". */
export const SANDBOX_USER = { uid: 65534, gid: 65534 } as const;

/** The PATH an action gets. */
export const ACTION_PATH = "/usr/local/bin:/usr/bin:/bin";

/** The extensions each script image runs. */
const SCRIPT_EXTENSIONS: Readonly<Record<string, readonly string[]>> = {
  node: [".ts", ".mts", ".js", ".mjs"],
  python: [".py"],
  r: [".R", ".r"],
  sqlrunner: [".sql"],
};

export interface RuntimeOptions {
  /** Whether bubblewrap works here (probed once by default); tests pass `() => false` to take the fallback. */
  bubblewrap?: () => boolean;
  /** Finds python3 or Rscript on this machine (on the runner's PATH by default); tests use it to act as if one were missing. */
  findProgram?: (name: string) => string | undefined;
}

/** An executor for the contract in action.ts, with what it finds on this machine replaceable for tests. */
export function createActionExecutor(options: RuntimeOptions = {}): ActionExecutor {
  const find = options.findProgram ?? findOnPath;
  const bubblewrap = options.bubblewrap ?? bubblewrapWorks;
  return (run) => execute(run, bubblewrap(), find);
}

/** Runs one action's command in the sandbox: see the top of this file. */
export const executeAction: ActionExecutor = createActionExecutor();

// ---------------------------------------------------------------------------
// THE COMMAND OF EACH IMAGE

/** What an image runs, before the sandbox goes around it. */
interface Command {
  /** Absolute path of the program on this machine. */
  program: string;
  args: string[];
  /** What else it reads, besides the system folders and the action's folder. */
  readOnly: string[];
  /** A database server: the host's network stays. */
  shareNetwork: boolean;
  env: Record<string, string>;
  /**
   * How it runs. With bubblewrap, each in the sandbox except "enclave-cli" (see
   * the top of this file); without it, a node script under Node's permission
   * model, Enclave's own code as it is, an interpreter unsandboxed.
   */
  kind: "node-script" | "enclave" | "enclave-cli" | "interpreter";
}

class CannotRun extends Error {}

/**
 * Node's own options for every node an action runs. V8 reserves about 10 GB of
 * address space for each WebAssembly memory, so that bounds checks are free;
 * under the address-space limit that fails, and Node itself uses WebAssembly
 * (fetch's HTTP parser, which pg loads at import). Explicit bounds checks
 * instead cost WebAssembly some speed, and nothing else.
 */
function nodeOptions(): string[] {
  return process.allowedNodeEnvironmentFlags.has("--disable-wasm-trap-handler") ? ["--disable-wasm-trap-handler"] : [];
}

function commandFor(run: ActionRun, find: (name: string) => string | undefined): Command {
  const { image, version, command } = run.action.run;
  const name = `${image}:${version}`;
  const root = packageRoot();
  // Only what runs: not src/, tests/ or anything else in Enclave's folder.
  const enclaveFiles = ["package.json", "bin", "dist", "node_modules"].map((f) => path.join(root, f)).filter((f) => fs.existsSync(f));
  const config = run.action.config === undefined ? [] : ["--config", JSON.stringify(run.action.config)];
  const built = (file: string) => {
    if (!fs.existsSync(file)) throw new CannotRun(`Enclave is not built (no ${file}): run \`npm run build\` in ${root}`);
    return file;
  };
  switch (image) {
    case "enclave": {
      built(path.join(root, "dist", "cli", "main.js"));
      enclavePaths(run, name);
      // Never in bubblewrap, so it needs no list of what it reads.
      return { program: process.execPath, args: [...nodeOptions(), path.join(root, "bin", "enclave.js"), ...command], readOnly: [], shareNetwork: true, env: {}, kind: "enclave-cli" };
    }
    case "sqlrunner": {
      const entry = built(path.join(root, "dist", "pipeline", "sqlrunner-main.js"));
      scriptIn(run, name, command[0]);
      const db = databaseAccess(run);
      return { program: process.execPath, args: [...nodeOptions(), entry, ...command], readOnly: [...enclaveFiles, ...db.readOnly], shareNetwork: db.shareNetwork, env: {}, kind: "enclave" };
    }
    case "node": {
      const register = built(path.join(root, "dist", "cli", "loader", "register-script.js"));
      scriptIn(run, name, command[0]);
      return {
        program: process.execPath,
        args: [...nodeOptions(), "--enable-source-maps", "--import", pathToFileURL(register).href, ...command, ...config],
        readOnly: [...enclaveFiles, ...fontConfig()],
        shareNetwork: false,
        env: {},
        kind: "node-script",
      };
    }
    case "python": {
      const python = interpreter("python3", name, find);
      scriptIn(run, name, command[0]);
      // Unbuffered, so that what it prints reaches the log as it happens; no
      // __pycache__ folders among the action's outputs.
      return { program: python.program, args: [...command, ...config], readOnly: [...python.dirs, ...fontConfig()], shareNetwork: false, env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" }, kind: "interpreter" };
    }
    case "r": {
      const r = interpreter("Rscript", name, find);
      scriptIn(run, name, command[0]);
      return { program: r.program, args: [...command, ...config], readOnly: [...r.dirs, ...fontConfig()], shareNetwork: false, env: {}, kind: "interpreter" };
    }
    default:
      throw new CannotRun(`Enclave has no image "${image}"`);
  }
}

/** Fontconfig's configuration: without it, charts rendered to PNG (resvg, matplotlib, R) find no fonts and have no text. */
function fontConfig(): string[] {
  return ["/etc/fonts"].filter((f) => fs.existsSync(f));
}

/** Checks that an action's script is a file of the right kind inside its folder. */
function scriptIn(run: ActionRun, name: string, given: string | undefined, extensions = SCRIPT_EXTENSIONS[run.action.run.image] ?? []): void {
  if (given === undefined || given.startsWith("-")) throw new CannotRun(`${name} runs a file: the first argument must be its path, like ${name} analysis/report${extensions[0]}`);
  const file = path.resolve(run.workdir, given);
  mustBeInside(run.workdir, given, name);
  if (!extensions.includes(path.extname(file))) throw new CannotRun(`${name} runs ${extensions.join(", ")} files, and ${given} is not one`);
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
    throw new CannotRun(`${name}: ${given} does not exist in the action's folder (a path in run: is relative to the study's folder; a file that another action writes is there only if this action needs that action)`);
  }
}

/**
 * enclave:v1 runs outside bubblewrap (see the top of this file), so each path
 * it is given must lead into the action's folder: the definition, and the
 * files and folders of --output, --dummy-tables and --dummy-data-file.
 */
function enclavePaths(run: ActionRun, name: string): void {
  const args = run.action.run.command;
  scriptIn(run, name, args[1], [".ts", ".mts"]);
  const options = ["--output", "--dummy-tables", "--dummy-data-file"];
  for (let i = 2; i < args.length; i += 1) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    if (options.includes(a) && args[i + 1] !== undefined) mustBeInside(run.workdir, args[++i]!, name);
    else if (eq > 0 && options.includes(a.slice(0, eq))) mustBeInside(run.workdir, a.slice(eq + 1), name);
  }
}

/**
 * Throws unless `given` (relative to the folder) is inside the folder, once
 * symbolic links are followed as far as the path exists: a study may hold a
 * link that leads out of it.
 */
function mustBeInside(folder: string, given: string, name: string): void {
  const root = fs.realpathSync(folder);
  let existing = path.resolve(folder, given);
  let rest = "";
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) {
    rest = path.join(path.basename(existing), rest);
    existing = path.dirname(existing);
  }
  const relative = path.relative(root, path.join(fs.realpathSync(existing), rest));
  if (relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) throw new CannotRun(`${name}: ${given} is outside the study's folder`);
}

// The interpreter found for a name, by the path it was found at.
const interpreters = new Map<string, { program: string; dirs: string[] }>();

/**
 * The real interpreter behind `name` on this machine and the folders it reads:
 * a shim (pyenv's, say) is a script that needs what the sandbox leaves out, so
 * the program it stands for runs directly.
 */
function interpreter(name: "python3" | "Rscript", image: string, find: (name: string) => string | undefined): { program: string; dirs: string[] } {
  const found = find(name);
  if (found === undefined) throw new CannotRun(`${image} needs ${name}, which is not installed on this machine`);
  const known = interpreters.get(found);
  if (known) return known;
  const ask = (args: string[]) => {
    const r = spawnSync(found, args, { encoding: "utf8", timeout: 30_000, cwd: os.tmpdir(), stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new CannotRun(`${image} needs ${name}, and ${found} did not run: ${(r.error?.message ?? r.stderr).trim().split("\n").pop()}`);
    return r.stdout.trim();
  };
  let result: { program: string; dirs: string[] };
  if (name === "python3") {
    const [exe, ...prefixes] = JSON.parse(ask(["-c", "import sys, json; print(json.dumps([sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]))"])) as string[];
    result = { program: exe!, dirs: [...new Set(prefixes)] };
  } else {
    // Rscript finds R through R_HOME, and R reads /etc/R on Debian.
    result = { program: fs.realpathSync(found), dirs: [ask(["-e", "cat(R.home())"]), "/etc/R"] };
  }
  result.dirs = result.dirs.filter((d) => fs.existsSync(d));
  interpreters.set(found, result);
  return result;
}

// Name resolution and TLS, for reaching a database server by name.
const NETWORK_FILES = ["/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf", "/etc/ssl", "/etc/ca-certificates", "/run/postgresql", "/var/run/postgresql"];

/** What a database action needs to reach the database named by DATABASE_URL (none locally). */
function databaseAccess(run: ActionRun): { readOnly: string[]; shareNetwork: boolean } {
  const dsn = run.env.DATABASE_URL;
  if (!dsn) return { readOnly: [], shareNetwork: false };
  const m = /^([a-z]+):\/\/(.*)$/i.exec(dsn);
  const scheme = m?.[1]?.toLowerCase();
  if ((scheme === "sqlite" || scheme === "duckdb") && m![2]) {
    // The folder, not the file: SQLite and DuckDB read their journal and WAL files beside it.
    return { readOnly: [path.dirname(path.resolve(run.workdir, m![2]))].filter((d) => fs.existsSync(d)), shareNetwork: false };
  }
  // A server (or a DSN the command will reject, with its own message).
  return { readOnly: NETWORK_FILES.filter((f) => fs.existsSync(f)), shareNetwork: true };
}

// ---------------------------------------------------------------------------
// RUNNING IT

async function execute(run: ActionRun, bwrap: boolean, find: (name: string) => string | undefined): Promise<ActionResult> {
  const refuse = (message: string): ActionResult => ({ exitCode: null, signal: null, timedOut: false, cpuSeconds: null, peakMemoryBytes: null, message });
  if (run.signal?.aborted) return refuse("cancelled before it started");
  const name = `${run.action.run.image}:${run.action.run.version}`;
  if (!bwrap && run.sandbox === "required") {
    return refuse(`refusing to run ${name} without the sandbox: bubblewrap (bwrap) is required here and does not work on this machine (install it: apt-get install bubblewrap)`);
  }
  const prlimit = findOnPath("prlimit");
  if (prlimit === undefined && run.sandbox === "required") {
    return refuse("refusing to run: prlimit (util-linux) is not installed, so no memory or CPU-time limit can be set");
  }

  let command: Command;
  try {
    command = commandFor(run, find);
  } catch (e) {
    if (e instanceof CannotRun) return refuse(e.message);
    throw e;
  }
  if (run.action.config !== undefined && (command.kind === "enclave" || command.kind === "enclave-cli")) {
    run.onOutput(`warning: ${name} takes no config, so the action's config is not passed to it\n`);
  }

  const workdir = fs.realpathSync(run.workdir);
  const inSandbox = bwrap && command.kind !== "enclave-cli";
  // Outside the sandbox, HOME and TMPDIR are a folder of the action's own, removed afterwards.
  const home = inSandbox ? "/tmp" : fs.mkdtempSync(path.join(os.tmpdir(), "enclave-action-"));
  const env: Record<string, string> = { PATH: ACTION_PATH, HOME: home, TMPDIR: home, LANG: "C.UTF-8", TZ: "UTC", ...command.env, ...run.env };

  let program = command.program;
  let args = command.args;
  if (inSandbox) {
    const box = sandboxed(program, args, { readOnly: command.readOnly, writable: [workdir], cwd: workdir, user: SANDBOX_USER, shareNetwork: command.shareNetwork });
    program = findOnPath("bwrap") ?? box.command;
    args = box.args;
  } else if (!bwrap) {
    run.onOutput(`warning: ${fallbackWarning(command.kind)}\n`);
    if (command.kind === "node-script") args = [...nodePermissionFlags([workdir, home, ...command.readOnly], [workdir, home]), ...args];
  }
  if (prlimit !== undefined) {
    const { memoryMb, cpuSeconds } = run.limits;
    // SIGXCPU at the soft limit says why; SIGKILL at the hard one if it is caught.
    [program, args] = [prlimit, [`--as=${Math.floor(memoryMb * 1024 * 1024)}`, `--cpu=${cpuSeconds}:${cpuSeconds + 2}`, "--core=0", "--", program, ...args]];
  } else {
    run.onOutput("warning: prlimit (util-linux) is not installed, so the action runs without memory or CPU-time limits\n");
  }
  const setpriv = pdeathsigWorks();
  if (setpriv !== undefined) [program, args] = tiedToParent(setpriv, process.pid, program, args);

  try {
    return await spawnAction(run, program, args, workdir, env, inSandbox);
  } finally {
    if (!inSandbox) fs.rmSync(home, { recursive: true, force: true });
  }
}

function fallbackWarning(kind: Command["kind"]): string {
  const intro = "bubblewrap (bwrap) does not work on this machine, so this action runs without the sandbox that the backend always uses";
  const fix = "Install bubblewrap (apt-get install bubblewrap) to run it as the backend will.";
  if (kind === "node-script") {
    return `${intro}. Node's permission model stands in: the script can read only the action's folder and Enclave's own files, write only the action's folder, and start no processes, but it can reach the network. ${fix}`;
  }
  if (kind === "enclave-cli") return `${intro}. A definition still runs in a process of its own with an empty environment, but with nothing else kept from it. ${fix}`;
  if (kind === "enclave") return `${intro}. This is Enclave's own code, and runs with no other protection than a clean environment. ${fix}`;
  return `${intro}: the script can read and write whatever you can, and reach the network. ${fix}`;
}

/** Node's permission model (Node 20: --experimental-permission; later: --permission). */
function nodePermissionFlags(read: readonly string[], write: readonly string[]): string[] {
  const known = process.allowedNodeEnvironmentFlags;
  const flags = [known.has("--permission") ? "--permission" : "--experimental-permission"];
  for (const p of new Set(read.map(realOrSelf))) flags.push(`--allow-fs-read=${p}`);
  for (const p of new Set(write.map(realOrSelf))) flags.push(`--allow-fs-write=${p}`);
  // Enclave's loader runs its hooks on a worker thread (workers keep the
  // permissions), and @resvg/resvg-js is a native addon. Native code is beyond
  // the model, and a script could load one it wrote: the model guards against
  // mistakes in the researcher's own code on their own machine, and is no sandbox.
  flags.push("--allow-worker");
  if (known.has("--allow-addons")) flags.push("--allow-addons");
  // Our own warning says what the model is; Node's would only repeat it on every run.
  if (known.has("--disable-warning")) flags.push("--disable-warning=ExperimentalWarning", "--disable-warning=SecurityWarning");
  return flags;
}

// Output messages that mean the action ran out of memory, in node, python and R.
const OUT_OF_MEMORY = /heap out of memory|Array buffer allocation failed|Fatal process out of memory|Cannot allocate memory|MemoryError|std::bad_alloc|cannot allocate vector|Failed to reserve virtual memory/;

function spawnAction(run: ActionRun, program: string, args: string[], workdir: string, env: Record<string, string>, bwrap: boolean): Promise<ActionResult> {
  const { wallSeconds, cpuSeconds, memoryMb } = run.limits;
  return new Promise((resolve) => {
    // A process group of its own, so that killing it reaches every process it started.
    const child = spawn(program, args, { cwd: workdir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const usage = child.pid === undefined ? undefined : ProcessTreeUsage.start(child.pid);
    let timedOut = false;
    let cancelled = false;
    let tail = "";
    const killAll = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killAll();
    }, wallSeconds * 1000);
    const onAbort = () => {
      cancelled = true;
      killAll();
    };
    run.signal?.addEventListener("abort", onAbort, { once: true });
    const done = (result: ActionResult) => {
      clearTimeout(timer);
      run.signal?.removeEventListener("abort", onAbort);
      resolve(result);
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        tail = (tail + chunk).slice(-8192);
        run.onOutput(chunk);
      });
    }
    child.on("error", (e) => {
      usage?.stop();
      done({ exitCode: null, signal: null, timedOut: false, cpuSeconds: null, peakMemoryBytes: null, message: `could not start ${path.basename(program)}: ${e.message}` });
    });
    // Whatever it left running in its group (outside the sandbox) would hold the output open.
    child.on("exit", () => {
      // Reaped: its pid may now be another process's.
      usage?.stop();
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Nothing left.
      }
    });
    child.on("close", (code, signal) => {
      let exitCode = code;
      let killedBy: string | null = signal;
      // bwrap reports a command killed by a signal as 128 + its number, as a shell does.
      if (bwrap && code !== null && code > 128) {
        const name = Object.entries(os.constants.signals).find(([, n]) => n === code - 128)?.[0];
        if (name !== undefined) [exitCode, killedBy] = [null, name];
      }
      let message: string | undefined;
      if (timedOut) message = `killed: it ran longer than its wall-time limit of ${wallSeconds} s`;
      else if (cancelled) message = "cancelled: the action was killed";
      else if (killedBy === "SIGXCPU") message = `killed: it used up its CPU-time limit of ${cpuSeconds} s`;
      else if (exitCode !== 0 && OUT_OF_MEMORY.test(tail)) message = `it ran out of memory (the limit is ${memoryMb} MB of address space)`;
      else if (killedBy === "SIGKILL") message = `killed (SIGKILL): it may have used up its CPU-time limit of ${cpuSeconds} s or run out of memory (${memoryMb} MB)`;
      else if (killedBy !== null) message = `killed by ${killedBy}`;
      const used = usage?.result() ?? { cpuSeconds: null, peakMemoryBytes: null };
      done({ exitCode, signal: killedBy, timedOut, ...used, ...(message === undefined ? {} : { message }) });
    });
  });
}

// ---------------------------------------------------------------------------
// WHAT AN ACTION USES
//
// Node gives no resource usage for a child process, and the action is not one
// process anyway: setpriv and prlimit exec into bwrap, which forks the PID
// namespace's init, which forks the command, which may start more (R's
// system(), a definition's own sandbox under enclave:v1). So the tree is
// sampled in /proc while it runs. That needs no privilege (stat and status are
// readable by anyone), works the same with and without bubblewrap, and sees
// through --unshare-pid: the host's /proc lists the sandbox's processes under
// their host pids, as children of bwrap's.
//
// Not chosen: a shell around the command whose `times` builtin reports its
// children's CPU on a spare descriptor. It is exact for CPU, but gives no
// memory; it would sit between setpriv's parent-death signal and the action,
// turn a signal that kills the command into an exit code of 128 + n, and die
// with everything else at the wall-time kill, leaving nothing to report just
// when it matters. A cgroup (exact for both) needs a delegated cgroup, which a
// researcher's machine does not have.
//
// What a sample counts, for each process in the tree, read parent before child:
//   CPU     utime + stime (all its threads) + cutime + cstime (the children it
//           has reaped, and theirs). A child's time moves into its parent's
//           cutime when the parent reaps it, after which the child is gone
//           from the tree, so nothing is counted twice; the sum only grows,
//           and the highest seen is the total.
//   memory  VmRSS, summed over the tree, and VmHWM, the peak the kernel kept
//           for each process, which catches a spike between two samples. The
//           peak reported is the higher of the largest sum and the largest
//           single VmHWM. Pages shared between processes count in each.
// A process that leaves the tree (a daemon's double fork) is lost to it; in
// the sandbox it cannot leave, since the namespace's init, bwrap, adopts it.
// The time between the last sample and the exit is lost: up to one interval
// of CPU (the figures are lower bounds), and the memory of a process that
// started and ended between two samples. A sample of a node action's tree
// costs the runner about half a millisecond of CPU (reading the children of
// each of node's dozen threads is most of it), so sampling is fast at first,
// for a short action to be seen at all, and slows as the action goes on, when
// one interval's loss is a small part of the whole: about 12 ms of the
// runner's CPU in the first second, 2 ms a second for the first minute, then
// half a millisecond a second.

/** USER_HZ, the unit of the times in /proc/<pid>/stat: 100 on every architecture Node supports on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;
/** When the first sample is taken (after the execs of setpriv, prlimit and bwrap), and the interval from then on: [until the action has run this long, sample this often]. */
const USAGE_FIRST_SAMPLE_MS = 20;
const USAGE_INTERVALS_MS: readonly (readonly [number, number])[] = [
  [1_000, 50],
  [60_000, 250],
  [Infinity, 1_000],
];

/** CPU time and peak memory of an action's process tree, or null where /proc could not tell. */
export interface ActionUsage {
  cpuSeconds: number | null;
  peakMemoryBytes: number | null;
}

let procWorks: { stat: boolean; childrenFiles: boolean } | undefined;

/** Whether this machine has /proc, and its per-thread lists of children (CONFIG_PROC_CHILDREN); probed once. */
function procSupport(): { stat: boolean; childrenFiles: boolean } {
  procWorks ??= {
    stat: readProc(`/proc/${process.pid}/stat`) !== undefined,
    childrenFiles: readProc(`/proc/${process.pid}/task/${process.pid}/children`) !== undefined,
  };
  return procWorks;
}

/** Samples the CPU time and memory of a process and all its descendants (see above). */
export class ProcessTreeUsage {
  private ticks = 0;
  private sumRss = 0;
  private maxHwm = 0;
  private sampled = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** `scan`: find descendants by reading every process's parent, as where the kernel has no children files (tests use it to take that way). */
  constructor(
    private readonly root: number,
    private readonly scan = !procSupport().childrenFiles,
  ) {}

  /** Starts sampling on a timer; undefined where /proc cannot be read (not Linux). */
  static start(root: number): ProcessTreeUsage | undefined {
    if (!procSupport().stat) return undefined;
    const usage = new ProcessTreeUsage(root);
    const began = Date.now();
    const next = (ms: number) => {
      usage.timer = setTimeout(() => {
        usage.sample();
        const ran = Date.now() - began;
        if (!usage.stopped) next(USAGE_INTERVALS_MS.find(([until]) => ran < until)![1]);
      }, ms);
      // The child keeps the runner alive while it runs; the sampler never should.
      usage.timer.unref();
    };
    next(USAGE_FIRST_SAMPLE_MS);
    return usage;
  }

  /** Stops the timer; to be called once the root has been reaped, when its pid may already name another process. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Reads the whole tree once. */
  sample(): void {
    if (this.stopped) return;
    const parents = this.scan ? parentsOfAll() : undefined;
    const seen = new Set<number>();
    const queue = [this.root];
    let ticks = 0;
    let rss = 0;
    let found = false;
    while (queue.length > 0) {
      const pid = queue.shift()!;
      // A pid reused while the tree is read could be listed twice, even under itself.
      if (seen.has(pid)) continue;
      seen.add(pid);
      const stat = readProc(`/proc/${pid}/stat`);
      if (stat === undefined) continue;
      const times = parseStat(stat);
      if (times === undefined) continue;
      found = true;
      ticks += times.ticks;
      const status = readProc(`/proc/${pid}/status`) ?? "";
      rss += kibibytes(status, VM_RSS);
      this.maxHwm = Math.max(this.maxHwm, kibibytes(status, VM_HWM));
      // Listed after its own times are read: a child reaped in between is then counted in neither, never in both.
      queue.push(...(parents === undefined ? childrenOf(pid) : (parents.get(pid) ?? [])));
    }
    if (!found) return;
    this.sampled = true;
    this.ticks = Math.max(this.ticks, ticks);
    this.sumRss = Math.max(this.sumRss, rss);
  }

  result(): ActionUsage {
    if (!this.sampled) return { cpuSeconds: null, peakMemoryBytes: null };
    return { cpuSeconds: this.ticks / CLOCK_TICKS_PER_SECOND, peakMemoryBytes: Math.max(this.sumRss, this.maxHwm) * 1024 };
  }
}

/** The times (in clock ticks) of a line of /proc/<pid>/stat: its own and its reaped children's. */
export function parseStat(line: string): { ppid: number; ticks: number } | undefined {
  // The command's name, in parentheses, may itself hold spaces and parentheses.
  const close = line.lastIndexOf(")");
  if (close < 0) return undefined;
  // From field 3 (state) on: ppid is field 4; utime, stime, cutime and cstime are fields 14 to 17.
  const f = line.slice(close + 2).split(" ");
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i]), 0);
  const ppid = Number(f[1]);
  return Number.isFinite(ticks) && Number.isInteger(ppid) ? { ppid, ticks } : undefined;
}

const VM_RSS = /^VmRSS:\s+(\d+) kB/m;
const VM_HWM = /^VmHWM:\s+(\d+) kB/m;

/** A "Name:   N kB" field of /proc/<pid>/status; 0 when absent (a zombie, a kernel thread). */
function kibibytes(status: string, field: RegExp): number {
  const m = field.exec(status);
  return m === null ? 0 : Number(m[1]);
}

/** The children of every thread of a process (a child belongs to the thread that forked it). */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    for (const c of (readProc(`/proc/${pid}/task/${tid}/children`) ?? "").split(/\s+/)) if (c !== "") out.push(Number(c));
  }
  return out;
}

/** Without the children files, every process's parent, from a scan of /proc: dearer, so only then. */
function parentsOfAll(): Map<number, number[]> {
  const parents = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return parents;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(`/proc/${name}/stat`);
    const parsed = stat === undefined ? undefined : parseStat(stat);
    if (parsed === undefined) continue;
    const list = parents.get(parsed.ppid);
    if (list === undefined) parents.set(parsed.ppid, [Number(name)]);
    else list.push(Number(name));
  }
  return parents;
}

// The files of /proc are small and report a size of 0: read into one reused
// buffer until the end. A process that is gone reads as undefined.
let procBuffer = Buffer.alloc(16_384);

function readProc(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    let length = 0;
    for (;;) {
      if (length === procBuffer.length) procBuffer = Buffer.concat([procBuffer, Buffer.alloc(procBuffer.length)]);
      const n = fs.readSync(fd, procBuffer, length, procBuffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return procBuffer.toString("latin1", 0, length);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// THIS MACHINE

/** A program on the runner's PATH (and the usual system folders), as an absolute path. */
export function findOnPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

let bubblewrapProbe: boolean | undefined;

/**
 * Whether bubblewrap works here with everything the runtimes ask of it (a user
 * namespace with another uid, no capabilities): probed once, by running `true` in it.
 */
export function bubblewrapWorks(): boolean {
  if (bubblewrapProbe === undefined) {
    const bwrap = findOnPath("bwrap");
    const truth = ["/usr/bin/true", "/bin/true"].find((f) => fs.existsSync(f));
    if (bwrap === undefined || truth === undefined) {
      bubblewrapProbe = false;
    } else {
      const box = sandboxed(truth, [], { readOnly: [], cwd: os.tmpdir(), user: SANDBOX_USER });
      bubblewrapProbe = spawnSync(bwrap, box.args, { stdio: "ignore", timeout: 10_000, env: { PATH: ACTION_PATH } }).status === 0;
    }
  }
  return bubblewrapProbe;
}

/**
 * The command, run so that it dies with the process `parent`: setpriv sets the
 * parent-death signal, then a shell in the same process checks that its
 * parent is still `parent`, and execs the command. Without the check, a
 * runner killed in the instant between the spawn and setpriv's prctl would
 * leave the action running: the signal is only sent for a death after it is
 * set, and by then the child has a new parent. exec keeps one process
 * throughout, so nothing stands between the signal and the action.
 */
export function tiedToParent(setpriv: string, parent: number, program: string, args: readonly string[]): [string, string[]] {
  if (!fs.existsSync("/bin/sh")) return [setpriv, ["--pdeathsig", "KILL", "--", program, ...args]];
  const guard = 'if [ "$PPID" != "$0" ]; then exit 137; fi; exec "$@"';
  return [setpriv, ["--pdeathsig", "KILL", "--", "/bin/sh", "-c", guard, String(parent), program, ...args]];
}

let setprivProbe: { found: string | undefined } | undefined;

/** setpriv, when it can set a parent-death signal (util-linux 2.33 and later). */
function pdeathsigWorks(): string | undefined {
  if (setprivProbe === undefined) {
    const setpriv = findOnPath("setpriv");
    const truth = ["/usr/bin/true", "/bin/true"].find((f) => fs.existsSync(f));
    const works = setpriv !== undefined && truth !== undefined && spawnSync(setpriv, ["--pdeathsig", "KILL", "--", truth], { stdio: "ignore", timeout: 10_000 }).status === 0;
    setprivProbe = { found: works ? setpriv : undefined };
  }
  return setprivProbe.found;
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}
