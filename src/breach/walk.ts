// The history as scan needs it: every commit, and for each the files that
// differ from its first parent; from that, which commits hold a given blob at a
// given path.
//
// Two processes, whatever the number of commits: `git rev-list --parents`
// lists the commits, parents first, and one `git diff-tree --stdin` compares
// each with its first parent. A commit's tree is its first parent's with that
// difference applied (a merge's too: what the other parents brought in is in
// its difference from the first), so the trees never have to be listed
// commit by commit, and every (blob, path) that any tree holds appears, as the
// new side of some difference.

import { GitError, OBJECT_ID, finished, git, spawnGit, tokens, type Repository } from "./git.js";

export interface History {
  /** Every commit, each after its parents: `git rev-list --date-order --reverse`, so otherwise oldest (committer date) first. */
  commits: string[];
  /** The index (in `commits`) of each commit's first parent; -1 for a root (or the boundary of a shallow clone). */
  firstParent: Int32Array;
  /** Per commit, the changed paths and their new blobs as pairs [pathId, blobId], blobId -1 for a removal (or a non-blob, such as a submodule). */
  changes: Int32Array[];
  paths: string[];
  blobs: string[];
  /** Every (blob, path) that some commit's tree holds, as pairKey gives it. */
  pairs: Set<number>;
}

export function pairKey(h: Pick<History, "paths">, blobId: number, pathId: number): number {
  return blobId * h.paths.length + pathId;
}

export function unpairKey(h: Pick<History, "paths">, key: number): { blobId: number; pathId: number } {
  const n = h.paths.length;
  return { blobId: Math.floor(key / n), pathId: key % n };
}

export interface WalkOptions {
  /** Also the commits that only reflogs hold (older stash entries, amended or reset commits): local to this clone, never pushed. */
  reflogs?: boolean;
}

const EMPTY = new Int32Array(0);

/** Reads the whole history of `repo` (every ref, and HEAD). */
export async function walkHistory(repo: Repository, options: WalkOptions = {}): Promise<History> {
  const revArgs = ["rev-list", "--all", ...(options.reflogs ? ["--reflog"] : []), "--date-order", "--reverse", "--parents"];
  const listing = await git(repo.dir, revArgs);
  const commits: string[] = [];
  const parentsOf: string[] = [];
  for (const line of listing.split("\n")) {
    if (line === "") continue;
    const [id, first] = line.split(" ");
    if (!OBJECT_ID.test(id!)) throw new GitError(`git rev-list gave an unexpected line in ${repo.given}: ${JSON.stringify(line.slice(0, 100))}`);
    commits.push(id!);
    parentsOf.push(first ?? "");
  }
  const index = new Map<string, number>();
  commits.forEach((c, i) => index.set(c, i));
  const firstParent = new Int32Array(commits.length);
  parentsOf.forEach((p, i) => (firstParent[i] = p === "" ? -1 : (index.get(p) ?? -1)));

  const paths: string[] = [];
  const pathIds = new Map<string, number>();
  const blobs: string[] = [];
  const blobIds = new Map<string, number>();
  const intern = (table: string[], ids: Map<string, number>, s: string): number => {
    let id = ids.get(s);
    if (id === undefined) {
      id = table.length;
      table.push(s);
      ids.set(s, id);
    }
    return id;
  };
  const changes: Int32Array[] = commits.map(() => EMPTY);
  if (commits.length > 0) {
    // A commit whose first parent is outside the walk (a shallow boundary) is compared with the empty tree, as a root is.
    const input = commits.map((c, i) => (firstParent[i]! >= 0 ? `${c} ${commits[firstParent[i]!]}` : c)).join("\n") + "\n";
    const child = spawnGit(repo.dir, ["diff-tree", "--stdin", "-r", "-z", "--no-renames", "--no-abbrev", "--root", "--always"]);
    const done = finished(child, "git diff-tree");
    child.stdin.on("error", () => {});
    await parseDiffTree(child, index, input, (commit, entries) => {
      const arr = new Int32Array(entries.length * 2);
      entries.forEach(([p, b], k) => {
        arr[2 * k] = intern(paths, pathIds, p);
        arr[2 * k + 1] = b === null ? -1 : intern(blobs, blobIds, b);
      });
      changes[commit] = arr;
    });
    await done;
  }
  const h: History = { commits, firstParent, changes, paths, blobs, pairs: new Set() };
  for (const arr of changes) {
    for (let k = 0; k < arr.length; k += 2) if (arr[k + 1]! >= 0) h.pairs.add(pairKey(h, arr[k + 1]!, arr[k]!));
  }
  return h;
}

const BLOB_MODES = new Set(["100644", "100755", "120000", "100664"]);

/**
 * `diff-tree --stdin -z` prints, for each commit with a difference, the
 * commit's id, then per changed file `:old-mode new-mode old-id new-id
 * status` and the path, each ended by NUL.
 */
async function parseDiffTree(
  child: ReturnType<typeof spawnGit>,
  index: ReadonlyMap<string, number>,
  input: string,
  emit: (commit: number, entries: [string, string | null][]) => void,
): Promise<void> {
  child.stdin.end(input);
  let commit = -1;
  let entries: [string, string | null][] = [];
  let pending: { newMode: string; newId: string; paths: number } | undefined;
  const flush = () => {
    if (commit >= 0 && entries.length > 0) emit(commit, entries);
    entries = [];
  };
  for await (const token of tokens(child.stdout)) {
    if (pending !== undefined) {
      pending.paths -= 1;
      // For a rename or copy the second path is the new one; with --no-renames there is one path.
      if (pending.paths === 0) {
        entries.push([token, BLOB_MODES.has(pending.newMode) ? pending.newId : null]);
        pending = undefined;
      }
      continue;
    }
    if (token.startsWith(":")) {
      const [, newMode, , newId, status] = token.slice(1).split(" ");
      pending = { newMode: newMode!, newId: newId!, paths: status?.startsWith("R") || status?.startsWith("C") ? 2 : 1 };
      continue;
    }
    const trimmed = token.replace(/\n$/, "");
    if (trimmed === "") continue;
    const i = index.get(trimmed);
    if (i === undefined) throw new GitError(`git diff-tree gave an unexpected line: ${JSON.stringify(trimmed.slice(0, 100))}`);
    flush();
    commit = i;
  }
  flush();
}

/**
 * For each commit, calls `visit` with the (pathId, blobId) pairs of its tree
 * restricted to `paths` (a Map shared between commits whose restricted trees
 * are the same: visit may cache by identity).
 */
export function replayTrees(h: History, paths: ReadonlySet<number>, visit: (commit: number, tree: ReadonlyMap<number, number>) => void): void {
  const states: (Map<number, number> | undefined)[] = new Array(h.commits.length);
  const empty = new Map<number, number>();
  // A state is needed until the last commit whose first parent it is.
  const lastUse = new Int32Array(h.commits.length).fill(-1);
  for (let i = 0; i < h.commits.length; i++) if (h.firstParent[i]! >= 0) lastUse[h.firstParent[i]!] = i;
  for (let i = 0; i < h.commits.length; i++) {
    const p = h.firstParent[i]!;
    const base = p >= 0 ? states[p]! : empty;
    let state = base;
    const arr = h.changes[i]!;
    for (let k = 0; k < arr.length; k += 2) {
      const path = arr[k]!;
      if (!paths.has(path)) continue;
      if (state === base) state = new Map(base);
      if (arr[k + 1]! >= 0) state.set(path, arr[k + 1]!);
      else state.delete(path);
    }
    states[i] = state;
    visit(i, state);
    if (p >= 0 && lastUse[p] === i) states[p] = undefined;
  }
}
