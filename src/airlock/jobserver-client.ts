// Airlock's side of the backend services' protocol (docs/api.md, "The backend
// services' protocol (Airlock)"): logging people in through the job server,
// re-reading their access, asking about workspaces, and sending released
// files out. Airlock holds no accounts of its own: who someone is and what
// they may do always comes from the job server, with the backend's token.
//
// Every answer is checked for shape before anything uses it: a job server of
// another version must fail here, with a message naming the call, and not
// later as a permission quietly granted or refused.

import type { GlobalRole, Principal, ProjectRef, ProjectRole, ProjectStatus } from "../jobserver/permissions.js";
import { PROJECT_STATUSES, isGlobalRole, isProjectRole } from "../jobserver/permissions.js";
import type { WorkspaceInfo, WorkspaceLookup } from "./model.js";

// ---------------------------------------------------------------------------
// WHAT THE JOB SERVER SAYS

export interface BackendUser {
  username: string;
  fullName: string;
}

export interface AccessProject {
  number: number;
  name: string;
  status: ProjectStatus;
  category: string;
}

export interface AccessWorkspace {
  name: string;
  project: number;
  archived: boolean;
  repo: string;
  branch: string;
}

/** A user's roles and the projects and workspaces they may see, as the job server says now. */
export interface Access {
  globalRoles: GlobalRole[];
  projectRoles: { project: number; roles: ProjectRole[] }[];
  projects: AccessProject[];
  workspaces: AccessWorkspace[];
}

export interface RemoteWorkspace {
  workspace: AccessWorkspace;
  project: AccessProject;
}

export interface ReleaseFileItem {
  name: string;
  size: number;
  sha256: string;
  date: string;
}

export interface NewRelease {
  workspace: string;
  request: string;
  releasedBy: string;
  files: ReleaseFileItem[];
}

export interface ReleasedFile {
  name: string;
  size: number;
  sha256: string;
  received: boolean;
}

export interface Release {
  id: string;
  workspace: string;
  request: string;
  files: ReleasedFile[];
}

/** What Airlock asks of the job server; the HTTP client below, or a stand-in in a benchmark. */
export interface JobServerApi {
  /**
   * Checks the password; throws JobServerError (401 wrong, 429 throttled) when
   * refused. `address`: where the person reached Airlock from, so that the job
   * server's throttling counts them apart from others behind this backend.
   */
  login(username: string, password: string, address?: string): Promise<{ user: BackendUser; access: Access }>;
  /** The user's current access; undefined when the user no longer exists. */
  access(username: string): Promise<{ user: BackendUser; access: Access } | undefined>;
  /** undefined when there is no such workspace. */
  workspace(name: string): Promise<RemoteWorkspace | undefined>;
  createRelease(release: NewRelease): Promise<Release>;
  putFile(releaseId: string, name: string, bytes: Buffer): Promise<ReleasedFile>;
}

/**
 * A call that failed. `status` is the job server's answer (null when none
 * came); `retryable` when trying again later may work: no answer, a timeout,
 * a 5xx, or 408/429.
 */
export class JobServerError extends Error {
  override name = "JobServerError";
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------
// CHECKING ANSWERS

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

class Shape {
  constructor(private readonly call: string) {}

  fail(what: string): never {
    throw new JobServerError(`the job server's answer to ${this.call} is not what docs/api.md describes: ${what}`, null, false);
  }

  obj(v: unknown, where: string): Obj {
    return isObj(v) ? v : this.fail(`${where} is not an object`);
  }

  str(o: Obj, key: string, where: string): string {
    const v = o[key];
    return typeof v === "string" ? v : this.fail(`${where}.${key} is not text`);
  }

  int(o: Obj, key: string, where: string): number {
    const v = o[key];
    return typeof v === "number" && Number.isSafeInteger(v) ? v : this.fail(`${where}.${key} is not a whole number`);
  }

  bool(o: Obj, key: string, where: string): boolean {
    const v = o[key];
    return typeof v === "boolean" ? v : this.fail(`${where}.${key} is not true or false`);
  }

  list(o: Obj, key: string, where: string): unknown[] {
    const v = o[key];
    return Array.isArray(v) ? v : this.fail(`${where}.${key} is not a list`);
  }

  user(v: unknown): BackendUser {
    const u = this.obj(v, "user");
    const fullName = u.fullName;
    return { username: this.str(u, "username", "user"), fullName: typeof fullName === "string" ? fullName : "" };
  }

  project(v: unknown, where: string): AccessProject {
    const p = this.obj(v, where);
    const status = this.str(p, "status", where);
    if (!(PROJECT_STATUSES as readonly string[]).includes(status)) this.fail(`${where}.status ${JSON.stringify(status)} is not one of ${PROJECT_STATUSES.join(", ")}`);
    return { number: this.int(p, "number", where), name: this.str(p, "name", where), status: status as ProjectStatus, category: typeof p.category === "string" ? p.category : "" };
  }

  workspace(v: unknown, where: string): AccessWorkspace {
    const w = this.obj(v, where);
    return {
      name: this.str(w, "name", where),
      project: this.int(w, "project", where),
      archived: this.bool(w, "archived", where),
      repo: typeof w.repo === "string" ? w.repo : "",
      branch: typeof w.branch === "string" ? w.branch : "",
    };
  }

  // Roles this version does not know are dropped: an unknown role grants nothing (deny by default).
  access(v: unknown): Access {
    const a = this.obj(v, "access");
    const globalRoles = this.list(a, "globalRoles", "access").filter((r): r is GlobalRole => typeof r === "string" && isGlobalRole(r));
    const projectRoles = this.list(a, "projectRoles", "access").map((x, i) => {
      const where = `access.projectRoles[${i}]`;
      const pr = this.obj(x, where);
      return { project: this.int(pr, "project", where), roles: this.list(pr, "roles", where).filter((r): r is ProjectRole => typeof r === "string" && isProjectRole(r)) };
    });
    const projects = this.list(a, "projects", "access").map((x, i) => this.project(x, `access.projects[${i}]`));
    const workspaces = this.list(a, "workspaces", "access").map((x, i) => this.workspace(x, `access.workspaces[${i}]`));
    return { globalRoles, projectRoles, projects, workspaces };
  }

  releasedFile(v: unknown, where: string): ReleasedFile {
    const f = this.obj(v, where);
    return { name: this.str(f, "name", where), size: this.int(f, "size", where), sha256: this.str(f, "sha256", where), received: this.bool(f, "received", where) };
  }

  release(v: unknown): Release {
    const r = this.obj(v, "release");
    const id = r.id;
    if (typeof id !== "string" && typeof id !== "number") this.fail("release.id is missing");
    return {
      id: String(id),
      workspace: this.str(r, "workspace", "release"),
      request: String(r.request ?? ""),
      files: this.list(r, "files", "release").map((f, i) => this.releasedFile(f, `release.files[${i}]`)),
    };
  }
}

/** The job server's Principal for a user: what `can` decides with. */
export function principalOf(username: string, access: Access): Principal {
  const projectRoles: Record<number, ProjectRole[]> = {};
  for (const { project, roles } of access.projectRoles) projectRoles[project] = [...(projectRoles[project] ?? []), ...roles];
  return { username, globalRoles: [...access.globalRoles], projectRoles };
}

export const projectRef = (p: AccessProject): ProjectRef => ({ number: p.number, status: p.status });

// ---------------------------------------------------------------------------
// THE HTTP CLIENT

export interface ClientOptions {
  /** The job server's base URL. */
  url: string;
  backend: string;
  token: string;
  /** How long one call may take (default 30 s). */
  timeoutMs?: number;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

export class JobServerClient implements JobServerApi {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: ClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new JobServerError(`the job server's URL ${JSON.stringify(options.url)} is not a URL (write it like https://jobs.example.org)`, null, false);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new JobServerError(`the job server's URL must be http:// or https://, not ${url.protocol}//`, null, false);
    if (options.backend === "" || options.token === "") throw new JobServerError("the job server client needs the backend's name and token", null, false);
    this.base = url.href.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  get url(): string {
    return this.base;
  }

  /** One call; the answer's JSON (undefined for 404 when `missingOk`). */
  private async call(method: string, path: string, body: { json?: unknown; bytes?: Buffer }, missingOk = false): Promise<unknown> {
    const call = `${method} ${path.split("?")[0]}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}`, "enclave-backend": this.options.backend, accept: "application/json" };
    let payload: string | Buffer | undefined;
    if (body.json !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body.json);
    } else if (body.bytes !== undefined) {
      headers["content-type"] = "application/octet-stream";
      payload = body.bytes;
    }
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: payload, redirect: "error", signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const why = (e as Error).name === "TimeoutError" ? `no answer within ${this.timeoutMs} ms` : ((e as { cause?: Error }).cause?.message ?? (e as Error).message);
      throw new JobServerError(`the job server at ${this.base} did not answer ${call}: ${why}`, null, true);
    }
    const text = await res.text().catch(() => "");
    let value: unknown;
    try {
      value = text === "" ? undefined : JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (res.status === 404 && missingOk) return undefined;
    if (!res.ok) {
      const said = isObj(value) && typeof value.error === "string" ? value.error : text.slice(0, 200) || res.statusText;
      throw new JobServerError(`the job server refused ${call} (${res.status}): ${said}`, res.status, RETRYABLE.has(res.status));
    }
    if (value === undefined) throw new JobServerError(`the job server's answer to ${call} (${res.status}) is not JSON`, res.status, false);
    return value;
  }

  async login(username: string, password: string, address?: string): Promise<{ user: BackendUser; access: Access }> {
    const shape = new Shape("POST /api/backend/login");
    const answer = shape.obj(await this.call("POST", "/api/backend/login", { json: { username, password, ...(address ? { address } : {}) } }), "the answer");
    return { user: shape.user(answer.user), access: shape.access(answer.access) };
  }

  async access(username: string): Promise<{ user: BackendUser; access: Access } | undefined> {
    const shape = new Shape("GET /api/backend/access/:username");
    const answer = await this.call("GET", `/api/backend/access/${encodeURIComponent(username)}`, {}, true);
    if (answer === undefined) return undefined;
    const a = shape.obj(answer, "the answer");
    return { user: shape.user(a.user), access: shape.access(a.access) };
  }

  async workspace(name: string): Promise<RemoteWorkspace | undefined> {
    const shape = new Shape("GET /api/backend/workspaces/:name");
    const answer = await this.call("GET", `/api/backend/workspaces/${encodeURIComponent(name)}`, {}, true);
    if (answer === undefined) return undefined;
    const a = shape.obj(answer, "the answer");
    return { workspace: shape.workspace(a.workspace, "workspace"), project: shape.project(a.project, "project") };
  }

  async createRelease(release: NewRelease): Promise<Release> {
    const shape = new Shape("POST /api/backend/releases");
    return shape.release(shape.obj(await this.call("POST", "/api/backend/releases", { json: release }), "the answer").release);
  }

  async putFile(releaseId: string, name: string, bytes: Buffer): Promise<ReleasedFile> {
    const shape = new Shape("PUT /api/backend/releases/:id/files");
    const path = `/api/backend/releases/${encodeURIComponent(releaseId)}/files?name=${encodeURIComponent(name)}`;
    return shape.releasedFile(shape.obj(await this.call("PUT", path, { bytes }), "the answer").file, "file");
  }
}

// ---------------------------------------------------------------------------
// WORKSPACES, CACHED BRIEFLY

/**
 * The Airlock service asks about a workspace on every operation (whether it is
 * archived, whether its project is ongoing). A few seconds of cache keep a
 * page from asking many times over, while an archive or a finished project
 * still takes effect at once in human terms.
 */
export class WorkspaceCache {
  private readonly entries = new Map<string, { at: number; value: RemoteWorkspace | undefined }>();

  constructor(
    private readonly api: JobServerApi,
    private readonly ttlMs: number,
    private readonly clock: () => Date,
  ) {}

  async get(name: string): Promise<RemoteWorkspace | undefined> {
    const now = this.clock().getTime();
    const hit = this.entries.get(name);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = await this.api.workspace(name);
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(name, { at: now, value });
    return value;
  }

  /** The lookup the Airlock service takes. */
  readonly lookup: WorkspaceLookup = async (name: string): Promise<WorkspaceInfo | undefined> => {
    const w = await this.get(name);
    return w && { name: w.workspace.name, project: projectRef(w.project), archived: w.workspace.archived };
  };
}
