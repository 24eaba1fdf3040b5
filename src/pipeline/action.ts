// The contract between the runner (which stages an action's files, runs the
// actions of a request in order and finalises their outputs) and the runtimes
// (which know how to run one action's command, sandboxed). The runner never
// builds a command line; the runtimes never look at other actions.

import type { Action } from "./project.js";

/** Resource limits for one action. */
export interface ActionLimits {
  /** Address-space limit, in MiB. */
  readonly memoryMb: number;
  /** CPU time, in seconds. */
  readonly cpuSeconds: number;
  /** Wall-clock time, in seconds, after which the action is killed. */
  readonly wallSeconds: number;
}

export const DEFAULT_LIMITS: ActionLimits = { memoryMb: 4096, cpuSeconds: 3600, wallSeconds: 3600 };

/** Where and how to run one action. */
export interface ActionRun {
  readonly action: Action;
  /**
   * A fresh folder holding the study's files (without any file that matches an
   * output pattern) and the outputs of the actions it needs, at their paths.
   * The action runs with this as its working folder and writes its outputs into
   * it; nothing outside it is writable.
   */
  readonly workdir: string;
  /** Extra environment for the action (locally: nothing; in the backend: the database's DSN for database actions). */
  readonly env: Readonly<Record<string, string>>;
  readonly limits: ActionLimits;
  /** Where the action's standard output and error go, as they come (the runner writes them to its log). */
  readonly onOutput: (chunk: string) => void;
  /** Aborting kills the action. */
  readonly signal?: AbortSignal;
  /**
   * "required": refuse to run without the sandbox (the backend). "auto": use it
   * where bubblewrap works, else warn through onOutput and fall back to Node's
   * permission flags for node actions (the researcher's machine).
   */
  readonly sandbox: "required" | "auto";
}

export interface ActionResult {
  /** The exit code; null when the process was killed. */
  readonly exitCode: number | null;
  /** The signal that killed it, if one did. */
  readonly signal: string | null;
  /** True when the wall-clock limit killed it. */
  readonly timedOut: boolean;
  /**
   * CPU time (user + system) of the action's whole process tree, in seconds;
   * null when it was not measured (it never started, or not on Linux). Sampled,
   * so a lower bound: see runtimes.ts.
   */
  readonly cpuSeconds: number | null;
  /** Peak resident memory of the action's process tree, in bytes; null when it was not measured. */
  readonly peakMemoryBytes: number | null;
  /** A short explanation for the log when the action could not run or was killed (no data in it). */
  readonly message?: string;
}

/** Runs one action's command; implemented by runtimes.ts. */
export type ActionExecutor = (run: ActionRun) => Promise<ActionResult>;
