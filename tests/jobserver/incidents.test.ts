// Incidents: `enclave breach clean --db --workspace` cleans a leak from a
// study's repository and, once the clean is verified, opens an incident on the
// job server. While it is open the workspace is restricted: no job requests
// (nor are those asked for before handed to an agent), no publish requests,
// approvals or publishing, and its page says why. Staff (user.manage) close
// it with a note, which lifts the restriction. A real server on 127.0.0.1
// with a SQLite store; the breach command runs in this process.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/index.js";
import { PublishRefused, publishRequest } from "../../src/cli/publish.js";
import { type JobServer, ReleaseFolder, Store, StoreError, startJobServer } from "../../src/jobserver/index.js";
import { breach } from "../breach/helpers.js";
import { git } from "../support/git.js";
import { Browser, api, studyRepo } from "./http-helpers.js";

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-incidents-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const password = (who: string): string => `pass-of-${who}-7`;
const sha256 = (b: string): string => createHash("sha256").update(b).digest("hex");
const PATIENTS = "patient_id,age\n1,34\n2,51\n3,47\n";


describe("an incident, from enclave breach clean to its closing", { timeout: 60_000 }, () => {
  const study = path.join(tmp, "study");
  const dbFile = path.join(tmp, "jobserver.db");
  const auditFile = path.join(tmp, "audit.db");
  const releasesDir = path.join(tmp, "releases");
  let store: Store;
  let auditLog: AuditLog;
  let server: JobServer;
  let base: string;
  let leak: string;
  let commit: string;
  let incident: string;
  let waiting: string;
  let pendingPublish: string;
  let approvedPublish: string;
  let release: string;
  const tokens: Record<string, string> = {};
  const browsers: Record<string, Browser> = {};
  const clean = (...more: string[]) => breach(["clean", study, "--blob", leak, "--yes", "--method", "fast-export", "--audit-db", auditFile, "--actor", "tester", ...more]);

  beforeAll(async () => {
    studyRepo(study);
    fs.mkdirSync(path.join(study, "output"));
    fs.writeFileSync(path.join(study, "output/patients.csv"), PATIENTS);
    git(study, "add", "-A");
    git(study, "commit", "-q", "-m", "oops: a patient-level file");
    leak = git(study, "rev-parse", "HEAD:output/patients.csv");
    git(study, "rm", "-q", "output/patients.csv");
    git(study, "commit", "-q", "-m", "remove it (which is not enough)");
    commit = git(study, "rev-parse", "HEAD");

    store = await Store.open(dbFile);
    auditLog = await AuditLog.open(auditFile);
    for (const who of ["dev", "staff", "pub", "other"]) await store.createUser({ username: who, password: password(who) });
    await store.createOrg("org");
    await store.createProject({ number: 1, name: "Diabetes", org: "org" });
    await store.createProject({ number: 2, name: "Asthma", org: "org" });
    await store.addMember(1, "dev", ["ProjectDeveloper"]);
    await store.addMember(2, "other", ["ProjectDeveloper"]);
    await store.grantGlobalRole("staff", "StaffAreaAdministrator");
    await store.grantGlobalRole("pub", "OutputPublisher");
    await store.createWorkspace({ project: 1, name: "ws1", repo: study, branch: "main" });
    await store.createBackend("tpp");
    await store.addBackendMember("tpp", "dev");
    // Made before the leak is found: a job request waiting for an agent, and publish requests.
    waiting = (await store.createJobRequest({ workspace: "ws1", backend: "tpp", commit, actions: ["report"], force: false, requester: "dev" })).identifier;
    const text = "group,count\na,10\n";
    release = (await store.createRelease({ workspace: "ws1", backend: "tpp", request: "AIRLOCK-1", releasedBy: "checker", files: [{ name: "output/table.csv", size: text.length, sha256: sha256(text), date: "2031-01-01T00:00:00Z" }] })).release.id;
    const folder = new ReleaseFolder(releasesDir);
    const got = await folder.take(
      (async function* () {
        yield Buffer.from(text);
      })(),
    );
    await store.receiveReleaseFile(release, "output/table.csv", await folder.keep(got.temp, got.sha256));
    pendingPublish = (await store.createPublishRequest({ workspace: "ws1", requester: "dev", files: [{ release, name: "output/table.csv" }] })).id;
    approvedPublish = (await store.createPublishRequest({ workspace: "ws1", requester: "dev", files: [{ release, name: "output/table.csv" }] })).id;
    await store.decidePublishRequest(approvedPublish, { status: "approved", by: "pub" });

    server = await startJobServer({ store, auditLog, releasesDir, allowedRepos: [tmp], logCacheMs: 0, log: () => undefined });
    base = server.url;
    for (const who of ["dev", "staff", "pub", "other"]) {
      tokens[who] = await store.rotateApiToken(who);
      browsers[who] = new Browser(base);
      expect((await browsers[who]!.login(who, password(who))).status).toBe(303);
    }
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    await auditLog?.close();
  });

  it("refuses --db without --workspace, and a workspace the job server does not know, before changing anything", async () => {
    const noWorkspace = await clean("--db", dbFile);
    expect(noWorkspace.code).toBe(2);
    expect(noWorkspace.stderr).toMatch(/--db is where the incident is opened: give --workspace NAME too/);
    const unknown = await clean("--db", dbFile, "--workspace", "nope");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--workspace nope: the job server has no workspace of that name; nothing was changed/);
    expect(git(study, "cat-file", "-t", leak)).toBe("blob");
    expect(await store.listIncidents()).toEqual([]);
  });

  it("a verified clean opens an incident for the workspace, with the blobs, the refs rewritten, who and when", async () => {
    const run = await clean("--db", dbFile, "--workspace", "ws1");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(() => git(study, "cat-file", "-e", leak)).toThrow();
    const open = await store.listIncidents({ open: true });
    expect(open).toHaveLength(1);
    incident = open[0]!.id;
    expect(open[0]).toMatchObject({ workspace: "ws1", project: 1, repo: study, openedBy: "tester", closed: null, blobs: [{ id: leak, size: PATIENTS.length, paths: ["output/patients.csv"] }] });
    expect(open[0]!.refsRewritten).toContain("refs/heads/main");
    expect(Date.now() - Date.parse(open[0]!.opened)).toBeLessThan(60_000);
    expect(run.stdout).toContain(`Incident ${incident} is open on the job server: workspace ws1 takes no job requests and nothing is published from it`);
    expect((await store.getWorkspace("ws1"))!.restricted).toBe(true);
  });

  it("while it is open, the workspace takes no job requests, and what it asked for before waits", async () => {
    const refused = await api(base, "POST", "/api/v1/job-requests", { token: tokens.dev, body: { workspace: "ws1", backend: "tpp", actions: ["report"] } });
    expect(refused.status).toBe(422);
    expect(refused.json.problems).toEqual([expect.stringMatching(new RegExp(`^workspace ws1 is restricted by incident ${incident} \\(a leak was cleaned from its repository on \\d{4}-\\d\\d-\\d\\d\\): it takes no job requests until staff close the incident$`))]);
    const head = git(study, "rev-parse", "HEAD");
    await expect(store.createJobRequest({ workspace: "ws1", backend: "tpp", commit: head, actions: ["report"], force: false, requester: "dev" })).rejects.toThrow(StoreError);
    await expect(store.createJobRequest({ workspace: "ws1", backend: "tpp", commit: head, actions: ["report"], force: false, requester: "dev" })).rejects.toThrow(`restricted by incident ${incident}`);
    expect(await store.claimJobRequest("tpp", "agent-1")).toBeUndefined();
    expect((await store.getJobRequest(waiting))!.status).toBe("pending");
  });

  it("while it is open, nothing is asked for, approved or published", async () => {
    const asked = await api(base, "POST", "/api/v1/publish-requests", { token: tokens.dev, body: { workspace: "ws1", files: [{ release, name: "output/table.csv" }] } });
    expect(asked).toMatchObject({ status: 409, json: { error: expect.stringMatching(new RegExp(`restricted by incident ${incident} .*: nothing is published from it`)) } });
    const approved = await api(base, "POST", `/api/v1/publish-requests/${pendingPublish}/approve`, { token: tokens.pub, body: {} });
    expect(approved).toMatchObject({ status: 409, json: { error: expect.stringMatching(`incident ${incident}`) } });
    const published = publishRequest({ store, audit: auditLog, releasesDir, request: approvedPublish, repo: study, actor: "operator" });
    await expect(published).rejects.toThrow(PublishRefused);
    await expect(publishRequest({ store, audit: auditLog, releasesDir, request: approvedPublish, repo: study, actor: "operator" })).rejects.toThrow(`restricted by incident ${incident}`);
  });

  it("the workspace's page shows the incident, and offers neither the job form nor the publish form", async () => {
    const page = await browsers.dev!.get("/workspaces/ws1");
    expect(page.text).toContain(`Restricted: incident <code>${incident}</code>`);
    expect(page.text).toContain(leak);
    expect(page.text).toContain("output/patients.csv");
    expect(page.text).toContain("takes no job requests");
    expect(page.text).not.toContain("Request these jobs");
    expect(page.text).not.toContain("Ask for these files to be published");
    const shown = await api(base, "GET", "/api/v1/workspaces/ws1", { token: tokens.dev });
    expect(shown.json.workspace).toMatchObject({ restricted: true });
    expect(shown.json.incidents).toMatchObject([{ id: incident, blobs: [{ id: leak }] }]);
    expect((await api(base, "GET", `/api/v1/incidents/${incident}`, { token: tokens.dev })).status).toBe(200);
    expect((await api(base, "GET", `/api/v1/incidents/${incident}`, { token: tokens.other })).status).toBe(403);
  });

  it("only staff (user.manage) see the incidents and close one, with a note", async () => {
    for (const who of ["dev", "pub", "other"]) {
      expect((await api(base, "POST", `/api/v1/incidents/${incident}/close`, { token: tokens[who], body: { note: "done" } })).status, who).toBe(403);
      expect((await api(base, "GET", "/api/v1/incidents", { token: tokens[who] })).status, who).toBe(403);
      expect((await browsers[who]!.get("/staff/incidents")).status, who).toBe(403);
    }
    expect((await api(base, "POST", `/api/v1/incidents/${incident}/close`, { body: { note: "done" } })).status).toBe(401);
    expect(await api(base, "POST", `/api/v1/incidents/${incident}/close`, { token: tokens.staff, body: {} })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/"note" is required/) } });
    expect((await api(base, "POST", `/api/v1/incidents/${incident}/close`, { token: tokens.staff, body: { note: "   " } })).status).toBe(400);
    expect((await api(base, "POST", "/api/v1/incidents/0123456789abcdef/close", { token: tokens.staff, body: { note: "x" } })).status).toBe(404);
    expect((await api(base, "GET", "/api/v1/incidents?open=true", { token: tokens.staff })).json.incidents).toMatchObject([{ id: incident }]);
    const page = await browsers.staff!.get("/staff/incidents");
    expect(page.text).toContain(incident);
    expect(page.text).toContain(`action="/staff/incidents/${incident}/close"`);
    const forged = await browsers.staff!.request("POST", `/staff/incidents/${incident}/close`, { form: { note: "done" } });
    expect(forged.status).toBe(403);
    const closed = await browsers.staff!.post(`/staff/incidents/${incident}/close`, { note: "every clone deleted; GitHub asked to purge; reported to the disclosure control team" });
    expect(closed.status).toBe(303);
    expect(closed.location).toBe("/staff/incidents?done=incident-closed");
    expect(await store.getIncident(incident)).toMatchObject({ closedBy: "staff", closeNote: "every clone deleted; GitHub asked to purge; reported to the disclosure control team", closed: expect.any(String) });
    expect(await api(base, "POST", `/api/v1/incidents/${incident}/close`, { token: tokens.staff, body: { note: "again" } })).toMatchObject({ status: 409, json: { error: expect.stringMatching(/was closed already/) } });
  });

  it("closing lifts the restriction: job requests, the waiting one, and publishing work again", async () => {
    expect((await store.getWorkspace("ws1"))!.restricted).toBe(false);
    expect((await api(base, "GET", "/api/v1/workspaces/ws1", { token: tokens.dev })).json).toMatchObject({ workspace: { restricted: false }, incidents: [] });
    const accepted = await api(base, "POST", "/api/v1/job-requests", { token: tokens.dev, body: { workspace: "ws1", backend: "tpp", actions: ["report"] } });
    expect(accepted.status).toBe(201);
    expect((await store.claimJobRequest("tpp", "agent-1"))?.identifier).toBe(waiting);
    expect((await api(base, "POST", `/api/v1/publish-requests/${pendingPublish}/approve`, { token: tokens.pub, body: {} })).status).toBe(200);
    const page = await browsers.dev!.get("/workspaces/ws1");
    expect(page.text).not.toContain("Restricted: incident");
    expect(page.text).toContain("Ask for these files to be published");
  });

  it("every step is in the audit log, and the log verifies", async () => {
    const entries = await auditLog.entries();
    expect(entries.find((e) => e.action === "breach.clean" && e.details.verified === true)).toMatchObject({ actor: "tester", subject: `repo:${study}` });
    expect(entries.find((e) => e.action === "incident.open")).toMatchObject({ actor: "tester", subject: `incident:${incident}`, details: { workspace: "ws1", project: 1, blobs: [leak] } });
    expect(entries.find((e) => e.action === "incident.close")).toMatchObject({ actor: "staff", subject: `incident:${incident}`, details: { workspace: "ws1", note: expect.stringMatching(/every clone deleted/) } });
    expect(entries.filter((e) => e.action === "publish_request.publish_refuse")).toHaveLength(2);
    const verified = await auditLog.verify();
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
  });
});
