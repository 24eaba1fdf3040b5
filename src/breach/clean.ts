// `enclave breach clean`: removes blobs from every commit and ref of a
// repository, then from its object store, and checks that they are gone.
//
// The rewrite: `git filter-repo --strip-blobs-with-ids` where it is
// installed; otherwise git's own fast-export | fast-import, which carries every
// ref (branches, tags, annotated tags, remote-tracking refs, notes, the stash),
// merges and empty commits across. The stream is exported without blob
// contents (the blobs are already in this repository), and each `M` line that
// puts one of the blobs at a path becomes `D path`: the path is absent from
// that commit, and so from every later commit that inherited it, until a
// commit puts other content there. Commit messages are copied byte for byte
// (the parser skips `data` blocks, so no message can pass for a command).
//
// Then nothing must keep the old objects: refs that point straight at a blob
// are deleted, the index is reset to the new HEAD (the working files are left
// as they are), every reflog is expired, and
// gc prunes what is unreachable now. The stash's entries are kept (rewritten
// too). Finally the check: no ref, reflog or index reaches the blobs, and
// `git cat-file -e` finds none of them.
//
// Refused: a shallow clone (its history cannot be rewritten whole), a merge
// or rebase in progress, staged changes (the index is reset), other worktrees
// (their HEADs and indexes would keep the old history).

import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BreachInputError, type Repository, finished, git, openRepository, runGit, spawnGit, tokens, firstLines } from "./git.js";
import { walkHistory } from "./walk.js";

export type CleanMethod = "filter-repo" | "fast-export";

/** The repository cannot be cleaned as it is (not a usage error: the repository's state must change first). */
export class CleanRefused extends Error {
  override name = "CleanRefused";
}

export interface BlobToRemove {
  id: string;
  size: number;
  /** Every path it has in the history. */
  paths: string[];
}

export interface CleanPlan {
  repository: Repository;
  blobs: BlobToRemove[];
  /** How many refs there are (every one is rewritten, or kept if the blobs are not in its history). */
  refs: number;
  method: CleanMethod;
  /** Remote names → URL (without credentials), before the rewrite. */
  remotes: Map<string, string>;
}

export interface PlanOptions {
  /** "auto" (the default) uses git filter-repo when it is installed; tests force one. */
  method?: "auto" | CleanMethod;
}

/** Checks the repository and the blob ids, and says what clean would do; changes nothing. */
export async function planClean(repo: string, blobArgs: readonly string[], options: PlanOptions = {}): Promise<CleanPlan> {
  const repository = await openRepository(repo);
  if (blobArgs.length === 0) throw new BreachInputError("give the blobs to remove with --blob ID (enclave breach scan lists them)");
  for (const arg of blobArgs) {
    if (!/^[0-9a-fA-F]{4,64}$/.test(arg)) throw new BreachInputError(`--blob ${JSON.stringify(arg)} is not a blob id: give the hex ids that enclave breach scan prints`);
  }
  const checked = await git(repository.dir, ["cat-file", "--batch-check"], blobArgs.map((a) => a.toLowerCase()).join("\n") + "\n");
  const lines = checked.split("\n");
  const blobs = new Map<string, BlobToRemove>();
  blobArgs.forEach((arg, i) => {
    const [oid, type, size] = (lines[i] ?? "").split(" ");
    if (type === "missing") throw new BreachInputError(`--blob ${arg}: there is no such object in ${repo}`);
    if (type === "ambiguous") throw new BreachInputError(`--blob ${arg}: several objects in ${repo} start with these digits: give the whole id`);
    if (type !== "blob") throw new BreachInputError(`--blob ${arg} is a ${type ?? "unknown object"}, not a blob: give the blob ids that enclave breach scan prints`);
    blobs.set(oid!, { id: oid!, size: Number(size), paths: [] });
  });

  if (repository.shallow) throw new CleanRefused(`${repo} is a shallow clone: its history cannot be rewritten whole; clean a full clone (git fetch --unshallow, or clone again)`);
  for (const [file, what] of [
    ["MERGE_HEAD", "a merge"],
    ["rebase-merge", "a rebase"],
    ["rebase-apply", "a rebase or git am"],
    ["CHERRY_PICK_HEAD", "a cherry-pick"],
    ["REVERT_HEAD", "a revert"],
  ] as const) {
    if (fs.existsSync(path.join(repository.gitDir, file))) throw new CleanRefused(`${repo} is in the middle of ${what}: finish or abort it first`);
  }
  const worktrees = (await git(repository.dir, ["worktree", "list", "--porcelain"])).split("\n").filter((l) => l.startsWith("worktree "));
  if (worktrees.length > 1) {
    throw new CleanRefused(`${repo} has other worktrees (${worktrees.slice(1).map((w) => w.slice(9)).join(", ")}), whose HEAD and index would keep the old history: remove them first (git worktree remove)`);
  }
  if (!repository.bare && (await hasHead(repository.dir))) {
    const staged = await runGit(repository.dir, ["diff", "--cached", "--quiet", "--no-ext-diff"]);
    if (staged.code === 1) throw new CleanRefused(`${repo} has staged changes, and the index is reset to the rewritten history: commit or unstage them first`);
  }

  const h = await walkHistory(repository, { reflogs: true });
  const wanted = new Map<number, BlobToRemove>();
  h.blobs.forEach((oid, i) => {
    const b = blobs.get(oid);
    if (b !== undefined) wanted.set(i, b);
  });
  for (const arr of h.changes) {
    for (let k = 0; k < arr.length; k += 2) {
      const b = wanted.get(arr[k + 1]!);
      const p = h.paths[arr[k]!]!;
      if (b !== undefined && !b.paths.includes(p)) b.paths.push(p);
    }
  }
  const refs = (await git(repository.dir, ["for-each-ref", "--format=%(refname)"])).split("\n").filter((l) => l !== "").length;
  const method = options.method === undefined || options.method === "auto" ? ((await filterRepoInstalled(repository.dir)) ? "filter-repo" : "fast-export") : options.method;
  return { repository, blobs: [...blobs.values()], refs, method, remotes: await remotes(repository.dir) };
}

async function hasHead(dir: string): Promise<boolean> {
  return (await runGit(dir, ["rev-parse", "--quiet", "--verify", "HEAD^{commit}"])).code === 0;
}

export async function filterRepoInstalled(dir: string): Promise<boolean> {
  try {
    return (await runGit(dir, ["filter-repo", "--version"])).code === 0;
  } catch {
    return false;
  }
}

async function remotes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const text = await git(dir, ["config", "--get-regexp", "^remote\\..*\\.url$"]).catch(() => "");
  for (const line of text.split("\n")) {
    const m = /^remote\.(.+)\.url (.*)$/.exec(line);
    if (m === null) continue;
    let url = m[2]!;
    try {
      const u = new URL(url);
      u.username = "";
      u.password = "";
      url = u.toString();
    } catch {
      // scp-like addresses (git@host:path) carry no password.
    }
    out.set(m[1]!, url);
  }
  return out;
}

export interface CleanResult {
  method: CleanMethod;
  /** Refs that now point elsewhere. */
  refsRewritten: string[];
  /** Refs that are gone (they pointed straight at a blob, or the rewrite dropped them). */
  refsDeleted: string[];
  /** Whether no ref, reflog or index reaches the blobs and no object with their ids is left. */
  verified: boolean;
  /** What still holds a blob, when it is not verified. */
  problems: string[];
  /** Paths in the working folder that still hold a blob's content (now untracked). */
  stillInWorktree: string[];
  /** Remotes that the rewrite removed (git filter-repo removes origin). */
  remotesRemoved: string[];
}

/** Rewrites the history, then prunes and verifies. Throws a GitError if git fails on the way. */
export async function cleanRepository(plan: CleanPlan): Promise<CleanResult> {
  const dir = plan.repository.dir;
  const ids = new Set(plan.blobs.map((b) => b.id));
  const before = await refValues(dir);
  const stash = await holdStash(dir);

  if (plan.method === "filter-repo") await rewriteWithFilterRepo(dir, ids);
  else await rewriteWithFastExport(dir, ids);

  // fast-export cannot carry a ref that points straight at a blob (or a tag of one); nothing else would remove it.
  const peeled = await git(dir, ["for-each-ref", "--format=%(refname) %(objectname) %(*objectname)"]);
  for (const line of peeled.split("\n")) {
    const [ref, oid, target] = line.split(" ");
    if (ref !== undefined && ref !== "" && (ids.has(oid!) || ids.has(target ?? ""))) await git(dir, ["update-ref", "-d", ref]);
  }
  if (!plan.repository.bare && (await hasHead(dir))) await git(dir, ["reset", "--quiet"]);
  const stillInWorktree = plan.repository.bare ? [] : await worktreeCopies(dir, plan.blobs);

  await git(dir, ["reflog", "expire", "--expire=now", "--expire-unreachable=now", "--all"]);
  await restoreStash(dir, stash);
  await git(dir, ["-c", "gc.reflogExpire=now", "-c", "gc.reflogExpireUnreachable=now", "-c", "gc.pruneExpire=now", "-c", "gc.autoDetach=false", "gc", "--prune=now", "--quiet"]);

  const after = await refValues(dir);
  const refsRewritten = [...after].filter(([ref, v]) => before.has(ref) && before.get(ref) !== v).map(([ref]) => ref);
  const refsDeleted = [...before.keys()].filter((ref) => !after.has(ref));
  const problems = await verifyGone(dir, ids);
  const now = await remotes(dir);
  return {
    method: plan.method,
    refsRewritten,
    refsDeleted,
    verified: problems.length === 0,
    problems,
    stillInWorktree,
    remotesRemoved: [...plan.remotes.keys()].filter((r) => !now.has(r)),
  };
}

// The stash's entries but the newest live in its reflog, which the clean
// expires: each is held by a ref of its own through the rewrite (so that it is
// rewritten too), and the reflog is written again from them afterwards.
const STASH_HOLD = "refs/enclave-breach-stash/";

interface HeldStash {
  /** Oldest first: the order they are pushed back in. */
  entries: { ref: string; message: string }[];
}

async function holdStash(dir: string): Promise<HeldStash> {
  const r = await runGit(dir, ["reflog", "show", "--format=%H%x09%gs", "refs/stash", "--"]);
  if (r.code !== 0) return { entries: [] };
  const lines = r.stdout.toString("utf8").split("\n").filter((l) => l.includes("\t"));
  const entries: HeldStash["entries"] = [];
  for (const [i, line] of lines.reverse().entries()) {
    const [oid, message] = [line.slice(0, line.indexOf("\t")), line.slice(line.indexOf("\t") + 1)];
    const ref = `${STASH_HOLD}${i}`;
    await git(dir, ["update-ref", ref, oid]);
    entries.push({ ref, message });
  }
  return { entries };
}

async function restoreStash(dir: string, held: HeldStash): Promise<void> {
  if (held.entries.length === 0) return;
  const values = await refValues(dir, true);
  await runGit(dir, ["update-ref", "-d", "refs/stash"]);
  for (const { ref, message } of held.entries) {
    const oid = values.get(ref);
    // An entry whose commit the rewrite dropped (filter-repo drops empty ones) is not brought back.
    if (oid !== undefined) await git(dir, ["update-ref", "--create-reflog", "-m", message, "refs/stash", oid]);
    await runGit(dir, ["update-ref", "-d", ref]);
  }
}

async function refValues(dir: string, held = false): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await git(dir, ["for-each-ref", "--format=%(refname) %(objectname)"])).split("\n")) {
    const [ref, oid] = line.split(" ");
    if (ref && oid && (held || !ref.startsWith(STASH_HOLD))) out.set(ref, oid);
  }
  // A detached HEAD is not a ref, but it holds history all the same.
  const head = await runGit(dir, ["symbolic-ref", "--quiet", "HEAD"]);
  if (head.code !== 0) {
    const oid = await runGit(dir, ["rev-parse", "--quiet", "--verify", "HEAD"]);
    if (oid.code === 0) out.set("HEAD", oid.stdout.toString().trim());
  }
  return out;
}

/** Whether the blobs are gone: the problems found, none when they are. */
export async function verifyGone(dir: string, ids: ReadonlySet<string>): Promise<string[]> {
  const problems: string[] = [];
  const child = spawnGit(dir, ["rev-list", "--objects", "--all", "--reflog", "--indexed-objects"]);
  const done = finished(child, "git rev-list --objects");
  for await (const line of tokens(child.stdout, 0x0a)) {
    const space = line.indexOf(" ");
    const oid = space < 0 ? line : line.slice(0, space);
    if (ids.has(oid)) problems.push(`blob ${oid} is still reachable${space < 0 ? "" : ` (at ${line.slice(space + 1)})`} from a ref, a reflog or the index`);
  }
  await done;
  for (const oid of ids) {
    const r = await runGit(dir, ["cat-file", "-e", oid]);
    if (r.code === 0) {
      problems.push(
        `blob ${oid} is still in the object store (git cat-file -e finds it): a kept pack (objects/pack/*.keep), an alternate object store (objects/info/alternates) or another worktree may hold it`,
      );
    }
  }
  return problems;
}

async function worktreeCopies(dir: string, blobs: readonly BlobToRemove[]): Promise<string[]> {
  const top = (await git(dir, ["rev-parse", "--show-toplevel"])).trim();
  const out: string[] = [];
  for (const b of blobs) {
    for (const p of b.paths) {
      const file = path.join(top, p);
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) continue;
      const r = await runGit(top, ["hash-object", "--", p]);
      if (r.code === 0 && r.stdout.toString().trim() === b.id && !out.includes(p)) out.push(p);
    }
  }
  return out;
}

async function rewriteWithFilterRepo(dir: string, ids: ReadonlySet<string>): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "enclave-breach-clean-"));
  try {
    const file = path.join(scratch, "blobs.txt");
    fs.writeFileSync(file, [...ids].join("\n") + "\n");
    // --force: filter-repo wants a fresh clone; the user has confirmed the rewrite of this one.
    const r = await runGit(dir, ["filter-repo", "--force", "--strip-blobs-with-ids", file]);
    if (r.code !== 0) throw new CleanRefused(`git filter-repo failed in ${dir}: ${firstLines(r.stderr) || `exit status ${r.code}`}`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function rewriteWithFastExport(dir: string, ids: ReadonlySet<string>): Promise<void> {
  const exporter = spawnGit(dir, [
    "fast-export",
    "--all",
    "--no-data",
    "--use-done-feature",
    "--reencode=no",
    "--signed-tags=strip",
    "--tag-of-filtered-object=rewrite",
    "--fake-missing-tagger",
  ]);
  const importer = spawnGit(dir, ["fast-import", "--force", "--quiet"]);
  exporter.stdin.end();
  const exported = finished(exporter, "git fast-export");
  const imported = finished(importer, "git fast-import");
  const filter = new StripBlobs(ids);
  const piped = pipeline(exporter.stdout, filter, importer.stdin);
  // Any of the three may fail first; each failure is reported, the first one wins.
  const results = await Promise.allSettled([piped, exported, imported]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) {
    const git = results.slice(1).find((r): r is PromiseRejectedResult => r.status === "rejected");
    throw (git ?? failed).reason;
  }
}

/**
 * The filter between fast-export and fast-import: `M <mode> <blob> <path>` for
 * one of the blobs becomes `D <path>`; everything else, `data` blocks above all,
 * passes unchanged.
 */
export class StripBlobs extends Transform {
  private rest: Buffer = Buffer.alloc(0);
  /** Bytes of a data block still to pass through. */
  private inData = 0;
  /** How many M lines became D lines. */
  removed = 0;

  constructor(private readonly ids: ReadonlySet<string>) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]));
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.inData > 0) return callback(new Error(`git fast-export's stream ended inside a data block (${this.inData} bytes missing)`));
    if (this.rest.length > 0) this.push(this.rewrite(this.rest.toString("latin1")));
    callback();
  }

  private consume(buf: Buffer): void {
    const out: Buffer[] = [];
    let i = 0;
    while (i < buf.length) {
      if (this.inData > 0) {
        const n = Math.min(this.inData, buf.length - i);
        out.push(buf.subarray(i, i + n));
        this.inData -= n;
        i += n;
        continue;
      }
      const nl = buf.indexOf(0x0a, i);
      if (nl < 0) break;
      // latin1 keeps every byte of a path as it is, whatever its encoding.
      const line = buf.toString("latin1", i, nl);
      i = nl + 1;
      if (line.startsWith("data ")) {
        if (line.startsWith("data <<")) throw new Error("git fast-export wrote a delimited data block, which this filter does not read");
        this.inData = Number(line.slice(5));
        if (!Number.isSafeInteger(this.inData) || this.inData < 0) throw new Error(`git fast-export wrote an unexpected line: ${JSON.stringify(line.slice(0, 80))}`);
        out.push(Buffer.from(line + "\n", "latin1"));
        continue;
      }
      out.push(Buffer.from(this.rewrite(line) + "\n", "latin1"));
    }
    this.rest = Buffer.from(buf.subarray(i));
    if (out.length > 0) this.push(Buffer.concat(out));
  }

  private rewrite(line: string): string {
    if (!line.startsWith("M ")) return line;
    const first = line.indexOf(" ", 2);
    const second = line.indexOf(" ", first + 1);
    if (first < 0 || second < 0) return line;
    const ref = line.slice(first + 1, second);
    if (!this.ids.has(ref)) return line;
    this.removed += 1;
    return `D ${line.slice(second + 1)}`;
  }
}

/** What must happen after a clean, as lines of text: the rewrite fixed one repository, not the copies of it. */
export function nextSteps(plan: CleanPlan, result: CleanResult): string[] {
  const remotes = [...plan.remotes.keys()];
  const remote = remotes.includes("origin") ? "origin" : (remotes[0] ?? "<remote>");
  const lines = [
    "What must happen next (the blobs are still wherever this history was copied):",
    `  1. Force-push every rewritten ref to every remote that has them${remotes.length > 1 ? ` (${remotes.join(", ")})` : ""}:`,
    `       git push --force --all ${remote}`,
    `       git push --force --tags ${remote}`,
  ];
  for (const ref of result.refsDeleted) {
    if (ref.startsWith("refs/heads/") || ref.startsWith("refs/tags/")) lines.push(`       git push ${remote} --delete ${ref}`);
  }
  lines.push(
    "     Other refs (remote-tracking refs, notes, the stash) are this clone's own: push them only if the remote has them.",
    "  2. Every other clone and fork still holds the blobs, and a pull or push from one brings them back:",
    "     delete each and clone again after the force-push (or run this command in it). Ask everyone who has one.",
    "  3. The hosting service keeps copies a push cannot remove: GitHub, for one, keeps cached views of commits,",
    "     pull request refs (refs/pull/*) and forks. Ask its support to purge them and to garbage-collect the repository.",
    "  4. Report the breach as your procedure says (in OpenSAFELY: the disclosure control team), with this output.",
    "  5. If the files held anything secret besides patient data (passwords, keys, tokens), rotate it: it has been seen.",
    "     If any of them was stored with Git LFS, its content is on the LFS server, which a rewrite does not touch: have it deleted there.",
  );
  if (result.stillInWorktree.length > 0) {
    lines.push(`  6. These files in the working folder still hold the data, now untracked: delete them, or add them to .gitignore so that they are never added again:`);
    for (const p of result.stillInWorktree) lines.push(`       ${p}`);
  }
  for (const r of result.remotesRemoved) lines.push(`  git filter-repo removed the remote ${r}: add it back before pushing: git remote add ${r} ${plan.remotes.get(r) ?? "<url>"}`);
  return lines;
}
