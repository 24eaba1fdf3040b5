// A commit's files, from a workspace's repository, in a fresh folder. The
// agent keeps a bare mirror of each repository under its folder, so that a
// request fetches only what is new; the commit's files are then written out
// with `git archive`, which gives the tree as committed: no .git folder, no
// hooks, nothing of the mirror's configuration.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** A checkout that failed; the message says nothing of this machine, so it may go to the job server. */
export class CheckoutError extends Error {
  override name = "CheckoutError";
  constructor(
    message: string,
    /** What went wrong here, for the agent's own log. */
    readonly detail: string,
  ) {
    super(message);
  }
}

// Only these transports: git's ext:: and fd:: would run commands named in the URL.
const PROTOCOLS = ["-c", "protocol.allow=never", ...["file", "https", "http", "ssh", "git"].flatMap((p) => ["-c", `protocol.${p}.allow=always`])];

export class Repositories {
  // One fetch at a time per mirror: two would fight over its refs' lock files.
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Writes the files of `commit` of `repo` into `target` (which must not exist yet). */
  async checkout(repo: string, commit: string, target: string, signal?: AbortSignal): Promise<void> {
    if (repo === "" || repo.startsWith("-")) throw new CheckoutError("The workspace's repository is not a path or URL the agent can fetch", `repository ${JSON.stringify(repo)}`);
    if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) throw new CheckoutError("The commit is not a full commit hash", `commit ${JSON.stringify(commit)}`);
    const mirror = path.join(this.dir, `${createHash("sha256").update(repo).digest("hex").slice(0, 16)}.git`);
    const previous = this.busy.get(mirror) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(() => this.fetch(repo, mirror, commit, signal));
    this.busy.set(mirror, mine);
    try {
      await mine;
    } finally {
      if (this.busy.get(mirror) === mine) this.busy.delete(mirror);
    }
    fs.mkdirSync(target, { recursive: false });
    await extract(mirror, commit, target, signal);
  }

  private async fetch(repo: string, mirror: string, commit: string, signal?: AbortSignal): Promise<void> {
    if (!fs.existsSync(path.join(mirror, "HEAD"))) {
      const init = await git(["init", "--quiet", "--bare", mirror], signal);
      if (init.code !== 0) throw new CheckoutError("Internal error", `git init --bare ${mirror} failed: ${init.stderr.trim()}`);
    }
    const has = async () => (await git(["--git-dir", mirror, "cat-file", "-e", `${commit}^{commit}`], signal)).code === 0;
    if (await has()) return;
    const fetched = await git(["--git-dir", mirror, ...PROTOCOLS, "fetch", "--quiet", "--prune", "--force", "--no-tags", repo, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], signal);
    if (fetched.code !== 0) throw new CheckoutError("Could not fetch the workspace's repository", `git fetch from ${repo} failed: ${fetched.stderr.trim()}`);
    if (await has()) return;
    // Not on any branch or tag any more (a force-push): servers that allow it still give it by its hash.
    await git(["--git-dir", mirror, ...PROTOCOLS, "fetch", "--quiet", "--no-tags", repo, commit], signal);
    if (!(await has())) throw new CheckoutError("The commit was not found in the workspace's repository", `${commit} is not in ${repo}`);
  }
}

interface Ran {
  code: number | null;
  stderr: string;
}

/** The environment git runs with: never a prompt for a password, and none of the agent's secrets. */
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "/bin/false", SSH_ASKPASS: "/bin/false" };
  delete env.ENCLAVE_BACKEND_TOKEN;
  delete env.DATABASE_URL;
  return env;
}

function git(args: string[], signal?: AbortSignal): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { stdio: ["ignore", "ignore", "pipe"], env: gitEnv(), ...(signal === undefined ? {} : { signal }) });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-4096)));
    child.on("error", (e) => {
      if (signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : e);
      else reject(new CheckoutError("Internal error", `cannot run git: ${e.message}`));
    });
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

/** `git archive <commit> | tar -x -C <target>`. */
function extract(mirror: string, commit: string, target: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const opts = { env: gitEnv(), ...(signal === undefined ? {} : { signal }) };
    const archive = spawn("git", ["--git-dir", mirror, "archive", "--format=tar", commit], { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    // Files belong to the agent, whatever owner and mode bits the archive records beyond its umask.
    const tar = spawn("tar", ["-x", "--no-same-owner", "--no-same-permissions", "-C", target], { ...opts, stdio: ["pipe", "ignore", "pipe"] });
    archive.stdout!.pipe(tar.stdin!);
    let errors = "";
    for (const s of [archive.stderr!, tar.stderr!]) s.setEncoding("utf8").on("data", (c: string) => (errors = (errors + c).slice(-4096)));
    const codes: (number | null)[] = [];
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      if (signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : e);
      else reject(new CheckoutError("Internal error", `extracting ${commit}: ${e.message}`));
    };
    archive.on("error", fail);
    tar.on("error", fail);
    // tar stopping early must not leave git writing into a closed pipe unnoticed.
    tar.stdin!.on("error", () => {});
    const closed = (code: number | null) => {
      codes.push(code);
      if (codes.length < 2 || failed) return;
      if (codes.every((c) => c === 0)) resolve();
      else fail(new Error(`git archive | tar failed: ${errors.trim()}`));
    };
    archive.on("close", closed);
    tar.on("close", closed);
  });
}
