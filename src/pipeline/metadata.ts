// The runner's records under a study's metadata/ folder:
//
//   metadata/.enclave-state.json  what the runner knows of each action's latest
//                                 job (status, outputs with their sha256, the
//                                 inputs it ran on); it decides what is reused
//   metadata/manifest.json        every output file: level, job, commit, size,
//                                 sha256, and for level 4 whether it was copied
//   metadata/<action>.log         the action's output, then a summary block
//
// The state file is the runner's own; the manifest and the logs are for people
// (and for the output checkers' tools), in OpenSAFELY's field names where
// OpenSAFELY has one.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { OutputLevel } from "./project.js";

export const METADATA_DIR = "metadata";
export const STATE_FILE = ".enclave-state.json";
export const MANIFEST_FILE = "manifest.json";

/** The status codes of a finished job (OpenSAFELY's, those that happen in a local run). */
export type StatusCode = "succeeded" | "nonzero_exit" | "unmatched_patterns" | "dependency_failed" | "internal_error" | "cancelled_by_user";

// ---------------------------------------------------------------------------
// THE STATE FILE

export interface OutputRecord {
  level: OutputLevel;
  size: number;
  sha256: string;
  /** The modification time of the file in the project folder when it was recorded: while size and time are unchanged, the hash is not recomputed. */
  mtimeMs: number;
}

export interface ActionRecord {
  jobId: string;
  requestId: string;
  /** "running" is only seen after a run that was interrupted: such an action runs again. */
  status: "running" | "succeeded" | "failed";
  statusCode: StatusCode | null;
  statusMessage: string;
  /** A hash of the action's definition in project.yaml (run, needs, outputs, config) when it ran. */
  definition: string;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  commit: string | null;
  /** Path → what was written there, in the project folder (level 3). */
  outputs: Record<string, OutputRecord>;
  /** Needed action → path → sha256 of the files it was given: a dependency whose needs have since written other files is stale. */
  inputs: Record<string, Record<string, string>>;
}

export interface RunState {
  version: 1;
  actions: Record<string, ActionRecord>;
}

/** The state in `metadataDir`; an empty one when there is none. A file that cannot be read is reported through `warn` and ignored (everything then runs again). */
export function readState(metadataDir: string, warn: (message: string) => void = () => {}): RunState {
  const file = path.join(metadataDir, STATE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, actions: {} };
    throw e;
  }
  try {
    const parsed = JSON.parse(text) as RunState;
    if (parsed?.version === 1 && typeof parsed.actions === "object" && parsed.actions !== null) return parsed;
  } catch {
    // reported below
  }
  warn(`${path.join(METADATA_DIR, STATE_FILE)} cannot be read, so no earlier run is reused`);
  return { version: 1, actions: {} };
}

export function writeState(metadataDir: string, state: RunState): void {
  writeJsonAtomically(path.join(metadataDir, STATE_FILE), state);
}

// ---------------------------------------------------------------------------
// THE MANIFEST

export interface ManifestEntry {
  level: OutputLevel;
  action: string;
  job_id: string;
  job_request: string;
  user: string;
  repo: string | null;
  commit: string | null;
  size: number;
  /** When the file was written to the project folder (ISO 8601). */
  timestamp: string;
  sha256: string;
  /** For moderately_sensitive files: whether the file was kept out of level 4; null for highly_sensitive files, which never go there. */
  excluded: boolean | null;
  /** Why it was kept out of level 4. */
  excluded_reason: string | null;
  /** For CSV files: data rows (after the header) and columns. */
  rows: number | null;
  columns: number | null;
}

export interface Manifest {
  version: 1;
  workspace: string;
  repo: string | null;
  /** Path (relative to the project folder) → the file. */
  files: Record<string, ManifestEntry>;
}

export function readManifest(metadataDir: string, workspace: string, repo: string | null): Manifest {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(metadataDir, MANIFEST_FILE), "utf8")) as Manifest;
    if (parsed?.version === 1 && typeof parsed.files === "object" && parsed.files !== null) return { ...parsed, workspace, repo };
  } catch {
    // A missing or broken manifest is rebuilt from the actions that run from now on.
  }
  return { version: 1, workspace, repo, files: {} };
}

/** Replaces the entries of `action` (its earlier outputs) with `entries`. */
export function updateManifest(metadataDir: string, manifest: Manifest, action: string, entries: Record<string, ManifestEntry>): void {
  for (const [file, entry] of Object.entries(manifest.files)) {
    if (entry.action === action || Object.hasOwn(entries, file)) delete manifest.files[file];
  }
  Object.assign(manifest.files, entries);
  const sorted = Object.fromEntries(Object.entries(manifest.files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  manifest.files = sorted;
  writeJsonAtomically(path.join(metadataDir, MANIFEST_FILE), manifest);
}

// ---------------------------------------------------------------------------
// THE LOG'S SUMMARY BLOCK

export interface LogSummary {
  jobId: string;
  requestId: string;
  action: string;
  run: string;
  commit: string | null;
  status: string;
  statusCode: StatusCode;
  exitCode: number | null;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** What the action's processes used (null: not measured). */
  cpuSeconds: number | null;
  peakMemoryBytes: number | null;
  statusMessage: string;
  hint?: string;
  outputs: { path: string; level: OutputLevel; size: number; level4?: { copied: boolean; reasons: string[]; placeholder?: string } }[];
  discarded: string[];
}

/** The block that ends `metadata/<action>.log`. */
export function formatLogSummary(s: LogSummary): string {
  const lines = [
    "",
    "==== enclave job summary ====",
    `job_id:         ${s.jobId}`,
    `job_request_id: ${s.requestId}`,
    `action:         ${s.action}`,
    `run:            ${s.run}`,
    `commit:         ${s.commit ?? "(not a git repository)"}`,
    `status:         ${s.status} (${s.statusCode})`,
    `exit_code:      ${s.exitCode ?? "none"}`,
    `started_at:     ${s.startedAt}`,
    `finished_at:    ${s.finishedAt}`,
    `duration:       ${formatDuration(s.durationMs)}`,
    `cpu_time:       ${s.cpuSeconds === null ? "not measured" : formatDuration(s.cpuSeconds * 1000)}`,
    `peak_memory:    ${s.peakMemoryBytes === null ? "not measured" : formatBytes(s.peakMemoryBytes)}`,
    `status_message: ${s.statusMessage}`,
  ];
  if (s.hint !== undefined) lines.push(`hint:           ${s.hint}`);
  lines.push("", "outputs:");
  if (s.outputs.length === 0) lines.push("  (none)");
  for (const o of s.outputs) {
    let level4 = "";
    if (o.level4 !== undefined) {
      level4 = o.level4.copied ? ", copied to level 4" : `, NOT copied to level 4: it ${o.level4.reasons.join("; it ")}${o.level4.placeholder ? ` (see ${o.level4.placeholder})` : ""}`;
    }
    lines.push(`  ${o.path}  ${o.level}, ${formatBytes(o.size)}${level4}`);
  }
  if (s.discarded.length > 0) {
    lines.push("", "discarded (written by the action, but matching none of its output patterns):");
    for (const d of s.discarded) lines.push(`  ${d}`);
  }
  return `${lines.join("\n")}\n`;
}

export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}h ${pad(m)}m ${pad(s % 60)}s` : `${m}m ${pad(s % 60)}s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

// ---------------------------------------------------------------------------
// THE STUDY'S REPOSITORY

/** The commit checked out in `dir`, or null when it is not in a git repository (or git is not installed). */
export function gitCommit(dir: string): string | null {
  const out = git(dir, ["rev-parse", "--verify", "HEAD"]);
  return out !== null && /^[0-9a-f]{40,64}$/.test(out) ? out : null;
}

/** The repository's origin URL, without any credentials written into it. */
export function gitRepo(dir: string): string | null {
  const out = git(dir, ["config", "--get", "remote.origin.url"]);
  if (out === null || out === "") return null;
  try {
    const url = new URL(out);
    url.username = "";
    url.password = "";
    return url.toString();
  } catch {
    // scp-like syntax (git@github.com:owner/repo.git) has no password to leak.
    return out;
  }
}

function git(dir: string, args: string[]): string | null {
  const r = spawnSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The user named in the manifest: the account on this machine. */
export function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return "unknown";
  }
}

/** Writes JSON through a temporary file and a rename, so that a reader never sees half a file. */
export function writeJsonAtomically(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(tmp, file);
}
