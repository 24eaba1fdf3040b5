// Publishing released files to a workspace's repository: the only way outputs
// reach it. Files are released through the store and the releases folder (as
// the backend services' protocol leaves them); a member asks for some to be
// published, an OutputPublisher who is not the requester approves on the
// staff page or the API, and `enclave publish` (publishRequest) commits them
// to a clone of the study's repository, touching nothing else there. A real
// server on 127.0.0.1 with a SQLite store (and a PostgreSQL one too when
// ENCLAVE_TEST_POSTGRES_URL is set).

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AuditLog } from "../../src/audit/index.js";
import { UsageError, UserError } from "../../src/cli/errors.js";
import { PublishRefused, publishRequest, registerPublish } from "../../src/cli/publish.js";
import { type JobServer, PUBLISH_STATUSES, PUBLISH_TRANSITIONS, ReleaseFolder, Store, StoreError, checkPublishTransition, startJobServer } from "../../src/jobserver/index.js";
import { git } from "../support/git.js";
import { Browser, api, studyRepo } from "./http-helpers.js";
import { storeEngines } from "../support/stores.js";

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-publish-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const engines = storeEngines((dir: string) => path.join(dir, "jobserver.db"));

const password = (who: string): string => `pass-of-${who}-7`;
const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");


describe("the table of publish request states", () => {
  it("names every state, and allows exactly pending → approved | rejected → published", () => {
    expect(Object.keys(PUBLISH_TRANSITIONS).sort()).toEqual([...PUBLISH_STATUSES].sort());
    const allowed: string[] = [];
    for (const from of PUBLISH_STATUSES) {
      for (const to of PUBLISH_STATUSES) {
        try {
          checkPublishTransition("0000000000000000", from, to);
          allowed.push(`${from}→${to}`);
        } catch (e) {
          expect(e).toBeInstanceOf(StoreError);
          expect((e as StoreError).kind).toBe("conflict");
          expect((e as Error).message).toMatch(new RegExp(`cannot go from ${from} to ${to}: `));
        }
      }
    }
    expect(allowed).toEqual(["pending→approved", "pending→rejected", "approved→published"]);
  });
});

describe.each(engines)("publishing released files, on %s", (engine, where) => {
  const dir = fs.mkdtempSync(path.join(tmp, "run-"));
  const releasesDir = path.join(dir, "releases");
  const study = path.join(dir, "study");
  const clone = path.join(dir, "clone");
  let store: Store;
  let auditLog: AuditLog;
  let server: JobServer;
  let base: string;
  const tokens: Record<string, string> = {};
  const browsers: Record<string, Browser> = {};

  const table = "group,count\na,10\nb,15\n";
  const figure = `<svg xmlns="http://www.w3.org/2000/svg"><text>15</text></svg>`;
  let first: string;
  let second: string;
  let flowRequest: string;

  /** A complete release of ws1, made as the backend services' protocol leaves one: the list in the store, the bytes in the folder. */
  async function release(request: string, files: Record<string, string>, workspace = "ws1"): Promise<string> {
    const list = Object.entries(files).map(([name, text]) => ({ name, size: Buffer.byteLength(text), sha256: sha256(text), date: "2031-02-27T12:00:00.000Z" }));
    const { release: r } = await store.createRelease({ workspace, backend: "tpp", request, releasedBy: "checker", files: list });
    const folder = new ReleaseFolder(releasesDir);
    for (const [name, text] of Object.entries(files)) {
      const got = await folder.take(
        (async function* () {
          yield Buffer.from(text);
        })(),
      );
      await store.receiveReleaseFile(r.id, name, await folder.keep(got.temp, got.sha256));
    }
    return r.id;
  }

  const ask = (who: string, files: { release: string; name: string }[], workspace = "ws1") => api(base, "POST", "/api/v1/publish-requests", { token: tokens[who], body: { workspace, files, note: "for the paper" } });
  const decide = (who: string, id: string, verb: "approve" | "reject", note?: string) => api(base, "POST", `/api/v1/publish-requests/${id}/${verb}`, { token: tokens[who], body: note === undefined ? {} : { note } });
  const idOf = (a: { json: Record<string, unknown> }): string => (a.json.publishRequest as { id: string }).id;
  const publish = (request: string, more: { repo?: string; branch?: string } = {}) => publishRequest({ store, audit: auditLog, releasesDir, request, repo: more.repo ?? clone, actor: "operator", ...(more.branch ? { branch: more.branch } : {}) });

  beforeAll(async () => {
    const at = where(dir);
    store = await Store.open(at.target, { schema: at.schema });
    auditLog = await AuditLog.open(path.join(dir, "audit.db"));
    for (const who of ["dev", "devpub", "collab", "checker", "pub1", "pub2", "other"]) await store.createUser({ username: who, password: password(who) });
    await store.createOrg("org");
    await store.createProject({ number: 1, name: "Diabetes", org: "org" });
    await store.createProject({ number: 2, name: "Asthma", org: "org" });
    await store.addMember(1, "dev", ["ProjectDeveloper"]);
    await store.addMember(1, "devpub", ["ProjectDeveloper"]);
    await store.addMember(1, "collab", ["ProjectCollaborator"]);
    await store.addMember(2, "other", ["ProjectDeveloper"]);
    await store.grantGlobalRole("checker", "OutputChecker");
    for (const who of ["pub1", "pub2", "devpub"]) await store.grantGlobalRole(who, "OutputPublisher");
    studyRepo(study);
    git(dir, "clone", "--quiet", study, clone);
    await store.createWorkspace({ project: 1, name: "ws1", repo: study, branch: "main" });
    await store.createWorkspace({ project: 2, name: "ws2", repo: study, branch: "main" });
    await store.createBackend("tpp");
    first = await release("AIRLOCK-1", { "output/table.csv": table, "output/figure.svg": figure });
    second = await release("AIRLOCK-2", { "output/table.csv": "group,count\na,20\n", "output/notes.txt": "fine\n" });
    server = await startJobServer({ store, auditLog, releasesDir, allowedRepos: [dir], logCacheMs: 0, log: () => undefined });
    base = server.url;
    for (const who of ["dev", "devpub", "collab", "checker", "pub1", "pub2", "other"]) {
      tokens[who] = await store.rotateApiToken(who);
      browsers[who] = new Browser(base);
      expect((await browsers[who]!.login(who, password(who))).status).toBe(303);
    }
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await store?.close();
    await auditLog?.close();
  });

  // -------------------------------------------------------------------------

  describe("asking", () => {
    it("a developer of the project asks on the workspace's page, choosing released files by checkbox", async () => {
      const page = await browsers.dev!.get("/workspaces/ws1");
      expect(page.text).toContain("Publish released files");
      expect(page.text).toContain(`value="${first}:output/table.csv"`);
      expect(page.text).toContain(`value="${second}:output/notes.txt"`);
      const posted = await browsers.dev!.post("/workspaces/ws1/publish-requests", { file: [`${first}:output/table.csv`, `${first}:output/figure.svg`], note: "Table 1 and Figure 2" });
      expect(posted.status).toBe(303);
      expect(posted.location).toBe("/workspaces/ws1?done=publish-requested");
      const [made] = await store.listPublishRequests({ workspace: "ws1" });
      expect(made).toMatchObject({ status: "pending", requester: "dev", note: "Table 1 and Figure 2", files: [{ release: first, name: "output/figure.svg" }, { release: first, name: "output/table.csv" }] });
      flowRequest = made!.id;
      expect((await browsers.dev!.get("/workspaces/ws1")).text).toContain(flowRequest);
    });

    it("a collaborator sees released files but is offered no form and is refused (403): collaborators never publish", async () => {
      const page = await browsers.collab!.get("/workspaces/ws1");
      expect(page.text).toContain("Released files");
      expect(page.text).not.toContain('action="/workspaces/ws1/publish-requests"');
      const a = await ask("collab", [{ release: first, name: "output/table.csv" }]);
      expect(a.status).toBe(403);
      expect(a.json.error).toMatch(/collaborators never publish/);
    });

    it("refuses non-members (an OutputChecker, another project's developer, an OutputPublisher) with 403 and nobody with 401", async () => {
      for (const who of ["checker", "other", "pub1"]) expect((await ask(who, [{ release: first, name: "output/table.csv" }])).status, who).toBe(403);
      expect((await api(base, "POST", "/api/v1/publish-requests", { body: { workspace: "ws1", files: [{ release: first, name: "output/table.csv" }] } })).status).toBe(401);
    });

    it("takes only files of the workspace's complete releases, each path once", async () => {
      expect(await ask("dev", [{ release: first, name: "output/nothing.csv" }])).toMatchObject({ status: 404, json: { error: expect.stringMatching(/no released file "output\/nothing.csv" in release/) } });
      const incomplete = (await store.createRelease({ workspace: "ws1", backend: "tpp", request: "AIRLOCK-HALF", releasedBy: "checker", files: [{ name: "output/half.csv", size: 3, sha256: sha256("a\n\n"), date: "2031-01-01T00:00:00Z" }] })).release.id;
      expect((await ask("dev", [{ release: incomplete, name: "output/half.csv" }])).status).toBe(404);
      const elsewhere = await release("AIRLOCK-WS2", { "output/other.csv": "x,y\n1,2\n" }, "ws2");
      expect((await ask("dev", [{ release: elsewhere, name: "output/other.csv" }])).status).toBe(404);
      expect(await ask("dev", [{ release: first, name: "output/table.csv" }, { release: second, name: "output/table.csv" }])).toMatchObject({ status: 400, json: { error: expect.stringMatching(/named from releases .* both would be published at one path; choose one/) } });
      expect((await ask("dev", [{ release: first, name: "output/table.csv" }, { release: first, name: "output/table.csv" }])).status).toBe(400);
      expect((await ask("dev", [])).status).toBe(400);
      expect((await ask("dev", [{ release: "not-an-id", name: "x" }])).status).toBe(400);
      expect((await api(base, "POST", "/api/v1/publish-requests", { token: tokens.dev, body: { workspace: "ws1", files: [{ release: first, name: "output/table.csv" }], note: "bad\u0007bell" } })).status).toBe(400);
    });
  });

  describe("deciding", () => {
    it("the requester's own approval is refused even to an OutputPublisher; a non-publisher's too", async () => {
      const own = idOf(await ask("devpub", [{ release: second, name: "output/notes.txt" }]));
      expect(await decide("devpub", own, "approve")).toMatchObject({ status: 403, json: { error: expect.stringMatching(/may not approve their own publish request .*: another OutputPublisher must/) } });
      expect((await decide("devpub", own, "reject")).status).toBe(403);
      for (const who of ["dev", "collab", "checker", "other"]) expect((await decide(who, own, "approve")).status, who).toBe(403);
      expect((await api(base, "POST", `/api/v1/publish-requests/${own}/approve`, { body: {} })).status).toBe(401);
      // The staff page shows it to its requester without buttons.
      const page = await browsers.devpub!.get("/staff/publish-requests");
      expect(page.text).toContain(own);
      expect(page.text).toContain("Your own request: another OutputPublisher must decide.");
      expect((await store.getPublishRequest(own))!.status).toBe("pending");
      expect((await decide("pub2", own, "reject", "not needed")).json.publishRequest).toMatchObject({ status: "rejected", decidedBy: "pub2", decisionNote: "not needed" });
      // Rejected is final.
      expect(await decide("pub1", own, "approve")).toMatchObject({ status: 409, json: { error: expect.stringMatching(/cannot go from rejected to approved/) } });
    });

    it("an OutputPublisher approves on the staff page, with the CSRF token; only they see the page", async () => {
      for (const who of ["dev", "checker", "collab"]) expect((await browsers[who]!.get("/staff/publish-requests")).status, who).toBe(403);
      const page = await browsers.pub1!.get("/staff/publish-requests");
      expect(page.status).toBe(200);
      expect(page.text).toContain(flowRequest);
      expect(page.text).toContain(sha256(table));
      expect(page.text).toContain(`action="/staff/publish-requests/${flowRequest}/approve"`);
      expect(page.text).toContain(`formaction="/staff/publish-requests/${flowRequest}/reject"`);
      const forged = await browsers.pub1!.request("POST", `/staff/publish-requests/${flowRequest}/approve`, { form: { note: "x" } });
      expect(forged.status).toBe(403);
      const approved = await browsers.pub1!.post(`/staff/publish-requests/${flowRequest}/approve`, { note: "checked against the paper" });
      expect(approved.status).toBe(303);
      expect(approved.location).toBe("/staff/publish-requests?done=publish-approved");
      expect((await browsers.pub1!.get("/staff/publish-requests")).text).toContain(`enclave publish --request ${flowRequest} --repo CLONE`);
      const shown = await api(base, "GET", `/api/v1/publish-requests/${flowRequest}`, { token: tokens.collab });
      expect(shown.json.publishRequest).toMatchObject({ status: "approved", decidedBy: "pub1", decisionNote: "checked against the paper", requester: "dev" });
      expect(JSON.stringify(shown.json)).not.toContain("objects/");
      expect(await decide("pub2", flowRequest, "approve")).toMatchObject({ status: 409, json: { error: expect.stringMatching(/cannot go from approved to approved/) } });
    });

    it("lists publish requests: all for OutputPublishers, a workspace's for those who see its released files", async () => {
      expect((await api(base, "GET", "/api/v1/publish-requests?status=approved", { token: tokens.pub2 })).json.publishRequests).toMatchObject([{ id: flowRequest }]);
      expect((await api(base, "GET", "/api/v1/publish-requests", { token: tokens.dev })).status).toBe(403);
      expect((await api(base, "GET", "/api/v1/publish-requests?workspace=ws1", { token: tokens.collab })).status).toBe(200);
      expect((await api(base, "GET", "/api/v1/publish-requests?workspace=ws1", { token: tokens.other })).status).toBe(403);
      expect((await api(base, "GET", `/api/v1/publish-requests/${flowRequest}`, { token: tokens.other })).status).toBe(403);
      expect((await api(base, "GET", "/api/v1/publish-requests?status=maybe", { token: tokens.pub2 })).status).toBe(400);
      expect((await api(base, "GET", "/api/v1/publish-requests/0123456789abcdef", { token: tokens.pub2 })).status).toBe(404);
    });
  });

  // -------------------------------------------------------------------------

  describe("enclave publish", () => {
    it("commits exactly the approved files under released_outputs/, with their bytes, on the workspace's branch; nothing else in the clone changes", async () => {
      const before = git(clone, "rev-parse", "main");
      const indexBefore = git(clone, "ls-files", "--stage");
      const filesBefore = fs.readdirSync(clone).sort();
      const done = await publish(flowRequest);
      expect(done.branch).toBe("main");
      expect(done.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(git(clone, "rev-parse", "main")).toBe(done.commit);
      expect(git(clone, "rev-parse", `${done.commit}^`)).toBe(before);
      expect(git(clone, "diff", "--name-only", before, done.commit).split("\n")).toEqual(["released_outputs/output/figure.svg", "released_outputs/output/table.csv"]);
      expect(git(clone, "show", `${done.commit}:released_outputs/output/table.csv`)).toBe(table.trimEnd());
      expect(Buffer.from(execFileSync("git", ["-C", clone, "cat-file", "blob", `${done.commit}:released_outputs/output/figure.svg`]))).toEqual(Buffer.from(figure));
      const message = git(clone, "log", "-1", "--format=%B", done.commit);
      expect(message).toContain(`publish request ${flowRequest}`);
      expect(message).toContain(`Release ${first}: Airlock request AIRLOCK-1, released by checker`);
      expect(message).toContain("approved by pub1");
      expect(message).toContain("asked for by dev");
      expect(message).toContain(`${sha256(table)}  released_outputs/output/table.csv`);
      expect(message).toContain(`${sha256(figure)}  released_outputs/output/figure.svg`);
      // The checkout's index and files are as they were: only the branch moved.
      expect(git(clone, "ls-files", "--stage")).toBe(indexBefore);
      expect(fs.readdirSync(clone).sort()).toEqual(filesBefore);
      expect(done.checkedOutIn).toEqual([clone]);
      expect(done.remote).toBe("origin");
      // What the command tells the operator to do brings the files in.
      git(clone, "checkout", "HEAD", "--", "released_outputs");
      expect(git(clone, "status", "--porcelain")).toBe("");
      expect(fs.readFileSync(path.join(clone, "released_outputs/output/table.csv"), "utf8")).toBe(table);
      // Nothing was pushed.
      expect(git(study, "rev-parse", "main")).toBe(before);
      expect(await store.getPublishRequest(flowRequest)).toMatchObject({ status: "published", commit: done.commit, branch: "main", repo: clone, publishedBy: "operator" });
      const page = await browsers.dev!.get("/workspaces/ws1");
      expect(page.text).toContain(done.commit.slice(0, 12));
    });

    it("refuses to publish a request again, a pending one and a rejected one, changing nothing", async () => {
      const head = git(clone, "rev-parse", "main");
      await expect(publish(flowRequest)).rejects.toThrow(/cannot go from published to published: it has been published already, in commit [0-9a-f]{40} on branch main/);
      const pending = idOf(await ask("dev", [{ release: second, name: "output/notes.txt" }]));
      await expect(publish(pending)).rejects.toThrow(new PublishRefused(`publish request ${pending} cannot go from pending to published: it has not been approved yet`));
      expect((await decide("pub1", pending, "reject")).status).toBe(200);
      await expect(publish(pending)).rejects.toThrow(/cannot go from rejected to published: it was rejected/);
      await expect(publish("0123456789abcdef")).rejects.toThrow("there is no publish request 0123456789abcdef");
      expect(git(clone, "rev-parse", "main")).toBe(head);
    });

    it("refuses a file whose stored bytes were changed, naming it, and writes nothing", async () => {
      const text = "region,count\nnorth,40\n";
      const r = await release("AIRLOCK-3", { "output/regions.csv": text, "output/ok.txt": "ok\n" });
      const id = idOf(await ask("dev", [{ release: r, name: "output/regions.csv" }, { release: r, name: "output/ok.txt" }]));
      expect((await decide("pub2", id, "approve")).status).toBe(200);
      const stored = path.join(releasesDir, "objects", sha256(text).slice(0, 2), sha256(text));
      const tampered = text.replace("40", "04");
      fs.writeFileSync(stored, tampered);
      const head = git(clone, "rev-parse", "main");
      const objects = git(clone, "count-objects", "-v");
      const refused = await publish(id).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(PublishRefused);
      expect((refused as PublishRefused).message).toMatch(/a file does not match what was released; nothing was written/);
      expect((refused as PublishRefused).problems).toEqual([`"output/regions.csv" of release ${r}: the releases folder holds ${tampered.length} bytes hashing to ${sha256(tampered)}, not the ${text.length} bytes hashing to ${sha256(text)} that were released`]);
      expect(git(clone, "rev-parse", "main")).toBe(head);
      expect(git(clone, "count-objects", "-v")).toBe(objects);
      expect((await store.getPublishRequest(id))!.status).toBe("approved");
      // A file gone from the folder is refused the same way.
      fs.rmSync(stored);
      await expect(publish(id)).rejects.toThrow(/does not match what was released/);
      fs.writeFileSync(stored, text);
      // Put right, it publishes.
      expect((await publish(id)).files.map((f) => f.path)).toEqual(["released_outputs/output/ok.txt", "released_outputs/output/regions.csv"]);
    });

    it("refuses a dirty working tree, a repository that is not the workspace's, and a branch that does not exist", async () => {
      const text = "age,count\n40,100\n";
      const r = await release("AIRLOCK-4", { "output/ages.csv": text });
      const id = idOf(await ask("dev", [{ release: r, name: "output/ages.csv" }]));
      expect((await decide("pub1", id, "approve")).status).toBe(200);
      git(clone, "checkout", "HEAD", "--", "released_outputs");
      fs.writeFileSync(path.join(clone, "scratch.txt"), "mine\n");
      await expect(publish(id)).rejects.toThrow(/the working tree of .*clone has changes \("scratch.txt"\): commit or stash them first/);
      fs.rmSync(path.join(clone, "scratch.txt"));
      const stranger = path.join(dir, "stranger");
      studyRepo(stranger);
      await expect(publish(id, { repo: stranger })).rejects.toThrow(/stranger is not workspace ws1's repository .*: it has no remote; publish into a clone of the workspace's own repository/);
      await expect(publish(id, { repo: path.join(dir, "nowhere") })).rejects.toThrow(/there is no such folder/);
      await expect(publish(id, { branch: "develop" })).rejects.toThrow(/branch develop does not exist in .*clone: fetch it first/);
      await expect(publish(id, { branch: "bad..name" })).rejects.toThrow(/"bad..name" is not a branch name/);
      // Into the study's own repository, on another branch, which is not checked out there.
      git(study, "branch", "results");
      const done = await publish(id, { repo: study, branch: "results" });
      expect(done.checkedOutIn).toEqual([]);
      expect(git(study, "show", `results:released_outputs/output/ages.csv`)).toBe(text.trimEnd());
      expect(git(study, "status", "--porcelain")).toBe("");
    });

    it("is also a command: enclave publish --request ... prints the commit and how to push; a malformed id is a usage error", async () => {
      const text = "sex,count\nf,60\nm,55\n";
      const r = await release("AIRLOCK-5", { "output/sex.csv": text });
      const id = idOf(await ask("dev", [{ release: r, name: "output/sex.csv" }]));
      expect((await decide("pub2", id, "approve")).status).toBe(200);
      const auditUrl = path.join(dir, "audit.db");
      // The command opens its own connections, as an operator's would; a PostgreSQL schema is no command-line option, so SQLite only.
      if (engine !== "sqlite") return;
      const dbArgs = ["--db", path.join(dir, "jobserver.db")];
      const run = async (args: string[]) => {
        let stdout = "";
        const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
          stdout += chunk.toString();
          return true;
        });
        const program = new Command("enclave").exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
        registerPublish(program);
        try {
          await program.parseAsync(["node", "enclave", "publish", ...args]);
          return { error: undefined, stdout };
        } catch (e) {
          if (e instanceof UserError || e instanceof CommanderError) return { error: e, stdout };
          throw e;
        } finally {
          out.mockRestore();
        }
      };
      const common = [...dbArgs, "--audit-db", auditUrl, "--releases-dir", releasesDir, "--repo", clone, "--actor", "operator"];
      const bad = await run(["--request", "nope", ...common]);
      expect(bad.error).toBeInstanceOf(UsageError);
      const ok = await run(["--request", id, ...common]);
      expect(ok.error).toBeUndefined();
      const commit = git(clone, "rev-parse", "main");
      expect(ok.stdout).toContain(`Published request ${id} of workspace ws1: commit ${commit} on branch main`);
      expect(ok.stdout).toContain(`released_outputs/output/sex.csv  sha256 ${sha256(text)}`);
      expect(ok.stdout).toContain("Nothing was pushed.");
      expect(ok.stdout).toContain(`git -C ${clone} push origin main`);
      expect(ok.stdout).toContain(`git -C ${clone} checkout HEAD -- released_outputs`);
      const again = await run(["--request", id, ...common]);
      expect(again.error).toBeInstanceOf(UserError);
      expect((again.error as Error).message).toMatch(/published already/);
    });
  });

  // -------------------------------------------------------------------------

  it("every step is in the audit log, and the log verifies", async () => {
    const entries = await auditLog.entries();
    const actions = new Set(entries.map((e) => e.action));
    for (const a of ["publish_request.create", "publish_request.refuse", "publish_request.approve", "publish_request.reject", "publish_request.decide_refuse", "publish_request.publish", "publish_request.publish_refuse"]) {
      expect(actions, a).toContain(a);
    }
    expect(entries.find((e) => e.action === "publish_request.create" && e.subject === `publish_request:${flowRequest}`)).toMatchObject({ actor: "dev", details: { workspace: "ws1", project: 1, note: "Table 1 and Figure 2" } });
    expect(entries.find((e) => e.action === "publish_request.approve" && e.subject === `publish_request:${flowRequest}`)).toMatchObject({ actor: "pub1", details: { requester: "dev", note: "checked against the paper" } });
    const published = entries.find((e) => e.action === "publish_request.publish" && e.subject === `publish_request:${flowRequest}`)!;
    expect(published).toMatchObject({ actor: "operator", details: { workspace: "ws1", releases: [first], approver: "pub1", branch: "main", repo: clone } });
    expect(published.details.files).toEqual([
      { path: "released_outputs/output/figure.svg", sha256: sha256(figure) },
      { path: "released_outputs/output/table.csv", sha256: sha256(table) },
    ]);
    const tamper = entries.find((e) => e.action === "publish_request.publish_refuse" && (e.details.problems as string[]).length > 0)!;
    expect(tamper.details.reason).toMatch(/does not match what was released/);
    const verified = await auditLog.verify();
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
  });
});
