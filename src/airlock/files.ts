// The airlock's files on disk, and the backend's it reads:
//
//   <backend>/workspaces/<workspace>/metadata/manifest.json  what each job wrote (level, sha256, job)
//   <backend>/level4/<workspace>/<path>                      the level 4 copies researchers see
//   <airlock>/objects/<sha256>                               the request's copies, by content
//   <airlock>/ledger/<project>/ledger.jsonl                  the project's released tables (src/sdc/ledger.ts)
//
// A file enters a request only as the bytes the job wrote: its level 4 copy
// must hash to the manifest's sha256. Those bytes are copied under their hash,
// which never changes afterwards, and checked by the automated disclosure
// checks; what is reviewed, downloaded and released is that copy.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Manifest, type ManifestEntry, METADATA_DIR, readManifest } from "../pipeline/metadata.js";
import { LEVEL4_EXTENSIONS } from "../pipeline/project.js";
import { type CheckOptions, SdcInputError, checkFiles, findDeclaration } from "../sdc/check.js";
import type { TableDeclaration } from "../sdc/declarations.js";
import { LEDGER_FILE, describeTable } from "../sdc/ledger.js";
import { ContentMismatch, NotFound, RuleViolation } from "./errors.js";
import type { CheckVerdict, RequestFile } from "./model.js";
import type { FileContent } from "./store.js";
import { extension } from "./workflow.js";

export interface AirlockPaths {
  /** The backend's folder: workspaces/<name>/ (level 3, with the manifest) and level4/<name>/. */
  backendDir: string;
  /** The airlock's own folder: objects/ and ledger/. */
  airlockDir: string;
}

// Workspace names come from the job server, which allows these only; checked
// again here because they become folder names.
const WORKSPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function workspaceName(name: string): string {
  if (!WORKSPACE_NAME.test(name)) throw new RuleViolation(`${JSON.stringify(name)} is not a workspace name`);
  return name;
}

/**
 * The path as the manifest writes it (relative, `/`-separated), or a
 * RuleViolation: nothing absolute, no `.` or `..` segment, no empty segment,
 * no backslash or NUL, so that no path can name anything outside the workspace.
 */
export function checkRelativePath(p: string): string {
  const bad = (why: string): never => {
    throw new RuleViolation(`${JSON.stringify(p)} is not a file of the workspace: ${why}`);
  };
  if (typeof p !== "string" || p === "") return bad("it is empty");
  if (p.includes("\0") || p.includes("\\")) return bad("it holds a NUL or a backslash");
  if (p.startsWith("/")) return bad("it is absolute; give it relative to the workspace");
  if (p.split("/").some((s) => s === "" || s === "." || s === "..")) return bad("it has an empty, '.' or '..' part");
  return p;
}

export function level4Dir(paths: AirlockPaths, workspace: string): string {
  return path.join(paths.backendDir, "level4", workspaceName(workspace));
}

export function objectPath(paths: AirlockPaths, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RuleViolation(`${JSON.stringify(sha256)} is not a sha256`);
  return path.join(paths.airlockDir, "objects", sha256);
}

export function ledgerDir(paths: AirlockPaths, project: number): string {
  return path.join(paths.airlockDir, "ledger", String(project));
}

export function readWorkspaceManifest(paths: AirlockPaths, workspace: string): Manifest {
  return readManifest(path.join(paths.backendDir, "workspaces", workspaceName(workspace), METADATA_DIR), workspace, null);
}

/** The manifest's level 4 files: moderately_sensitive outputs that passed the level 4 checks, by path. */
export function level4Entries(manifest: Manifest): [string, ManifestEntry][] {
  return Object.entries(manifest.files).filter(([, e]) => e.level === "moderately_sensitive" && e.excluded === false);
}

const sha256Of = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/** The manifest entry of a level 4 file, or the reason it cannot be requested. */
export function level4Entry(manifest: Manifest, workspace: string, p: string): ManifestEntry {
  const entry = Object.hasOwn(manifest.files, p) ? manifest.files[p] : undefined;
  if (entry === undefined) throw new NotFound(`${JSON.stringify(p)} is not an output of workspace ${workspace}: its manifest does not list it`);
  if (entry.level !== "moderately_sensitive") throw new RuleViolation(`${JSON.stringify(p)} in workspace ${workspace} is ${entry.level} (level 3): only level 4 (moderately_sensitive) files can be released`);
  if (entry.excluded !== false) throw new RuleViolation(`${JSON.stringify(p)} in workspace ${workspace} was kept out of level 4${entry.excluded_reason ? `: ${entry.excluded_reason}` : ""}`);
  if (!LEVEL4_EXTENSIONS.includes(extension(p))) throw new RuleViolation(`${JSON.stringify(p)} is not a level 4 file type (${LEVEL4_EXTENSIONS.join(" ")})`);
  return entry;
}

/** Reads a level 4 file, refusing symbolic links and anything that resolves outside the workspace's level 4 folder. */
function readLevel4(paths: AirlockPaths, workspace: string, p: string): { file: string; bytes: Buffer } {
  const root = level4Dir(paths, workspace);
  const file = path.join(root, ...p.split("/"));
  const missing = () => new NotFound(`${JSON.stringify(p)} is not in workspace ${workspace}'s level 4 folder`);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.lstatSync(file);
  } catch {
    throw missing();
  }
  if (!stat.isFile()) throw new RuleViolation(`${JSON.stringify(p)} in workspace ${workspace} is not a plain file`);
  const real = fs.realpathSync(file);
  if (!real.startsWith(fs.realpathSync(root) + path.sep)) throw new RuleViolation(`${JSON.stringify(p)} resolves outside workspace ${workspace}`);
  return { file, bytes: fs.readFileSync(file) };
}

/** Writes bytes under their sha256 (through a rename, so no reader sees half a file); an object already there with the right bytes is kept. */
export function storeObject(paths: AirlockPaths, bytes: Buffer, sha256: string): string {
  const target = objectPath(paths, sha256);
  if (fs.existsSync(target) && sha256Of(fs.readFileSync(target)) === sha256) return target;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, target);
  return target;
}

/** The bytes of a request's copy, checked against the hash they are stored under. */
export function readObject(paths: AirlockPaths, sha256: string, where: string): Buffer {
  const target = objectPath(paths, sha256);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(target);
  } catch {
    throw new ContentMismatch(`the stored copy of ${where} (${sha256}) is missing`);
  }
  if (sha256Of(bytes) !== sha256) throw new ContentMismatch(`the stored copy of ${where} no longer hashes to ${sha256}: it was changed on disk`);
  return bytes;
}

export interface CaptureOptions extends Pick<CheckOptions, "threshold" | "base"> {
  project: number;
  now: string;
}

/**
 * Takes the workspace's file into the airlock: checks it is a level 4 file whose
 * bytes are those its job wrote (the manifest's sha256), copies them under
 * their hash, and runs the automated disclosure checks on them (with the
 * project's ledger, for differencing). The checks read the level 4 folder, so
 * that a figure's data and a table's declaration beside it are found; their
 * result is kept only if they judged the same bytes.
 */
export async function captureFile(paths: AirlockPaths, workspace: string, p: string, options: CaptureOptions): Promise<FileContent> {
  checkRelativePath(p);
  const entry = level4Entry(readWorkspaceManifest(paths, workspace), workspace, p);
  const { file, bytes } = readLevel4(paths, workspace, p);
  const sha256 = sha256Of(bytes);
  if (sha256 !== entry.sha256) {
    throw new ContentMismatch(`${JSON.stringify(p)} in workspace ${workspace} has changed since job ${entry.job_id} (action ${entry.action}) wrote it: it hashes to ${sha256}, the manifest says ${entry.sha256}; run the action again`);
  }
  storeObject(paths, bytes, sha256);
  let declaration: TableDeclaration | undefined;
  let check: CheckVerdict;
  try {
    declaration = findDeclaration(file, []);
    const result = (await checkFiles([file], { threshold: options.threshold, base: options.base, ledger: ledgerDir(paths, options.project) })).files[0]!;
    if (result.sha256 !== sha256) throw new ContentMismatch(`${JSON.stringify(p)} in workspace ${workspace} changed while it was being checked; add it again`);
    check = { status: result.status, failures: result.failures, checked: options.now };
  } catch (e) {
    if (!(e instanceof SdcInputError)) throw e;
    check = { status: "error", failures: [], message: e.message, checked: options.now };
  }
  return {
    sha256,
    size: bytes.length,
    action: entry.action,
    jobId: entry.job_id,
    commit: entry.commit,
    check,
    declaration: declaration === undefined ? null : JSON.stringify(declaration),
  };
}

/**
 * Adds a released CSV table to its project's ledger, so that later tables are
 * checked for differencing against it: described from the released bytes, with
 * the declaration that was beside it when it was added. Returns why a table
 * could not be described (a CSV the checks could not read either): the release
 * has happened all the same, so this is reported, not thrown.
 */
export function recordInLedger(paths: AirlockPaths, project: number, workspace: string, file: RequestFile, releasedAt: Date): string | undefined {
  if (extension(file.path) !== ".csv") return undefined;
  const bytes = readObject(paths, file.sha256, `${workspace}/${file.path}`);
  const declaration = file.declaration === null ? undefined : (JSON.parse(file.declaration) as TableDeclaration);
  let line: string;
  try {
    line = JSON.stringify(describeTable(`${workspace}/${file.path}`, bytes, declaration, releasedAt).entry);
  } catch (e) {
    if (e instanceof SdcInputError) return e.message;
    throw e;
  }
  const dir = ledgerDir(paths, project);
  fs.mkdirSync(dir, { recursive: true });
  fs.appendFileSync(path.join(dir, LEDGER_FILE), `${line}\n`);
  return undefined;
}
