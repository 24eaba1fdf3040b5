// The job server over HTTP: a real server on 127.0.0.1 (port 0) with a SQLite
// store and audit log in a temporary folder, and a small git repository whose
// project.yaml requests.ts validates. The permission matrix below is written
// out by hand from shared/reference/permissions.md, not computed with `can`, so
// a change to either shows up here as a difference.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { launchBrowser, noBrowser } from "../support/browser.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/index.js";
import { type JobServer, startJobServer } from "../../src/jobserver/index.js";
import { Router, compose, html, escapeHtml, path as urlPath } from "../../src/jobserver/http.js";
import { type GlobalRole, Store } from "../../src/jobserver/store.js";
import { type Answer, Browser, agent, api, studyRepo } from "./http-helpers.js";

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-http-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const WHO = ["dev", "collab", "checker", "publisher", "staffadmin", "serviceadmin", "support", "other", "norole", "anon"] as const;
type Who = (typeof WHO)[number];
const GLOBAL: Partial<Record<Who, GlobalRole>> = { checker: "OutputChecker", publisher: "OutputPublisher", staffadmin: "StaffAreaAdministrator", serviceadmin: "ServiceAdministrator", support: "TechSupport" };
const password = (who: string): string => `secret-of-${who}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let store: Store;
let auditLog: AuditLog;
let server: JobServer;
let base: string;
let commit: string;
let repo: string;
let agentsToken: string;
const browsers = {} as Record<Who, Browser>;
/** Every page fetched with GET, to check the forms on all of them. */
const pagesSeen: string[] = [];
let n = 0;
const unique = (prefix: string): string => `${prefix}-${++n}`;

async function pendingRequest(workspace = "ws1", backend = "tpp"): Promise<string> {
  return (await store.createJobRequest({ workspace, backend, commit, actions: ["report"], force: false, requester: "dev" })).identifier;
}

beforeAll(async () => {
  store = await Store.open(path.join(tmp, "jobserver.db"));
  auditLog = await AuditLog.open(path.join(tmp, "audit.db"));
  ({ repo, commit } = studyRepo(path.join(tmp, "study")));
  for (const who of [...WHO.filter((w) => w !== "anon"), "target"]) await store.createUser({ username: who, password: password(who), fullName: who === "target" ? `<script>alert("name")</script>` : who });
  await store.createOrg("org");
  await store.createProject({ number: 1, name: "Diabetes", org: "org" });
  await store.createProject({ number: 2, name: `<script>alert("project")</script>`, org: "org" });
  await store.createProject({ number: 3, name: "Status target", org: "org" });
  await store.addMember(1, "dev", ["ProjectDeveloper"]);
  await store.addMember(1, "collab", ["ProjectCollaborator"]);
  await store.addMember(2, "other", ["ProjectDeveloper"]);
  for (const [who, role] of Object.entries(GLOBAL)) await store.grantGlobalRole(who, role);
  await store.createWorkspace({ project: 1, name: "ws1", repo, branch: "main" });
  await store.createWorkspace({ project: 2, name: "ws2", repo, branch: "main" });
  await store.createBackend("tpp");
  await store.createBackend("spare");
  agentsToken = (await store.createBackend("agents")).token;
  for (const who of [...WHO.filter((w) => w !== "anon"), "target"]) await store.addBackendMember("tpp", who);
  await store.addBackendMember("agents", "dev");
  // The job log cache is tested on its own below; here every read sees the store.
  server = await startJobServer({ store, auditLog, logCacheMs: 0, log: () => undefined, allowedRepos: [tmp] });
  base = server.url;
  for (const who of WHO) {
    browsers[who] = new Browser(base);
    if (who === "anon") await browsers[who].get("/login");
    else expect((await browsers[who].login(who, password(who))).status).toBe(303);
  }
}, 60_000);

afterAll(async () => {
  await server?.close();
  await store?.close();
  await auditLog?.close();
});

// ---------------------------------------------------------------------------
// The permission matrix.
//   +  allowed (2xx, or a redirect that is not to the login page)
//   -  refused: 403
//   L  not logged in: 401 from the API, the login page for a browser
// Columns: ProjectDeveloper of project 1, ProjectCollaborator of project 1,
// OutputChecker, OutputPublisher, StaffAreaAdministrator, ServiceAdministrator,
// TechSupport, ProjectDeveloper of project 2 only, a user with no role, nobody.

function pageOutcome(a: Answer): string {
  if (a.status === 401 || (a.status === 303 && a.location?.startsWith("/login"))) return "L";
  if (a.status === 403) return "-";
  if (a.status >= 200 && a.status < 400) return "+";
  return `?${a.status} ${a.text.replace(/\s+/g, " ").slice(0, 400)}`;
}

function apiOutcome(a: { status: number; json: Record<string, unknown> }): string {
  if (a.status === 401) return "L";
  if (a.status === 403) return "-";
  if (a.status >= 200 && a.status < 300) return "+";
  return `?${a.status} ${JSON.stringify(a.json)}`;
}

type Call = (who: Who) => Promise<string>;

const getPage = (url: string | (() => Promise<string>)): Call => async (who) => {
  const a = await browsers[who].get(typeof url === "string" ? url : await url());
  if (a.status === 200) pagesSeen.push(a.text);
  return pageOutcome(a);
};
const postPage = (url: string | ((who: Who) => Promise<string>), form: (who: Who) => Record<string, string> = () => ({})): Call => async (who) =>
  pageOutcome(await browsers[who].post(typeof url === "string" ? url : await url(who), form(who)));

let someRequest: string;
let someJob: string;
let someRelease: string;
const archiveTarget = async (who: Who): Promise<string> => (await store.createWorkspace({ project: 1, name: unique(`arch-${who}`), repo, branch: "main" })).name;
/** A new pending request by dev to publish ws1's released file, for each call that decides one. */
const pendingPublish = async (): Promise<string> => (await store.createPublishRequest({ workspace: "ws1", requester: "dev", files: [{ release: someRelease, name: "output/report.csv" }] })).id;
let somePublish: string | undefined;
/** A new incident, on a workspace of its own so that ws1 is never restricted, for each call that closes one. */
const openIncident = async (who: Who): Promise<string> => {
  const workspace = (await store.createWorkspace({ project: 1, name: unique(`incident-${who}`), repo, branch: "main" })).name;
  return (await store.openIncident({ workspace, repo, blobs: [], refsRewritten: [], refsDeleted: [], openedBy: "matrix" })).id;
};
let someIncident: string | undefined;

//                                                       dev collab chk pub saa sva sup oth nor anon
const PAGES: [string, string, Call][] = [
  ["GET /",                                             "+   +   +   +   +   +   +   +   +   +", getPage("/")],
  ["GET /job-requests/:id",                             "+   +   +   +   +   +   +   +   +   +", getPage(async () => `/job-requests/${someRequest}`)],
  ["GET /jobs/:id",                                     "+   +   +   +   +   +   +   +   +   +", getPage(async () => `/jobs/${someJob}`)],
  ["GET /login",                                        "+   +   +   +   +   +   +   +   +   +", getPage("/login")],
  ["GET /account",                                      "+   +   +   +   +   +   +   +   +   L", getPage("/account")],
  ["GET /projects",                                     "+   +   +   +   +   +   +   +   +   L", getPage("/projects")],
  ["GET /projects/1",                                   "+   +   +   -   -   +   -   -   -   L", getPage("/projects/1")],
  ["GET /workspaces/ws1",                               "+   +   +   -   -   +   -   -   -   L", getPage("/workspaces/ws1")],
  ["GET /releases/:id/file",                            "+   +   +   -   -   -   -   -   -   L", getPage(async () => `/releases/${someRelease}/file?name=output%2Freport.csv`)],
  ["GET /staff/users",                                  "-   -   -   -   +   +   -   -   -   L", getPage("/staff/users")],
  ["GET /staff/users/dev",                              "-   -   -   -   +   +   -   -   -   L", getPage("/staff/users/dev")],
  ["GET /staff/backends",                               "-   -   -   -   +   -   -   -   -   L", getPage("/staff/backends")],
  ["GET /staff/publish-requests",                       "-   -   -   +   -   -   -   -   -   L", getPage("/staff/publish-requests")],
  ["GET /staff/incidents",                              "-   -   -   -   +   -   -   -   -   L", getPage("/staff/incidents")],
  ["POST /workspaces/ws1/run",                          "+   -   -   -   -   -   -   -   -   L", postPage("/workspaces/ws1/run", () => ({ action: "report", backend: "tpp" }))],
  ["POST /job-requests/:id/cancel",                     "+   -   -   -   -   -   -   -   -   L", postPage(async () => `/job-requests/${await pendingRequest()}/cancel`)],
  ["POST /projects/1/workspaces",                       "+   -   -   -   -   -   -   -   -   L", postPage("/projects/1/workspaces", (who) => ({ name: unique(`new-${who}`), repo, branch: "main" }))],
  ["POST /workspaces/:name/archive",                    "+   -   -   -   -   -   -   -   -   L", postPage(async (who) => `/workspaces/${await archiveTarget(who)}/archive`, () => ({ archived: "yes" }))],
  ["POST /projects/3/status",                           "-   -   -   -   -   +   -   -   -   L", postPage("/projects/3/status", () => ({ status: "ongoing" }))],
  ["POST /staff/users/target/roles (global)",           "-   -   -   -   +   -   -   -   -   L", postPage("/staff/users/target/roles", () => ({ role: "TechSupport" }))],
  ["POST /staff/users/target/roles/revoke (global)",    "-   -   -   -   +   -   -   -   -   L", postPage("/staff/users/target/roles/revoke", () => ({ role: "TechSupport" }))],
  ["POST /staff/users/target/roles (project)",          "-   -   -   -   -   +   -   -   -   L", postPage("/staff/users/target/roles", () => ({ role: "ProjectCollaborator", project: "3" }))],
  ["POST /staff/users/target/roles/revoke (project)",   "-   -   -   -   -   +   -   -   -   L", postPage("/staff/users/target/roles/revoke", () => ({ role: "ProjectCollaborator", project: "3" }))],
  ["POST /staff/users/target/backends",                 "-   -   -   -   +   -   -   -   -   L", postPage("/staff/users/target/backends", () => ({ backend: "spare" }))],
  ["POST /staff/backends",                              "-   -   -   -   +   -   -   -   -   L", postPage("/staff/backends", (who) => ({ name: unique(`b-${who}`) }))],
  ["POST /staff/backends/spare/rotate",                 "-   -   -   -   +   -   -   -   -   L", postPage("/staff/backends/spare/rotate")],
  ["POST /account/api-token",                           "+   +   +   +   +   +   +   +   +   L", postPage("/account/api-token")],
  ["POST /workspaces/ws1/publish-requests",             "+   -   -   -   -   -   -   -   -   L", postPage("/workspaces/ws1/publish-requests", () => ({ file: `${someRelease}:output/report.csv` }))],
  ["POST /staff/publish-requests/:id/approve",          "-   -   -   +   -   -   -   -   -   L", postPage(async () => `/staff/publish-requests/${await pendingPublish()}/approve`)],
  ["POST /staff/publish-requests/:id/reject",           "-   -   -   +   -   -   -   -   -   L", postPage(async () => `/staff/publish-requests/${await pendingPublish()}/reject`)],
  ["POST /staff/incidents/:id/close",                   "-   -   -   -   +   -   -   -   -   L", postPage(async (who) => `/staff/incidents/${await openIncident(who)}/close`, () => ({ note: "every copy is clean" }))],
];

const tokens = {} as Record<Who, string | undefined>;
const apiCall = (method: string, url: string | ((who: Who) => Promise<string>), body?: (who: Who) => unknown): Call => async (who) =>
  apiOutcome(await api(base, method, typeof url === "string" ? url : await url(who), { token: tokens[who], body: body?.(who) }));

/** A download answers the file's bytes, not JSON; its refusals are JSON as ever. */
const download = (url: () => Promise<string>): Call => async (who) => {
  const res = await fetch(base + (await url()), { headers: tokens[who] ? { authorization: `Bearer ${tokens[who]}` } : {} });
  const text = await res.text();
  return apiOutcome({ status: res.status, json: res.ok ? {} : (JSON.parse(text) as Record<string, unknown>) });
};

//                                                        dev collab chk pub saa sva sup oth nor anon
const API: [string, string, Call][] = [
  ["GET /api/v1/job-requests",                          "+   +   +   +   +   +   +   +   +   +", apiCall("GET", "/api/v1/job-requests")],
  ["GET /api/v1/job-requests/:id",                      "+   +   +   +   +   +   +   +   +   +", apiCall("GET", async () => `/api/v1/job-requests/${someRequest}`)],
  ["GET /api/v1/jobs/:id",                              "+   +   +   +   +   +   +   +   +   +", apiCall("GET", async () => `/api/v1/jobs/${someJob}`)],
  ["GET /api/v1/me",                                    "+   +   +   +   +   +   +   +   +   L", apiCall("GET", "/api/v1/me")],
  ["GET /api/v1/projects",                              "+   +   +   +   +   +   +   +   +   L", apiCall("GET", "/api/v1/projects")],
  ["GET /api/v1/projects/1",                            "+   +   +   -   -   +   -   -   -   L", apiCall("GET", "/api/v1/projects/1")],
  ["GET /api/v1/workspaces/ws1",                        "+   +   +   -   -   +   -   -   -   L", apiCall("GET", "/api/v1/workspaces/ws1")],
  ["GET /api/v1/workspaces/ws1/released",               "+   +   +   -   -   -   -   -   -   L", apiCall("GET", "/api/v1/workspaces/ws1/released")],
  ["GET /api/v1/releases/:id/file",                     "+   +   +   -   -   -   -   -   -   L", download(async () => `/api/v1/releases/${someRelease}/file?name=output%2Freport.csv`)],
  ["POST /api/v1/job-requests",                         "+   -   -   -   -   -   -   -   -   L", apiCall("POST", "/api/v1/job-requests", () => ({ workspace: "ws1", backend: "tpp", actions: ["report"] }))],
  ["POST /api/v1/job-requests/:id/cancel",              "+   -   -   -   -   -   -   -   -   L", apiCall("POST", async () => `/api/v1/job-requests/${await pendingRequest()}/cancel`)],
  ["POST /api/v1/projects/1/workspaces",                "+   -   -   -   -   -   -   -   -   L", apiCall("POST", "/api/v1/projects/1/workspaces", (who) => ({ name: unique(`api-${who}`), repo, branch: "main" }))],
  ["POST /api/v1/workspaces/:name/archive",             "+   -   -   -   -   -   -   -   -   L", apiCall("POST", async (who) => `/api/v1/workspaces/${await archiveTarget(who)}/archive`, () => ({ archived: true }))],
  ["POST /api/v1/projects/3/status",                    "-   -   -   -   -   +   -   -   -   L", apiCall("POST", "/api/v1/projects/3/status", () => ({ status: "ongoing" }))],
  ["GET /api/v1/users",                                 "-   -   -   -   +   +   -   -   -   L", apiCall("GET", "/api/v1/users")],
  ["GET /api/v1/users/dev",                             "-   -   -   -   +   +   -   -   -   L", apiCall("GET", "/api/v1/users/dev")],
  ["POST /api/v1/users/target/roles (global)",          "-   -   -   -   +   -   -   -   -   L", apiCall("POST", "/api/v1/users/target/roles", () => ({ role: "TechSupport" }))],
  ["POST /api/v1/users/target/roles/revoke (global)",   "-   -   -   -   +   -   -   -   -   L", apiCall("POST", "/api/v1/users/target/roles/revoke", () => ({ role: "TechSupport" }))],
  ["POST /api/v1/users/target/roles (project)",         "-   -   -   -   -   +   -   -   -   L", apiCall("POST", "/api/v1/users/target/roles", () => ({ role: "ProjectCollaborator", project: 3 }))],
  ["POST /api/v1/users/target/roles/revoke (project)",  "-   -   -   -   -   +   -   -   -   L", apiCall("POST", "/api/v1/users/target/roles/revoke", () => ({ role: "ProjectCollaborator", project: 3 }))],
  ["GET /api/v1/backends",                              "-   -   -   -   +   -   -   -   -   L", apiCall("GET", "/api/v1/backends")],
  ["POST /api/v1/backends",                             "-   -   -   -   +   -   -   -   -   L", apiCall("POST", "/api/v1/backends", (who) => ({ name: unique(`api-b-${who}`) }))],
  ["POST /api/v1/backends/spare/rotate",                "-   -   -   -   +   -   -   -   -   L", apiCall("POST", "/api/v1/backends/spare/rotate")],
  ["POST /api/v1/backends/spare/members",               "-   -   -   -   +   -   -   -   -   L", apiCall("POST", "/api/v1/backends/spare/members", () => ({ user: "target" }))],
  ["GET /api/v1/publish-requests",                      "-   -   -   +   -   -   -   -   -   L", apiCall("GET", "/api/v1/publish-requests")],
  ["GET /api/v1/publish-requests/:id",                  "+   +   +   +   -   -   -   -   -   L", apiCall("GET", async () => `/api/v1/publish-requests/${(somePublish ??= await pendingPublish())}`)],
  ["POST /api/v1/publish-requests",                     "+   -   -   -   -   -   -   -   -   L", apiCall("POST", "/api/v1/publish-requests", () => ({ workspace: "ws1", files: [{ release: someRelease, name: "output/report.csv" }] }))],
  ["POST /api/v1/publish-requests/:id/approve",         "-   -   -   +   -   -   -   -   -   L", apiCall("POST", async () => `/api/v1/publish-requests/${await pendingPublish()}/approve`, () => ({}))],
  ["POST /api/v1/publish-requests/:id/reject",          "-   -   -   +   -   -   -   -   -   L", apiCall("POST", async () => `/api/v1/publish-requests/${await pendingPublish()}/reject`, () => ({}))],
  ["GET /api/v1/incidents",                             "-   -   -   -   +   -   -   -   -   L", apiCall("GET", "/api/v1/incidents")],
  ["GET /api/v1/incidents/:id",                         "+   +   +   -   +   +   -   -   -   L", apiCall("GET", async (who) => `/api/v1/incidents/${(someIncident ??= await openIncident(who))}`)],
  ["POST /api/v1/incidents/:id/close",                  "-   -   -   -   +   -   -   -   -   L", apiCall("POST", async (who) => `/api/v1/incidents/${await openIncident(who)}/close`, () => ({ note: "every copy is clean" }))],
];

async function runMatrix(rows: [string, string, Call][]): Promise<void> {
  const expected: Record<string, string> = {};
  const actual: Record<string, string> = {};
  for (const [name, cells, call] of rows) {
    expected[name] = cells.split(/\s+/).join(" ");
    const got: string[] = [];
    for (const who of WHO) got.push(await call(who));
    actual[name] = got.join(" ");
  }
  // One comparison of the whole table, so a failure shows every cell that differs.
  expect(actual).toEqual(expected);
}

describe("the permission matrix", () => {
  beforeAll(async () => {
    someRequest = await pendingRequest("ws1", "spare");
    await store.claimJobRequest("spare", "fixture");
    someJob = "00000000000000a1";
    await store.reportJobs(someRequest, "spare", "fixture", [
      { identifier: someJob, action: "report", runCommand: "node:v1 analysis/report.js", status: "running", statusCode: "executing", statusMessage: "", started: new Date().toISOString(), finished: null, exitCode: null },
    ]);
    // A released file, sent out as Airlock sends it (docs/api.md, the backend services' protocol).
    const bytes = "group,count\na,10\n";
    const backendHeaders = { authorization: `Bearer ${agentsToken}`, "enclave-backend": "agents" };
    const list = await fetch(`${base}/api/backend/releases`, {
      method: "POST",
      headers: { ...backendHeaders, "content-type": "application/json" },
      body: JSON.stringify({ workspace: "ws1", request: "matrix-1", releasedBy: "checker", files: [{ name: "output/report.csv", size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"), date: new Date().toISOString() }] }),
    });
    expect(list.status).toBe(201);
    someRelease = ((await list.json()) as { release: { id: string } }).release.id;
    const put = await fetch(`${base}/api/backend/releases/${someRelease}/files?name=output%2Freport.csv`, { method: "PUT", headers: { ...backendHeaders, "content-type": "application/octet-stream" }, body: bytes });
    expect(put.status).toBe(200);
  });

  it("pages: every role against every page, GET and POST", async () => {
    await runMatrix(PAGES);
  }, 120_000);

  it("JSON API: every role against every endpoint, with API tokens", async () => {
    for (const who of WHO) tokens[who] = who === "anon" ? undefined : await store.rotateApiToken(who);
    await runMatrix(API);
  }, 120_000);

  it("when the project is completed, its developer can no longer request jobs, but still sees and cancels", async () => {
    expect((await api(base, "POST", "/api/v1/projects/1/status", { token: tokens.serviceadmin, body: { status: "completed" } })).status).toBe(200);
    try {
      const dev = browsers.dev;
      expect(pageOutcome(await dev.post("/workspaces/ws1/run", { action: "report", backend: "tpp" }))).toBe("-");
      const refused = await api(base, "POST", "/api/v1/job-requests", { token: tokens.dev, body: { workspace: "ws1", backend: "tpp", actions: ["report"] } });
      expect(refused.status).toBe(403);
      expect(refused.json.error).toMatch(/project 1 \(which is completed\)/);
      const ws = await dev.get("/workspaces/ws1");
      expect(ws.status).toBe(200);
      expect(ws.text).toContain("can no longer run jobs");
      expect(ws.text).not.toContain('action="/workspaces/ws1/run"');
      expect((await api(base, "POST", `/api/v1/job-requests/${await pendingRequest()}/cancel`, { token: tokens.dev })).status).toBe(200);
    } finally {
      expect((await api(base, "POST", "/api/v1/projects/1/status", { token: tokens.serviceadmin, body: { status: "ongoing" } })).status).toBe(200);
    }
    expect(pageOutcome(await browsers.dev.post("/workspaces/ws1/run", { action: "report", backend: "tpp" }))).toBe("+");
  }, 30_000);

  it("nobody changes their own roles", async () => {
    const self = await api(base, "POST", "/api/v1/users/staffadmin/roles", { token: tokens.staffadmin, body: { role: "ServiceAdministrator" } });
    expect(self.status).toBe(403);
    expect(self.json.error).toMatch(/own roles/);
    expect((await store.principal("staffadmin")).globalRoles).toEqual(["StaffAreaAdministrator"]);
  });

  it("refuses a job request that names an action project.yaml lacks, listing the problem, on the page and in the API", async () => {
    const page = await browsers.dev.post("/workspaces/ws1/run", { action: "nonesuch", backend: "tpp" });
    expect(page.status).toBe(422);
    expect(page.text).toContain("role=\"alert\"");
    expect(page.text).toMatch(/nonesuch/);
    const a = await api(base, "POST", "/api/v1/job-requests", { token: tokens.dev, body: { workspace: "ws1", backend: "tpp", actions: ["nonesuch"] } });
    expect(a.status).toBe(422);
    expect((a.json.problems as string[]).join(" ")).toMatch(/nonesuch/);
    const notMember = await api(base, "POST", "/api/v1/job-requests", { token: tokens.dev, body: { workspace: "ws1", backend: "spare", actions: ["report"] } });
    expect(notMember.status).toBe(422);
    expect(notMember.json.error).toMatch(/may not run jobs on backend "spare"/);
  });

  it("the API's errors are JSON with the right status", async () => {
    expect(await api(base, "GET", "/api/v1/job-requests/0123456789abcdef")).toMatchObject({ status: 404, json: { error: expect.stringMatching(/no job request/) } });
    expect(await api(base, "GET", "/api/v1/job-requests?limit=5000")).toMatchObject({ status: 400, json: { error: expect.stringMatching(/limit/) } });
    expect(await api(base, "GET", "/api/v1/nothing-here")).toMatchObject({ status: 404 });
    expect(await api(base, "POST", "/api/v1/projects/1/workspaces", { token: tokens.dev, body: { name: "ws1", repo, branch: "main" } })).toMatchObject({ status: 409, json: { error: expect.stringMatching(/already exists/) } });
    expect(await api(base, "POST", "/api/v1/projects/1/workspaces", { token: tokens.dev, body: { name: "x" } })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/"repo"/) } });
    expect(await api(base, "GET", "/api/v1/me", { token: "not-a-token" })).toMatchObject({ status: 401 });
    const wrongMethod = await api(base, "DELETE", "/api/v1/job-requests");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toContain("GET");
    const finished = await pendingRequest();
    await api(base, "POST", `/api/v1/job-requests/${finished}/cancel`, { token: tokens.dev });
    expect((await api(base, "POST", `/api/v1/job-requests/${finished}/cancel`, { token: tokens.dev })).status).toBe(409);
  });

  it("pages the job log with limit and before, newest first", async () => {
    const first = await api(base, "GET", "/api/v1/job-requests?limit=3");
    const page1 = first.json.jobRequests as { identifier: string; created: string }[];
    expect(page1).toHaveLength(3);
    const second = await api(base, "GET", `/api/v1/job-requests?limit=3&before=${first.json.next as string}`);
    const page2 = second.json.jobRequests as { identifier: string }[];
    expect(page2).toHaveLength(3);
    expect(page1.map((r) => r.identifier)).not.toContain(page2[0]!.identifier);
    const filtered = await api(base, "GET", "/api/v1/job-requests?workspace=ws2");
    expect((filtered.json.jobRequests as unknown[]).length).toBe(0);
    const html = await browsers.anon.get(`/?limit=3&before=${first.json.next as string}`);
    expect(html.text).toContain(page2[0]!.identifier);
    expect(html.text).toContain("Older requests");
  });
});

// ---------------------------------------------------------------------------

describe("sessions, CSRF and headers", () => {
  it("every POST form on every page carries the CSRF token", () => {
    expect(pagesSeen.length).toBeGreaterThan(20);
    let forms = 0;
    for (const page of pagesSeen) {
      for (const m of page.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)) {
        if (!/method="post"/.test(m[0])) continue;
        forms++;
        expect(m[0]).toMatch(/<input type="hidden" name="csrf" value="[A-Za-z0-9_-]{32,}">/);
      }
    }
    expect(forms).toBeGreaterThan(20);
  });

  it("refuses a post without the token, with a wrong one, or marked cross-site; accepts the header from scripts in the page", async () => {
    const dev = browsers.dev;
    const target = async () => `/workspaces/${(await store.createWorkspace({ project: 1, name: unique("csrf"), repo, branch: "main" })).name}/archive`;
    expect((await dev.request("POST", await target(), { form: { archived: "yes" } })).status).toBe(403);
    expect((await dev.request("POST", await target(), { form: { archived: "yes", csrf: "x".repeat(43) } })).status).toBe(403);
    expect((await dev.request("POST", await target(), { form: { archived: "yes", csrf: dev.csrf! }, headers: { "sec-fetch-site": "cross-site" } })).status).toBe(403);
    expect((await dev.request("POST", await target(), { form: { archived: "yes", csrf: dev.csrf! } })).status).toBe(303);
    // The JSON API with the session cookie: the token comes as a header.
    const url = `/api/v1${(await target()).replace("/archive", "")}/archive`;
    const cookie = dev.cookieHeader();
    expect((await api(base, "POST", url, { body: { archived: true }, headers: { cookie } })).status).toBe(403);
    expect((await api(base, "POST", url, { body: { archived: true }, headers: { cookie, "x-csrf-token": dev.csrf! } })).status).toBe(200);
  });

  it("an API token works for the JSON API only, not for pages or forms", async () => {
    const token = await store.rotateApiToken("collab");
    const page = await fetch(`${base}/account`, { headers: { authorization: `Bearer ${token}` }, redirect: "manual" });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toMatch(/^\/login/);
    const form = await fetch(`${base}/account/api-token`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/x-www-form-urlencoded" }, body: "", redirect: "manual" });
    expect(form.status).toBe(403);
    expect((await api(base, "GET", "/api/v1/me", { token })).json).toMatchObject({ user: { username: "collab" } });
  });

  it("the login form's own token is checked before there is a session", async () => {
    const b = new Browser(base);
    const a = await b.request("POST", "/login", { form: { username: "dev", password: password("dev") } });
    expect(a.status).toBe(403);
  });

  it("sets the session cookie HttpOnly, SameSite, Path=/ (and Secure only when configured)", async () => {
    const b = new Browser(base);
    await b.get("/login");
    const a = await b.request("POST", "/login", { form: { csrf: b.csrf!, username: "norole", password: password("norole"), next: "/projects" } });
    expect(a.status).toBe(303);
    expect(a.location).toBe("/projects");
    const cookie = a.headers.getSetCookie().find((c) => c.startsWith("enclave_session="))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=(Lax|Strict)/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Secure/);
    // Never to another site after login.
    const c = new Browser(base);
    await c.get("/login");
    const away = await c.post("/login", { username: "norole", password: password("norole"), next: "//evil.example/" });
    expect(away.location).toBe("/");
  });

  it("logging out ends the session: the old cookie and its token no longer work", async () => {
    const b = new Browser(base);
    await b.login("dev", password("dev"));
    const cookie = b.cookieHeader();
    const csrf = b.csrf!;
    expect((await b.get("/account")).status).toBe(200);
    const out = await b.post("/logout");
    expect(out.status).toBe(303);
    expect(b.cookies.has("enclave_session")).toBe(false);
    const again = await fetch(`${base}/account`, { headers: { cookie }, redirect: "manual" });
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toMatch(/^\/login/);
    const post = await fetch(`${base}/account/api-token`, { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: `csrf=${csrf}`, redirect: "manual" });
    expect(post.status).toBe(403);
    expect(await post.text()).toMatch(/session has ended/);
  });

  it("sends the security headers on pages and API answers", async () => {
    for (const url of ["/", "/api/v1/job-requests", "/no-such-page"]) {
      const res = await fetch(base + url);
      expect(res.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
      expect(res.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBeTruthy();
    }
    const missing = await fetch(`${base}/no-such-page`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toMatch(/text\/html/);
    const css = /href="(\/static\/style-[0-9a-f]+\.css)"/.exec(await (await fetch(base)).text())![1]!;
    const sheet = await fetch(base + css);
    expect(sheet.headers.get("content-type")).toMatch(/text\/css/);
    expect(await sheet.text()).toMatch(/:focus-visible/);
  });

  it("refuses a body over the limit with 413", async () => {
    const res = await fetch(`${base}/api/v1/job-requests`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tokens.dev}` }, body: "x".repeat(2 * 1024 * 1024) });
    expect(res.status).toBe(413);
  });

  it("escapes every value it puts in a page", async () => {
    const other = await browsers.staffadmin.get("/staff/users/target");
    expect(other.text).toContain("&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;");
    expect(other.text).not.toContain("<script>alert");
    await pendingRequest("ws2");
    const log = await browsers.anon.get("/");
    expect(log.text).toContain("&lt;script&gt;alert(&quot;project&quot;)");
    expect(log.text).not.toContain("<script>alert");
    const reflected = await browsers.anon.get("/?workspace=%3Cscript%3Ealert(1)%3C/script%3E");
    expect(reflected.status).toBe(400);
    expect(reflected.text).not.toContain("<script>alert");
    const bad = await browsers.dev.post("/projects/1/workspaces", { name: "<script>alert(1)</script>", repo, branch: "main" });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(bad.text).not.toContain("<script>alert");
  });
});

describe("the job log cache", () => {
  it("shares a page of the public log between visitors, and forgets it at once on a change made through the server", async () => {
    const cached = await startJobServer({ store, auditLog, logCacheMs: 60_000, log: () => undefined, allowedRepos: [tmp] });
    try {
      const first = (await api(cached.url, "GET", "/api/v1/job-requests?limit=1")).json.jobRequests as { identifier: string }[];
      // Made by another process: not seen until the page is read again.
      const elsewhere = await pendingRequest();
      expect((await api(cached.url, "GET", "/api/v1/job-requests?limit=1")).json.jobRequests).toEqual(first);
      expect((await fetch(`${cached.url}/?limit=1`).then((r) => r.text()))).not.toContain(elsewhere);
      // Made through the server: seen at once.
      const token = await store.rotateApiToken("dev");
      tokens.dev = token;
      const created = await api(cached.url, "POST", "/api/v1/job-requests", { token, body: { workspace: "ws1", backend: "tpp", actions: ["report"] } });
      const id = (created.json.jobRequest as { identifier: string }).identifier;
      expect(((await api(cached.url, "GET", "/api/v1/job-requests?limit=1")).json.jobRequests as { identifier: string }[])[0]!.identifier).toBe(id);
      expect(await fetch(`${cached.url}/?limit=2`).then((r) => r.text())).toContain(elsewhere);
    } finally {
      await cached.close();
    }
  });
});

describe("the web core", () => {
  it("escapes interpolations by default and keeps nested markup", () => {
    const name = `<b>"x" & 'y'</b>`;
    expect(html`<p title="${name}">${name}</p>`.text).toBe("<p title=\"&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;\">&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;</p>");
    expect(html`<ul>${["a<", "b"].map((x) => html`<li>${x}</li>`)}</ul>`.text).toBe("<ul><li>a&lt;</li><li>b</li></ul>");
    expect(html`${null}${undefined}${false}${0}`.text).toBe("0");
    expect(escapeHtml("&amp;")).toBe("&amp;amp;");
    expect(urlPath`/workspaces/${"a/b?c"}`).toBe("/workspaces/a%2Fb%3Fc");
  });

  it("routes by method and path parameters, and tells the methods a path allows", () => {
    const r = new Router();
    const noop = async () => undefined;
    r.get("/job-requests/:id", noop).post("/job-requests/:id/cancel", noop);
    expect(r.match("GET", "/job-requests/abc")).toMatchObject({ params: { id: "abc" } });
    expect(r.match("HEAD", "/job-requests/a%20b")).toMatchObject({ params: { id: "a b" } });
    expect(r.match("POST", "/job-requests/abc")).toEqual({ allowed: ["GET"] });
    expect(r.match("GET", "/job-requests/")).toBeUndefined();
    expect(r.match("GET", "/job-requests/abc/cancel")).toEqual({ allowed: ["POST"] });
  });

  it("runs middleware in order and fails loudly on a second next()", async () => {
    const seen: string[] = [];
    await compose([
      async (_c, next) => {
        seen.push("a");
        await next();
        seen.push("a'");
      },
      async (_c, next) => {
        seen.push("b");
        await next();
      },
    ])({} as never, async () => void seen.push("end"));
    expect(seen).toEqual(["a", "b", "end", "a'"]);
    await expect(compose([async (_c, next) => { await next(); await next(); }])({} as never, async () => undefined)).rejects.toThrow(/next\(\) twice/);
  });
});

// ---------------------------------------------------------------------------

describe("login rate limiting", () => {
  const GOOD = "Correct-Horse-7";
  const BAD = "Guessed-Pass-3";
  let now = new Date("2030-01-01T10:00:00Z");
  let s2: Store;
  let log2: AuditLog;
  let server2: JobServer;

  beforeAll(async () => {
    s2 = await Store.open(path.join(tmp, "throttle.db"), { clock: () => now });
    log2 = await AuditLog.open(path.join(tmp, "throttle-audit.db"));
    await s2.createUser({ username: "alice", password: GOOD });
    await s2.createUser({ username: "carol", password: GOOD });
    server2 = await startJobServer({ store: s2, auditLog: log2, now: () => now, secureCookies: true, log: () => undefined });
  });
  afterAll(async () => {
    await server2?.close();
    await s2?.close();
    await log2?.close();
  });

  it("after 5 failures for a username refuses even the right password with 429 and says when to retry; the window passes", async () => {
    const b = new Browser(server2.url);
    for (let i = 0; i < 5; i++) expect((await b.login("alice", BAD)).status).toBe(401);
    const refused = await b.login("alice", GOOD);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("900");
    expect(refused.text).toMatch(/Try again after 10:15 UTC/);
    now = new Date(now.getTime() + 16 * 60_000);
    const ok = await b.login("alice", GOOD);
    expect(ok.status).toBe(303);
    expect(ok.headers.getSetCookie().find((c) => c.startsWith("enclave_session="))).toMatch(/; Secure/);
  });

  it("after 20 failures from one address refuses every username with 429", async () => {
    now = new Date(now.getTime() + 16 * 60_000);
    const b = new Browser(server2.url);
    for (let i = 0; i < 20; i++) expect((await b.login(`guess${i}`, BAD)).status).toBe(401);
    const refused = await b.login("carol", GOOD);
    expect(refused.status).toBe(429);
    expect(refused.text).toMatch(/this address/);
  });

  it("logs failures without the password", async () => {
    const entries = await log2.entries();
    const failures = entries.filter((e) => e.action === "login.failure");
    expect(failures.length).toBeGreaterThanOrEqual(27);
    expect(failures.some((e) => e.details.reason === "throttled")).toBe(true);
    expect(JSON.stringify(entries)).not.toMatch(new RegExp(`${GOOD}|${BAD}`));
    expect((await log2.verify()).ok).toBe(true);
  });
});

// ---------------------------------------------------------------------------

describe("the agent protocol", () => {
  let call: ReturnType<typeof agent>;
  let devToken: string;
  let r1: string;
  let r2: string;
  const job = (identifier: string, status: string, extra: Record<string, unknown> = {}) => ({
    identifier,
    action: "report",
    runCommand: "node:v1 analysis/report.js",
    status,
    statusCode: status === "running" ? "executing" : status === "succeeded" ? "succeeded" : "",
    statusMessage: "",
    started: new Date().toISOString(),
    finished: status === "succeeded" ? new Date().toISOString() : null,
    exitCode: status === "succeeded" ? 0 : null,
    ...extra,
  });

  beforeAll(async () => {
    call = agent(base, "agents", agentsToken);
    devToken = await store.rotateApiToken("dev");
    tokens.dev = devToken;
  });

  it("refuses a wrong token, a missing backend header and a body without an agent", async () => {
    expect((await agent(base, "agents", "wrong")("/api/agent/claim", { agent: "a1" })).status).toBe(401);
    expect((await agent(base, "nonesuch", agentsToken)("/api/agent/claim", { agent: "a1" })).status).toBe(401);
    const res = await fetch(`${base}/api/agent/claim`, { method: "POST", headers: { authorization: `Bearer ${agentsToken}`, "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(401);
    expect(await res.json()).toHaveProperty("error");
    expect(await call("/api/agent/claim", {})).toMatchObject({ status: 400 });
    expect(await call("/api/agent/claim", { agent: "a1", wait: "soon" })).toMatchObject({ status: 400 });
  });

  it("answers 204 when nothing is pending and wait is 0", async () => {
    expect((await call("/api/agent/claim", { agent: "a1", wait: 0 })).status).toBe(204);
  });

  it("a waiting claim gets a request created during the wait at once, with the project and the workspace's repo", async () => {
    const claim = call("/api/agent/claim", { agent: "a1", wait: 10 });
    await sleep(300);
    const created = await api(base, "POST", "/api/v1/job-requests", { token: devToken, body: { workspace: "ws1", backend: "agents", actions: ["report"] } });
    expect(created.status).toBe(201);
    const at = Date.now();
    const got = await claim;
    expect(Date.now() - at).toBeLessThan(1000);
    expect(got.status).toBe(200);
    r1 = (created.json.jobRequest as { identifier: string }).identifier;
    expect(got.json.task).toEqual({
      jobRequest: r1,
      workspace: "ws1",
      project: { number: 1, name: "Diabetes", category: "approved", status: "ongoing" },
      repo,
      branch: "main",
      commit,
      actions: ["report"],
      force: false,
      requester: "dev",
    });
  });

  it("takes job reports from the agent holding the request only", async () => {
    const j1 = "1111111111111111";
    expect(await call(`/api/agent/requests/${r1}/jobs`, { agent: "a1", jobs: [job(j1, "running", { statusMessage: "<img src=x onerror=alert(1)>" })] })).toMatchObject({ status: 200, json: { cancelRequested: false } });
    expect((await call(`/api/agent/requests/${r1}/jobs`, { agent: "a2", jobs: [job(j1, "running")] })).status).toBe(409);
    expect((await call("/api/agent/requests/ffffffffffffffff/jobs", { agent: "a1", jobs: [] })).status).toBe(404);
    expect(await call(`/api/agent/requests/${r1}/jobs`, { agent: "a1", jobs: [job(j1, "exploded")] })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/jobs\[0\]\.status/) } });
    expect(await call(`/api/agent/requests/${r1}/jobs`, { agent: "a1", jobs: [job(j1, "failed", { statusCode: "see output/secret.csv" })] })).toMatchObject({ status: 400 });
    const shown = await api(base, "GET", `/api/v1/job-requests/${r1}`);
    expect(shown.json.jobs).toMatchObject([{ identifier: j1, status: "running", action: "report" }]);
    const page = await browsers.anon.get(`/jobs/${j1}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(page.text).not.toContain("<img src=x");
    expect((await browsers.anon.get(`/job-requests/${r1}`)).text).toContain(j1);
  });

  it("a cancellation reaches the agent by heartbeat and by its next report; finish ends the request", async () => {
    const cancelled = await api(base, "POST", `/api/v1/job-requests/${r1}/cancel`, { token: devToken });
    expect(cancelled.json.jobRequest).toMatchObject({ status: "running", cancelRequested: true });
    expect(await call("/api/agent/heartbeat", { agent: "a1", running: [r1] })).toMatchObject({ status: 200, json: { cancel: [r1] } });
    expect(await call(`/api/agent/requests/${r1}/jobs`, { agent: "a1", jobs: [] })).toMatchObject({ json: { cancelRequested: true } });
    const finished = await call(`/api/agent/requests/${r1}/finish`, { agent: "a1", status: "cancelled", message: "cancelled by dev" });
    expect(finished).toMatchObject({ status: 200, json: { identifier: r1, status: "cancelled" } });
    expect((await api(base, "GET", `/api/v1/job-requests/${r1}`)).json.jobs).toMatchObject([{ status: "failed", statusCode: "cancelled_by_user" }]);
    expect((await call(`/api/agent/requests/${r1}/finish`, { agent: "a1", status: "failed" })).status).toBe(409);
    expect(await call("/api/agent/heartbeat", { agent: "a1", running: [r1] })).toMatchObject({ json: { cancel: [] } });
  });

  it("a waiting claim also finds a request another process created, within about a second", async () => {
    const claim = call("/api/agent/claim", { agent: "a1", wait: 10 });
    await sleep(200);
    const elsewhere = await Store.open(path.join(tmp, "jobserver.db"));
    let at: number;
    try {
      r2 = (await elsewhere.createJobRequest({ workspace: "ws1", backend: "agents", commit, actions: ["report"], force: true, requester: "dev" })).identifier;
      at = Date.now();
    } finally {
      await elsewhere.close();
    }
    const got = await claim;
    expect(Date.now() - at).toBeLessThan(1500);
    expect(got.json.task).toMatchObject({ jobRequest: r2, force: true });
  });

  it("recover fails what the agent held, with its unfinished jobs", async () => {
    await call(`/api/agent/requests/${r2}/jobs`, { agent: "a1", jobs: [job("2222222222222222", "running")] });
    expect(await call("/api/agent/recover", { agent: "a1" })).toMatchObject({ status: 200, json: { failed: [r2] } });
    const after = await api(base, "GET", `/api/v1/job-requests/${r2}`);
    expect(after.json.jobRequest).toMatchObject({ status: "failed" });
    expect(after.json.jobs).toMatchObject([{ status: "failed", statusCode: "internal_error", statusMessage: expect.stringMatching(/agent stopped/) }]);
    expect(await call("/api/agent/recover", { agent: "a1" })).toMatchObject({ json: { failed: [] } });
  });

  it("two agents waiting for one request: exactly one gets it", async () => {
    const claims = [call("/api/agent/claim", { agent: "a1", wait: 3 }), call("/api/agent/claim", { agent: "a2", wait: 3 })];
    await sleep(200);
    const created = await api(base, "POST", "/api/v1/job-requests", { token: devToken, body: { workspace: "ws1", backend: "agents", actions: ["run_all"] } });
    const r3 = (created.json.jobRequest as { identifier: string }).identifier;
    const answers = await Promise.all(claims);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 204]);
    const winner = answers.find((a) => a.status === 200)!;
    const name = answers[0]!.status === 200 ? "a1" : "a2";
    expect(winner.json.task).toMatchObject({ jobRequest: r3, actions: ["run_all"] });
    await call(`/api/agent/requests/${r3}/jobs`, { agent: name, jobs: [job("3333333333333333", "succeeded", { cpuSeconds: 1.5, memoryBytes: 50 * 1048576 })] });
    expect(await call(`/api/agent/requests/${r3}/finish`, { agent: name, status: "succeeded", message: "" })).toMatchObject({ json: { status: "succeeded", jobsDone: 1, jobsTotal: 1 } });
    const page = await browsers.anon.get("/jobs/3333333333333333");
    expect(page.text).toContain("1.5 s");
    expect(page.text).toContain("50.0 MiB");
  });

  it("closing the server ends a waiting claim at once with 204", async () => {
    const other = await startJobServer({ store, auditLog, log: () => undefined });
    const claim = agent(other.url, "agents", agentsToken)("/api/agent/claim", { agent: "a9", wait: 30 });
    await sleep(200);
    const at = Date.now();
    await other.close();
    const answer = await claim;
    expect(answer.status).toBe(204);
    expect(Date.now() - at).toBeLessThan(1500);
  });

  it("a rotated token stops working at once", async () => {
    const fresh = await store.rotateBackendToken("agents");
    expect((await call("/api/agent/heartbeat", { agent: "a1", running: [] })).status).toBe(401);
    expect((await agent(base, "agents", fresh)("/api/agent/heartbeat", { agent: "a1", running: [] })).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------

describe.skipIf(noBrowser)("in a browser", () => {
  it("works without JavaScript: log in, request a job, land on its page", async () => {
    const browser = await launchBrowser();
    try {
      const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
      await page.goto(`${base}/workspaces/ws1`);
      await page.getByLabel("Username").fill("dev");
      await page.getByLabel("Password").fill(password("dev"));
      await page.getByRole("button", { name: "Log in" }).click();
      expect(new URL(page.url()).pathname).toBe("/workspaces/ws1");
      await page.getByLabel("report", { exact: true }).check();
      await page.getByLabel("Backend").selectOption("tpp");
      await page.getByRole("button", { name: "Request these jobs" }).click();
      expect(new URL(page.url()).pathname).toMatch(/^\/job-requests\/[0-9a-f]{16}$/);
      expect(await page.getByRole("heading", { level: 1 }).textContent()).toMatch(/Job request/);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it("with JavaScript: no error or CSP violation, a visible focus, and the status refreshes by itself", async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
      page.on("pageerror", (e) => void problems.push(String(e)));
      const id = await pendingRequest("ws2", "spare");
      await page.goto(`${base}/job-requests/${id}`);
      expect(await page.locator("main").textContent()).toMatch(/pending/);
      await page.keyboard.press("Tab");
      // Strings, as the DOM's types are not in this project's TypeScript setup.
      expect(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).not.toBe("none");
      // The fixture request on "spare" is held by another agent; this one's workspace is free.
      expect((await store.claimJobRequest("spare", "browser-test"))?.identifier).toBe(id);
      await page.locator("[data-refresh-region] dd").getByText("running").waitFor({ timeout: 15_000 });
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------

describe("the audit log", () => {
  it("holds every kind of operation, no password or token, and verifies", async () => {
    const entries = await auditLog.entries();
    const actions = new Set(entries.map((e) => e.action));
    for (const a of [
      "login",
      "logout",
      "api_token.rotate",
      "role.grant",
      "role.revoke",
      "project.status",
      "workspace.create",
      "workspace.archive",
      "job_request.create",
      "job_request.refuse",
      "job_request.cancel",
      "job_request.claim",
      "job.status",
      "job_request.finish",
      "agent.recover",
      "backend.create",
      "backend.rotate_token",
      "backend.add_member",
    ]) {
      expect(actions, a).toContain(a);
    }
    expect(entries.find((e) => e.action === "project.status" && e.details.to === "completed")).toMatchObject({ actor: "serviceadmin", subject: "project:1", details: { from: "ongoing" } });
    expect(entries.find((e) => e.action === "job_request.claim")).toMatchObject({ actor: "agent:agents", details: { agent: "a1" } });
    const text = JSON.stringify(entries);
    for (const who of WHO) expect(text).not.toContain(password(who));
    expect(text).not.toContain(agentsToken);
    const verified = await auditLog.verify();
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
  });
});
