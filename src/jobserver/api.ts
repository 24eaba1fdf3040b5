// What the job server does, once for both of its faces: the operations
// (request and cancel jobs, create and archive workspaces, change a project's
// status, grant and revoke roles, manage backends), each checking its
// permission through `can`, making the change and appending it to the audit
// log; then the JSON API over them (/api/v1) and the agent protocol
// (/api/agent, docs/api.md). pages.ts renders the same operations as HTML.

import type { AuditLog, JsonObject } from "../audit/index.js";
import type { Policy } from "../policy/index.js";
import { type Ctx, HttpError, Router } from "./http.js";
import { type GlobalRole, type Permission, type Principal, type ProjectRole, type ProjectStatus, GLOBAL_ROLES, PROJECT_ROLES, PROJECT_STATUSES, can, isGlobalRole, isProjectRole } from "./permissions.js";
import { JobRequestError, submitJobRequest } from "./requests.js";
import {
  type Backend,
  type Job,
  type JobReport,
  type JobRequest,
  type JobRequestFilter,
  type Project,
  type RequestStatus,
  type Store,
  type Workspace,
  JOB_STATUSES,
  REQUEST_STATUSES,
  StoreError,
} from "./store.js";

/** What the handlers share: the state, the log and the clock. */
export interface App {
  store: Store;
  audit: AuditLog;
  policy?: Policy;
  clock: () => Date;
  sessionTtlSeconds: number;
  claims: ClaimWaiters;
  /** The public job log's pages, shared by every visitor for a moment. */
  log: JobLogCache;
  /** Aborted when the server closes, which ends every long poll at once. */
  closing: AbortSignal;
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

async function audit(app: App, who: string, action: string, subject: string, details: JsonObject = {}): Promise<void> {
  await app.audit.append({ actor: who, action, subject, details });
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
    request = await submitJobRequest({ store: app.store, workspace: workspace.name, backend: input.backend, commit: input.commit, actions: input.actions, force: input.force, requester: principal.username, policy: app.policy });
  } catch (e) {
    if (e instanceof JobRequestError) return refuse(e.problems);
    if (e instanceof StoreError) return refuse([e.message]);
    throw e;
  }
  await audit(app, principal.username, "job_request.create", `job_request:${request.identifier}`, { workspace: request.workspace, project: request.project, backend: request.backend, commit: request.commit, actions: request.actions, force: request.force });
  app.log.invalidate();
  app.claims.notify(request.backend);
  return request;
}

export async function cancelJobs(app: App, ctx: Ctx, identifier: string): Promise<JobRequest> {
  const before = await loadJobRequest(app, identifier);
  const project = await loadProject(app, before.project);
  const principal = await ctx.authorize("job.cancel", project, `cancel job request ${identifier}`);
  if (!["pending", "running"].includes(before.status)) throw new HttpError(409, `job request ${identifier} has already ${before.status === "cancelled" ? "been cancelled" : before.status}`);
  const after = await guarded(() => app.store.cancelJobRequest(identifier));
  app.log.invalidate();
  await audit(app, principal.username, "job_request.cancel", `job_request:${identifier}`, { from: before.status, to: after.status, cancel_requested: after.cancelRequested });
  return after;
}

export async function createWorkspace(app: App, ctx: Ctx, number: number, input: { name: string; repo: string; branch: string }): Promise<Workspace> {
  const project = await loadProject(app, number);
  const principal = await ctx.authorize("workspace.create", project);
  const workspace = await guarded(() => app.store.createWorkspace({ project: number, ...input }));
  await audit(app, principal.username, "workspace.create", `workspace:${workspace.name}`, { project: number, repo: workspace.repo, branch: workspace.branch });
  return workspace;
}

export async function archiveWorkspace(app: App, ctx: Ctx, name: string, archived: boolean): Promise<Workspace> {
  const { project } = await loadWorkspace(app, name);
  const principal = await ctx.authorize("workspace.archive", project);
  const workspace = await guarded(() => app.store.setWorkspaceArchived(name, archived));
  await audit(app, principal.username, archived ? "workspace.archive" : "workspace.unarchive", `workspace:${name}`, { project: project.number });
  return workspace;
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
  const { previous, project: after } = await guarded(() => app.store.setProjectStatus(number, status as ProjectStatus));
  await audit(app, principal.username, "project.status", `project:${number}`, { from: previous, to: after.status });
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
  if (projectRole) await guarded(() => app.store.addMember(change.project!, change.username, [change.role as ProjectRole]));
  else await guarded(() => app.store.grantGlobalRole(change.username, change.role as GlobalRole));
  await audit(app, principal.username, "role.grant", `user:${change.username}`, projectRole ? { role: change.role, project: change.project! } : { role: change.role });
}

export async function revokeRole(app: App, ctx: Ctx, change: RoleChange): Promise<void> {
  const { principal, projectRole } = await checkRoleChange(app, ctx, change, "revoke");
  if (projectRole) await guarded(() => app.store.removeMemberRoles(change.project!, change.username, [change.role as ProjectRole]));
  else await guarded(() => app.store.revokeGlobalRole(change.username, change.role as GlobalRole));
  await audit(app, principal.username, "role.revoke", `user:${change.username}`, projectRole ? { role: change.role, project: change.project! } : { role: change.role });
}

export async function createBackend(app: App, ctx: Ctx, name: string): Promise<{ backend: Backend; token: string }> {
  const principal = await ctx.authorize("backend.manage");
  const created = await guarded(() => app.store.createBackend(name));
  await audit(app, principal.username, "backend.create", `backend:${name}`);
  return created;
}

export async function rotateBackendToken(app: App, ctx: Ctx, name: string): Promise<string> {
  const principal = await ctx.authorize("backend.manage");
  const token = await guarded(() => app.store.rotateBackendToken(name));
  await audit(app, principal.username, "backend.rotate_token", `backend:${name}`);
  return token;
}

/** BackendMembership: which backends a user may run jobs on. */
export async function addBackendMember(app: App, ctx: Ctx, backend: string, username: string): Promise<void> {
  const principal = await ctx.authorize("backend.manage");
  await guarded(() => app.store.addBackendMember(backend, username));
  await audit(app, principal.username, "backend.add_member", `backend:${backend}`, { user: username });
}

/** A new API token for the user asking; the old one stops working. Shown once. */
export async function rotateApiToken(app: App, ctx: Ctx): Promise<string> {
  const principal = await ctx.requirePrincipal();
  const token = await app.store.rotateApiToken(principal.username);
  await audit(app, principal.username, "api_token.rotate", `user:${principal.username}`);
  return token;
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
    ctx.json({ workspace, project });
  });

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

async function agentCall(app: App, ctx: Ctx): Promise<AgentCall> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(ctx.req.headers.authorization ?? "");
  const name = ctx.req.headers["enclave-backend"];
  if (!m || typeof name !== "string" || name === "") throw new HttpError(401, "an agent sends Authorization: Bearer <backend token> and Enclave-Backend: <backend name>");
  const backend = await app.store.authenticateBackend(name, m[1]!);
  if (!backend) throw new HttpError(401, `the token is not backend ${JSON.stringify(name)}'s current token (or there is no such backend)`);
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
    const failed = await guarded(() => app.store.recoverAgent(call.backend.name, call.agent, RECOVER_MESSAGE));
    if (failed.length > 0) app.log.invalidate();
    await audit(app, call.actor, "agent.recover", `backend:${call.backend.name}`, { agent: call.agent, failed });
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
      const request = pending > 0 ? await app.store.claimJobRequest(call.backend.name, call.agent) : undefined;
      if (request) {
        app.log.invalidate();
        await audit(app, call.actor, "job_request.claim", `job_request:${request.identifier}`, { agent: call.agent });
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
    const answer = await guarded(() => app.store.reportJobs(request.identifier, call.backend.name, call.agent, reports));
    if (reports.length > 0) app.log.invalidate();
    for (const r of reports) {
      const from = before.get(r.identifier) ?? null;
      if (from === r.status) continue;
      before.set(r.identifier, r.status);
      await audit(app, call.actor, "job.status", `job:${r.identifier}`, { agent: call.agent, job_request: request.identifier, action: r.action, from, to: r.status, status_code: r.statusCode });
    }
    ctx.json({ cancelRequested: answer.cancelRequested });
  });

  router.post("/api/agent/requests/:id/finish", async (ctx) => {
    const call = await agentCall(app, ctx);
    const status = call.body.status;
    if (status !== "succeeded" && status !== "failed" && status !== "cancelled") throw new HttpError(400, `${ctx.path}: "status" must be succeeded, failed or cancelled`);
    const message = call.body.message ?? "";
    if (typeof message !== "string" || message.length > MAX_MESSAGE) throw new HttpError(400, `${ctx.path}: "message" must be a string of at most ${MAX_MESSAGE} characters`);
    const request = await heldRequest(app, call, ctx.params.id!);
    const after = await guarded(() => app.store.finishJobRequest(request.identifier, call.backend.name, call.agent, { status, message }));
    app.log.invalidate();
    await audit(app, call.actor, "job_request.finish", `job_request:${request.identifier}`, { agent: call.agent, status: after.status, message });
    ctx.json(after);
  });

  router.post("/api/agent/heartbeat", async (ctx) => {
    const call = await agentCall(app, ctx);
    const running = stringList(call.body, "running", ctx.path);
    ctx.json({ cancel: running.length === 0 ? [] : await app.store.cancellationsFor(call.backend.name, running) });
  });
}
