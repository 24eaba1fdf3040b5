// What the job server does, once for both of its faces: the operations
// (log in, request and cancel jobs, create and archive workspaces, change a
// project's status, grant and revoke roles, manage backends, download released
// files, ask for released files to be published and decide on it, close
// incidents), each checking its permission through `can`, making the change and
// appending it to the audit log; then the JSON API over them (/api/v1), the
// agent protocol (/api/agent) and the backend services' protocol (/api/backend,
// Airlock's), as docs/api.md describes them. pages.ts renders the same
// operations as HTML.

import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { JsonObject } from "../audit/index.js";
import { LEVEL4_EXTENSIONS } from "../pipeline/index.js";
import type { Policy } from "../policy/index.js";
import { type Ctx, HttpError, Router } from "./http.js";
import { type GlobalRole, type Permission, type Principal, type ProjectRole, type ProjectStatus, GLOBAL_ROLES, PROJECT_ROLES, PROJECT_STATUSES, can, isGlobalRole, isProjectRole } from "./permissions.js";
import { JobRequestError, redactRepo, repoAllowed, submitJobRequest } from "./requests.js";
import {
  type Backend,
  type Incident,
  type Job,
  type JobReport,
  type JobRequest,
  type JobRequestFilter,
  type NewRelease,
  type Project,
  type PublishRequest,
  type PublishStatus,
  type Release,
  type ReleaseFileEntry,
  type ReleasedFile,
  type RequestStatus,
  type AuditNote,
  type Store,
  type User,
  type Workspace,
  JOB_STATUSES,
  PUBLISH_STATUSES,
  REQUEST_STATUSES,
  StoreError,
} from "./store.js";

/** What the handlers share: the state (which records the audit entries, see Store.serial) and the clock. */
export interface App {
  store: Store;
  policy?: Policy;
  clock: () => Date;
  sessionTtlSeconds: number;
  claims: ClaimWaiters;
  /** The public job log's pages, shared by every visitor for a moment. */
  log: JobLogCache;
  /** Aborted when the server closes, which ends every long poll at once. */
  closing: AbortSignal;
  /** Where released files' bytes are kept. */
  releases: ReleaseFolder;
  /** Where workspaces' repositories may be (requests.ts, repoAllowed). */
  allowedRepos: readonly string[];
}

// ---------------------------------------------------------------------------
// Waking agents: a claim that found nothing waits for a request created in this
// process (notify), or for the next look at the store, as another process may
// have created one.

export class ClaimWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private readonly generation = new Map<string, number>();

  /** Counts requests created for the backend; a waiter that saw an older count does not wait. */
  seen(backend: string): number {
    return this.generation.get(backend) ?? 0;
  }

  notify(backend: string): void {
    this.generation.set(backend, this.seen(backend) + 1);
    for (const wake of [...(this.waiting.get(backend) ?? [])]) wake();
  }

  /** Resolves on notify, after `ms`, or when the signal aborts, whichever is first. */
  wait(backend: string, since: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.seen(backend) !== since || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiting.get(backend) ?? new Set();
      this.waiting.set(backend, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.waiting.delete(backend);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

// ---------------------------------------------------------------------------
// The public job log is the busiest page and the same for everyone, so each of
// its pages is read from the store at most once per `ttlMs`: concurrent visitors
// share one read, and every change made through this server empties the cache
// at once. Changes made by other processes show within ttlMs.

export interface JobRequestPage {
  jobRequests: JobRequest[];
  /** Where the next page starts (pass as `before`); null on the last page. */
  next: string | null;
}

export class JobLogCache {
  private readonly entries = new Map<string, { at: number; page: Promise<JobRequestPage> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 500,
  ) {}

  invalidate(): void {
    this.entries.clear();
  }

  get(key: string, load: () => Promise<JobRequestPage>): Promise<JobRequestPage> {
    const now = performance.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.page;
    const page = load();
    if (this.ttlMs <= 0) return page;
    this.entries.delete(key);
    this.entries.set(key, { at: now, page });
    // A failed read is not kept: the next visitor tries again.
    page.catch(() => this.entries.get(key)?.page === page && this.entries.delete(key));
    // The oldest entry goes first (a Map keeps insertion order).
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return page;
  }
}

// ---------------------------------------------------------------------------
// Loading, with 404s that name what is missing

const IDENTIFIER = /^[0-9a-f]{16}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function projectNumber(text: string): number {
  if (!/^[1-9]\d{0,9}$/.test(text)) throw new HttpError(404, `there is no project ${JSON.stringify(text)}: projects are numbered 1, 2, ...`);
  return Number(text);
}

export async function loadProject(app: App, number: number): Promise<Project> {
  const project = await app.store.getProject(number);
  if (!project) throw new HttpError(404, `there is no project ${number}`);
  return project;
}

export async function loadWorkspace(app: App, name: string): Promise<{ workspace: Workspace; project: Project }> {
  const workspace = NAME.test(name) ? await app.store.getWorkspace(name) : undefined;
  if (!workspace) throw new HttpError(404, `there is no workspace named ${JSON.stringify(name)}`);
  return { workspace, project: await loadProject(app, workspace.project) };
}

export async function loadJobRequest(app: App, identifier: string): Promise<JobRequest> {
  const request = IDENTIFIER.test(identifier) ? await app.store.getJobRequest(identifier) : undefined;
  if (!request) throw new HttpError(404, `there is no job request ${JSON.stringify(identifier)}`);
  return request;
}

export async function loadJob(app: App, identifier: string): Promise<Job> {
  const job = IDENTIFIER.test(identifier) ? await app.store.getJob(identifier) : undefined;
  if (!job) throw new HttpError(404, `there is no job ${JSON.stringify(identifier)}`);
  return job;
}

/**
 * Who may see a project's page, members and workspaces: whoever holds any of
 * these over it. Both project roles grant release.view, so every member sees
 * their project, also once it has finished; OutputCheckers (release.view) and
 * ServiceAdministrators (project.create) see every project. The job log itself
 * is public and needs none of this.
 */
export const VIEW_PROJECT: readonly Permission[] = ["release.view", "output.view_unreleased", "project.manage", "project.create", "project.edit_roles"];

export function mayViewProject(principal: Principal | undefined, project: Project): boolean {
  return principal !== undefined && VIEW_PROJECT.some((p) => can(principal, p, project));
}

export async function requireViewProject(ctx: Ctx, project: Project): Promise<Principal> {
  return ctx.authorize(VIEW_PROJECT, project, "see the project");
}

/**
 * The store's refusals as HTTP, by their kind. Its first methods give every
 * refusal the kind "invalid", so their two other kinds are told by the wording
 * those methods use.
 */
export function fromStoreError(e: unknown): never {
  if (!(e instanceof StoreError)) throw e;
  if (e.kind === "not_found" || /^there is no /.test(e.message)) throw new HttpError(404, e.message);
  if (e.kind === "conflict" || / already exists$/.test(e.message)) throw new HttpError(409, e.message);
  throw new HttpError(400, e.message);
}

async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    return fromStoreError(e);
  }
}

/** An audit entry, to go with a change into the store's outbox (see Store.serial). */
function note(who: string, action: string, subject: string, details: JsonObject = {}): AuditNote {
  return { actor: who, action, subject, details };
}

/** Records an entry that goes with no change (a refusal, a read). */
async function audit(app: App, who: string, action: string, subject: string, details: JsonObject = {}): Promise<void> {
  await app.store.recordAudit(note(who, action, subject, details));
}

// ---------------------------------------------------------------------------
// Logging in: one password check for the login form and for the backend
// services (Airlock), so that both share one throttle. A guess made through
// Airlock counts against the account exactly as one made on the form.

export const LOGIN_WINDOW_MINUTES = 15;
export const MAX_FAILURES_PER_USER = 5;
export const MAX_FAILURES_PER_ADDRESS = 20;

export interface LoginAttempt {
  username: string;
  password: string;
  /** Where it comes from, for the per-address count and the log: the browser's address, or the backend a service asks through. */
  address: string;
  /** Who asked, for failures (no user is known then): "anonymous" for the form, the backend for its services. */
  actor: string;
  /** Added to the audit entries (the backend, for a login through one). */
  details?: JsonObject;
}

/**
 * The user, if the password is theirs and neither the account nor the address
 * has failed too often of late. Otherwise, once the failure is in the audit
 * log, an HttpError: 400 (nothing given), 401 (wrong username or password, the
 * same answer and the same scrypt work for an unknown user) or 429 (too many
 * failures, even with the right password). Failures are counted in the
 * database, so the throttle holds across processes.
 */
export async function attemptLogin(app: App, attempt: LoginAttempt): Promise<User> {
  const { username, password, address } = attempt;
  const now = app.clock();
  const since = new Date(now.getTime() - LOGIN_WINDOW_MINUTES * 60_000).toISOString();
  // Keys are case-folded so that ALICE and alice share one count.
  const userKey = `user:${username.toLowerCase()}`;
  const addressKey = `address:${address}`;
  const failure = (reason: string) => note(attempt.actor, "login.failure", `user:${username}`, { address, reason, ...attempt.details });
  const refuse = async (reason: string, status: number, message: string, headers: Record<string, string> = {}): Promise<HttpError> => {
    await app.store.recordAudit(failure(reason));
    return new HttpError(status, message, {}, headers);
  };
  if (username === "" || password === "") throw await refuse("empty", 400, "Give your username and your password.");
  const [userFailures, addressFailures] = await Promise.all([app.store.loginFailures(userKey, since), app.store.loginFailures(addressKey, since)]);
  if (userFailures >= MAX_FAILURES_PER_USER || addressFailures >= MAX_FAILURES_PER_ADDRESS) {
    // The count drops as failures leave the window; the whole window is the longest wait.
    const retry = new Date(now.getTime() + LOGIN_WINDOW_MINUTES * 60_000);
    const who = userFailures >= MAX_FAILURES_PER_USER ? `this account (${MAX_FAILURES_PER_USER} in ${LOGIN_WINDOW_MINUTES} minutes)` : `this address (${MAX_FAILURES_PER_ADDRESS} in ${LOGIN_WINDOW_MINUTES} minutes)`;
    const when = retry.toISOString().slice(11, 16);
    throw await refuse("throttled", 429, `Too many failed logins for ${who}. Try again after ${when} UTC (in ${LOGIN_WINDOW_MINUTES} minutes).`, { "Retry-After": String(LOGIN_WINDOW_MINUTES * 60) });
  }
  const user = await app.store.checkPassword(username, password);
  if (!user) {
    await app.store.recordLoginFailure(userKey, since);
    await app.store.recordLoginFailure(addressKey, since, failure("wrong username or password"));
    throw new HttpError(401, "The username or the password is wrong.");
  }
  // Only the account's count: clearing the address's would let one good login reset an attacker's guesses at others.
  await app.store.clearLoginFailures(userKey, note(user.username, "login", `user:${user.username}`, { address, ...attempt.details }));
  return user;
}

// ---------------------------------------------------------------------------
// The operations

export interface RunInput {
  workspace: string;
  backend: string;
  commit?: string;
  actions: readonly string[];
  force: boolean;
}

/** Validates and stores a job request; every refusal (permission aside) is a 422 listing each problem, and is audited. */
export async function requestJobs(app: App, ctx: Ctx, input: RunInput): Promise<JobRequest> {
  const { workspace, project } = await loadWorkspace(app, input.workspace);
  const principal = await ctx.authorize("job.run", project, `run jobs in workspace ${workspace.name}`);
  const problems: string[] = [];
  if (workspace.archived) problems.push(`workspace ${workspace.name} is archived: it takes no new jobs`);
  if (input.actions.length === 0) problems.push("choose at least one action, or run_all");
  const backends = await app.store.userBackends(principal.username);
  if (!backends.includes(input.backend)) {
    problems.push(backends.length === 0 ? `${principal.username} may run jobs on no backend: ask a staff member for a backend membership` : `${principal.username} may not run jobs on backend ${JSON.stringify(input.backend)}: choose one of ${backends.join(", ")}`);
  }
  const refuse = async (list: readonly string[]): Promise<never> => {
    await audit(app, principal.username, "job_request.refuse", `workspace:${workspace.name}`, { backend: input.backend, commit: input.commit ?? null, actions: [...input.actions], force: input.force, problems: [...list] });
    throw new HttpError(422, list.length === 1 ? `the job request was refused: ${list[0]}` : `the job request was refused, for ${list.length} reasons`, { problems: [...list] });
  };
  if (problems.length > 0) return refuse(problems);
  let request: JobRequest;
  try {
    request = await submitJobRequest({
      audit: (r) => note(principal.username, "job_request.create", `job_request:${r.identifier}`, { workspace: r.workspace, project: r.project, backend: r.backend, commit: r.commit, actions: r.actions, force: r.force }),
      store: app.store,
      workspace: workspace.name,
      backend: input.backend,
      commit: input.commit,
      actions: input.actions,
      force: input.force,
      requester: principal.username,
      policy: app.policy,
      allowedRepos: app.allowedRepos,
    });
  } catch (e) {
    if (e instanceof JobRequestError) return refuse(e.problems);
    if (e instanceof StoreError) return refuse([e.message]);
    throw e;
  }
  app.log.invalidate();
  app.claims.notify(request.backend);
  return request;
}

export async function cancelJobs(app: App, ctx: Ctx, identifier: string): Promise<JobRequest> {
  const before = await loadJobRequest(app, identifier);
  const project = await loadProject(app, before.project);
  const principal = await ctx.authorize("job.cancel", project, `cancel job request ${identifier}`);
  if (!["pending", "running"].includes(before.status)) throw new HttpError(409, `job request ${identifier} has already ${before.status === "cancelled" ? "been cancelled" : before.status}`);
  const after = await guarded(() => app.store.cancelJobRequest(identifier, (a) => note(principal.username, "job_request.cancel", `job_request:${identifier}`, { from: before.status, to: a.status, cancel_requested: a.cancelRequested })));
  app.log.invalidate();
  return after;
}

export async function createWorkspace(app: App, ctx: Ctx, number: number, input: { name: string; repo: string; branch: string }): Promise<Workspace> {
  const project = await loadProject(app, number);
  const principal = await ctx.authorize("workspace.create", project);
  // Deny by default: a workspace is a way to make the job server and the agent read a repository.
  const place = repoAllowed(input.repo, app.allowedRepos);
  if (!place.allowed) {
    await audit(app, principal.username, "workspace.refuse", `project:${number}`, { name: input.name, repo: redactRepo(input.repo), reason: place.message });
    throw new HttpError(400, place.message);
  }
  return guarded(() => app.store.createWorkspace({ project: number, ...input }, (w) => note(principal.username, "workspace.create", `workspace:${w.name}`, { project: number, repo: w.repo, branch: w.branch })));
}

export async function archiveWorkspace(app: App, ctx: Ctx, name: string, archived: boolean): Promise<Workspace> {
  const { project } = await loadWorkspace(app, name);
  const principal = await ctx.authorize("workspace.archive", project);
  return guarded(() => app.store.setWorkspaceArchived(name, archived, note(principal.username, archived ? "workspace.archive" : "workspace.unarchive", `workspace:${name}`, { project: project.number })));
}

/**
 * A project's status is the ServiceAdministrator's (project.create), never its
 * members': "access ends when a project finishes", and a member who could set
 * their finished project back to ongoing would get it back.
 */
export async function changeProjectStatus(app: App, ctx: Ctx, number: number, status: string): Promise<Project> {
  const project = await loadProject(app, number);
  const principal = await ctx.authorize("project.create", project, `change the status of project ${number}`);
  if (!(PROJECT_STATUSES as readonly string[]).includes(status)) throw new HttpError(400, `unknown project status ${JSON.stringify(status)}: use one of ${PROJECT_STATUSES.join(", ")}`);
  const { project: after } = await guarded(() => app.store.setProjectStatus(number, status as ProjectStatus, ({ previous, project: p }) => note(principal.username, "project.status", `project:${number}`, { from: previous, to: p.status })));
  return after;
}

export interface RoleChange {
  username: string;
  role: string;
  /** For a project role. */
  project?: number;
}

/**
 * Global roles are part of managing users (user.manage, the
 * StaffAreaAdministrator's); project roles need project.edit_roles (the
 * ServiceAdministrator's). Nobody changes their own roles: a second person must,
 * so no one can raise their own access or lock themselves out unnoticed.
 */
async function checkRoleChange(app: App, ctx: Ctx, change: RoleChange, verb: string): Promise<{ principal: Principal; projectRole: boolean }> {
  const principal = await ctx.requirePrincipal();
  const projectRole = isProjectRole(change.role);
  if (!projectRole && !isGlobalRole(change.role)) throw new HttpError(400, `unknown role ${JSON.stringify(change.role)}: the global roles are ${GLOBAL_ROLES.join(", ")}; the project roles ${PROJECT_ROLES.join(", ")}`);
  if (projectRole && change.project === undefined) throw new HttpError(400, `${change.role} is a project role: say which project`);
  if (!projectRole && change.project !== undefined) throw new HttpError(400, `${change.role} is a global role: it takes no project`);
  if (projectRole) await ctx.authorize("project.edit_roles", await loadProject(app, change.project!), `${verb} project roles`);
  else await ctx.authorize("user.manage", undefined, `${verb} global roles`);
  if (change.username === principal.username) throw new HttpError(403, `${principal.username} may not change their own roles: another administrator must`);
  if (!(await app.store.getUser(change.username))) throw new HttpError(404, `there is no user named ${JSON.stringify(change.username)}`);
  return { principal, projectRole };
}

export async function grantRole(app: App, ctx: Ctx, change: RoleChange): Promise<void> {
  const { principal, projectRole } = await checkRoleChange(app, ctx, change, "grant");
  const entry = note(principal.username, "role.grant", `user:${change.username}`, projectRole ? { role: change.role, project: change.project! } : { role: change.role });
  if (projectRole) await guarded(() => app.store.addMember(change.project!, change.username, [change.role as ProjectRole], entry));
  else await guarded(() => app.store.grantGlobalRole(change.username, change.role as GlobalRole, entry));
}

export async function revokeRole(app: App, ctx: Ctx, change: RoleChange): Promise<void> {
  const { principal, projectRole } = await checkRoleChange(app, ctx, change, "revoke");
  const entry = note(principal.username, "role.revoke", `user:${change.username}`, projectRole ? { role: change.role, project: change.project! } : { role: change.role });
  if (projectRole) await guarded(() => app.store.removeMemberRoles(change.project!, change.username, [change.role as ProjectRole], entry));
  else await guarded(() => app.store.revokeGlobalRole(change.username, change.role as GlobalRole, entry));
}

export async function createBackend(app: App, ctx: Ctx, name: string): Promise<{ backend: Backend; token: string }> {
  const principal = await ctx.authorize("backend.manage");
  return guarded(() => app.store.createBackend(name, note(principal.username, "backend.create", `backend:${name}`)));
}

export async function rotateBackendToken(app: App, ctx: Ctx, name: string): Promise<string> {
  const principal = await ctx.authorize("backend.manage");
  return guarded(() => app.store.rotateBackendToken(name, note(principal.username, "backend.rotate_token", `backend:${name}`)));
}

/** BackendMembership: which backends a user may run jobs on. */
export async function addBackendMember(app: App, ctx: Ctx, backend: string, username: string): Promise<void> {
  const principal = await ctx.authorize("backend.manage");
  await guarded(() => app.store.addBackendMember(backend, username, note(principal.username, "backend.add_member", `backend:${backend}`, { user: username })));
}

/** A new API token for the user asking; the old one stops working. Shown once. */
export async function rotateApiToken(app: App, ctx: Ctx): Promise<string> {
  const principal = await ctx.requirePrincipal();
  return app.store.rotateApiToken(principal.username, note(principal.username, "api_token.rotate", `user:${principal.username}`));
}

// ---------------------------------------------------------------------------
// Reading request parameters

export const PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;

/** The filter and page of a job request list, from the query string; unknown values are refused, not ignored. */
export function jobRequestQuery(query: URLSearchParams): { filter: JobRequestFilter; limit: number; before?: string } {
  const filter: JobRequestFilter = {};
  const get = (key: string): string | undefined => {
    const v = query.get(key)?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const project = get("project");
  if (project !== undefined) {
    if (!/^[1-9]\d{0,9}$/.test(project)) throw new HttpError(400, `project=${JSON.stringify(project)}: a project is given by its number`);
    filter.project = Number(project);
  }
  for (const key of ["workspace", "backend", "requester"] as const) {
    const v = get(key);
    if (v === undefined) continue;
    if (!NAME.test(v)) throw new HttpError(400, `${key}=${JSON.stringify(v)} is not a ${key} name`);
    filter[key] = v;
  }
  const status = get("status");
  if (status !== undefined) {
    if (!(REQUEST_STATUSES as readonly string[]).includes(status)) throw new HttpError(400, `status=${JSON.stringify(status)}: use one of ${REQUEST_STATUSES.join(", ")}`);
    filter.status = status as RequestStatus;
  }
  const limitText = get("limit");
  let limit = PAGE_SIZE;
  if (limitText !== undefined) {
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_PAGE_SIZE) throw new HttpError(400, `limit=${JSON.stringify(limitText)}: give a whole number from 1 to ${MAX_PAGE_SIZE}`);
    limit = Number(limitText);
  }
  const before = get("before");
  if (before !== undefined && !IDENTIFIER.test(before)) throw new HttpError(400, `before=${JSON.stringify(before)} is not a job request identifier (16 hex digits)`);
  return before === undefined ? { filter, limit } : { filter, limit, before };
}

/** One page of requests, newest first, and where the next page starts: one query, asking for one row more than it shows. */
export function jobRequestPage(app: App, query: URLSearchParams): Promise<JobRequestPage> {
  const { filter, limit, before } = jobRequestQuery(query);
  const key = JSON.stringify([filter.project, filter.workspace, filter.backend, filter.requester, filter.status, limit, before]);
  return app.log.get(key, async () => {
    const rows = await guarded(() => app.store.listJobRequests(filter, before === undefined ? { limit: limit + 1 } : { limit: limit + 1, before }));
    const page = rows.slice(0, limit);
    return { jobRequests: page, next: rows.length > limit ? page[page.length - 1]!.identifier : null };
  });
}

function field(body: Record<string, unknown>, key: string, where: string): string;
function field(body: Record<string, unknown>, key: string, where: string, optional: true): string | undefined;
function field(body: Record<string, unknown>, key: string, where: string, optional = false): string | undefined {
  const v = body[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string" || v.trim() === "") throw new HttpError(400, `${where}: "${key}" must be a non-empty string`);
  return v.trim();
}

function stringList(body: Record<string, unknown>, key: string, where: string, max = 1000): string[] {
  const v = body[key];
  if (!Array.isArray(v) || v.length > max || !v.every((x) => typeof x === "string")) throw new HttpError(400, `${where}: "${key}" must be a list of at most ${max} strings`);
  return v as string[];
}

function flag(body: Record<string, unknown>, key: string, where: string): boolean {
  const v = body[key] ?? false;
  if (typeof v !== "boolean") throw new HttpError(400, `${where}: "${key}" must be true or false`);
  return v;
}

function optionalProject(body: Record<string, unknown>, where: string): number | undefined {
  const v = body.project;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) throw new HttpError(400, `${where}: "project" must be a project number`);
  return v;
}

// ---------------------------------------------------------------------------
// The JSON API

async function userDetails(app: App, username: string): Promise<Record<string, unknown>> {
  const user = await app.store.getUser(username);
  if (!user) throw new HttpError(404, `there is no user named ${JSON.stringify(username)}`);
  const principal = await app.store.principal(username);
  return {
    user,
    globalRoles: principal.globalRoles,
    projectRoles: Object.entries(principal.projectRoles).map(([project, roles]) => ({ project: Number(project), roles })),
    backends: await app.store.userBackends(username),
  };
}

export function registerApi(router: Router, app: App): void {
  const v1 = "/api/v1";

  router.get(`${v1}/job-requests`, async (ctx) => ctx.json(await jobRequestPage(app, ctx.query)));

  router.get(`${v1}/job-requests/:id`, async (ctx) => {
    const jobRequest = await loadJobRequest(app, ctx.params.id!);
    ctx.json({ jobRequest, jobs: await app.store.listJobs(jobRequest.identifier) });
  });

  router.post(`${v1}/job-requests`, async (ctx) => {
    const where = "POST /api/v1/job-requests";
    const body = await ctx.jsonBody();
    const request = await requestJobs(app, ctx, {
      workspace: field(body, "workspace", where),
      backend: field(body, "backend", where),
      commit: field(body, "commit", where, true),
      actions: stringList(body, "actions", where),
      force: flag(body, "force", where),
    });
    ctx.json({ jobRequest: request }, 201, { Location: `${v1}/job-requests/${request.identifier}` });
  });

  router.post(`${v1}/job-requests/:id/cancel`, async (ctx) => ctx.json({ jobRequest: await cancelJobs(app, ctx, ctx.params.id!) }));

  router.get(`${v1}/jobs/:id`, async (ctx) => ctx.json({ job: await loadJob(app, ctx.params.id!) }));

  router.get(`${v1}/me`, async (ctx) => {
    const principal = await ctx.requirePrincipal();
    ctx.json(await userDetails(app, principal.username));
  });

  router.get(`${v1}/projects`, async (ctx) => {
    const principal = await ctx.requirePrincipal();
    ctx.json({ projects: (await app.store.listProjects()).filter((p) => mayViewProject(principal, p)) });
  });

  router.get(`${v1}/projects/:number`, async (ctx) => {
    const project = await loadProject(app, projectNumber(ctx.params.number!));
    await requireViewProject(ctx, project);
    ctx.json({ project, members: await app.store.listMembers(project.number), workspaces: await app.store.listWorkspaces(project.number) });
  });

  router.post(`${v1}/projects/:number/status`, async (ctx) => {
    const body = await ctx.jsonBody();
    const project = await changeProjectStatus(app, ctx, projectNumber(ctx.params.number!), field(body, "status", `POST ${ctx.path}`));
    ctx.json({ project });
  });

  router.post(`${v1}/projects/:number/workspaces`, async (ctx) => {
    const where = `POST ${ctx.path}`;
    const body = await ctx.jsonBody();
    const workspace = await createWorkspace(app, ctx, projectNumber(ctx.params.number!), { name: field(body, "name", where), repo: field(body, "repo", where), branch: field(body, "branch", where) });
    ctx.json({ workspace }, 201, { Location: `${v1}/workspaces/${workspace.name}` });
  });

  router.get(`${v1}/workspaces/:name`, async (ctx) => {
    const { workspace, project } = await loadWorkspace(app, ctx.params.name!);
    await requireViewProject(ctx, project);
    ctx.json({ workspace, project, incidents: workspace.restricted ? await app.store.listIncidents({ workspace: workspace.name, open: true }) : [] });
  });

  router.get(`${v1}/workspaces/:name/released`, async (ctx) => {
    const { workspace, files } = await releasedFiles(app, ctx, ctx.params.name!);
    ctx.json({
      workspace: workspace.name,
      files: files.map((f) => ({
        release: f.release,
        request: f.request,
        name: f.name,
        size: f.size,
        sha256: f.sha256,
        date: f.date,
        releasedBy: f.releasedBy,
        released: f.released,
        download: releasedFileUrl(`${v1}/releases`, f.release, f.name),
      })),
    });
  });

  router.get(`${v1}/releases/:id/file`, (ctx) => downloadReleasedFile(app, ctx));

  router.post(`${v1}/workspaces/:name/archive`, async (ctx) => {
    const body = await ctx.jsonBody();
    const archived = body.archived === undefined ? true : flag(body, "archived", `POST ${ctx.path}`);
    ctx.json({ workspace: await archiveWorkspace(app, ctx, ctx.params.name!, archived) });
  });

  router.get(`${v1}/users`, async (ctx) => {
    await ctx.authorize(["user.manage", "project.edit_roles"], undefined, "list users");
    ctx.json({ users: await app.store.listUsers() });
  });

  router.get(`${v1}/users/:name`, async (ctx) => {
    await ctx.authorize(["user.manage", "project.edit_roles"], undefined, "see users' roles");
    ctx.json(await userDetails(app, ctx.params.name!));
  });

  for (const [suffix, change] of [["roles", grantRole], ["roles/revoke", revokeRole]] as const) {
    router.post(`${v1}/users/:name/${suffix}`, async (ctx) => {
      const where = `POST ${ctx.path}`;
      const body = await ctx.jsonBody();
      const project = optionalProject(body, where);
      await change(app, ctx, project === undefined ? { username: ctx.params.name!, role: field(body, "role", where) } : { username: ctx.params.name!, role: field(body, "role", where), project });
      ctx.json(await userDetails(app, ctx.params.name!));
    });
  }

  router.get(`${v1}/backends`, async (ctx) => {
    await ctx.authorize("backend.manage");
    ctx.json({ backends: await app.store.listBackends() });
  });

  router.post(`${v1}/backends`, async (ctx) => {
    const body = await ctx.jsonBody();
    const created = await createBackend(app, ctx, field(body, "name", "POST /api/v1/backends"));
    ctx.json(created, 201);
  });

  router.post(`${v1}/backends/:name/rotate`, async (ctx) => {
    ctx.json({ token: await rotateBackendToken(app, ctx, ctx.params.name!) });
  });

  router.post(`${v1}/backends/:name/members`, async (ctx) => {
    const body = await ctx.jsonBody();
    await addBackendMember(app, ctx, ctx.params.name!, field(body, "user", `POST ${ctx.path}`));
    ctx.json({ backend: ctx.params.name!, user: body.user });
  });

  registerPublishingApi(router, app, v1);
}

// ---------------------------------------------------------------------------
// The agent protocol (docs/api.md, its first section)

/** The longest claim long poll, in seconds. */
export const MAX_CLAIM_WAIT = 30;
/** How often a waiting claim looks at the store again, for requests other processes created. */
export const CLAIM_POLL_MS = 500;
const RECOVER_MESSAGE = "the agent stopped while this job ran; request it again";

// The status codes an agent may report: those of docs/api.md and the others the
// pipeline reference names. A fixed set, as the codes are public and a free
// text there could carry data out.
const STATUS_CODES = new Set([
  "", "succeeded", "nonzero_exit", "unmatched_patterns", "dependency_failed", "internal_error", "cancelled_by_user", "killed_by_admin", "stale_codelists",
  "created", "waiting_on_dependencies", "waiting_on_workers", "waiting_on_db_workers", "paused", "waiting_db_maintenance", "preparing", "executing", "finalizing",
]);
const MAX_MESSAGE = 2000;

interface AgentCall {
  backend: Backend;
  agent: string;
  body: Record<string, unknown>;
  actor: string;
}

/** The backend a call comes from, by its token (the agents' and the backend services' calls alike); 401 otherwise. */
async function callingBackend(app: App, ctx: Ctx, who: string): Promise<Backend> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(ctx.req.headers.authorization ?? "");
  const name = ctx.req.headers["enclave-backend"];
  if (!m || typeof name !== "string" || name === "") throw new HttpError(401, `${who} sends Authorization: Bearer <backend token> and Enclave-Backend: <backend name>`);
  const backend = await app.store.authenticateBackend(name, m[1]!);
  if (!backend) throw new HttpError(401, `the token is not backend ${JSON.stringify(name)}'s current token (or there is no such backend)`);
  return backend;
}

async function agentCall(app: App, ctx: Ctx): Promise<AgentCall> {
  const backend = await callingBackend(app, ctx, "an agent");
  const body = await ctx.jsonBody();
  const agent = body.agent;
  if (typeof agent !== "string" || !NAME.test(agent)) throw new HttpError(400, `${ctx.path}: "agent" must be the agent's name (letters, digits, '.', '_', '-')`);
  return { backend, agent, body, actor: `agent:${backend.name}` };
}

/** The request, if it is this backend's (404) and held by this agent (409). */
async function heldRequest(app: App, call: AgentCall, identifier: string): Promise<JobRequest> {
  const request = IDENTIFIER.test(identifier) ? await app.store.getJobRequest(identifier) : undefined;
  if (!request || request.backend !== call.backend.name) throw new HttpError(404, `backend ${call.backend.name} has no job request ${JSON.stringify(identifier)}`);
  if (request.claimedBy !== call.agent) throw new HttpError(409, `job request ${identifier} is not held by agent ${call.agent}${request.claimedBy ? "" : " (nobody has claimed it)"}`);
  if (request.status !== "running") throw new HttpError(409, `job request ${identifier} has finished (${request.status})`);
  return request;
}

function isIsoOrNull(v: unknown): v is string | null {
  return v === null || (typeof v === "string" && v.length <= 40 && !Number.isNaN(Date.parse(v)));
}

function numberOrNull(v: unknown, integer: boolean): boolean {
  return v === null || v === undefined || (typeof v === "number" && Number.isFinite(v) && v >= 0 && (!integer || Number.isSafeInteger(v)));
}

function jobReports(value: unknown): JobReport[] {
  if (!Array.isArray(value) || value.length > 1000) throw new HttpError(400, `"jobs" must be a list of at most 1000 job reports`);
  return value.map((j: unknown, i) => {
    const at = `jobs[${i}]`;
    if (typeof j !== "object" || j === null || Array.isArray(j)) throw new HttpError(400, `${at} must be an object`);
    const r = j as Record<string, unknown>;
    if (typeof r.identifier !== "string" || !IDENTIFIER.test(r.identifier)) throw new HttpError(400, `${at}.identifier must be 16 hex digits`);
    if (typeof r.action !== "string" || r.action === "" || r.action.length > 200) throw new HttpError(400, `${at}.action must be the action's name`);
    if (typeof r.runCommand !== "string" || r.runCommand.length > 4000) throw new HttpError(400, `${at}.runCommand must be the action's run line`);
    if (typeof r.status !== "string" || !(JOB_STATUSES as readonly string[]).includes(r.status)) throw new HttpError(400, `${at}.status must be one of ${JOB_STATUSES.join(", ")}`);
    if (typeof r.statusCode !== "string" || !STATUS_CODES.has(r.statusCode)) throw new HttpError(400, `${at}.statusCode ${JSON.stringify(r.statusCode)} is not a status code: use one of ${[...STATUS_CODES].filter(Boolean).join(", ")} or ""`);
    if (typeof r.statusMessage !== "string" || r.statusMessage.length > MAX_MESSAGE) throw new HttpError(400, `${at}.statusMessage must be a string of at most ${MAX_MESSAGE} characters`);
    if (!isIsoOrNull(r.started)) throw new HttpError(400, `${at}.started must be an ISO 8601 time or null`);
    if (!isIsoOrNull(r.finished)) throw new HttpError(400, `${at}.finished must be an ISO 8601 time or null`);
    if (r.exitCode !== null && !(typeof r.exitCode === "number" && Number.isSafeInteger(r.exitCode))) throw new HttpError(400, `${at}.exitCode must be a whole number or null`);
    if (!numberOrNull(r.cpuSeconds, false)) throw new HttpError(400, `${at}.cpuSeconds must be a number of seconds or null`);
    if (!numberOrNull(r.memoryBytes, true)) throw new HttpError(400, `${at}.memoryBytes must be a whole number of bytes or null`);
    return {
      identifier: r.identifier,
      action: r.action,
      runCommand: r.runCommand,
      status: r.status as JobReport["status"],
      statusCode: r.statusCode,
      statusMessage: r.statusMessage,
      started: r.started,
      finished: r.finished,
      exitCode: r.exitCode as number | null,
      cpuSeconds: (r.cpuSeconds as number | null | undefined) ?? null,
      memoryBytes: (r.memoryBytes as number | null | undefined) ?? null,
    };
  });
}

async function task(app: App, request: JobRequest): Promise<Record<string, unknown>> {
  const { workspace, project } = await loadWorkspace(app, request.workspace);
  return {
    jobRequest: request.identifier,
    workspace: workspace.name,
    project: { number: project.number, name: project.name, category: project.category, status: project.status },
    repo: workspace.repo,
    branch: workspace.branch,
    commit: request.commit,
    actions: request.actions,
    force: request.force,
    requester: request.requester,
  };
}

export function registerAgent(router: Router, app: App): void {
  router.post("/api/agent/recover", async (ctx) => {
    const call = await agentCall(app, ctx);
    const failed = await guarded(() => app.store.recoverAgent(call.backend.name, call.agent, RECOVER_MESSAGE, (f) => note(call.actor, "agent.recover", `backend:${call.backend.name}`, { agent: call.agent, failed: f })));
    if (failed.length > 0) app.log.invalidate();
    ctx.json({ failed });
  });

  router.post("/api/agent/claim", async (ctx) => {
    const call = await agentCall(app, ctx);
    const wait = call.body.wait ?? 0;
    if (typeof wait !== "number" || !Number.isFinite(wait) || wait < 0) throw new HttpError(400, `/api/agent/claim: "wait" must be a number of seconds from 0 to ${MAX_CLAIM_WAIT}`);
    const deadline = Date.now() + Math.min(wait, MAX_CLAIM_WAIT) * 1000;
    // An agent that hung up must not be handed a request it will never see.
    const gone = new AbortController();
    ctx.res.once("close", () => gone.abort());
    const stop = AbortSignal.any([gone.signal, app.closing]);
    for (;;) {
      const since = app.claims.seen(call.backend.name);
      // Counting the backend's pending requests reads one index; the claim's fair choice
      // reads much more, so waiting agents make it only when there is something to choose.
      const pending = await app.store.countJobRequests({ backend: call.backend.name, status: "pending" });
      const claimed = (r: JobRequest | undefined) => r && note(call.actor, "job_request.claim", `job_request:${r.identifier}`, { agent: call.agent });
      const request = pending > 0 ? await app.store.claimJobRequest(call.backend.name, call.agent, claimed) : undefined;
      if (request) {
        app.log.invalidate();
        return ctx.json({ task: await task(app, request) });
      }
      const left = deadline - Date.now();
      if (left <= 0) return ctx.empty(204);
      if (!stop.aborted) await app.claims.wait(call.backend.name, since, Math.min(CLAIM_POLL_MS, left), stop);
      if (gone.signal.aborted) return ctx.abandon();
      if (app.closing.aborted) {
        // The server is stopping: the agent should ask again, elsewhere or later, on a new connection.
        ctx.res.setHeader("Connection", "close");
        return ctx.empty(204);
      }
    }
  });

  router.post("/api/agent/requests/:id/jobs", async (ctx) => {
    const call = await agentCall(app, ctx);
    const reports = jobReports(call.body.jobs);
    const request = await heldRequest(app, call, ctx.params.id!);
    const before = new Map((await app.store.listJobs(request.identifier)).map((j) => [j.identifier, j.status]));
    const changes: AuditNote[] = [];
    for (const r of reports) {
      const from = before.get(r.identifier) ?? null;
      if (from === r.status) continue;
      before.set(r.identifier, r.status);
      changes.push(note(call.actor, "job.status", `job:${r.identifier}`, { agent: call.agent, job_request: request.identifier, action: r.action, from, to: r.status, status_code: r.statusCode }));
    }
    const answer = await guarded(() => app.store.reportJobs(request.identifier, call.backend.name, call.agent, reports, changes));
    if (reports.length > 0) app.log.invalidate();
    ctx.json({ cancelRequested: answer.cancelRequested });
  });

  router.post("/api/agent/requests/:id/finish", async (ctx) => {
    const call = await agentCall(app, ctx);
    const status = call.body.status;
    if (status !== "succeeded" && status !== "failed" && status !== "cancelled") throw new HttpError(400, `${ctx.path}: "status" must be succeeded, failed or cancelled`);
    const message = call.body.message ?? "";
    if (typeof message !== "string" || message.length > MAX_MESSAGE) throw new HttpError(400, `${ctx.path}: "message" must be a string of at most ${MAX_MESSAGE} characters`);
    const request = await heldRequest(app, call, ctx.params.id!);
    const after = await guarded(() => app.store.finishJobRequest(request.identifier, call.backend.name, call.agent, { status, message }, (a) => note(call.actor, "job_request.finish", `job_request:${request.identifier}`, { agent: call.agent, status: a.status, message })));
    app.log.invalidate();
    ctx.json(after);
  });

  router.post("/api/agent/heartbeat", async (ctx) => {
    const call = await agentCall(app, ctx);
    const running = stringList(call.body, "running", ctx.path);
    ctx.json({ cancel: running.length === 0 ? [] : await app.store.cancellationsFor(call.backend.name, running) });
  });
}

// ---------------------------------------------------------------------------
// The backend services' protocol (docs/api.md): Airlock, inside a backend,
// logs people in with their job server account, re-checks their access, reads
// workspaces, and sends released files out. It authenticates as its backend,
// with the backend's token, like the agents.

/** The largest released file taken, in bytes; the JSON bodies keep their own, smaller limit. */
export const RELEASE_FILE_LIMIT = 64 * 1024 * 1024;
const MAX_RELEASE_FILES = 1000;
const MAX_TEXT = 200;

/**
 * What someone may see through the backend's services: the projects over
 * whose outputs they hold a permission (release.view or
 * output.view_unreleased), and those projects' workspaces. That is every
 * member, with either project role, also once the project has finished
 * (release.view outlives it; Airlock decides level 4 access from the roles and
 * the project's status, through the same `can`), and OutputCheckers, who
 * review every workspace's requests, over every project. The other global
 * roles hold no permission over outputs and see none: a ServiceAdministrator
 * sees projects on the job server to run them, which is not access to their
 * files.
 */
const SEE_OUTPUTS: readonly Permission[] = ["release.view", "output.view_unreleased"];

const projectShape = (p: Project) => ({ number: p.number, name: p.name, status: p.status, category: p.category });
const workspaceShape = (w: Workspace) => ({ name: w.name, project: w.project, archived: w.archived, repo: w.repo, branch: w.branch });
const userShape = (u: User) => ({ username: u.username, fullName: u.fullName });

export async function accessOf(app: App, username: string): Promise<JsonObject> {
  const principal = await app.store.principal(username);
  const projects = (await app.store.listProjects()).filter((p) => SEE_OUTPUTS.some((perm) => can(principal, perm, p)));
  const numbers = new Set(projects.map((p) => p.number));
  const workspaces = (await app.store.listWorkspaces()).filter((w) => numbers.has(w.project));
  return {
    globalRoles: [...principal.globalRoles],
    projectRoles: Object.entries(principal.projectRoles).map(([project, roles]) => ({ project: Number(project), roles: [...roles] })),
    projects: projects.map(projectShape),
    workspaces: workspaces.map(workspaceShape),
  };
}

function releaseShape(r: Release) {
  return {
    id: r.id,
    workspace: r.workspace,
    request: r.request,
    releasedBy: r.releasedBy,
    created: r.created,
    complete: r.completed !== null,
    completed: r.completed,
    files: r.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, date: f.date, received: f.received !== null })),
  };
}

/** Short free text (a request id, a user name): no control characters, which could forge lines in a log or a page. */
function shortText(v: unknown, what: string): string {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return String(v);
  if (typeof v !== "string" || v.trim() === "" || v.length > MAX_TEXT || hasControl(v)) throw new HttpError(400, `${what} must be a non-empty string of at most ${MAX_TEXT} characters, without control characters`);
  return v.trim();
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 || c === 127) return true;
  }
  return false;
}

/**
 * A released file's name: its path in the workspace. It is shown to members
 * and used for the download's file name, never as a path on this server (the
 * bytes are kept under their sha256), but a name that could climb out of the
 * workspace or hide characters is refused all the same; and only level 4 file
 * types are taken, as Airlock takes only those.
 */
function releaseFileName(v: unknown, at: string): string {
  if (typeof v !== "string" || v === "" || v.length > 1000) throw new HttpError(400, `${at}.name must be the file's path in the workspace (at most 1000 characters)`);
  if (v.startsWith("/") || v.includes("\\") || hasControl(v) || v.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw new HttpError(400, `${at}.name ${JSON.stringify(v)} must be a relative path inside the workspace: no leading "/", no "." or ".." or empty segments, no backslashes or control characters`);
  }
  const extension = path.posix.extname(v).toLowerCase();
  if (!LEVEL4_EXTENSIONS.includes(extension)) throw new HttpError(400, `${at}.name ${JSON.stringify(v)}: only level 4 files are released (${LEVEL4_EXTENSIONS.join(" ")}), not ${extension === "" ? "a file without an extension" : `"${extension}"`}`);
  return v;
}

function releaseInput(body: Record<string, unknown>, where: string, backend: string, limit: number): NewRelease {
  const workspace = field(body, "workspace", where);
  const request = shortText(body.request, `${where}: "request" (Airlock's request id)`);
  const releasedBy = shortText(body.releasedBy, `${where}: "releasedBy"`);
  const list = body.files;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RELEASE_FILES) throw new HttpError(400, `${where}: "files" must be a list of 1 to ${MAX_RELEASE_FILES} files`);
  const files: ReleaseFileEntry[] = list.map((f: unknown, i) => {
    const at = `${where}: files[${i}]`;
    if (typeof f !== "object" || f === null || Array.isArray(f)) throw new HttpError(400, `${at} must be an object {name, size, sha256, date}`);
    const r = f as Record<string, unknown>;
    const name = releaseFileName(r.name, at);
    if (typeof r.size !== "number" || !Number.isSafeInteger(r.size) || r.size < 0) throw new HttpError(400, `${at}.size must be the file's size, a whole number of bytes`);
    if (r.size > limit) throw new HttpError(400, `${at}.size: ${JSON.stringify(name)} is ${r.size} bytes, over the ${limit} bytes a released file may have`);
    if (typeof r.sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(r.sha256)) throw new HttpError(400, `${at}.sha256 must be the file's SHA-256, 64 hex digits`);
    if (typeof r.date !== "string" || r.date.length > 40 || Number.isNaN(Date.parse(r.date))) throw new HttpError(400, `${at}.date must be an ISO 8601 time`);
    return { name, size: r.size, sha256: r.sha256.toLowerCase(), date: r.date };
  });
  return { workspace, backend, request, releasedBy, files };
}

/**
 * The folder that holds released files' bytes, each under its sha256
 * (objects/ab/ab12...), so a file released twice is kept once and a name never
 * becomes a path. An upload is written to tmp/ in the same folder while it is
 * hashed, and moved into place only once its size and hash match the list:
 * nothing unchecked is ever where a download would find it. Folders are made
 * when the first file arrives, so a server that never receives one leaves no
 * trace.
 */
export class ReleaseFolder {
  readonly dir: string;

  constructor(
    dir: string,
    /** The largest file taken, in bytes. */
    readonly fileLimit: number = RELEASE_FILE_LIMIT,
  ) {
    this.dir = path.resolve(dir);
  }

  /** Writes the bytes to a temporary file, counting and hashing them; the caller keeps or discards it. */
  async take(body: AsyncIterable<Buffer>): Promise<{ temp: string; size: number; sha256: string }> {
    const tmp = path.join(this.dir, "tmp");
    await fs.mkdir(tmp, { recursive: true, mode: 0o700 });
    const temp = path.join(tmp, `${randomBytes(12).toString("hex")}.part`);
    const handle = await fs.open(temp, "wx", 0o600);
    const hash = createHash("sha256");
    let size = 0;
    try {
      for await (const chunk of body) {
        hash.update(chunk);
        size += chunk.length;
        for (let at = 0; at < chunk.length; ) at += (await handle.write(chunk, at)).bytesWritten;
      }
      // On disk before the database says it was received.
      await handle.sync();
    } catch (e) {
      await handle.close().catch(() => undefined);
      await fs.rm(temp, { force: true });
      throw e;
    }
    await handle.close();
    return { temp, size, sha256: hash.digest("hex") };
  }

  /** Moves a checked temporary file into place; returns where it is, relative to the folder. A rename is atomic, and the same hash means the same bytes, so a file kept already is simply replaced by its twin. */
  async keep(temp: string, sha256: string): Promise<string> {
    const stored = `objects/${sha256.slice(0, 2)}/${sha256}`;
    const target = this.path(stored);
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await fs.rename(temp, target);
    return stored;
  }

  async discard(temp: string): Promise<void> {
    await fs.rm(temp, { force: true });
  }

  /** The file at a location `keep` returned; anything else is refused, so a changed row cannot point elsewhere on disk. */
  path(stored: string): string {
    if (!/^objects\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(stored)) throw new Error(`${JSON.stringify(stored)} is not where the releases folder keeps a file`);
    return path.join(this.dir, ...stored.split("/"));
  }
}

export function registerBackend(router: Router, app: App): void {
  const base = "/api/backend";
  const actor = (b: Backend): string => `backend:${b.name}`;

  router.post(`${base}/login`, async (ctx) => {
    const backend = await callingBackend(app, ctx, "a backend service");
    const where = `POST ${ctx.path}`;
    const body = await ctx.jsonBody();
    if (typeof body.username !== "string" || typeof body.password !== "string") throw new HttpError(400, `${where}: "username" and "password" must be strings`);
    // The address the person reached the service from, if it says: without it, every login through the backend counts as from one address.
    const seen = body.address === undefined ? undefined : shortText(body.address, `${where}: "address"`);
    const user = await attemptLogin(app, {
      username: body.username.trim(),
      password: body.password,
      address: seen === undefined ? actor(backend) : `${actor(backend)}/${seen}`,
      actor: actor(backend),
      details: { backend: backend.name },
    });
    ctx.json({ user: userShape(user), access: await accessOf(app, user.username) });
  });

  router.get(`${base}/access/:username`, async (ctx) => {
    const backend = await callingBackend(app, ctx, "a backend service");
    const name = ctx.params.username!;
    const user = NAME.test(name) ? await app.store.getUser(name) : undefined;
    if (!user) throw new HttpError(404, `there is no user named ${JSON.stringify(name)}`);
    const access = await accessOf(app, user.username);
    await audit(app, actor(backend), "backend.access", `user:${user.username}`, { globalRoles: access.globalRoles!, projectRoles: access.projectRoles! });
    ctx.json({ user: userShape(user), access });
  });

  router.get(`${base}/workspaces/:name`, async (ctx) => {
    const backend = await callingBackend(app, ctx, "a backend service");
    const { workspace, project } = await loadWorkspace(app, ctx.params.name!);
    await audit(app, actor(backend), "backend.workspace", `workspace:${workspace.name}`, { project: project.number });
    ctx.json({ workspace: workspaceShape(workspace), project: projectShape(project) });
  });

  router.post(`${base}/releases`, async (ctx) => {
    const backend = await callingBackend(app, ctx, "a backend service");
    const where = `POST ${ctx.path}`;
    const input = releaseInput(await ctx.jsonBody(), where, backend.name, app.releases.fileLimit);
    const { workspace, project } = await loadWorkspace(app, input.workspace);
    // As Airlock's own rule: nothing starts leaving a workspace that is archived, or a project that has ended.
    const blocked = workspace.archived
      ? `workspace ${workspace.name} is archived: nothing more is released from it`
      : project.status !== "ongoing"
        ? `project ${project.number} is ${project.status}: nothing more is released from it`
        : undefined;
    let result: { release: Release; created: boolean };
    try {
      result = await app.store.createRelease(input, blocked === undefined ? {} : { refuseNew: blocked }, ({ release: r, created: isNew }) =>
        note(actor(backend), isNew ? "release.create" : "release.repeat", `release:${r.id}`, {
          workspace: r.workspace,
          project: r.project,
          request: r.request,
          released_by: r.releasedBy,
          files: r.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 })),
        }),
      );
    } catch (e) {
      if (e instanceof StoreError && e.kind === "conflict") await audit(app, actor(backend), "release.refuse", `workspace:${workspace.name}`, { request: input.request, reason: e.message });
      return fromStoreError(e);
    }
    const { release, created } = result;
    ctx.json({ release: releaseShape(release) }, created ? 201 : 200);
  });

  router.put(`${base}/releases/:id/files`, async (ctx) => {
    const backend = await callingBackend(app, ctx, "a backend service");
    const id = ctx.params.id!;
    const release = IDENTIFIER.test(id) ? await app.store.getRelease(id) : undefined;
    if (!release || release.backend !== backend.name) throw new HttpError(404, `backend ${backend.name} has no release ${JSON.stringify(id)}`);
    const name = ctx.query.get("name");
    if (!name) throw new HttpError(400, `PUT ${ctx.path}: say which file with ?name=<the file's name, URL-encoded>`);
    const entry = release.files.find((f) => f.name === name);
    if (!entry) throw new HttpError(404, `release ${id} lists no file named ${JSON.stringify(name)}`);
    const refuse = async (got: { size: number; sha256?: string }, message: string, headers: Record<string, string> = {}): Promise<never> => {
      await audit(app, actor(backend), "release.file_refuse", `release:${id}`, { name, expected: { size: entry.size, sha256: entry.sha256 }, received: got });
      throw new HttpError(409, message, {}, headers);
    };
    const declared = ctx.req.headers["content-length"];
    // Refused before a byte is read; the connection closes, as the body is left unread.
    if (declared !== undefined && Number(declared) !== entry.size) {
      return refuse({ size: Number(declared) }, `${JSON.stringify(name)} of release ${id} is ${entry.size} bytes by the list, but ${declared} bytes were sent: nothing was kept`, { Connection: "close" });
    }
    const got = await app.releases.take(ctx.bodyStream(app.releases.fileLimit));
    if (got.size !== entry.size || got.sha256 !== entry.sha256) {
      await app.releases.discard(got.temp);
      const what = got.size !== entry.size ? `${got.size} bytes arrived, not the ${entry.size} of the list` : `what arrived hashes to ${got.sha256}, not the list's ${entry.sha256}`;
      return refuse({ size: got.size, sha256: got.sha256 }, `${JSON.stringify(name)} of release ${id}: ${what}; nothing was kept: send the file again`);
    }
    const stored = await app.releases.keep(got.temp, got.sha256);
    await guarded(() =>
      app.store.receiveReleaseFile(id, name, stored, (received) => [
        note(actor(backend), "release.file_receive", `release:${id}`, { name, size: got.size, sha256: got.sha256, again: !received.received }),
        ...(received.completed ? [note(actor(backend), "release.complete", `release:${id}`, { workspace: release.workspace, project: release.project, request: release.request, files: release.files.length })] : []),
      ]),
    );
    ctx.json({ file: { name, size: entry.size, sha256: entry.sha256, received: true } });
  });
}

// ---------------------------------------------------------------------------
// Released files, outside: listed for and downloaded by those with
// release.view on the project (members; OutputCheckers), on the pages and in
// the API. Only complete releases are shown: a half-arrived release has not
// been released.

export async function releasedFiles(app: App, ctx: Ctx, workspaceName: string): Promise<{ workspace: Workspace; project: Project; files: ReleasedFile[] }> {
  const { workspace, project } = await loadWorkspace(app, workspaceName);
  await ctx.authorize("release.view", project, `see the released files of workspace ${workspace.name}`);
  return { workspace, project, files: await app.store.listReleasedFiles(workspace.name) };
}

/** Where a released file is downloaded from: `base` is "/api/v1/releases" or the page's "/releases". */
export function releasedFileUrl(base: string, release: string, name: string): string {
  return `${base}/${encodeURIComponent(release)}/file?name=${encodeURIComponent(name)}`;
}

// Every download is an attachment, so no released file is ever shown inside
// the job server's origin: an SVG or HTML file may hold script. The sandbox
// CSP stops it even if a browser were to render it anyway.
const DOWNLOAD_TYPES: Readonly<Record<string, string>> = {
  ".csv": "text/csv; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".log": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".json": "application/json",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
  ".html": "text/html; charset=utf-8",
};

export function downloadType(name: string): string {
  return DOWNLOAD_TYPES[path.posix.extname(name).toLowerCase()] ?? "application/octet-stream";
}

/** `attachment`, with the file's own name (an ASCII stand-in for old clients, the UTF-8 name for the rest). */
function attachment(name: string): string {
  const base = path.posix.basename(name);
  const ascii = base.replace(/[^A-Za-z0-9._-]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}

/** GET .../releases/:id/file?name=: the bytes of a file of a complete release, for release.view on its project; audited. */
export async function downloadReleasedFile(app: App, ctx: Ctx): Promise<void> {
  const id = ctx.params.id!;
  const release = IDENTIFIER.test(id) ? await app.store.getRelease(id) : undefined;
  if (!release) throw new HttpError(404, `there is no release ${JSON.stringify(id)}`);
  const project = await loadProject(app, release.project);
  const principal = await ctx.authorize("release.view", project, `download the files of release ${id}`);
  if (release.completed === null) throw new HttpError(404, `release ${id} is not complete yet: its files are still arriving from the backend`);
  const name = ctx.query.get("name");
  if (!name) throw new HttpError(400, `${ctx.path}: say which file with ?name=<the file's name, URL-encoded>`);
  const file = release.files.find((f) => f.name === name);
  if (!file || file.stored === null) throw new HttpError(404, `release ${id} has no file named ${JSON.stringify(name)}`);
  const handle = await fs.open(app.releases.path(file.stored), "r");
  let size: number;
  try {
    size = (await handle.stat()).size;
    // The folder is the server's alone; bytes of another size were changed behind its back, and are not handed out.
    if (size !== file.size) throw new Error(`the releases folder holds ${size} bytes for ${JSON.stringify(name)} of release ${id} (${file.sha256}), not the ${file.size} received`);
  } catch (e) {
    await handle.close();
    throw e;
  }
  await audit(app, principal.username, "release.download", `release:${id}`, { workspace: release.workspace, project: release.project, name, sha256: file.sha256 });
  await ctx.stream(handle.createReadStream(), size, downloadType(name), {
    "Content-Disposition": attachment(name),
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
  });
}

// ---------------------------------------------------------------------------
// Publishing released files, and incidents.
//
// The seeds: researchers never put results into their study's repository
// themselves, as the repository becomes public and its history keeps whatever
// reaches it. Released files reach it only through a publish request: a
// member of the project asks for some files of complete releases, an
// OutputPublisher (snapshot.publish) other than the requester approves, and
// an operator's `enclave publish` commits them (src/cli/publish.ts). A
// ProjectCollaborator sees released files but may not ask: collaborators
// "never publish them" (shared/reference/permissions.md).
//
// An incident (a leak cleaned from a workspace's repository, opened by
// `enclave breach clean --workspace`) restricts the workspace until a
// StaffAreaAdministrator (user.manage: the staff area's own permission)
// closes it with a note saying what was done.

const MAX_NOTE_TEXT = 2000;

/** Whether the user may ask for a workspace's released files to be published: release.view as a member in a role other than ProjectCollaborator. */
export function mayRequestPublish(principal: Principal | undefined, project: Project): boolean {
  if (principal === undefined || !can(principal, "release.view", project)) return false;
  return (principal.projectRoles[project.number] ?? []).some((role) => role !== "ProjectCollaborator");
}

export async function loadPublishRequest(app: App, identifier: string): Promise<PublishRequest> {
  const request = IDENTIFIER.test(identifier) ? await app.store.getPublishRequest(identifier) : undefined;
  if (!request) throw new HttpError(404, `there is no publish request ${JSON.stringify(identifier)}`);
  return request;
}

export async function loadIncident(app: App, identifier: string): Promise<Incident> {
  const incident = IDENTIFIER.test(identifier) ? await app.store.getIncident(identifier) : undefined;
  if (!incident) throw new HttpError(404, `there is no incident ${JSON.stringify(identifier)}`);
  return incident;
}

/** Who may see a publish request: OutputPublishers, and those who see the workspace's released files. */
async function requireViewPublishRequest(app: App, ctx: Ctx, request: PublishRequest): Promise<void> {
  await ctx.authorize(["snapshot.publish", "release.view"], await loadProject(app, request.project), `see publish request ${request.id}`);
}

const publishedFiles = (r: PublishRequest) => r.files.map((f) => ({ release: f.release, name: f.name, sha256: f.sha256 }));

export interface PublishInput {
  workspace: string;
  files: { release: string; name: string }[];
  note: string;
}

export async function requestPublish(app: App, ctx: Ctx, input: PublishInput): Promise<PublishRequest> {
  const { workspace, project } = await loadWorkspace(app, input.workspace);
  const what = `ask for the released files of workspace ${workspace.name} to be published`;
  const principal = await ctx.authorize("release.view", project, what);
  if (!mayRequestPublish(principal, project)) {
    throw new HttpError(403, `${principal.username} may not ${what}: that needs membership of project ${project.number} in a role other than ProjectCollaborator (collaborators never publish)`);
  }
  let request: PublishRequest;
  try {
    request = await app.store.createPublishRequest({ workspace: workspace.name, requester: principal.username, note: input.note, files: input.files }, (r) =>
      note(principal.username, "publish_request.create", `publish_request:${r.id}`, { workspace: workspace.name, project: project.number, files: publishedFiles(r), note: r.note }),
    );
  } catch (e) {
    if (e instanceof StoreError) await audit(app, principal.username, "publish_request.refuse", `workspace:${workspace.name}`, { files: input.files.map((f) => ({ ...f })), reason: e.message });
    return fromStoreError(e);
  }
  return request;
}

/** Approves or rejects a pending request: snapshot.publish, and never one's own request (a second person decides). */
export async function decidePublish(app: App, ctx: Ctx, identifier: string, status: "approved" | "rejected", why: string): Promise<PublishRequest> {
  const verb = status === "approved" ? "approve" : "reject";
  const principal = await ctx.authorize("snapshot.publish", undefined, `${verb} publish requests`);
  const before = await loadPublishRequest(app, identifier);
  if (before.requester === principal.username) throw new HttpError(403, `${principal.username} may not ${verb} their own publish request ${identifier}: another OutputPublisher must`);
  let after: PublishRequest;
  try {
    after = await app.store.decidePublishRequest(identifier, { status, by: principal.username, note: why }, (r) =>
      note(principal.username, `publish_request.${verb}`, `publish_request:${identifier}`, { workspace: r.workspace, project: r.project, requester: r.requester, files: publishedFiles(r), note: why }),
    );
  } catch (e) {
    if (e instanceof StoreError && e.kind === "conflict") await audit(app, principal.username, "publish_request.decide_refuse", `publish_request:${identifier}`, { to: status, reason: e.message });
    return fromStoreError(e);
  }
  return after;
}

export async function closeIncident(app: App, ctx: Ctx, identifier: string, why: string): Promise<Incident> {
  const principal = await ctx.authorize("user.manage", undefined, "close incidents");
  await loadIncident(app, identifier);
  return guarded(() =>
    app.store.closeIncident(identifier, { by: principal.username, note: why }, (i) =>
      note(principal.username, "incident.close", `incident:${identifier}`, { workspace: i.workspace, project: i.project, opened: i.opened, opened_by: i.openedBy, note: i.closeNote ?? "" }),
    ),
  );
}

/** A free-text note (a reason, what was done): lines allowed, other control characters not. */
export function noteText(v: unknown, what: string, required = false): string {
  if (v === undefined || v === null) {
    if (required) throw new HttpError(400, `${what} is required`);
    return "";
  }
  if (typeof v !== "string" || v.length > MAX_NOTE_TEXT || hasControl(v.replace(/[\n\r\t]/g, " "))) {
    throw new HttpError(400, `${what} must be text of at most ${MAX_NOTE_TEXT} characters, without control characters other than line breaks and tabs`);
  }
  if (required && v.trim() === "") throw new HttpError(400, `${what} must not be empty`);
  return v.trim();
}

/** A publish request as the API shows it: where the bytes are kept stays the server's own. */
export function publishRequestShape(r: PublishRequest) {
  return {
    id: r.id,
    workspace: r.workspace,
    project: r.project,
    requester: r.requester,
    note: r.note,
    created: r.created,
    status: r.status,
    decidedBy: r.decidedBy,
    decided: r.decided,
    decisionNote: r.decisionNote,
    published: r.published,
    publishedBy: r.publishedBy,
    commit: r.commit,
    branch: r.branch,
    files: r.files.map((f) => ({ release: f.release, request: f.request, name: f.name, size: f.size, sha256: f.sha256, releasedBy: f.releasedBy, released: f.released })),
  };
}

function publishFilesInput(body: Record<string, unknown>, where: string): { release: string; name: string }[] {
  const list = body.files;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RELEASE_FILES) throw new HttpError(400, `${where}: "files" must be a list of 1 to ${MAX_RELEASE_FILES} files, each {release, name}`);
  return list.map((f: unknown, i) => {
    const r = (typeof f === "object" && f !== null && !Array.isArray(f) ? f : {}) as Record<string, unknown>;
    if (typeof r.release !== "string" || !IDENTIFIER.test(r.release)) throw new HttpError(400, `${where}: files[${i}].release must be a release's id (16 hex digits)`);
    if (typeof r.name !== "string" || r.name === "" || r.name.length > 1000) throw new HttpError(400, `${where}: files[${i}].name must be the released file's name`);
    return { release: r.release, name: r.name };
  });
}

function registerPublishingApi(router: Router, app: App, v1: string): void {
  router.get(`${v1}/publish-requests`, async (ctx) => {
    const status = ctx.query.get("status") || undefined;
    if (status !== undefined && !(PUBLISH_STATUSES as readonly string[]).includes(status)) throw new HttpError(400, `status=${JSON.stringify(status)}: use one of ${PUBLISH_STATUSES.join(", ")}`);
    const name = ctx.query.get("workspace") || undefined;
    // Every request is the OutputPublishers' to see; a workspace's are also for those who see its released files.
    if (name === undefined) await ctx.authorize("snapshot.publish", undefined, "list every publish request");
    else await ctx.authorize(["snapshot.publish", "release.view"], (await loadWorkspace(app, name)).project, `see the publish requests of workspace ${name}`);
    const requests = await app.store.listPublishRequests({ ...(status ? { status: status as PublishStatus } : {}), ...(name ? { workspace: name } : {}) }, MAX_PAGE_SIZE);
    ctx.json({ publishRequests: requests.map(publishRequestShape) });
  });

  router.post(`${v1}/publish-requests`, async (ctx) => {
    const where = `POST ${ctx.path}`;
    const body = await ctx.jsonBody();
    const request = await requestPublish(app, ctx, { workspace: field(body, "workspace", where), files: publishFilesInput(body, where), note: noteText(body.note, `${where}: "note"`) });
    ctx.json({ publishRequest: publishRequestShape(request) }, 201, { Location: `${v1}/publish-requests/${request.id}` });
  });

  router.get(`${v1}/publish-requests/:id`, async (ctx) => {
    const request = await loadPublishRequest(app, ctx.params.id!);
    await requireViewPublishRequest(app, ctx, request);
    ctx.json({ publishRequest: publishRequestShape(request) });
  });

  for (const [verb, status] of [["approve", "approved"], ["reject", "rejected"]] as const) {
    router.post(`${v1}/publish-requests/:id/${verb}`, async (ctx) => {
      const body = await ctx.jsonBody();
      const request = await decidePublish(app, ctx, ctx.params.id!, status, noteText(body.note, `POST ${ctx.path}: "note"`));
      ctx.json({ publishRequest: publishRequestShape(request) });
    });
  }

  router.get(`${v1}/incidents`, async (ctx) => {
    await ctx.authorize("user.manage", undefined, "list incidents");
    const open = ctx.query.get("open");
    if (open !== null && open !== "true" && open !== "false") throw new HttpError(400, `open=${JSON.stringify(open)}: use true or false`);
    ctx.json({ incidents: await app.store.listIncidents(open === null ? {} : { open: open === "true" }) });
  });

  router.get(`${v1}/incidents/:id`, async (ctx) => {
    const incident = await loadIncident(app, ctx.params.id!);
    // Staff, and those who see the workspace (its page shows the incident too).
    if (!(await ctx.can("user.manage"))) await requireViewProject(ctx, await loadProject(app, incident.project));
    ctx.json({ incident });
  });

  router.post(`${v1}/incidents/:id/close`, async (ctx) => {
    const body = await ctx.jsonBody();
    ctx.json({ incident: await closeIncident(app, ctx, ctx.params.id!, noteText(body.note, `POST ${ctx.path}: "note"`, true)) });
  });
}
