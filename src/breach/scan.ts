// `enclave breach scan`: which files in a repository's history must not be
// there. ../shared/spec/breach.md is the contract: the rules, the finding's
// fields and the JSON shape are fixed there.
//
// A finding is about one (blob, path): the same content at another path is
// another finding, as it is seen (and removed) there. Its commits are every
// commit whose tree holds that blob at that path, not just the one that added
// it: a file deleted or reverted later is still in every commit in between.
// "Earliest" is the order of `git rev-list --date-order --reverse`: each
// commit after its parents, otherwise by committer date, which is
// deterministic for a given repository.
//
// Cost: a fixed number of git processes (rev-list, diff-tree, cat-file twice
// or three times, for-each-ref, log for the commits shown), whatever the
// number of commits. Only blobs that some rule needs are read: tables (for
// the content rules), blobs at output paths, and, with manifests, blobs whose
// size is the size of a known output (only those can have its sha256).

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type OutputLevel, matchesPattern, outputPatterns, parseProject } from "../pipeline/project.js";
import { type ContentFinding, DEFAULT_CONTENT_LIMIT, checkContent, isContentPath, isUnreadDataPath } from "./content.js";
import { catFile, git, objectSizes, openRepository } from "./git.js";
import { type KnownOutput, type KnownOutputs, loadManifests, loadReleased } from "./known.js";
import { type History, pairKey, replayTrees, unpairKey, walkHistory } from "./walk.js";

export type BreachRule = "known_output" | "patient_level" | "small_count" | "output_path";

/** The order of a blob's findings. */
export const BREACH_RULES: readonly BreachRule[] = ["known_output", "patient_level", "small_count", "output_path"];

/** One finding, as ../shared/spec/breach.md fixes it. */
export interface Finding {
  rule: BreachRule;
  /** known_output: the output's level (3 highly_sensitive, 4 moderately_sensitive never released); null for the other rules. */
  level: 3 | 4 | null;
  path: string;
  blob: string;
  sha256: string;
  /** Every commit whose tree holds this blob at this path, earliest first. */
  commits: string[];
  introduced_in: string;
  message: string;
}

export interface ScanReport {
  version: 1;
  findings: Finding[];
}

export interface ScanOptions {
  /** metadata/manifest.json files: their outputs' sha256 and levels. */
  manifests?: readonly string[];
  /** Files listing the sha256 of released files, one a line: released level 4 outputs may be in a repository. */
  released?: readonly string[];
  /** Also walk commits that only reflogs hold (local to this clone). */
  reflogs?: boolean;
  /** How many bytes of a blob the content rules read (DEFAULT_CONTENT_LIMIT). */
  contentLimit?: number;
}

export interface CommitInfo {
  short: string;
  /** Committer date, YYYY-MM-DD. */
  date: string;
  subject: string;
}

export interface ScanResult {
  report: ScanReport;
  /** The folder of the repository scanned. */
  repository: string;
  stats: { commits: number; refs: number; paths: number; blobs: number; read: number; tables: number; milliseconds: number };
  /** The commits a report shows: each finding's first few. */
  commitInfo: Map<string, CommitInfo>;
  /** What could not be checked, and why. */
  warnings: string[];
}

interface OutputPattern {
  pattern: string;
  action: string;
  level: OutputLevel;
  /** The project.yaml that declares it. */
  file: string;
  /** A cheap test before matchesPattern: the text before the first *, and after the last. */
  prefix: string;
  suffix: string;
}

/** Scans every commit reachable from any ref of `repo`. Bad inputs are BreachInputErrors. */
export async function scanRepository(repo: string, options: ScanOptions = {}): Promise<ScanResult> {
  const started = performance.now();
  const limit = options.contentLimit ?? DEFAULT_CONTENT_LIMIT;
  const repository = await openRepository(repo);
  const released = loadReleased(options.released ?? []);
  const known = loadManifests(options.manifests ?? [], released);
  const warnings: string[] = [];
  const h = await walkHistory(repository, { reflogs: options.reflogs });
  // A ref may point (or a tag peel) straight at a blob or a tree: no commit holds it, so the
  // walk never sees it, yet a push publishes it. Named, so that nobody takes silence for a clean bill.
  const refLines = (await git(repository.dir, ["for-each-ref", "--format=%(refname) %(objecttype) %(objectname) %(*objecttype) %(*objectname)"])).split("\n").filter((l) => l !== "");
  const refs = refLines.length;
  for (const line of refLines) {
    const [name, type, oid, peeledType, peeled] = line.split(" ");
    const [kind, target] = peeledType ? [peeledType, peeled] : [type, oid];
    if (kind === "blob" || kind === "tree") {
      warnings.push(`${name} points at ${kind} ${target}, not at a commit: it was not scanned, yet it is published with the ref; look at it (git cat-file -p ${target}) and delete the ref if it should not be there${kind === "blob" ? ` (enclave breach clean --blob ${target} does)` : ""}`);
    }
  }

  const unread = h.paths.filter(isUnreadDataPath).sort();
  if (unread.length > 0) {
    const shown = unread.slice(0, 5).join(", ");
    warnings.push(`${unread.length === 1 ? "1 data file" : `${unread.length} data files`} in the history ${unread.length === 1 ? "is" : "are"} in a format the content rules do not read (Stata, R, Excel, SAS, SPSS, pickles, databases): ${shown}${unread.length > 5 ? `, and ${unread.length - 5} more` : ""}; only their hashes and paths were checked: look at them`);
  }
  const patterns = await projectPatterns(repository.dir, h, warnings);
  const pathRule = h.paths.map((p) => outputPathMessage(p, patterns, known));

  // Which blobs to read, and which of them to check as tables (by the format each path promises).
  const tableKeys = new Map<number, Set<string>>();
  const read = new Set<number>();
  const somePath = new Map<number, string>();
  for (const key of h.pairs) {
    const { blobId, pathId } = unpairKey(h, key);
    const p = h.paths[pathId]!;
    if (!somePath.has(blobId)) somePath.set(blobId, p);
    if (isContentPath(p)) {
      const set = tableKeys.get(blobId) ?? new Set<string>();
      set.add(formatKey(p));
      tableKeys.set(blobId, set);
      read.add(blobId);
    }
    if (pathRule[pathId] !== undefined) read.add(blobId);
  }
  // A Git LFS pointer names its file's sha256: an output committed through LFS is found by it.
  const lfsCandidates = new Set<number>();
  if (known.bySha256.size > 0) {
    const sizes = await objectSizes(repository.dir, h.blobs);
    h.blobs.forEach((oid, blobId) => {
      const s = sizes.get(oid);
      if (s === undefined || s.type !== "blob") return;
      if (known.sizes === null || known.sizes.has(s.size)) read.add(blobId);
      if (s.size <= LFS_POINTER_MAX) {
        lfsCandidates.add(blobId);
        read.add(blobId);
      }
    });
  }

  const sha256 = new Map<number, string>();
  const lfsTarget = new Map<number, string>();
  const content = new Map<string, ContentFinding[]>();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "enclave-breach-"));
  const blobIndex = new Map<string, number>();
  const order = [...read].sort((a, b) => a - b);
  for (const b of order) blobIndex.set(h.blobs[b]!, b);
  let tables = 0;
  try {
    const missing = (oid: string) => warnings.push(`blob ${oid} is missing from the repository (a partial or damaged clone): not checked`);
    const keep = (oid: string) => {
      const b = blobIndex.get(oid)!;
      return tableKeys.has(b) ? limit : lfsCandidates.has(b) ? LFS_POINTER_MAX : 0;
    };
    for await (const obj of catFile(repository.dir, order.map((b) => h.blobs[b]!), keep, missing)) {
      const b = blobIndex.get(obj.oid)!;
      sha256.set(b, obj.sha256);
      const lfs = lfsCandidates.has(b) ? lfsPointerTarget(obj.head) : undefined;
      if (lfs !== undefined) lfsTarget.set(b, lfs);
      const keys = tableKeys.get(b);
      // A released file passed output checking: its content is not held to the rules again.
      if (keys === undefined || released.has(obj.sha256)) continue;
      for (const k of keys) {
        // Of the path, the content rules take only the format its extensions promise.
        const outcome = await checkContent({ path: `blob${k}`, head: obj.head, whole: obj.whole, size: obj.size }, scratch, limit);
        tables += 1;
        content.set(`${b}\u0000${k}`, outcome.findings);
        if (outcome.skipped !== undefined) warnings.push(`${somePath.get(b)} (blob ${obj.oid}, as a ${k} file): not checked: ${outcome.skipped}`);
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }

  // Findings per (blob, path), then the commits that hold each.
  const pending = new Map<number, Omit<Finding, "commits" | "introduced_in">[]>();
  for (const key of h.pairs) {
    const { blobId, pathId } = unpairKey(h, key);
    const sha = sha256.get(blobId);
    if (sha === undefined) continue;
    const p = h.paths[pathId]!;
    const blob = h.blobs[blobId]!;
    const list: Omit<Finding, "commits" | "introduced_in">[] = [];
    const lfs = lfsTarget.get(blobId);
    const outputs = known.bySha256.get(sha) ?? (lfs !== undefined ? known.bySha256.get(lfs) : undefined);
    if (outputs !== undefined) {
      const level = Math.min(...outputs.map((o) => o.level)) as 3 | 4;
      list.push({ rule: "known_output", level, path: p, blob, sha256: sha, message: knownMessage(outputs, known.bySha256.has(sha) ? undefined : lfs) });
    }
    if (!released.has(sha)) {
      for (const f of content.get(`${blobId}\u0000${formatKey(p)}`) ?? []) list.push({ rule: f.rule, level: null, path: p, blob, sha256: sha, message: f.message });
      const m = pathRule[pathId];
      if (m !== undefined) list.push({ rule: "output_path", level: null, path: p, blob, sha256: sha, message: m });
    }
    if (list.length > 0) pending.set(key, list);
  }

  const holders = commitsHolding(h, new Set(pending.keys()));
  const findings: (Finding & { first: number })[] = [];
  for (const [key, list] of pending) {
    const commits = holders.get(key) ?? [];
    const ids = commits.map((i) => h.commits[i]!);
    // The keys in the order of the contract, which is the order JSON.stringify writes them in.
    for (const f of list) {
      findings.push({ rule: f.rule, level: f.level, path: f.path, blob: f.blob, sha256: f.sha256, commits: ids, introduced_in: ids[0] ?? "", message: f.message, first: commits[0] ?? 0 });
    }
  }
  findings.sort((a, b) => a.first - b.first || compare(a.path, b.path) || BREACH_RULES.indexOf(a.rule) - BREACH_RULES.indexOf(b.rule) || compare(a.blob, b.blob));

  const shown = new Set<string>();
  for (const f of findings) for (const c of f.commits.slice(0, 5)) shown.add(c);
  const commitInfo = await describeCommits(repository.dir, [...shown]);
  return {
    report: { version: 1, findings: findings.map(({ first: _first, ...f }) => f) },
    repository: repository.dir,
    stats: { commits: h.commits.length, refs, paths: h.paths.length, blobs: h.blobs.length, read: order.length, tables, milliseconds: Math.round(performance.now() - started) },
    commitInfo,
    warnings,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What the content rules key a result by: the extensions that say the format (".csv", ".csv.gz", ".parquet"). */
function formatKey(p: string): string {
  const base = path.posix.basename(p).toLowerCase();
  const m = /(\.[a-z0-9]+)?(\.gz)?$/.exec(base);
  return m?.[0] ?? "";
}

/** Commit indices (earliest first) holding each (blob, path) of `keys`. */
function commitsHolding(h: History, keys: ReadonlySet<number>): Map<number, number[]> {
  const out = new Map<number, number[]>();
  if (keys.size === 0) return out;
  const paths = new Set<number>();
  for (const key of keys) paths.add(unpairKey(h, key).pathId);
  const present = new WeakMap<ReadonlyMap<number, number>, number[]>();
  replayTrees(h, paths, (commit, tree) => {
    let list = present.get(tree);
    if (list === undefined) {
      list = [];
      for (const [pathId, blobId] of tree) {
        const key = pairKey(h, blobId, pathId);
        if (keys.has(key)) list.push(key);
      }
      present.set(tree, list);
    }
    for (const key of list) {
      const commits = out.get(key) ?? [];
      commits.push(commit);
      out.set(key, commits);
    }
  });
  return out;
}

/**
 * The output patterns of every version of every project.yaml in the history
 * (a study in a subfolder has its patterns under that folder). A version that
 * does not parse is skipped: its patterns cannot be trusted to mean anything.
 */
async function projectPatterns(dir: string, h: History, warnings: string[]): Promise<OutputPattern[]> {
  const files = new Map<number, string>();
  for (const key of h.pairs) {
    const { blobId, pathId } = unpairKey(h, key);
    const p = h.paths[pathId]!;
    if (path.posix.basename(p) === "project.yaml" && !files.has(blobId)) files.set(blobId, p);
  }
  const byOid = new Map([...files].map(([b, p]) => [h.blobs[b]!, p]));
  const seen = new Set<string>();
  const out: OutputPattern[] = [];
  let broken = 0;
  for await (const obj of catFile(dir, [...byOid.keys()], () => 1024 * 1024)) {
    const file = byOid.get(obj.oid)!;
    let patterns: ReturnType<typeof outputPatterns>;
    try {
      patterns = outputPatterns(parseProject(obj.head.toString("utf8"), file));
    } catch {
      broken += 1;
      continue;
    }
    const folder = path.posix.dirname(file);
    for (const o of patterns) {
      const pattern = folder === "." ? o.pattern : `${folder}/${o.pattern}`;
      const id = `${pattern}\u0000${o.action}\u0000${o.level}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const star = pattern.indexOf("*");
      out.push({ pattern, action: o.action, level: o.level, file, prefix: star < 0 ? pattern : pattern.slice(0, star), suffix: star < 0 ? "" : pattern.slice(pattern.lastIndexOf("*") + 1) });
    }
  }
  if (broken > 0) warnings.push(`${broken} ${broken === 1 ? "version" : "versions"} of project.yaml did not parse: their output patterns were not used`);
  return out;
}

function outputPathMessage(p: string, patterns: readonly OutputPattern[], known: KnownOutputs): string | undefined {
  for (const o of patterns) {
    if (!p.startsWith(o.prefix) || !p.endsWith(o.suffix) || !matchesPattern(o.pattern, p)) continue;
    const how = o.pattern === p ? "is the output" : `matches the output pattern "${o.pattern}"`;
    return `${how} of action "${o.action}" (${o.level}) in ${o.file}: outputs stay in the backend, and leave it only through output checking`;
  }
  for (const m of known.paths) {
    if (p === m || p.endsWith(`/${m}`)) return `is the path of an output named in a manifest ("${m}"): outputs stay in the backend, and leave it only through output checking`;
  }
  return undefined;
}

/** Git LFS pointers are three lines of text, about 130 bytes (without extensions). */
const LFS_POINTER_MAX = 256;

/** The sha256 a Git LFS pointer names, if the blob is one. */
function lfsPointerTarget(head: Buffer): string | undefined {
  const text = head.toString("utf8");
  if (!text.startsWith("version https://git-lfs.github.com/spec/")) return undefined;
  return /^oid sha256:([0-9a-f]{64})$/m.exec(text)?.[1];
}

function knownMessage(outputs: readonly KnownOutput[], lfs?: string): string {
  const o = [...outputs].sort((a, b) => a.level - b.level)[0]!;
  const what = o.level === 3 ? "the highly_sensitive (level 3) output" : "the moderately_sensitive (level 4) output";
  const job = [o.action !== null ? `action "${o.action}"` : "", o.jobId !== null ? `job ${o.jobId}` : ""].filter((s) => s !== "").join(", ");
  const never = o.level === 4 ? (o.excludedReason !== null ? `, kept out of level 4 (${o.excludedReason}) and never released` : ", never released") : "";
  const more = outputs.length > 1 ? ` (and ${outputs.length - 1} more ${outputs.length === 2 ? "output" : "outputs"} with the same content)` : "";
  const where = `${what} "${o.path}"${job !== "" ? ` of ${job}` : ""} in ${o.manifest}${never}${more}`;
  if (lfs !== undefined) return `a Git LFS pointer to ${where}: certainly a leak, and the content itself is on the LFS server, which must be purged too`;
  return `the same content as ${where}: certainly a leak`;
}

async function describeCommits(dir: string, ids: readonly string[]): Promise<Map<string, CommitInfo>> {
  const out = new Map<string, CommitInfo>();
  if (ids.length === 0) return out;
  const text = await git(dir, ["log", "--no-walk=unsorted", "--stdin", "--no-color", "--no-show-signature", "-z", "--format=%H%x1f%h%x1f%cs%x1f%s"], ids.join("\n") + "\n");
  for (const record of text.split("\u0000")) {
    const [id, short, date, subject] = record.replace(/^\n/, "").split("\u001f");
    if (id !== undefined && short !== undefined) out.set(id, { short, date: date ?? "", subject: subject ?? "" });
  }
  return out;
}
