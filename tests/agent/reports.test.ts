// What a finished job's report says, for each way a job can end: made from
// the status code and the executor's verdict, never from the runner's words.

import { describe, expect, it } from "vitest";
import { finishedReport } from "../../src/agent/reports.js";
import type { ActionResult } from "../../src/pipeline/action.js";
import { parseProject } from "../../src/pipeline/project.js";
import type { ActionOutcome } from "../../src/pipeline/runner.js";

const project = parseProject(`version: 4
actions:
  tables:
    run: node:v1 analysis/tables.mjs
    outputs:
      moderately_sensitive:
        counts: output/counts_*.csv
        chart: output/chart.svg
`);
const action = project.actions.get("tables")!;
const LIMITS = { memoryMb: 2048, cpuSeconds: 600, wallSeconds: 900 };

function outcome(extra: Partial<ActionOutcome>): ActionOutcome {
  return {
    action: "tables",
    requested: true,
    status: "failed",
    statusCode: "nonzero_exit",
    // What the runner says may name files and quote output: it must not be what is reported.
    statusMessage: "exited with code 1: secret_name.csv",
    reason: "requested",
    jobId: "0123456789abcdef",
    startedAt: "2025-01-01T00:00:00.000Z",
    finishedAt: "2025-01-01T00:01:00.000Z",
    durationMs: 60_000,
    exitCode: null,
    cpuSeconds: null,
    peakMemoryBytes: null,
    logFile: "/srv/enclave/workspaces/w/metadata/tables.log",
    outputs: [],
    discarded: ["output/secret_name.csv"],
    hint: "output/secret_name.csv was written; did you mean it?",
    outputTail: ["a line of output"],
    ...extra,
  };
}

function message(extra: Partial<ActionOutcome>, result?: Partial<ActionResult>, more: { failedNeeds?: string[]; cancelled?: false | "user" | "stop" } = {}): string {
  const r = finishedReport(outcome(extra), {
    jobId: "0123456789abcdef",
    action,
    ...(result === undefined ? {} : { result: { exitCode: null, signal: null, timedOut: false, cpuSeconds: null, peakMemoryBytes: null, ...result } }),
    limits: LIMITS,
    failedNeeds: more.failedNeeds ?? [],
    started: null,
    cancelled: more.cancelled ?? false,
  });
  expect(JSON.stringify(r)).not.toMatch(/secret_name|a line of output|\/srv\/enclave/);
  return r.statusMessage;
}

describe("finished job reports", () => {
  it("say how an action that failed ended, naming the limit that stopped it", () => {
    expect(message({ exitCode: 2 }, { exitCode: 2 })).toBe("Job exited with an error (exit code 2)");
    expect(message({}, { signal: "SIGKILL", timedOut: true })).toBe("Job was stopped: it ran longer than its time limit of 900 s");
    expect(message({}, { signal: "SIGXCPU" })).toBe("Job was stopped: it used up its CPU-time limit of 600 s");
    expect(message({}, { signal: "SIGKILL", message: "it ran out of memory (the limit is 2048 MB of address space)" })).toBe("Job ran out of memory (its limit is 2048 MB)");
    expect(message({}, { signal: "SIGKILL" })).toBe("Job was killed (SIGKILL): it may have used up its CPU-time limit of 600 s or its memory limit of 2048 MB");
    expect(message({}, { signal: "SIGSEGV" })).toBe("Job was killed by SIGSEGV");
    expect(message({}, { message: "node:v1: analysis/tables.mjs does not exist in the action's folder" })).toBe("Job could not be started (the reason is in the job's log inside the backend)");
  });

  it("name the patterns that matched nothing (from project.yaml), and the dependencies that failed", () => {
    const kept = [{ path: "output/counts_age.csv", level: "moderately_sensitive" as const, size: 10, sha256: "x", rows: 1, columns: 1 }];
    expect(message({ statusCode: "unmatched_patterns", exitCode: 0, outputs: kept })).toBe("No outputs found matching patterns: output/chart.svg");
    expect(message({ status: "failed", statusCode: "dependency_failed", startedAt: null }, undefined, { failedNeeds: ["generate_dataset"] })).toBe(
      "Not started because a dependency failed: generate_dataset",
    );
  });

  it("say who cancelled, whether the job had started, and nothing of an internal error", () => {
    expect(message({ statusCode: "cancelled_by_user" }, {}, { cancelled: "user" })).toBe("Stopped: cancelled by a user");
    expect(message({ status: "not_started", statusCode: null, jobId: null }, undefined, { cancelled: "stop" })).toBe("Not started: the backend's agent was stopped");
    expect(message({ statusCode: "internal_error", statusMessage: "Enclave failed while finishing the action: ENOSPC /srv/enclave/x" })).toBe("Internal error");
    const ok = finishedReport(outcome({ status: "succeeded", statusCode: "succeeded", exitCode: 0 }), { jobId: "j", action, limits: LIMITS, failedNeeds: [], started: "2025-01-01T00:00:05.000Z", cancelled: false });
    expect(ok).toEqual({
      identifier: "j",
      action: "tables",
      runCommand: "node:v1 analysis/tables.mjs",
      status: "succeeded",
      statusCode: "succeeded",
      statusMessage: "Completed successfully",
      started: "2025-01-01T00:00:05.000Z",
      finished: "2025-01-01T00:01:00.000Z",
      exitCode: 0,
      cpuSeconds: null,
      memoryBytes: null,
    });
  });

  it("carry the CPU time and peak memory the runtimes measured", () => {
    const report = (extra: Partial<ActionOutcome>) => finishedReport(outcome(extra), { jobId: "j", action, limits: LIMITS, failedNeeds: [], started: null, cancelled: false });
    const used = { cpuSeconds: 12.34, peakMemoryBytes: 512 * 1024 * 1024 };
    expect(report({ status: "succeeded", statusCode: "succeeded", exitCode: 0, ...used })).toMatchObject({ status: "succeeded", cpuSeconds: 12.34, memoryBytes: 536_870_912 });
    // Whatever the job's end: a job killed at its limit used what it used.
    expect(report({ statusCode: "nonzero_exit", exitCode: null, ...used })).toMatchObject({ status: "failed", cpuSeconds: 12.34, memoryBytes: 536_870_912 });
    expect(report({ status: "not_started", statusCode: null, jobId: null })).toMatchObject({ cpuSeconds: null, memoryBytes: null });
  });
});
