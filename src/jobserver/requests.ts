// Job requests as the job server accepts them: everything that can be checked
// before anything runs is checked here, so that a request that could not succeed
// is refused at once with every reason, naming the file, line, table or
// permission: the commit is on the workspace's branch, project.yaml at that
// commit is valid and names the actions, the definitions of its database actions
// load (in the isolated loader) and stay within the project's analysis scope,
// and its codelists are not stale.
//
// The repository is read with the git command (arguments, never a shell). A
// workspace's repo is a folder on this machine, read where it is, or a URL,
// kept as a bare mirror in a cache folder and fetched before each use; either
// only where the job server allows repositories to be (see WHERE REPOSITORIES
// MAY BE, below), and only while no incident restricts the workspace.

import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Action,
  type Project,
  DefinitionError,
  ProjectError,
  RUN_ALL,
  checkCodelists,
  dependenciesOf,
  expandRunAll,
  formatProblem,
  isDatabaseAction,
  loadDefinition,
  loadMeasuresDefinition,
  parseProject,
} from "../pipeline/index.js";
import { type AnalysisScope, type Policy, analysisScope, checkDefinitionAgainstScope, loadPolicy } from "../policy/index.js";
import { type Dataset, type Measures, INTERVAL_END, INTERVAL_START, denominatorPopulation, makeDataset, parameterSubstituter } from "../querymodel/index.js";
import { type Audited, type JobRequest, type Store, type Workspace, StoreError, restrictedMessage } from "./store.js";

/** A request refused before it was stored; `problems` are whole sentences. */
export class JobRequestError extends Error {
  override name = "JobRequestError";
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

export interface RepoOptions {
  /** Where the mirrors of repositories given by URL are kept; default `<tmpdir>/enclave-jobserver-repos`. */
  repoCache?: string;
  /** Where workspaces' repositories may be (see repoAllowed); default DEFAULT_ALLOWED_REPOS. */
  allowedRepos?: readonly string[];
}

export interface SubmitInput extends RepoOptions {
  store: Store;
  /** The workspace's name. */
  workspace: string;
  backend: string;
  /** A full or abbreviated commit; default: the tip of the workspace's branch. */
  commit?: string;
  /** Action names, or ["run_all"]. */
  actions: readonly string[];
  force: boolean;
  requester: string;
  /** The committed allowlists (default: loadPolicy()). */
  policy?: Policy;
  /** How the definitions are run (see LoadOptions.sandbox); "auto" by default. */
  sandbox?: "auto" | "required" | "off";
  /** The audit entry recorded with the request, in its transaction. */
  audit?: Audited<JobRequest>;
}

/** Validates the request (see the top of this file) and stores it pending; a JobRequestError lists every problem found. */
export async function submitJobRequest(input: SubmitInput): Promise<JobRequest> {
  const { store } = input;
  const problems: string[] = [];
  const refuse = () => new JobRequestError(problems);

  const workspace = await store.getWorkspace(input.workspace);
  if (!workspace) throw new JobRequestError([`there is no workspace named ${input.workspace}`]);
  if (workspace.archived) problems.push(`workspace ${workspace.name} is archived: it takes no new job requests`);
  const project = (await store.getProject(workspace.project))!;
  const ongoing = project.status === "ongoing";
  if (!ongoing) problems.push(`project ${project.number} (${project.name}) is ${project.status}, not ongoing: only an ongoing project runs jobs`);
  if (!(await store.listBackends()).some((b) => b.name === input.backend)) problems.push(`there is no backend named ${input.backend}`);
  if (input.actions.length === 0) problems.push(`the request names no action: name the actions to run, or ${RUN_ALL}`);
  const commitGiven = input.commit?.trim();
  if (commitGiven !== undefined && !COMMITISH.test(commitGiven)) {
    problems.push(`${JSON.stringify(input.commit)} is not a commit: give its hash, in full or its first 7 or more hex digits`);
    throw refuse();
  }
  // The repository of a restricted workspace is being cleaned of a leak: nothing in it is read until the incident is closed.
  if (workspace.restricted) {
    const open = await store.listIncidents({ workspace: workspace.name, open: true });
    const oldest = open[open.length - 1];
    problems.push(oldest ? restrictedMessage(workspace.name, oldest, "it takes no job requests") : `workspace ${workspace.name} is restricted: it takes no job requests until staff close its incident`);
    throw refuse();
  }

  const opened = await openWorkspace(workspace, input, commitGiven);
  if (typeof opened === "string") {
    problems.push(opened);
    throw refuse();
  }
  const { repo, commit, text } = opened;
  let parsed: Project;
  let requested: string[];
  try {
    parsed = parseProject(text, "project.yaml");
    requested = expandRunAll(parsed, input.actions);
  } catch (e) {
    if (!(e instanceof ProjectError)) throw e;
    problems.push(...e.problems.map((p) => formatProblem("project.yaml", p)));
    throw refuse();
  }

  // Dependencies may be reused rather than rerun, but whether they can run is
  // known only inside; so they are held to the same rules as the requested actions.
  const needed = dependenciesOf(parsed, requested).map((name) => parsed.actions.get(name)!);
  const database = needed.filter(isDatabaseAction);
  if (database.length > 0) {
    const scope = ongoing ? analysisScope({ number: project.number, category: project.category, status: project.status }, input.policy ?? loadPolicy()) : undefined;
    const work = await fs.promises.mkdtemp(path.join(os.tmpdir(), "enclave-request-"));
    try {
      const files = path.join(work, "files");
      await repo.extract(commit, files, path.join(work, "commit.tar"));
      const codelists = checkCodelists(files);
      if (!codelists.ok) {
        problems.push(...codelists.problems.map((p) => `stale codelists: ${p}`));
        problems.push(`database actions (${database.map((a) => a.name).join(", ")}) do not run with stale codelists: ${codelists.hint ?? "update them and commit the result"}`);
      }
      const checks = await Promise.all(database.map((action) => checkDatabaseAction(action, files, { scope, project: project.number, sandbox: input.sandbox ?? "auto" })));
      problems.push(...checks.flat());
    } finally {
      await fs.promises.rm(work, { recursive: true, force: true });
    }
  }
  if (problems.length > 0) throw refuse();

  try {
    return await store.createJobRequest({ workspace: workspace.name, backend: input.backend, commit, actions: [...input.actions], force: input.force, requester: input.requester }, input.audit);
  } catch (e) {
    // Something changed since the checks (the workspace archived meanwhile, say).
    if (e instanceof StoreError) throw new JobRequestError([e.message]);
    throw e;
  }
}

/** The commit at the tip of the workspace's branch and the actions its project.yaml names (for the request form). */
export async function workspaceActions(store: Store, workspace: string, options: RepoOptions = {}): Promise<{ commit: string; actions: string[] }> {
  const ws = await store.getWorkspace(workspace);
  if (!ws) throw new JobRequestError([`there is no workspace named ${workspace}`]);
  const opened = await openWorkspace(ws, options, undefined);
  if (typeof opened === "string") throw new JobRequestError([opened]);
  try {
    return { commit: opened.commit, actions: [...parseProject(opened.text, "project.yaml").actions.keys()] };
  } catch (e) {
    if (e instanceof ProjectError) throw new JobRequestError(e.problems.map((p) => formatProblem("project.yaml", p)));
    throw e;
  }
}

// ---------------------------------------------------------------------------
// THE COMMIT

// A hash in full (SHA-1 or SHA-256) or abbreviated, as git abbreviates (7 at least, 4 at the very least).
const COMMITISH = /^[0-9a-fA-F]{4,64}$/;

/** The repository, the commit (checked to be on the branch) and project.yaml there; or why not, as one sentence. */
async function openWorkspace(ws: Workspace, options: RepoOptions, given: string | undefined): Promise<{ repo: Repository; commit: string; text: string } | string> {
  // Checked every time, not only when the workspace was made: the list may have changed, and so may a folder's links.
  const place = repoAllowed(ws.repo, options.allowedRepos ?? DEFAULT_ALLOWED_REPOS);
  if (!place.allowed) return `workspace ${ws.name}: ${place.message}`;
  let repo: Repository;
  try {
    repo = await Repository.open(ws.repo, options.repoCache ?? path.join(os.tmpdir(), "enclave-jobserver-repos"), place.folder);
  } catch (e) {
    if (e instanceof GitError) return e.message;
    throw e;
  }
  const tip = await repo.commit(`refs/heads/${ws.branch}`);
  if (tip === undefined) return `branch ${ws.branch} does not exist in ${repo.shown}`;
  let commit = tip;
  if (given !== undefined) {
    const found = await repo.commit(given.toLowerCase());
    if (found === undefined) return `commit ${given} does not exist in ${repo.shown} (or its abbreviation is ambiguous: give more of it)`;
    if (!(await repo.isAncestor(found, tip))) return `commit ${given} is not on branch ${ws.branch} of ${repo.shown}`;
    commit = found;
  }
  const text = await repo.show(commit, "project.yaml");
  if (text === undefined) return `there is no project.yaml at the top of ${repo.shown} at commit ${commit.slice(0, 7)}`;
  return { repo, commit, text };
}

class GitError extends Error {
  override name = "GitError";
}

// URLs git fetches from; `ext::` and the like (which run commands) are not among them.
const URL_SCHEMES = ["https:", "http:", "ssh:", "git:", "file:"];
const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/;

// One fetch of a mirror at a time in this process: git's own locks would make a second one fail.
const fetching = new Map<string, Promise<unknown>>();

class Repository {
  private constructor(
    /** The folder git reads (a working copy, a bare repository or a mirror). */
    private readonly dir: string,
    /** The repository as the workspace names it, without any password in a URL. */
    readonly shown: string,
  ) {}

  /** `folder`: for a repository on this machine, the real folder that repoAllowed checked, read rather than the name as given. */
  static async open(repo: string, cacheDir: string, folder?: string): Promise<Repository> {
    const shown = redactRepo(repo);
    const url = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repo) || SCP_LIKE.test(repo);
    if (!url) {
      const dir = folder ?? path.resolve(repo);
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new GitError(`the repository ${shown} cannot be read: there is no such folder`);
      const r = await git(dir, ["rev-parse", "--git-dir"]);
      if (r.code !== 0) throw new GitError(`the repository ${shown} cannot be read: ${gitMessage(r.stderr, repo)}`);
      return new Repository(dir, shown);
    }
    if (!SCP_LIKE.test(repo) && !URL_SCHEMES.includes(urlScheme(repo))) {
      throw new GitError(`the repository ${shown} cannot be read: Enclave fetches repositories over ${URL_SCHEMES.map((s) => s.slice(0, -1)).join(", ")} only`);
    }
    const dir = path.join(cacheDir, createHash("sha256").update(repo).digest("hex").slice(0, 24));
    const previous = fetching.get(dir) ?? Promise.resolve();
    const update = previous.catch(() => undefined).then(() => refreshMirror(repo, dir, cacheDir));
    fetching.set(dir, update);
    try {
      await update;
    } finally {
      if (fetching.get(dir) === update) fetching.delete(dir);
    }
    return new Repository(dir, shown);
  }

  /** The full hash of a commit named by a hash (or its start) or a ref; undefined if there is none. */
  async commit(name: string): Promise<string | undefined> {
    const r = await git(this.dir, ["rev-parse", "--verify", "--quiet", `${name}^{commit}`]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  async isAncestor(commit: string, of: string): Promise<boolean> {
    const r = await git(this.dir, ["merge-base", "--is-ancestor", commit, of]);
    if (r.code > 1) throw new GitError(`the repository ${this.shown} cannot be read: ${gitMessage(r.stderr)}`);
    return r.code === 0;
  }

  /** A file's text at a commit, or undefined if the commit has no such file. */
  async show(commit: string, file: string): Promise<string | undefined> {
    const r = await git(this.dir, ["cat-file", "blob", `${commit}:${file}`]);
    return r.code === 0 ? r.stdout : undefined;
  }

  /** Writes the commit's files into `into` (created), by way of a tar file at `tar`. */
  async extract(commit: string, into: string, tar: string): Promise<void> {
    const r = await git(this.dir, ["archive", "--format=tar", "-o", tar, commit]);
    if (r.code !== 0) throw new Error(`git archive of ${commit} in ${this.shown} failed: ${gitMessage(r.stderr)}`);
    await fs.promises.mkdir(into, { recursive: true });
    await run("tar", ["-x", "--no-same-owner", "-f", tar, "-C", into]);
    await dropLinksOutside(into, into);
  }
}

async function refreshMirror(url: string, dir: string, cacheDir: string): Promise<void> {
  if (fs.existsSync(path.join(dir, "HEAD"))) {
    const r = await git(dir, ["fetch", "--prune", "--quiet", "origin"], 120_000);
    if (r.code !== 0) throw new GitError(`the repository ${redactRepo(url)} cannot be read: ${gitMessage(r.stderr, url)}`);
    return;
  }
  await fs.promises.mkdir(cacheDir, { recursive: true });
  // Cloned beside its place and moved there whole, so a clone cut short is never taken for a mirror.
  const partial = `${dir}.${process.pid}-${randomBytes(4).toString("hex")}.partial`;
  try {
    const r = await git(cacheDir, ["clone", "--mirror", "--quiet", "--", url, partial], 300_000);
    if (r.code !== 0) throw new GitError(`the repository ${redactRepo(url)} cannot be read: ${gitMessage(r.stderr, url)}`);
    try {
      await fs.promises.rename(partial, dir);
    } catch (e) {
      // Another process made the mirror meanwhile: theirs serves as well.
      if (!fs.existsSync(path.join(dir, "HEAD"))) throw e;
    }
  } finally {
    await fs.promises.rm(partial, { recursive: true, force: true });
  }
}

function urlScheme(repo: string): string {
  try {
    return new URL(repo).protocol;
  } catch {
    return "";
  }
}

/** A URL without its password (or token), for messages. */
export function redactRepo(repo: string): string {
  return repo.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@]*@/, "$1***@");
}

/** git's complaint, on one line, without the URL's password. */
function gitMessage(stderr: string, repo?: string): string {
  let text = stderr
    .split("\n")
    .map((l) => l.trim().replace(/^(fatal|error|warning): /, ""))
    .filter((l) => l !== "")
    .slice(0, 2)
    .join("; ");
  if (repo !== undefined) text = text.split(repo).join(redactRepo(repo));
  return text || "git gave no reason";
}

const GIT_CONFIG = [
  // What a repository's own configuration could make git run, it may not.
  "-c",
  "core.fsmonitor=false",
  "-c",
  "protocol.ext.allow=never",
  "-c",
  "core.sshCommand=ssh -o BatchMode=yes",
];

function git(cwd: string, args: readonly string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Never wait for a password nobody will type; and a folder that is not a repository is not read as part of one above it.
    GIT_TERMINAL_PROMPT: "0",
    GIT_CEILING_DIRECTORIES: path.dirname(path.resolve(cwd)),
    LC_ALL: "C",
  };
  return new Promise((resolve, reject) => {
    execFile("git", [...GIT_CONFIG, "-C", cwd, ...args], { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error === null) return resolve({ code: 0, stdout, stderr });
      if (typeof error.code === "number") return resolve({ code: error.code, stdout, stderr });
      if (error.killed) return reject(new GitError(`git ${args[0]} did not finish within ${timeoutMs / 1000} s`));
      reject(new Error(`cannot run git (${error.message}): it must be installed for the job server to read repositories`));
    });
  });
}

function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024, encoding: "utf8" }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
      else resolve();
    });
  });
}

/** Removes symbolic links that lead out of the checkout: the loader must read nothing of this machine's through them. */
async function dropLinksOutside(root: string, dir: string): Promise<void> {
  for (const entry of await fs.promises.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await dropLinksOutside(root, p);
    } else if (entry.isSymbolicLink()) {
      const target = path.resolve(dir, await fs.promises.readlink(p));
      if (!isInside(root, target)) await fs.promises.unlink(p);
    }
  }
}

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

// ---------------------------------------------------------------------------
// WHERE REPOSITORIES MAY BE
//
// The job server reads a workspace's repository and the agent clones it, so
// whoever may create a workspace could otherwise point both at any folder or
// address those machines reach. Deny by default: the job server is told where
// repositories may be (allowedRepos), each place an address prefix
// (https://github.com/opensafely/) or an absolute folder (/srv/git/), and a
// repository must be at or under one of them. Told nothing, it takes
// https://github.com/ only. The rules, each with what it refuses under
// https://github.com/opensafely/ and /srv/git/:
//   - a place ends at a "/": https://github.com/opensafely-evil/x is not under it;
//   - an address is compared by its parts: scheme, host (with its port), user
//     and path, the path as written: https://github.com/%6Fpensafely/x is not;
//   - no password ever, and no user but on ssh (tokens hide there), where it
//     must be the place's own: https://token@github.com/opensafely/x;
//   - no "." or ".." segment, nor one that decodes to hold "/" or "\":
//     https://github.com/opensafely/../evil/x, .../opensafely/..%2Fevil;
//   - no query or fragment, and only https, http, ssh and git: ext::sh -c ...;
//   - the scp-like form is refused, as it names a path relative to a home
//     folder: git@github.com:opensafely/x (write ssh://git@github.com/...);
//   - a file:// address is a folder: only under a folder place: file:///etc/x;
//   - a folder must be absolute, and is compared after ".." and symbolic links
//     are resolved: /srv/git/../../etc, /srv/git/link-to-etc, study (relative).

/** Where repositories may be when the job server is told nothing: https addresses on GitHub. */
export const DEFAULT_ALLOWED_REPOS: readonly string[] = ["https://github.com/"];

/** Where a repository is: a folder on this machine, or an address by its parts. */
type Location = { kind: "folder"; dir: string } | { kind: "address"; scheme: string; host: string; user: string; path: string };
/** A place repositories may be, with the entry as it was given (for messages). */
type Place = Location & { given: string };

/** A list of places that cannot be used; the message names the entry and says what to write. */
export class RepoPlacesError extends Error {
  override name = "RepoPlacesError";
}

const ADDRESS = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(.*)$/s;
const ADDRESS_SCHEMES = ["https", "http", "ssh", "git"];

/** Reads a list of places (see above); throws a RepoPlacesError naming an entry that is neither. */
export function repoPlaces(entries: readonly string[]): Place[] {
  return entries.map((given) => {
    const bad = (why: string) => new RepoPlacesError(`the allowed repository location ${JSON.stringify(given)} ${why}: give an address prefix such as https://github.com/opensafely/, or an absolute folder such as /srv/git/`);
    if (given.trim() !== given || given === "") throw bad("is empty or has spaces around it");
    if (path.isAbsolute(given)) return { kind: "folder", dir: path.resolve(given), given };
    const parsed = parseAddress(given);
    if (typeof parsed === "string") throw bad(parsed);
    if (parsed.kind === "folder") return { ...parsed, given };
    // A place is a folder of addresses: "/opensafely" and "/opensafely/" mean the same, and neither takes /opensafely-evil.
    return { ...parsed, path: parsed.path.endsWith("/") ? parsed.path : `${parsed.path}/`, given };
  });
}

/**
 * Whether a workspace's repository is in one of the places; when it is a
 * folder on this machine, `folder` is its real path (links resolved), the one
 * to read. When not, `message` says why and lists the places.
 */
export function repoAllowed(repo: string, places: readonly string[]): { allowed: true; folder?: string } | { allowed: false; message: string } {
  const list = repoPlaces(places);
  const shown = redactRepo(repo);
  const refuse = (why: string) => ({
    allowed: false as const,
    message: `the repository ${shown} is not allowed: ${why}; this job server takes repositories from ${list.length === 0 ? "nowhere (no location is allowed)" : list.map((p) => p.given).join(", ")} only`,
  });
  let target: Location;
  if (path.isAbsolute(repo)) target = { kind: "folder", dir: path.resolve(repo) };
  else if (SCP_LIKE.test(repo)) return refuse("write it as an address, ssh://user@host/path, not user@host:path");
  else if (!ADDRESS.test(repo)) return refuse("it is neither an address (https://...) nor an absolute folder");
  else {
    const parsed = parseAddress(repo);
    if (typeof parsed === "string") return refuse(`it ${parsed}`);
    target = parsed;
  }
  if (target.kind === "folder") {
    if (repo.includes("\0")) return refuse("it holds a NUL character");
    const real = realFolder(target.dir);
    const within = list.some((p) => p.kind === "folder" && isInside(realFolder(p.dir), real));
    if (!within) return refuse(`${real === target.dir ? "it" : `it (really ${real})`} is under none of those places`);
    // Only a folder given as a folder is read from `real`; a file:// address is fetched as the address it is.
    return path.isAbsolute(repo) ? { allowed: true, folder: real } : { allowed: true };
  }
  const address = target;
  const matches = list.some(
    (p) =>
      p.kind === "address" &&
      p.scheme === address.scheme &&
      p.host === address.host &&
      p.user === address.user &&
      (address.path.startsWith(p.path) || `${address.path}/` === p.path),
  );
  return matches ? { allowed: true } : refuse("it is under none of those places");
}

/** An address as its parts, or a file:// address as its folder; a string says what is wrong with it. */
function parseAddress(text: string): Location | string {
  const m = ADDRESS.exec(text);
  if (!m) return "is not an address (scheme://host/path)";
  const [, rawScheme, authority, rawPath, rest] = m as unknown as [string, string, string, string, string];
  const scheme = rawScheme.toLowerCase();
  if (rest !== "") return "has a query or a fragment (? or #)";
  if (rawPath.includes("\\")) return "has a backslash in its path";
  for (const segment of rawPath.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return `has a path segment that is not valid percent-encoding (${JSON.stringify(segment)})`;
    }
    if (decoded === "." || decoded === ".." || decoded.includes("/") || decoded.includes("\\")) return `has a "." or ".." segment, or one that hides a "/" (${JSON.stringify(segment)})`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not an address that can be read";
  }
  if (scheme === "file") {
    if (authority !== "" && authority.toLowerCase() !== "localhost") return "is a file:// address on another host";
    try {
      return { kind: "folder", dir: path.resolve(fileURLToPath(url)) };
    } catch (e) {
      return `is not a file:// address of a folder (${(e as Error).message})`;
    }
  }
  if (!ADDRESS_SCHEMES.includes(scheme)) return `uses ${scheme}://, and only ${ADDRESS_SCHEMES.map((s) => `${s}://`).join(", ")} and file:// are taken`;
  if (url.password !== "" || (url.username !== "" && scheme !== "ssh")) return "carries credentials (a user or password before the host): give the address without them";
  if (url.hostname === "") return "names no host";
  return { kind: "address", scheme, host: url.host.toLowerCase(), user: url.username, path: rawPath };
}

/** The real path of a folder: symbolic links resolved as far as the path exists, the rest (".." already resolved) as written. */
function realFolder(dir: string): string {
  const missing: string[] = [];
  for (let at = path.resolve(dir); ; ) {
    try {
      return path.join(fs.realpathSync.native(at), ...missing);
    } catch {
      const up = path.dirname(at);
      if (up === at) return path.resolve(dir);
      missing.unshift(path.basename(at));
      at = up;
    }
  }
}

// ---------------------------------------------------------------------------
// DATABASE ACTIONS

interface ScopeCheck {
  /** Undefined for a project that is not ongoing: that is its problem, and nothing is granted to compare with. */
  scope: AnalysisScope | undefined;
  project: number;
  sandbox: "auto" | "required" | "off";
}

/** Every problem with one database action: its definition loads and asks for nothing outside the scope; SQL only where allowed. */
async function checkDatabaseAction(action: Action, dir: string, check: ScopeCheck): Promise<string[]> {
  const { run: command } = action;
  if (command.image === "sqlrunner") {
    if (check.scope === undefined || check.scope.sqlRunner) return [];
    return [`action ${action.name} (${command.image}:${command.version}): project ${check.project} may not use the SQL runner; only the internal project, listed in policy/allowlists/sqlrunner.yaml, may`];
  }
  const [sub, given] = command.command;
  if (given === undefined || given.startsWith("-")) return [`action ${action.name}: enclave:${command.version} ${sub} needs the path of its definition as its first argument`];
  const label = `action ${action.name} (${given})`;
  const file = path.resolve(dir, given);
  if (!isInside(dir, file)) return [`${label}: the definition is outside the repository`];
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) return [`${label}: there is no such file at this commit`];
  const params = paramsOf(command.command);
  if (typeof params === "string") return [`${label}: ${params}`];

  let datasets: Dataset[];
  try {
    const options = { params, studyDir: dir, sandbox: check.sandbox, print: () => undefined };
    datasets = sub === "generate-measures" ? measuresAsDatasets(await loadMeasuresDefinition(file, options)) : [await loadDefinition(file, options)];
  } catch (e) {
    // Its lines name the file (and line) already.
    if (e instanceof DefinitionError) return e.lines.map((line) => `action ${action.name}: ${line}`);
    throw e;
  }
  if (check.scope === undefined) return [];

  const missing = new Map<string, string>();
  const other = new Set<string>();
  for (const dataset of datasets) {
    const result = checkDefinitionAgainstScope(dataset, check.scope);
    if (result.ok) continue;
    for (const m of result.missing) missing.set(`${m.table}\n${m.permission}`, `${label}: table ${m.table} needs the permission ${m.permission}, which project ${check.project} does not have`);
    if (result.missing.length === 0) other.add(`${label}: ${result.message}`);
  }
  return [...missing.values(), ...other];
}

/** The `--param name=value` arguments of an enclave:v1 command, as the CLI reads them; or what is wrong with them. */
function paramsOf(args: readonly string[]): Record<string, string> | string {
  const params: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 1) {
    let value: string | undefined;
    if (args[i] === "--param") value = args[++i];
    else if (args[i]!.startsWith("--param=")) value = args[i]!.slice("--param=".length);
    else continue;
    const m = value === undefined ? null : /^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s.exec(value);
    if (m === null) return `--param needs name=value, not ${JSON.stringify(value ?? "")}`;
    if (Object.hasOwn(params, m[1]!)) return `--param ${m[1]} is given twice`;
    params[m[1]!] = m[2]!;
  }
  return params;
}

/**
 * Each measure as the dataset it amounts to for permissions: its denominator's
 * population and its numerator, denominator and groups as columns, the
 * interval's dates filled in (they choose no table).
 */
function measuresAsDatasets(m: Measures): Dataset[] {
  return m.measures.map((measure) => {
    const [start, end] = measure.intervals[0] ?? ["2000-01-01", "2000-01-01"];
    const fill = parameterSubstituter({ [INTERVAL_START]: start, [INTERVAL_END]: end });
    return makeDataset(fill(denominatorPopulation(measure.denominator)), [
      { name: "numerator", series: fill(measure.numerator) },
      { name: "denominator", series: fill(measure.denominator) },
      ...measure.groupBy.map((g, i) => ({ name: `group_${i}`, series: fill(g.series) })),
    ]);
  });
}
