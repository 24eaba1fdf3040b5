// What the job server is told about each job. The job server is outside the
// secure backend, so a report carries states, codes and messages made here
// from those codes, and nothing the runner wrote: its messages, hints and
// output tails can name files an action wrote or quote what it printed, and
// level 4 reasons describe files. The one thing taken from the study is
// project.yaml's text (action names, run commands, output patterns), which
// the job server already has.

import type { ActionLimits, ActionResult } from "../pipeline/action.js";
import { OUTPUT_LEVELS, type Action, matchesPattern } from "../pipeline/project.js";
import type { ActionOutcome } from "../pipeline/runner.js";
import type { JobReport, JobStatusCode } from "./client.js";

function base(jobId: string, action: Action): Pick<JobReport, "identifier" | "action" | "runCommand" | "cpuSeconds" | "memoryBytes"> {
  return { identifier: jobId, action: action.name, runCommand: action.run.raw, cpuSeconds: null, memoryBytes: null };
}

/** A job that will run once what it needs has. */
export function pendingReport(jobId: string, action: Action, message: string): JobReport {
  return { ...base(jobId, action), status: "pending", statusCode: "", statusMessage: message, started: null, finished: null, exitCode: null };
}

export function runningReport(jobId: string, action: Action, message: string, started: string): JobReport {
  return { ...base(jobId, action), status: "running", statusCode: "", statusMessage: message, started, finished: null, exitCode: null };
}

export interface FinishedContext {
  /** The request's own job id for the action (the outcome has none when the action did not start). */
  jobId: string;
  action: Action;
  /** What the executor returned, when the action ran. */
  result?: ActionResult;
  limits: ActionLimits;
  /** The needs of the action that failed in this request. */
  failedNeeds: readonly string[];
  /** When the action got its worker (the runner's start counts time spent waiting for one). */
  started: string | null;
  /** Whether the request was cancelled, and why. */
  cancelled: false | "user" | "stop";
}

/** The report of a job that has ended, from its outcome, redacted. */
export function finishedReport(outcome: ActionOutcome, ctx: FinishedContext): JobReport {
  let statusCode: JobStatusCode;
  if (outcome.status === "not_started") statusCode = ctx.cancelled ? "cancelled_by_user" : "internal_error";
  else statusCode = outcome.statusCode ?? "internal_error";
  const succeeded = statusCode === "succeeded";
  const started = outcome.status === "not_started" || statusCode === "dependency_failed" ? null : (ctx.started ?? outcome.startedAt);
  return {
    ...base(ctx.jobId, ctx.action),
    status: succeeded ? "succeeded" : "failed",
    statusCode,
    statusMessage: statusMessage(statusCode, outcome, ctx),
    started,
    finished: outcome.finishedAt ?? new Date().toISOString(),
    exitCode: outcome.exitCode,
    // Numbers the runtimes measured of the job's processes, nothing the action wrote or printed.
    cpuSeconds: outcome.cpuSeconds,
    memoryBytes: outcome.peakMemoryBytes,
  };
}

/** The message for a status code: nothing in it comes from the action's files or output. */
export function statusMessage(code: JobStatusCode, outcome: ActionOutcome, ctx: FinishedContext): string {
  switch (code) {
    case "succeeded":
      return "Completed successfully";
    case "nonzero_exit":
      return exitMessage(outcome.exitCode, ctx.result, ctx.limits);
    case "unmatched_patterns": {
      const patterns = unmatchedPatterns(ctx.action, outcome.outputs.map((o) => o.path));
      return `No outputs found matching patterns: ${patterns.join(", ")}`;
    }
    case "dependency_failed":
      return ctx.failedNeeds.length > 0 ? `Not started because a dependency failed: ${ctx.failedNeeds.join(", ")}` : "Not started because a dependency failed";
    case "cancelled_by_user": {
      const by = ctx.cancelled === "stop" ? "the backend's agent was stopped" : "cancelled by a user";
      return outcome.status === "not_started" ? `Not started: ${by}` : `Stopped: ${by}`;
    }
    case "internal_error":
      return "Internal error";
    default:
      return "";
  }
}

/**
 * Why an action ended badly, from what the executor said of it. Its message
 * is Enclave's own (never the action's output) but may name paths on this
 * machine, so only its kind is used.
 */
function exitMessage(exitCode: number | null, result: ActionResult | undefined, limits: ActionLimits): string {
  if (exitCode !== null) return `Job exited with an error (exit code ${exitCode})`;
  if (result?.timedOut) return `Job was stopped: it ran longer than its time limit of ${limits.wallSeconds} s`;
  if (result?.signal === "SIGXCPU") return `Job was stopped: it used up its CPU-time limit of ${limits.cpuSeconds} s`;
  if (result?.message !== undefined && /out of memory/.test(result.message)) return `Job ran out of memory (its limit is ${limits.memoryMb} MB)`;
  if (result?.signal === "SIGKILL") return `Job was killed (SIGKILL): it may have used up its CPU-time limit of ${limits.cpuSeconds} s or its memory limit of ${limits.memoryMb} MB`;
  if (result?.signal != null && /^SIG[A-Z0-9]+$/.test(result.signal)) return `Job was killed by ${result.signal}`;
  return "Job could not be started (the reason is in the job's log inside the backend)";
}

/** The action's output patterns that none of the files it kept matches. */
export function unmatchedPatterns(action: Action, kept: readonly string[]): string[] {
  const patterns = OUTPUT_LEVELS.flatMap((level) => Object.values(action.outputs[level] ?? {}));
  const unmatched = patterns.filter((p) => !kept.some((file) => matchesPattern(p, file)));
  return unmatched.length > 0 ? unmatched : patterns;
}
