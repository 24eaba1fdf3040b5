// The backend services' protocol (docs/api.md): Airlock logs people in through
// the job server, re-checks their access, reads workspaces and sends released
// files out; members then see and download those files. A real server on
// 127.0.0.1 with a SQLite store (and a PostgreSQL one too when
// ENCLAVE_TEST_POSTGRES_URL is set), its releases folder in a temporary folder.

import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/index.js";
import { type JobServer, startJobServer } from "../../src/jobserver/index.js";
import { type Principal, type ProjectRole, type GlobalRole, Store, can } from "../../src/jobserver/store.js";
import { Browser, api } from "./http-helpers.js";
import { storeEngines } from "../support/stores.js";

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-backend-services-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const engines = storeEngines((dir: string) => path.join(dir, "jobserver.db"));

const password = (who: string): string => `pass-of-${who}-7`;
const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

interface Access {
  globalRoles: GlobalRole[];
  projectRoles: { project: number; roles: ProjectRole[] }[];
  projects: { number: number; name: string; status: string; category: string }[];
  workspaces: { name: string; project: number; archived: boolean; repo: string; branch: string }[];
}

describe.each(engines)("the backend services' protocol, on %s", (_engine, where) => {
  const dir = fs.mkdtempSync(path.join(tmp, "run-"));
  const releasesDir = path.join(dir, "releases");
  let now = new Date("2031-03-01T09:00:00Z");
  let store: Store;
  let auditLog: AuditLog;
  let server: JobServer;
  let base: string;
  let token: string;
  let spareToken: string;

  /** A call of the backend services' protocol, as Airlock makes it. */
  async function call(method: string, url: string, options: { body?: unknown; raw?: Buffer; token?: string; backend?: string; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? token}`, "enclave-backend": options.backend ?? "tpp", ...options.headers };
    let body: string | Buffer | undefined;
    if (options.raw !== undefined) {
      headers["content-type"] = "application/octet-stream";
      body = options.raw;
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    const started = performance.now();
    const res = await fetch(base + url, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>, ms: performance.now() - started };
  }

  const access = async (username: string): Promise<Access> => {
    const a = await call("GET", `/api/backend/access/${username}`);
    expect(a.status).toBe(200);
    return a.json.access as Access;
  };

  /** What Airlock does with an access answer: decide through the same `can`. */
  const principalOf = (username: string, a: Access): Principal => ({ username, globalRoles: a.globalRoles, projectRoles: Object.fromEntries(a.projectRoles.map((r) => [r.project, r.roles])) });

  beforeAll(async () => {
    const at = where(dir);
    store = await Store.open(at.target, { schema: at.schema, clock: () => now });
    auditLog = await AuditLog.open(path.join(dir, "audit.db"));
    for (const who of ["dev", "collab", "checker", "other", "norole", "serviceadmin", "alice", "carol"]) await store.createUser({ username: who, password: password(who), fullName: `Full ${who}` });
    await store.createOrg("org");
    await store.createProject({ number: 1, name: "Diabetes", org: "org" });
    await store.createProject({ number: 2, name: "Asthma", org: "org", category: "internal" });
    await store.addMember(1, "dev", ["ProjectDeveloper"]);
    await store.addMember(1, "collab", ["ProjectCollaborator"]);
    await store.addMember(2, "other", ["ProjectDeveloper"]);
    await store.grantGlobalRole("checker", "OutputChecker");
    await store.grantGlobalRole("serviceadmin", "ServiceAdministrator");
    await store.createWorkspace({ project: 1, name: "ws1", repo: "https://example.org/diabetes.git", branch: "main" });
    await store.createWorkspace({ project: 1, name: "ws1-old", repo: "https://example.org/diabetes.git", branch: "old" });
    await store.setWorkspaceArchived("ws1-old", true);
    await store.createWorkspace({ project: 2, name: "ws2", repo: "/srv/git/asthma.git", branch: "main" });
    token = (await store.createBackend("tpp")).token;
    spareToken = (await store.createBackend("spare")).token;
    server = await startJobServer({ store, auditLog, releasesDir, now: () => now, logCacheMs: 0, log: () => undefined });
    base = server.url;
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await store?.close();
    await auditLog?.close();
  });

  // -------------------------------------------------------------------------

  describe("who is asking", () => {
    it("refuses a wrong token, a missing header and an unknown backend with 401; a rotated token stops working at once", async () => {
      for (const options of [{ token: "wrong" }, { backend: "nonesuch" }, { backend: "spare" }]) {
        const a = await call("GET", "/api/backend/workspaces/ws1", options);
        expect(a.status).toBe(401);
        expect(a.json.error).toMatch(/token/);
      }
      const bare = await fetch(`${base}/api/backend/workspaces/ws1`, { headers: { authorization: `Bearer ${token}` } });
      expect(bare.status).toBe(401);
      expect(await bare.json()).toMatchObject({ error: expect.stringMatching(/Enclave-Backend/) });
      // A user's API token is no backend token.
      const userToken = await store.rotateApiToken("checker");
      expect((await call("GET", "/api/backend/workspaces/ws1", { token: userToken })).status).toBe(401);

      expect((await call("GET", "/api/backend/workspaces/ws1", { backend: "spare", token: spareToken })).status).toBe(200);
      const fresh = await store.rotateBackendToken("spare");
      expect((await call("GET", "/api/backend/workspaces/ws1", { backend: "spare", token: spareToken })).status).toBe(401);
      expect((await call("POST", "/api/backend/login", { backend: "spare", token: spareToken, body: { username: "dev", password: password("dev") } })).status).toBe(401);
      expect((await call("GET", "/api/backend/workspaces/ws1", { backend: "spare", token: fresh })).status).toBe(200);
      spareToken = fresh;
    });
  });

  describe("POST /api/backend/login", () => {
    it("answers the user and their access for the right password", async () => {
      const a = await call("POST", "/api/backend/login", { body: { username: "dev", password: password("dev") } });
      expect(a.status).toBe(200);
      expect(a.json).toEqual({
        user: { username: "dev", fullName: "Full dev" },
        access: {
          globalRoles: [],
          projectRoles: [{ project: 1, roles: ["ProjectDeveloper"] }],
          projects: [{ number: 1, name: "Diabetes", status: "ongoing", category: "approved" }],
          workspaces: [
            { name: "ws1", project: 1, archived: false, repo: "https://example.org/diabetes.git", branch: "main" },
            { name: "ws1-old", project: 1, archived: true, repo: "https://example.org/diabetes.git", branch: "old" },
          ],
        },
      });
      // No session: the backend's service keeps its own.
      expect(a.headers.getSetCookie()).toEqual([]);
    });

    it("refuses a wrong password and an unknown user alike with 401, after the same password work", async () => {
      const wrong = await call("POST", "/api/backend/login", { body: { username: "carol", password: "not-it" } });
      const unknown = await call("POST", "/api/backend/login", { body: { username: "nobody-here", password: "not-it" } });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(unknown.json).toEqual(wrong.json);
      // Both check a password with scrypt: an unknown user's answer is not much quicker.
      const time = async (username: string): Promise<number> => {
        const ms: number[] = [];
        for (let i = 0; i < 3; i++) ms.push((await call("POST", "/api/backend/login", { body: { username, password: `guess-${i}` } })).ms);
        return ms.sort((x, y) => x - y)[1]!;
      };
      const [known, none] = [await time("serviceadmin"), await time("nobody-else")];
      expect(none).toBeGreaterThan(known / 3);
      await store.clearLoginFailures("user:carol");
      await store.clearLoginFailures("user:serviceadmin");
    });

    it("refuses a body without a username or password with 400", async () => {
      expect((await call("POST", "/api/backend/login", { body: { username: "dev" } })).status).toBe(400);
      expect((await call("POST", "/api/backend/login", { body: { username: "dev", password: "" } })).status).toBe(400);
      const notJson = await fetch(`${base}/api/backend/login`, { method: "POST", headers: { authorization: `Bearer ${token}`, "enclave-backend": "tpp", "content-type": "text/plain" }, body: "dev" });
      expect(notJson.status).toBe(400);
    });

    it("throttles as the login form does, sharing its count: 429 with Retry-After, even for the right password, until the window passes", async () => {
      for (let i = 0; i < 5; i++) expect((await call("POST", "/api/backend/login", { body: { username: "alice", password: `wrong-${i}` } })).status).toBe(401);
      const refused = await call("POST", "/api/backend/login", { body: { username: "alice", password: password("alice") } });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("900");
      expect(refused.json.error).toMatch(/Too many failed logins for this account/);
      // The guesses made through the backend count on the form too, and the other way round.
      const form = new Browser(base);
      expect((await form.login("alice", password("alice"))).status).toBe(429);
      expect((await form.login("ALICE", password("alice"))).status).toBe(429);
      now = new Date(now.getTime() + 16 * 60_000);
      expect((await call("POST", "/api/backend/login", { body: { username: "alice", password: password("alice") } })).status).toBe(200);
    });

    it("counts failures from one backend as from one address, unless it says which address the person came from", async () => {
      now = new Date(now.getTime() + 16 * 60_000);
      for (let i = 0; i < 20; i++) expect((await call("POST", "/api/backend/login", { body: { username: `guess${i}`, password: "x", address: "10.0.0.9" } })).status).toBe(401);
      expect((await call("POST", "/api/backend/login", { body: { username: "carol", password: password("carol"), address: "10.0.0.9" } })).status).toBe(429);
      expect((await call("POST", "/api/backend/login", { body: { username: "carol", password: password("carol"), address: "10.0.0.10" } })).status).toBe(200);
      expect((await call("POST", "/api/backend/login", { body: { username: "carol", password: password("carol") } })).status).toBe(200);
      expect((await call("POST", "/api/backend/login", { body: { username: "carol", password: password("carol"), address: "line\nbreak" } })).status).toBe(400);
      now = new Date(now.getTime() + 16 * 60_000);
    });
  });

  describe("GET /api/backend/access/:username", () => {
    it("a developer and a collaborator see their project and its workspaces, with their roles", async () => {
      const dev = await access("dev");
      expect(dev.projectRoles).toEqual([{ project: 1, roles: ["ProjectDeveloper"] }]);
      expect(dev.workspaces.map((w) => w.name)).toEqual(["ws1", "ws1-old"]);
      const collab = await access("collab");
      expect(collab).toMatchObject({ globalRoles: [], projectRoles: [{ project: 1, roles: ["ProjectCollaborator"] }], projects: [{ number: 1 }] });
      expect(collab.workspaces.map((w) => w.name)).toEqual(["ws1", "ws1-old"]);
      // Airlock decides with `can`: the collaborator sees released files only, never level 4 outputs.
      const project = { number: 1, status: "ongoing" as const };
      expect(can(principalOf("dev", dev), "output.view_unreleased", project)).toBe(true);
      expect(can(principalOf("collab", collab), "output.view_unreleased", project)).toBe(false);
      expect(can(principalOf("collab", collab), "release.view", project)).toBe(true);
    });

    it("an output checker sees every project and workspace; a ServiceAdministrator and someone with no role see none", async () => {
      const checker = await access("checker");
      expect(checker.globalRoles).toEqual(["OutputChecker"]);
      expect(checker.projectRoles).toEqual([]);
      expect(checker.projects.map((p) => p.number)).toEqual([1, 2]);
      expect(checker.workspaces.map((w) => w.name)).toEqual(["ws1", "ws1-old", "ws2"]);
      expect(checker.workspaces.find((w) => w.name === "ws2")).toEqual({ name: "ws2", project: 2, archived: false, repo: "/srv/git/asthma.git", branch: "main" });
      expect(await access("serviceadmin")).toEqual({ globalRoles: ["ServiceAdministrator"], projectRoles: [], projects: [], workspaces: [] });
      expect(await access("norole")).toEqual({ globalRoles: [], projectRoles: [], projects: [], workspaces: [] });
    });

    it("sees a change of roles at once", async () => {
      await store.removeMemberRoles(1, "collab", ["ProjectCollaborator"]);
      try {
        expect(await access("collab")).toEqual({ globalRoles: [], projectRoles: [], projects: [], workspaces: [] });
      } finally {
        await store.addMember(1, "collab", ["ProjectCollaborator"]);
      }
      await store.addMember(2, "norole", ["ProjectCollaborator"]);
      try {
        expect(await access("norole")).toMatchObject({ projectRoles: [{ project: 2, roles: ["ProjectCollaborator"] }], projects: [{ number: 2 }], workspaces: [{ name: "ws2" }] });
      } finally {
        await store.removeMemberRoles(2, "norole", ["ProjectCollaborator"]);
      }
      await store.revokeGlobalRole("checker", "OutputChecker");
      try {
        expect((await access("checker")).projects).toEqual([]);
      } finally {
        await store.grantGlobalRole("checker", "OutputChecker");
      }
    });

    it("after the project is completed, members still see it with its status, and `can` takes their level 4 access away", async () => {
      await store.setProjectStatus(1, "completed");
      try {
        const dev = await access("dev");
        expect(dev.projects).toEqual([{ number: 1, name: "Diabetes", status: "completed", category: "approved" }]);
        const project = { number: 1, status: "completed" as const };
        expect(can(principalOf("dev", dev), "output.view_unreleased", project)).toBe(false);
        expect(can(principalOf("dev", dev), "release.view", project)).toBe(true);
        expect(can(principalOf("checker", await access("checker")), "output.view_unreleased", project)).toBe(true);
      } finally {
        await store.setProjectStatus(1, "ongoing");
      }
    });

    it("answers 404 for an unknown user", async () => {
      expect(await call("GET", "/api/backend/access/nobody")).toMatchObject({ status: 404, json: { error: expect.stringMatching(/no user named "nobody"/) } });
      expect((await call("GET", "/api/backend/access/..%2F..")).status).toBe(404);
    });
  });

  describe("GET /api/backend/workspaces/:name", () => {
    it("answers the workspace and its project, 404 when unknown", async () => {
      expect(await call("GET", "/api/backend/workspaces/ws2")).toMatchObject({
        status: 200,
        json: { workspace: { name: "ws2", project: 2, archived: false, repo: "/srv/git/asthma.git", branch: "main" }, project: { number: 2, name: "Asthma", status: "ongoing", category: "internal" } },
      });
      expect((await call("GET", "/api/backend/workspaces/ws1-old")).json).toMatchObject({ workspace: { archived: true } });
      expect((await call("GET", "/api/backend/workspaces/nonesuch")).status).toBe(404);
    });
  });

  // -------------------------------------------------------------------------

  describe("a release", () => {
    const table = Buffer.from("group,count\na,10\nb,15\n");
    const figure = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`);
    const date = "2031-02-27T12:00:00.000Z";
    const list = [
      { name: "output/table.csv", size: table.length, sha256: sha256(table), date },
      { name: "output/figure.svg", size: figure.length, sha256: sha256(figure), date },
    ];
    const body = { workspace: "ws1", request: "01JAIRLOCKREQUEST1", releasedBy: "checker", files: list };
    let id: string;
    let devToken: string;
    const fileUrl = (name: string) => `/api/backend/releases/${id}/files?name=${encodeURIComponent(name)}`;
    const objects = (): string[] => (fs.existsSync(path.join(releasesDir, "objects")) ? fs.readdirSync(path.join(releasesDir, "objects"), { recursive: true, encoding: "utf8" }).filter((p) => p.length > 3) : []);
    const leftovers = (): string[] => (fs.existsSync(path.join(releasesDir, "tmp")) ? fs.readdirSync(path.join(releasesDir, "tmp")) : []);

    beforeAll(async () => {
      devToken = await store.rotateApiToken("dev");
    });

    it("takes the list first: 201 with every file not yet received", async () => {
      const a = await call("POST", "/api/backend/releases", { body });
      expect(a.status).toBe(201);
      const release = a.json.release as { id: string };
      id = release.id;
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      expect(release).toMatchObject({
        workspace: "ws1",
        request: "01JAIRLOCKREQUEST1",
        releasedBy: "checker",
        complete: false,
        files: [
          { name: "output/table.csv", size: table.length, sha256: sha256(table), received: false },
          { name: "output/figure.svg", size: figure.length, sha256: sha256(figure), received: false },
        ],
      });
      // Nothing is shown while files are missing.
      expect((await api(base, "GET", "/api/v1/workspaces/ws1/released", { token: devToken })).json).toEqual({ workspace: "ws1", files: [] });
    });

    it("refuses bytes whose hash or size differs from the list with 409, and keeps nothing", async () => {
      const forged = Buffer.from("group,count\na,10\nb,16\n");
      expect(forged.length).toBe(table.length);
      const wrong = await call("PUT", fileUrl("output/table.csv"), { raw: forged });
      expect(wrong.status).toBe(409);
      expect(wrong.json.error).toMatch(new RegExp(`hashes to ${sha256(forged)}, not the list's ${sha256(table)}`));
      expect(wrong.json.error).toMatch(/nothing was kept/);
      const longer = await call("PUT", fileUrl("output/table.csv"), { raw: Buffer.concat([table, Buffer.from("c,20\n")]) });
      expect(longer.status).toBe(409);
      expect(longer.json.error).toMatch(/bytes/);
      // Sent without a length, the bytes are counted as they arrive.
      const streamed = await fetch(base + fileUrl("output/table.csv"), {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "enclave-backend": "tpp", "content-type": "application/octet-stream" },
        body: new Blob([table, table]).stream(),
        duplex: "half",
      } as RequestInit);
      expect(streamed.status).toBe(409);
      expect(await streamed.json()).toMatchObject({ error: expect.stringMatching(new RegExp(`${2 * table.length} bytes arrived, not the ${table.length} of the list`)) });
      expect(objects()).toEqual([]);
      expect(leftovers()).toEqual([]);
      const release = (await store.getRelease(id))!;
      expect(release.files.every((f) => f.received === null && f.stored === null)).toBe(true);
    });

    it("refuses a file the list does not name, a release of another backend, and a request without a name", async () => {
      expect(await call("PUT", fileUrl("output/other.csv"), { raw: table })).toMatchObject({ status: 404, json: { error: expect.stringMatching(/lists no file named "output\/other.csv"/) } });
      expect((await call("PUT", fileUrl("output/table.csv"), { raw: table, backend: "spare", token: spareToken })).status).toBe(404);
      expect((await call("PUT", `/api/backend/releases/${id}/files`, { raw: table })).status).toBe(400);
      expect((await call("PUT", `/api/backend/releases/0123456789abcdef/files?name=x.csv`, { raw: table })).status).toBe(404);
      expect((await call("GET", fileUrl("output/table.csv"))).status).toBe(405);
    });

    it("takes the right bytes, and the same file again (a retry) with 200", async () => {
      for (let i = 0; i < 2; i++) {
        const a = await call("PUT", fileUrl("output/table.csv"), { raw: table });
        expect(a).toMatchObject({ status: 200, json: { file: { name: "output/table.csv", size: table.length, sha256: sha256(table), received: true } } });
      }
      expect(objects()).toEqual([path.join(sha256(table).slice(0, 2), sha256(table))]);
      expect(fs.readFileSync(path.join(releasesDir, "objects", sha256(table).slice(0, 2), sha256(table)))).toEqual(table);
      expect(leftovers()).toEqual([]);
      // Still one file short: not released yet.
      expect((await api(base, "GET", "/api/v1/workspaces/ws1/released", { token: devToken })).json.files).toEqual([]);
    });

    it("answers the same list again with 200 and the same release (dates aside); another list for the request is 409", async () => {
      const again = await call("POST", "/api/backend/releases", { body: { ...body, files: [...list].reverse().map((f) => ({ ...f, date: "2031-02-28T00:00:00Z" })) } });
      expect(again.status).toBe(200);
      expect(again.json.release).toMatchObject({ id, files: [{ name: "output/table.csv", received: true }, { name: "output/figure.svg", received: false }] });
      const other = await call("POST", "/api/backend/releases", { body: { ...body, files: [list[0]] } });
      expect(other).toMatchObject({ status: 409, json: { error: expect.stringMatching(/already sent as release .*left out: "output\/figure.svg"/) } });
      const changed = await call("POST", "/api/backend/releases", { body: { ...body, files: [list[0], { ...list[1]!, sha256: "0".repeat(64) }] } });
      expect(changed).toMatchObject({ status: 409, json: { error: expect.stringMatching(/other size or sha256: "output\/figure.svg"/) } });
      expect((await call("POST", "/api/backend/releases", { body: { ...body, workspace: "ws2" } })).status).toBe(409);
    });

    it("checks every list: names inside the workspace, level 4 types, sizes within the limit, known workspaces, and nothing new from an archived one", async () => {
      const one = (file: Record<string, unknown>, extra: Record<string, unknown> = {}) => call("POST", "/api/backend/releases", { body: { ...body, request: `r-${randomBytes(4).toString("hex")}`, files: [{ ...list[0], ...file }], ...extra } });
      expect(await one({ name: "../secret.csv" })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/relative path inside the workspace/) } });
      expect(await one({ name: "/etc/passwd.txt" })).toMatchObject({ status: 400 });
      expect(await one({ name: "output/data.arrow" })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/only level 4 files are released/) } });
      expect(await one({ size: 65 * 1024 * 1024 })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/over the 67108864 bytes/) } });
      expect(await one({ sha256: "xyz" })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/files\[0\]\.sha256/) } });
      expect(await one({ date: "yesterday" })).toMatchObject({ status: 400 });
      expect(await one({}, { files: [list[0], list[0]] })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/twice/) } });
      expect(await one({}, { files: [] })).toMatchObject({ status: 400 });
      expect(await one({}, { releasedBy: "" })).toMatchObject({ status: 400 });
      expect(await one({}, { workspace: "nonesuch" })).toMatchObject({ status: 404 });
      expect(await one({}, { workspace: "ws1-old" })).toMatchObject({ status: 409, json: { error: expect.stringMatching(/archived/) } });
    });

    it("is complete once the last file arrives", async () => {
      expect((await call("PUT", fileUrl("output/figure.svg"), { raw: figure })).status).toBe(200);
      const again = await call("POST", "/api/backend/releases", { body });
      expect(again).toMatchObject({ status: 200, json: { release: { id, complete: true, files: [{ received: true }, { received: true }] } } });
    });

    it("is listed for members of the project, with who released it and when", async () => {
      const listed = await api(base, "GET", "/api/v1/workspaces/ws1/released", { token: devToken });
      expect(listed.status).toBe(200);
      expect(listed.json.files).toEqual([
        { release: id, request: "01JAIRLOCKREQUEST1", name: "output/figure.svg", size: figure.length, sha256: sha256(figure), date, releasedBy: "checker", released: expect.any(String), download: `/api/v1/releases/${id}/file?name=output%2Ffigure.svg` },
        { release: id, request: "01JAIRLOCKREQUEST1", name: "output/table.csv", size: table.length, sha256: sha256(table), date, releasedBy: "checker", released: expect.any(String), download: `/api/v1/releases/${id}/file?name=output%2Ftable.csv` },
      ]);
    });

    it("downloads as an attachment with the right type, for a member, over the API and the page", async () => {
      const csv = await fetch(`${base}/api/v1/releases/${id}/file?name=output%2Ftable.csv`, { headers: { authorization: `Bearer ${devToken}` } });
      expect(csv.status).toBe(200);
      expect(Buffer.from(await csv.arrayBuffer())).toEqual(table);
      expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(csv.headers.get("content-disposition")).toBe(`attachment; filename="table.csv"; filename*=UTF-8''table.csv`);
      expect(csv.headers.get("x-content-type-options")).toBe("nosniff");
      expect(csv.headers.get("cache-control")).toBe("no-store");

      const collab = new Browser(base);
      await collab.login("collab", password("collab"));
      const ws = await collab.get("/workspaces/ws1");
      expect(ws.status).toBe(200);
      expect(ws.text).toContain("Released files");
      const link = `/releases/${id}/file?name=output%2Ffigure.svg`;
      expect(ws.text).toContain(`href="${link}"`);
      expect(ws.text).toContain(sha256(figure));
      const svg = await fetch(base + link, { headers: { cookie: collab.cookieHeader() } });
      expect(svg.status).toBe(200);
      // An SVG may hold script: never shown inline, and sandboxed should a browser try.
      expect(svg.headers.get("content-type")).toBe("image/svg+xml");
      expect(svg.headers.get("content-disposition")).toMatch(/^attachment; filename="figure.svg"/);
      expect(svg.headers.get("content-security-policy")).toMatch(/sandbox/);
      expect(Buffer.from(await svg.arrayBuffer())).toEqual(figure);

      const checker = await api(base, "GET", `/api/v1/workspaces/ws1/released`, { token: await store.rotateApiToken("checker") });
      expect((checker.json.files as unknown[]).length).toBe(2);
    });

    it("is refused to a non-member (403), to nobody (401 from the API, the login page for a browser), and not shown to those without release.view", async () => {
      const url = `/api/v1/releases/${id}/file?name=output%2Ftable.csv`;
      const otherToken = await store.rotateApiToken("other");
      expect(await api(base, "GET", url, { token: otherToken })).toMatchObject({ status: 403, json: { error: expect.stringMatching(/release\.view/) } });
      expect((await api(base, "GET", "/api/v1/workspaces/ws1/released", { token: otherToken })).status).toBe(403);
      expect((await api(base, "GET", url, { token: await store.rotateApiToken("serviceadmin") })).status).toBe(403);
      expect((await api(base, "GET", url)).status).toBe(401);
      expect((await api(base, "GET", "/api/v1/workspaces/ws1/released")).status).toBe(401);
      const anon = await new Browser(base).get(`/releases/${id}/file?name=output%2Ftable.csv`);
      expect(anon.status).toBe(303);
      expect(anon.location).toBe(`/login?next=${encodeURIComponent(`/releases/${id}/file?name=output%2Ftable.csv`)}`);
      const other = new Browser(base);
      await other.login("other", password("other"));
      expect((await other.get(`/releases/${id}/file?name=output%2Ftable.csv`)).status).toBe(403);
      // The ServiceAdministrator sees the workspace, but not its released files.
      const admin = new Browser(base);
      await admin.login("serviceadmin", password("serviceadmin"));
      const page = await admin.get("/workspaces/ws1");
      expect(page.status).toBe(200);
      expect(page.text).not.toContain("Released files");
      expect((await api(base, "GET", `/api/v1/releases/${id}/file?name=nothing.csv`, { token: devToken })).status).toBe(404);
      expect((await api(base, "GET", `/api/v1/releases/0123456789abcdef/file?name=x.csv`, { token: devToken })).status).toBe(404);
    });

    it("refuses a body over the file limit with 413, keeping nothing", async () => {
      const small = await startJobServer({ store, auditLog, releasesDir, releaseFileLimit: 16, log: () => undefined });
      try {
        const tiny = Buffer.from("a,b\n1,2\n");
        const created = await fetch(`${small.url}/api/backend/releases`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "enclave-backend": "tpp", "content-type": "application/json" },
          body: JSON.stringify({ ...body, request: "01JAIRLOCKSMALL", files: [{ name: "small.csv", size: tiny.length, sha256: sha256(tiny), date }] }),
        });
        expect(created.status).toBe(201);
        const small1 = ((await created.json()) as { release: { id: string } }).release.id;
        const before = objects();
        const over = await fetch(`${small.url}/api/backend/releases/${small1}/files?name=small.csv`, {
          method: "PUT",
          headers: { authorization: `Bearer ${token}`, "enclave-backend": "tpp" },
          body: new Blob([Buffer.alloc(40, 65)]).stream(),
          duplex: "half",
        } as RequestInit);
        expect(over.status).toBe(413);
        expect(objects()).toEqual(before);
        expect(leftovers()).toEqual([]);
      } finally {
        await small.close();
      }
    });

    it("a second release of the same bytes keeps one copy", async () => {
      const again = await call("POST", "/api/backend/releases", { body: { ...body, request: "01JAIRLOCKREQUEST2", files: [list[0]] } });
      expect(again.status).toBe(201);
      const second = (again.json.release as { id: string }).id;
      expect(second).not.toBe(id);
      expect((await call("PUT", `/api/backend/releases/${second}/files?name=output%2Ftable.csv`, { raw: table })).status).toBe(200);
      expect(objects()).toHaveLength(2);
      expect(((await api(base, "GET", "/api/v1/workspaces/ws1/released", { token: devToken })).json.files as { release: string }[]).map((f) => f.release)).toEqual([second, id, id]);
    });
  });

  // -------------------------------------------------------------------------

  it("every operation is in the audit log, without a password or a token, and the log verifies", async () => {
    const entries = await auditLog.entries();
    const actions = new Set(entries.map((e) => e.action));
    for (const a of ["login", "login.failure", "backend.access", "backend.workspace", "release.create", "release.repeat", "release.refuse", "release.file_refuse", "release.file_receive", "release.complete", "release.download"]) {
      expect(actions, a).toContain(a);
    }
    expect(entries.find((e) => e.action === "login" && e.actor === "dev")).toMatchObject({ subject: "user:dev", details: { backend: "tpp", address: "backend:tpp" } });
    expect(entries.find((e) => e.action === "login.failure" && e.details.reason === "throttled")).toMatchObject({ actor: "backend:tpp", subject: "user:alice" });
    expect(entries.find((e) => e.action === "release.create")).toMatchObject({ actor: "backend:tpp", details: { workspace: "ws1", project: 1, request: "01JAIRLOCKREQUEST1", released_by: "checker" } });
    expect(entries.find((e) => e.action === "release.file_refuse")).toMatchObject({ details: { name: "output/table.csv", expected: { size: expect.any(Number) } } });
    expect(entries.filter((e) => e.action === "release.complete")).toHaveLength(2);
    expect(entries.find((e) => e.action === "release.download" && e.actor === "collab")).toMatchObject({ details: { workspace: "ws1", name: "output/figure.svg" } });
    const text = JSON.stringify(entries);
    for (const who of ["dev", "collab", "alice", "carol"]) expect(text).not.toContain(password(who));
    expect(text).not.toContain(token);
    const verified = await auditLog.verify();
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
  });
});
