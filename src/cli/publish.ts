// `enclave publish`: the one way released files reach a study's repository
// (an operator's command). For an approved publish request it checks every
// file's bytes against the sha256 its release listed, commits them under
// released_outputs/<name> on the workspace's branch of a local clone, records
// the commit in the job server's store and its audit log, and says how to
// push: it never pushes.
//
// The user's checkout is never touched. The commit is built with git's
// plumbing in a temporary index (hash-object -w, read-tree, update-index,
// write-tree, commit-tree), and only the branch's ref moves, by a
// compare-and-swap (update-ref NEW OLD) so that a commit made meanwhile is
// never lost. A dirty working tree is refused all the same, so that the
// operator sees exactly what the publication adds. Hooks are switched off:
// nothing in the repository's own configuration runs.
//
// Why so strict (the seeds): a study's repository becomes public, and git
// keeps every byte that ever reached it; results go there only after output
// checking, and only by this path.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Command } from "commander";
import { AuditError, AuditLog, type JsonObject } from "../audit/index.js";
import { type PublishRequest, ReleaseFolder, Store, StoreError, checkPublishTransition, restrictedMessage } from "../jobserver/index.js";
import { currentUser } from "../pipeline/metadata.js";
import { UsageError, UserError } from "./errors.js";

/** Where published files go in the repository. */
export const PUBLISHED_FOLDER = "released_outputs";

/** The request cannot be published as things are; the message says why and what to do. */
export class PublishRefused extends Error {
  override name = "PublishRefused";
  constructor(
    message: string,
    /** One line for each file that failed its check. */
    readonly problems: readonly string[] = [],
  ) {
    super(message);
  }
}

export interface PublishOptions {
  store: Store;
  audit: AuditLog;
  /** The job server's releases folder, where the files' bytes are kept. */
  releasesDir: string;
  /** The publish request's id. */
  request: string;
  /** A local clone of the workspace's repository (or the repository itself). */
  repo: string;
  /** Default: the workspace's branch. */
  branch?: string;
  /** Who is publishing, for the commit (when git has no identity) and the audit log. */
  actor: string;
}

export interface Published {
  request: PublishRequest;
  commit: string;
  branch: string;
  /** The repository's folder. */
  repo: string;
  files: { path: string; sha256: string }[];
  /** The worktrees that have the branch checked out: their index and files were left as they were. */
  checkedOutIn: string[];
  /** The remote to push to, if the repository has one. */
  remote: string | undefined;
  /** Why the audit entry is still in the job server's database rather than the log, if it is. */
  auditPending?: string;
}

/** Publishes an approved request (see the top of this file); every refusal is audited, and is a PublishRefused. */
export async function publishRequest(options: PublishOptions): Promise<Published> {
  try {
    return await publish(options);
  } catch (e) {
    if (e instanceof PublishRefused) {
      await options.store.recordAudit({
        actor: options.actor,
        action: "publish_request.publish_refuse",
        subject: `publish_request:${options.request}`,
        details: { repo: path.resolve(options.repo), reason: e.message, problems: [...e.problems] },
      });
      await options.store.flushAudit(options.audit);
    }
    throw e;
  }
}

async function publish(options: PublishOptions): Promise<Published> {
  const { store, audit, actor } = options;
  if (!/^[0-9a-f]{16}$/.test(options.request)) throw new PublishRefused(`--request ${JSON.stringify(options.request)} is not a publish request's id (16 hex digits, as the staff page shows it)`);
  const request = await store.getPublishRequest(options.request);
  if (!request) throw new PublishRefused(`there is no publish request ${options.request}`);
  try {
    checkPublishTransition(request.id, request.status, "published");
  } catch (e) {
    if (e instanceof StoreError) throw new PublishRefused(request.status === "published" ? `${e.message}, in commit ${request.commit} on branch ${request.branch}` : e.message);
    throw e;
  }
  const workspace = await store.getWorkspace(request.workspace);
  if (!workspace) throw new PublishRefused(`there is no workspace named ${request.workspace}`);
  if (workspace.restricted) {
    const open = await store.listIncidents({ workspace: workspace.name, open: true });
    throw new PublishRefused(restrictedMessage(workspace.name, open[open.length - 1] ?? { id: "(unknown)", opened: "" }, "nothing is published from it"));
  }

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "enclave-publish-"));
  try {
    const git = new Git(scratch);
    const repo = await openRepository(git, options.repo);
    await checkSameRepository(git, repo, workspace.repo, workspace.name);
    if (!repo.bare) {
      const dirty = (await git.run(repo.dir, ["status", "--porcelain=v1", "-z", "--untracked-files=normal"])).split("\0").filter((l) => l !== "");
      if (dirty.length > 0) {
        throw new PublishRefused(`the working tree of ${repo.dir} has changes (${dirty.slice(0, 5).map((l) => JSON.stringify(l.slice(3))).join(", ")}${dirty.length > 5 ? `, and ${dirty.length - 5} more` : ""}): commit or stash them first, so that the publication adds nothing else`);
      }
    }

    const branch = options.branch ?? workspace.branch;
    if ((await git.try(repo.dir, ["check-ref-format", "--branch", branch])).code !== 0) throw new PublishRefused(`${JSON.stringify(branch)} is not a branch name`);
    const ref = `refs/heads/${branch}`;
    const parent = await git.try(repo.dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
    if (parent.code !== 0) throw new PublishRefused(`branch ${branch} does not exist in ${repo.dir}: fetch it first (git -C ${repo.dir} fetch origin ${branch}:${branch})`);
    const old = parent.stdout.trim();

    // Every file, checked before anything is written: a release's bytes that changed in the folder are never published.
    const folder = new ReleaseFolder(options.releasesDir);
    const problems: string[] = [];
    const files: { path: string; sha256: string; bytes: Buffer }[] = [];
    for (const f of request.files) {
      const target = `${PUBLISHED_FOLDER}/${f.name}`;
      const badName = nameProblem(f.name);
      if (badName !== undefined) {
        problems.push(`${JSON.stringify(f.name)} of release ${f.release}: ${badName}`);
        continue;
      }
      let bytes: Buffer;
      try {
        bytes = await fs.promises.readFile(folder.path(f.stored));
      } catch (e) {
        problems.push(`${JSON.stringify(f.name)} of release ${f.release}: its bytes cannot be read from ${folder.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        continue;
      }
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      if (sha256 !== f.sha256 || bytes.length !== f.size) {
        problems.push(`${JSON.stringify(f.name)} of release ${f.release}: the releases folder holds ${bytes.length} bytes hashing to ${sha256}, not the ${f.size} bytes hashing to ${f.sha256} that were released`);
        continue;
      }
      files.push({ path: target, sha256, bytes });
    }
    if (problems.length > 0) {
      throw new PublishRefused(`publish request ${request.id} was not published: ${problems.length === 1 ? "a file does" : `${problems.length} files do`} not match what was released; nothing was written to ${repo.dir}`, problems);
    }

    // The commit, in a temporary index: the user's index and files stay as they are.
    const index = { GIT_INDEX_FILE: path.join(scratch, "index") };
    await git.run(repo.dir, ["read-tree", old], { env: index });
    for (const f of files) {
      const oid = (await git.run(repo.dir, ["hash-object", "-w", "--no-filters", "--stdin"], { input: f.bytes })).trim();
      const added = await git.try(repo.dir, ["update-index", "--add", "--cacheinfo", `100644,${oid},${f.path}`], { env: index });
      if (added.code !== 0) throw new PublishRefused(`${f.path} cannot be added on branch ${branch}: ${firstLine(added.stderr)} (is there a file where a folder of that path should be?)`);
    }
    const tree = (await git.run(repo.dir, ["write-tree"], { env: index })).trim();
    const identity = (await git.try(repo.dir, ["var", "GIT_COMMITTER_IDENT"])).code === 0 ? {} : fallbackIdentity(actor);
    const message = commitMessage(request, files);
    const commit = (await git.run(repo.dir, ["commit-tree", tree, "-p", old, "-F", "-"], { input: Buffer.from(message), env: identity })).trim();
    const moved = await git.try(repo.dir, ["update-ref", "-m", `enclave publish: publish request ${request.id}`, ref, commit, old]);
    if (moved.code !== 0) throw new PublishRefused(`branch ${branch} of ${repo.dir} moved while the commit was being made (${firstLine(moved.stderr)}): run the command again`);

    let published: PublishRequest;
    try {
      // The entry is recorded with the change, in its transaction; moved into the log below.
      published = await store.markPublishRequestPublished(request.id, { commit, repo: repo.dir, branch, by: actor }, {
        actor,
        action: "publish_request.publish",
        subject: `publish_request:${request.id}`,
        details: {
          workspace: request.workspace,
          project: request.project,
          releases: [...new Set(request.files.map((f) => f.release))],
          requester: request.requester,
          approver: request.decidedBy,
          repo: repo.dir,
          branch,
          parent: old,
          commit,
          files: files.map((f) => ({ path: f.path, sha256: f.sha256 })),
        } satisfies JsonObject,
      });
    } catch (e) {
      // The store must agree with the repository: the branch goes back to where it was, only if nothing moved it since.
      const back = await git.try(repo.dir, ["update-ref", "-m", `enclave publish: undo publish request ${request.id}`, ref, old, commit]);
      const undone = back.code === 0 ? `branch ${branch} was set back to ${old}` : `branch ${branch} could not be set back to ${old} (${firstLine(back.stderr)}): reset it by hand`;
      throw new PublishRefused(`the commit ${commit} could not be recorded for publish request ${request.id} (${(e as Error).message}); ${undone}`);
    }
    // Published and recorded: a log that refuses the entry now leaves it waiting in the store, not the publication undone.
    const auditPending = await store.flushAudit(audit).then(
      () => undefined,
      (e: unknown) => (e as Error).message,
    );
    return {
      auditPending,
      request: published,
      commit,
      branch,
      repo: repo.dir,
      files: files.map((f) => ({ path: f.path, sha256: f.sha256 })),
      checkedOutIn: await worktreesOn(git, repo.dir, ref),
      remote: await pushRemote(git, repo.dir),
    };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Why a released file's name cannot be a path under released_outputs/, or undefined if it can. Airlock checked it; this is the last line. */
function nameProblem(name: string): string | undefined {
  const control = [...name].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127);
  if (name === "" || name.startsWith("/") || name.includes("\\") || control) return "not a relative path without backslashes or control characters";
  for (const segment of name.split("/")) {
    if (segment === "" || segment === "." || segment === "..") return 'a path with an empty, "." or ".." segment';
    if (segment.toLowerCase() === ".git") return 'a path through a ".git" folder';
  }
  return undefined;
}

/** The message names the releases, the request, who asked and who approved, and each file's sha256, so the history says where every byte came from. */
function commitMessage(request: PublishRequest, files: readonly { path: string; sha256: string }[]): string {
  const releases = new Map<string, { request: string; releasedBy: string; released: string }>();
  for (const f of request.files) releases.set(f.release, { request: f.request, releasedBy: f.releasedBy, released: f.released });
  const lines = [
    `Publish released outputs of workspace ${request.workspace} (publish request ${request.id})`,
    "",
    `Publish request ${request.id}: asked for by ${request.requester}, approved by ${request.decidedBy ?? "(unknown)"} on ${request.decided ?? "(unknown)"}.`,
    ...[...releases].map(([id, r]) => `Release ${id}: Airlock request ${r.request}, released by ${r.releasedBy} on ${r.released}.`),
    "",
    "Files (sha256):",
    ...files.map((f) => `  ${f.sha256}  ${f.path}`),
    "",
  ];
  return lines.join("\n");
}

function fallbackIdentity(actor: string): NodeJS.ProcessEnv {
  const name = actor.trim() === "" ? "enclave publish" : actor;
  const email = `${name.replace(/[^A-Za-z0-9._-]/g, "_")}@localhost`;
  return { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
}

interface OpenRepository {
  dir: string;
  bare: boolean;
}

async function openRepository(git: Git, repo: string): Promise<OpenRepository> {
  if (!fs.statSync(repo, { throwIfNoEntry: false })?.isDirectory()) throw new PublishRefused(`--repo ${repo}: there is no such folder`);
  const r = await git.try(path.resolve(repo), ["rev-parse", "--is-bare-repository", "--absolute-git-dir"]);
  if (r.code !== 0) throw new PublishRefused(`--repo ${repo} is not a git repository (git says: ${firstLine(r.stderr)})`);
  const [bare, gitDir] = r.stdout.trim().split("\n");
  if (bare === "true") return { dir: gitDir!, bare: true };
  const top = (await git.run(path.resolve(repo), ["rev-parse", "--show-toplevel"])).trim();
  return { dir: top, bare: false };
}

/**
 * Refuses a repository that is not the workspace's: a study's released files
 * must never land in another study's repository, which may become public
 * sooner. It is the workspace's when it is that folder, or when one of its
 * remotes is the workspace's repository.
 */
async function checkSameRepository(git: Git, repo: OpenRepository, workspaceRepo: string, workspace: string): Promise<void> {
  const remotes = await remoteUrls(git, repo.dir);
  const same = (a: string, b: string): boolean => comparable(a) === comparable(b);
  if (path.isAbsolute(workspaceRepo)) {
    const real = (p: string): string => {
      try {
        return fs.realpathSync.native(p);
      } catch {
        return path.resolve(p);
      }
    };
    const want = real(workspaceRepo);
    const here = [real(repo.dir), ...remotes.filter((u) => path.isAbsolute(u)).map(real)];
    if (here.some((h) => h === want || h === real(path.join(want, ".git")))) return;
  } else if (remotes.some((u) => same(u, workspaceRepo))) return;
  throw new PublishRefused(
    `${repo.dir} is not workspace ${workspace}'s repository (${workspaceRepo}): ${remotes.length === 0 ? "it has no remote" : `its remotes are ${remotes.join(", ")}`}; publish into a clone of the workspace's own repository`,
  );
}

/** An address as it can be compared: no credentials, no trailing "/" or ".git", the scheme and host in lower case. */
function comparable(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?:[^/@]*@)?([^/]*)(.*)$/.exec(url.trim());
  const text = m ? `${m[1]!.toLowerCase()}${m[2]!.toLowerCase()}${m[3]}` : url.trim();
  return text.replace(/\/+$/, "").replace(/\.git$/, "");
}

async function remoteUrls(git: Git, dir: string): Promise<string[]> {
  const r = await git.try(dir, ["config", "--get-regexp", "^remote\\..*\\.url$"]);
  return r.stdout
    .split("\n")
    .map((l) => l.slice(l.indexOf(" ") + 1))
    .filter((u) => u !== "");
}

async function pushRemote(git: Git, dir: string): Promise<string | undefined> {
  const names = (await git.try(dir, ["remote"])).stdout.split("\n").filter((n) => n !== "");
  return names.includes("origin") ? "origin" : names[0];
}

async function worktreesOn(git: Git, dir: string, ref: string): Promise<string[]> {
  const out: string[] = [];
  let current: string | undefined;
  for (const line of (await git.try(dir, ["worktree", "list", "--porcelain"])).stdout.split("\n")) {
    if (line.startsWith("worktree ")) current = line.slice("worktree ".length);
    else if (line === `branch ${ref}` && current !== undefined) out.push(current);
  }
  return out;
}

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim().replace(/^(fatal|error): /, ""))
      .find((l) => l !== "") ?? "git gave no reason"
  );
}

/** git, run with arguments (never a shell), the user's hooks and fsmonitor off, and nothing in the environment pointing it elsewhere. */
class Git {
  private readonly env: NodeJS.ProcessEnv;
  private readonly hooks: string;

  constructor(scratch: string) {
    this.hooks = path.join(scratch, "no-hooks");
    fs.mkdirSync(this.hooks);
    this.env = { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" };
    for (const name of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE"]) delete this.env[name];
  }

  try(dir: string, args: readonly string[], options: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn("git", ["-c", `core.hooksPath=${this.hooks}`, "-c", "core.fsmonitor=false", "-C", dir, ...args], { env: { ...this.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => out.push(c));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.on("error", (e: NodeJS.ErrnoException) => reject(e.code === "ENOENT" ? new PublishRefused("git is not installed (or not on the PATH): enclave publish needs it") : e));
      child.stdin.on("error", () => {});
      child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr }));
      child.stdin.end(options.input);
    });
  }

  async run(dir: string, args: readonly string[], options: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
    const r = await this.try(dir, args, options);
    if (r.code !== 0) throw new PublishRefused(`git ${args[0]} failed in ${dir}: ${firstLine(r.stderr)}`);
    return r.stdout;
  }
}

// ---------------------------------------------------------------------------
// The command

interface CommandOptions {
  db?: string;
  auditDb?: string;
  releasesDir?: string;
  request: string;
  repo: string;
  branch?: string;
  actor?: string;
}

export function registerPublish(program: Command): void {
  program
    .command("publish")
    .description("Commit the files of an approved publish request to a local clone of the workspace's repository, under released_outputs/ (an operator's command; it never pushes).")
    .requiredOption("--request <id>", "the approved publish request (its id, as the job server's staff page shows it)")
    .requiredOption("--repo <path>", "a local clone of the workspace's repository (its working tree must be clean)")
    .option("--branch <branch>", "the branch to commit on (default: the workspace's branch)")
    .option("--db <url>", "the job server's database: a SQLite file, sqlite:///path.db, or a postgresql:// URL (default: $ENCLAVE_DB, else ./enclave.db)")
    .option("--audit-db <url>", "the job server's audit log (default: $ENCLAVE_AUDIT_DB, else ./enclave-audit.db)")
    .option("--releases-dir <dir>", "the job server's releases folder (default: enclave-releases beside a SQLite --db, else ./enclave-releases)")
    .option("--actor <name>", "who is publishing, for the audit log (default: this account's user name)")
    .addHelpText(
      "after",
      "\nEvery file's bytes are checked against the sha256 of its release first; any difference and\n" +
        "nothing is written. The commit is made with git's plumbing in a temporary index, so the\n" +
        "checkout's index and files are left as they are; only the branch moves. Its message names\n" +
        "the releases, the publish request, who asked and who approved, and each file's sha256.\n" +
        "\nExample:\n  enclave publish --request 0123456789abcdef --repo ../study --db enclave.db --audit-db enclave-audit.db",
    )
    .action(async (opts: CommandOptions) => {
      const dbUrl = opts.db ?? process.env.ENCLAVE_DB ?? "enclave.db";
      let audit: AuditLog | undefined;
      let store: Store | undefined;
      let done: Published;
      try {
        // The log is opened first, so that nothing is published that could not then be logged.
        audit = await AuditLog.open(opts.auditDb ?? process.env.ENCLAVE_AUDIT_DB ?? "enclave-audit.db");
        store = await Store.open(dbUrl);
        const releasesDir = opts.releasesDir ?? (store.file ? path.join(path.dirname(store.file), "enclave-releases") : "enclave-releases");
        done = await publishRequest({ store, audit, releasesDir, request: opts.request, repo: opts.repo, actor: opts.actor ?? currentUser(), ...(opts.branch !== undefined ? { branch: opts.branch } : {}) });
      } catch (e) {
        if (e instanceof PublishRefused) throw (/^--request /.test(e.message) ? new UsageError(e.message) : new UserError(e.message, e.problems));
        if (e instanceof StoreError || e instanceof AuditError) throw new UserError(e.message);
        throw e;
      } finally {
        await store?.close();
        await audit?.close();
      }
      process.stdout.write(describe(done));
    });
}

function describe(p: Published): string {
  const lines = [
    `Published request ${p.request.id} of workspace ${p.request.workspace}: commit ${p.commit} on branch ${p.branch} of ${p.repo}, with ${p.files.length} ${p.files.length === 1 ? "file" : "files"}:`,
    ...p.files.map((f) => `  ${f.path}  sha256 ${f.sha256}`),
    "",
    "Nothing was pushed. Look at the commit first:",
    `  git -C ${p.repo} show --stat ${p.commit}`,
    "then push the branch:",
    `  git -C ${p.repo} push ${p.remote ?? "<remote>"} ${p.branch}`,
  ];
  for (const dir of p.checkedOutIn) {
    lines.push(`Branch ${p.branch} is checked out in ${dir}; its index and files were left as they were. Bring the published files in with:`, `  git -C ${dir} checkout HEAD -- ${PUBLISHED_FOLDER}`);
  }
  if (p.auditPending !== undefined) {
    lines.push(`Warning: the audit entry could not be moved into the audit log (${p.auditPending}); it is kept in the job server's database: run \`enclave admin flush-audit\` once the log is reachable.`);
  }
  return lines.join("\n") + "\n";
}
