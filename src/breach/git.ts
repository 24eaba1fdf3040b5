// The few git processes that scan and clean run, and the streams between them.
// Only plumbing commands are parsed (rev-list, diff-tree, cat-file,
// for-each-ref, fast-export): their output does not change with a user's
// configuration (colours, abbreviations, rename detection, signatures), as
// porcelain output such as `git log` does.

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Something given on the command line is wrong: a repository, a manifest, a blob id. The command exits with 2. */
export class BreachInputError extends Error {
  override name = "BreachInputError";
}

/** git failed where it should not have: the repository is damaged, or git is missing. */
export class GitError extends Error {
  override name = "GitError";
}

/** A full object id: SHA-1 (40) or SHA-256 (64) repositories. */
export const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

// Prompts and pagers would hang a command that nobody is watching; C messages keep git's errors stable.
// Variables that point git at another repository (set inside a hook, say) would override -C.
const GIT_ENV: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_PAGER: "cat", PAGER: "cat", LC_ALL: "C" };
for (const name of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES"]) {
  delete GIT_ENV[name];
}

export function spawnGit(repo: string, args: readonly string[]): ChildProcessWithoutNullStreams {
  return spawn("git", ["-C", repo, ...args], { env: GIT_ENV, stdio: ["pipe", "pipe", "pipe"] });
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs git to the end, with `input` on its standard input; never throws for a non-zero exit (see `git`). */
export function runGit(repo: string, args: readonly string[], input?: string | Buffer): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(repo, args);
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", (e: NodeJS.ErrnoException) => reject(e.code === "ENOENT" ? new GitError("git is not installed (or not on the PATH): enclave breach needs it") : e));
    // A child that exits before reading all its input is reported by its exit code, not by EPIPE.
    child.stdin.on("error", () => {});
    child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr }));
    child.stdin.end(input);
  });
}

/** Runs git and returns its standard output; a non-zero exit is a GitError that quotes git. */
export async function git(repo: string, args: readonly string[], input?: string | Buffer): Promise<string> {
  const r = await runGit(repo, args, input);
  if (r.code !== 0) throw new GitError(`git ${args.join(" ")} failed in ${repo}: ${firstLines(r.stderr) || `exit status ${r.code}`}`);
  return r.stdout.toString("utf8");
}

export function firstLines(text: string, n = 3): string {
  return text.trim().split("\n").slice(0, n).join("; ");
}

export interface Repository {
  /** As given. */
  given: string;
  /** The folder git runs in. */
  dir: string;
  gitDir: string;
  bare: boolean;
  shallow: boolean;
}

/** The repository at `repo`, or a BreachInputError that names it and says what is wrong. */
export async function openRepository(repo: string): Promise<Repository> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(repo);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BreachInputError(`${repo}: ${code === "ENOENT" ? "there is no such folder" : (e as Error).message}`);
  }
  if (!stat.isDirectory()) throw new BreachInputError(`${repo} is a file, not a folder holding a git repository`);
  const dir = path.resolve(repo);
  const r = await runGit(dir, ["rev-parse", "--absolute-git-dir", "--is-bare-repository", "--is-shallow-repository"]);
  if (r.code !== 0) throw new BreachInputError(`${repo} is not a git repository (git says: ${firstLines(r.stderr, 1) || `exit status ${r.code}`})`);
  const [gitDir, bare, shallow] = r.stdout.toString("utf8").trim().split("\n");
  // A folder inside a repository stands for the whole repository: say which.
  const top = bare === "true" ? undefined : (await runGit(dir, ["rev-parse", "--show-toplevel"])).stdout.toString("utf8").trim();
  return { given: repo, dir: top || dir, gitDir: gitDir!, bare: bare === "true", shallow: shallow === "true" };
}

/** Splits a stream on NUL (or another byte) into strings, across chunk boundaries. */
export async function* tokens(stream: AsyncIterable<Buffer>, separator = 0): AsyncGenerator<string> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of stream) {
    let buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
    let start = 0;
    for (let i = buf.indexOf(separator, start); i >= 0; i = buf.indexOf(separator, start)) {
      yield buf.toString("utf8", start, i);
      start = i + 1;
    }
    buf = buf.subarray(start);
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield rest.toString("utf8");
}

/** Waits for a child to exit; a non-zero exit is a GitError quoting its standard error. */
export function finished(child: ChildProcessWithoutNullStreams, what: string): Promise<void> {
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", (e: NodeJS.ErrnoException) => reject(e.code === "ENOENT" ? new GitError("git is not installed (or not on the PATH): enclave breach needs it") : e));
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new GitError(`${what} failed: ${firstLines(stderr) || (signal ? `killed by ${signal}` : `exit status ${code}`)}`));
    });
  });
}

/** An object read by `git cat-file --batch`: its size and sha256, and its first `keep` bytes. */
export interface ObjectContent {
  oid: string;
  type: string;
  size: number;
  sha256: string;
  /** The first bytes of the content, as many as were asked for (all of it when it is small enough). */
  head: Buffer;
  /** Whether `head` is the whole content. */
  whole: boolean;
}

/**
 * Streams the objects `oids` out of one `git cat-file --batch`, in order,
 * hashing every byte and keeping up to `keep(oid)` of them. The consumer's
 * pace holds git back (the pipe fills), so a repository of large blobs is
 * never all in memory. Missing objects are reported to `missing`.
 */
export async function* catFile(repo: string, oids: readonly string[], keep: (oid: string) => number, missing: (oid: string) => void = () => {}): AsyncGenerator<ObjectContent> {
  if (oids.length === 0) return;
  const child = spawnGit(repo, ["cat-file", "--batch"]);
  const done = finished(child, "git cat-file --batch");
  done.catch(() => {});
  child.stdin.on("error", () => {});
  child.stdin.end(oids.join("\n") + "\n");
  let header: Buffer[] = [];
  let current: { oid: string; type: string; size: number; remaining: number; hash: ReturnType<typeof createHash>; head: Buffer[]; kept: number; keep: number } | undefined;
  let skipNewline = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let i = 0;
      while (i < chunk.length) {
        if (skipNewline) {
          skipNewline = false;
          if (chunk[i] === 0x0a) i++;
          continue;
        }
        if (current === undefined) {
          const nl = chunk.indexOf(0x0a, i);
          if (nl < 0) {
            header.push(chunk.subarray(i));
            break;
          }
          header.push(chunk.subarray(i, nl));
          i = nl + 1;
          const line = Buffer.concat(header).toString("utf8");
          header = [];
          const parts = line.split(" ");
          if (parts.length === 2 && (parts[1] === "missing" || parts[1] === "ambiguous")) {
            missing(parts[0]!);
            continue;
          }
          if (parts.length !== 3 || !/^\d+$/.test(parts[2]!)) throw new GitError(`git cat-file --batch gave an unexpected line: ${JSON.stringify(line.slice(0, 200))}`);
          const size = Number(parts[2]);
          current = { oid: parts[0]!, type: parts[1]!, size, remaining: size, hash: createHash("sha256"), head: [], kept: 0, keep: keep(parts[0]!) };
        }
        const take = Math.min(current.remaining, chunk.length - i);
        const piece = chunk.subarray(i, i + take);
        current.hash.update(piece);
        if (current.kept < current.keep) {
          const part = piece.subarray(0, current.keep - current.kept);
          current.head.push(Buffer.from(part));
          current.kept += part.length;
        }
        current.remaining -= take;
        i += take;
        if (current.remaining === 0) {
          const c = current;
          current = undefined;
          skipNewline = true;
          yield { oid: c.oid, type: c.type, size: c.size, sha256: c.hash.digest("hex"), head: Buffer.concat(c.head), whole: c.kept === c.size };
        }
      }
    }
  } finally {
    // A consumer that stops early leaves git with output nobody reads.
    if (child.exitCode === null) child.kill();
  }
  await done;
}

/** `git cat-file --batch-check` for many objects at once: id → type and size (absent when missing). */
export async function objectSizes(repo: string, oids: readonly string[]): Promise<Map<string, { type: string; size: number }>> {
  const out = new Map<string, { type: string; size: number }>();
  if (oids.length === 0) return out;
  const child = spawnGit(repo, ["cat-file", "--batch-check"]);
  const done = finished(child, "git cat-file --batch-check");
  child.stdin.on("error", () => {});
  child.stdin.end(oids.join("\n") + "\n");
  for await (const line of tokens(child.stdout, 0x0a)) {
    const [oid, type, size] = line.split(" ");
    if (size !== undefined && /^\d+$/.test(size)) out.set(oid!, { type: type!, size: Number(size) });
  }
  await done;
  return out;
}
