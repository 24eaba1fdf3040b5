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
// kept as a bare mirror in a cache folder and fetched before each use.

import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
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
import { type JobRequest, type Store, type Workspace, StoreError } from "./store.js";

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
    return await store.createJobRequest({ workspace: workspace.name, backend: input.backend, commit, actions: [...input.actions], force: input.force, requester: input.requester });
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
  let repo: Repository;
  try {
    repo = await Repository.open(ws.repo, options.repoCache ?? path.join(os.tmpdir(), "enclave-jobserver-repos"));
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

  static async open(repo: string, cacheDir: string): Promise<Repository> {
    const shown = redact(repo);
    const url = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repo) || SCP_LIKE.test(repo);
    if (!url) {
      const dir = path.resolve(repo);
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
    if (r.code !== 0) throw new GitError(`the repository ${redact(url)} cannot be read: ${gitMessage(r.stderr, url)}`);
    return;
  }
  await fs.promises.mkdir(cacheDir, { recursive: true });
  // Cloned beside its place and moved there whole, so a clone cut short is never taken for a mirror.
  const partial = `${dir}.${process.pid}-${randomBytes(4).toString("hex")}.partial`;
  try {
    const r = await git(cacheDir, ["clone", "--mirror", "--quiet", "--", url, partial], 300_000);
    if (r.code !== 0) throw new GitError(`the repository ${redact(url)} cannot be read: ${gitMessage(r.stderr, url)}`);
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
function redact(repo: string): string {
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
  if (repo !== undefined) text = text.split(repo).join(redact(repo));
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
