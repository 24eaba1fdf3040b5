// Where workspaces' repositories may be: deny by default. The rules of
// repoAllowed one by one (each with a repository that tries to slip past it),
// then the job server refusing to create a workspace elsewhere (400, naming
// the allowed places) and submitJobRequest refusing one that is no longer
// allowed, and the command line's --allowed-repos.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/index.js";
import { allowedRepos } from "../../src/cli/jobserver.js";
import { UsageError } from "../../src/cli/errors.js";
import { DEFAULT_ALLOWED_REPOS, type JobServer, RepoPlacesError, Store, repoAllowed, repoPlaces, startJobServer } from "../../src/jobserver/index.js";
import { JobRequestError, submitJobRequest } from "../../src/jobserver/requests.js";
import { Browser, api, studyRepo } from "./http-helpers.js";

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-repos-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const allowedDir = path.join(tmp, "allowed");
const outsideDir = path.join(tmp, "outside");
const GITHUB = "https://github.com/opensafely/";

beforeAll(() => {
  fs.mkdirSync(path.join(allowedDir, "study"), { recursive: true });
  fs.mkdirSync(path.join(outsideDir, "secrets"), { recursive: true });
  fs.mkdirSync(path.join(tmp, "allowed-evil"), { recursive: true });
  fs.symlinkSync(path.join(outsideDir, "secrets"), path.join(allowedDir, "link-out"));
  fs.symlinkSync(allowedDir, path.join(tmp, "allowed-link"));
});

const allowed = (repo: string, places: readonly string[] = [GITHUB, `${allowedDir}/`]) => repoAllowed(repo, places).allowed;
const why = (repo: string, places: readonly string[] = [GITHUB, `${allowedDir}/`]): string => {
  const r = repoAllowed(repo, places);
  if (r.allowed) throw new Error(`${repo} was allowed`);
  return r.message;
};

describe("repoAllowed", () => {
  it("takes addresses under an address place, by scheme, host and path, and nothing past its last /", () => {
    for (const repo of ["https://github.com/opensafely/study", "https://github.com/opensafely/study.git", "https://GitHub.com/opensafely/x", "https://github.com:443/opensafely/x", "https://github.com/opensafely/a/b"]) {
      expect(allowed(repo), repo).toBe(true);
    }
    // A place given without its last / means the same folder of addresses.
    expect(allowed("https://github.com/opensafely/x", ["https://github.com/opensafely"])).toBe(true);
    expect(allowed("https://github.com/opensafely-evil/x", ["https://github.com/opensafely"])).toBe(false);
    for (const repo of ["https://github.com/opensafely-evil/x", "https://gitlab.com/opensafely/x", "http://github.com/opensafely/x", "https://github.com:8443/opensafely/x", "https://github.com/OpenSAFELY/x"]) {
      expect(allowed(repo), repo).toBe(false);
    }
    expect(why("https://github.com/opensafely-evil/x")).toBe(
      `the repository https://github.com/opensafely-evil/x is not allowed: it is under none of those places; this job server takes repositories from ${GITHUB}, ${allowedDir}/ only`,
    );
  });

  it("refuses credentials, dot segments however written, queries and fragments, encodings that dodge the prefix, and other schemes", () => {
    const cases: [string, RegExp][] = [
      ["https://token@github.com/opensafely/x", /carries credentials/],
      ["https://user:secret@github.com/opensafely/x", /carries credentials/],
      ["https://github.com/opensafely/../evil/x", /"\." or "\.\." segment/],
      ["https://github.com/opensafely/%2e%2e/evil/x", /"\." or "\.\." segment/],
      ["https://github.com/opensafely/..%2Fevil", /hides a "\/"/],
      ["https://github.com/opensafely/.%2E/evil", /segment/],
      ["https://github.com/opensafely/x%5c..%5cy", /hides a "\/"/],
      ["https://github.com/opensafely/x?ref=evil", /query or a fragment/],
      ["https://github.com/opensafely/x#frag", /query or a fragment/],
      ["https://github.com/%6Fpensafely/x", /under none of those places/],
      ["git@github.com:opensafely/x.git", /ssh:\/\/user@host\/path/],
      ["ext::sh -c touch% /tmp/pwned", /neither an address .* nor an absolute folder/],
      ["ftp://github.com/opensafely/x", /uses ftp:\/\//],
      ["study", /neither an address/],
      ["./study", /neither an address/],
    ];
    for (const [repo, message] of cases) expect(why(repo), repo).toMatch(message);
    // The password never reaches the message.
    expect(why("https://user:secret@github.com/opensafely/x")).not.toContain("secret");
  });

  it("takes ssh addresses only with the place's own user", () => {
    const places = ["ssh://git@github.com/opensafely/"];
    expect(allowed("ssh://git@github.com/opensafely/x.git", places)).toBe(true);
    expect(allowed("ssh://other@github.com/opensafely/x.git", places)).toBe(false);
    expect(allowed("ssh://github.com/opensafely/x.git", places)).toBe(false);
    expect(why("ssh://git:pw@github.com/opensafely/x.git", places)).toMatch(/carries credentials/);
  });

  it("takes folders under a folder place once .. and links are resolved, and answers the real folder to read", () => {
    expect(repoAllowed(path.join(allowedDir, "study"), [`${allowedDir}/`])).toEqual({ allowed: true, folder: path.join(allowedDir, "study") });
    // The place itself, and a folder not made yet (its real path is where it would be).
    expect(allowed(allowedDir)).toBe(true);
    expect(allowed(path.join(allowedDir, "not-yet"))).toBe(true);
    expect(why(path.join(tmp, "allowed-evil", "x"))).toMatch(/under none of those places/);
    expect(why(`${allowedDir}/../outside/secrets`)).toMatch(/under none of those places/);
    expect(why(path.join(allowedDir, "link-out"))).toMatch(new RegExp(`\\(really ${path.join(outsideDir, "secrets")}\\) is under none`));
    expect(why(path.join(allowedDir, "link-out", "deeper"))).toMatch(/really/);
    // A place given through a link is the folder it leads to.
    expect(repoAllowed(path.join(allowedDir, "study"), [path.join(tmp, "allowed-link")])).toMatchObject({ allowed: true });
    expect(repoAllowed(path.join(tmp, "allowed-link", "study"), [allowedDir])).toEqual({ allowed: true, folder: path.join(allowedDir, "study") });
    // An address place never covers a folder, nor a folder place an address.
    expect(allowed(path.join(allowedDir, "study"), [GITHUB])).toBe(false);
    expect(allowed("https://github.com/opensafely/x", [allowedDir])).toBe(false);
  });

  it("takes a file:// address only under a folder place", () => {
    expect(repoAllowed(pathToFileURL(path.join(allowedDir, "study")).href, [allowedDir])).toEqual({ allowed: true });
    expect(why(pathToFileURL(path.join(outsideDir, "secrets")).href)).toMatch(/under none/);
    expect(why("file:///etc/passwd")).toMatch(/under none/);
    expect(why(`file://${allowedDir}/../outside/secrets`)).toMatch(/segment/);
    expect(why("file://otherhost/srv/git/x", ["/srv/git/"])).toMatch(/another host/);
    expect(allowed(pathToFileURL(path.join(allowedDir, "study")).href, ["file:///nowhere/"])).toBe(false);
  });

  it("by default takes https addresses on GitHub only; an empty list takes nothing", () => {
    expect(DEFAULT_ALLOWED_REPOS).toEqual(["https://github.com/"]);
    expect(allowed("https://github.com/anyone/study", DEFAULT_ALLOWED_REPOS)).toBe(true);
    for (const repo of ["http://github.com/anyone/study", "ssh://git@github.com/anyone/study", "https://gitlab.com/anyone/study", path.join(allowedDir, "study"), pathToFileURL(allowedDir).href]) {
      expect(allowed(repo, DEFAULT_ALLOWED_REPOS), repo).toBe(false);
    }
    expect(why("https://github.com/x/y", [])).toMatch(/from nowhere/);
  });

  it("refuses a list entry that is neither an address prefix nor an absolute folder, naming it", () => {
    for (const entry of ["relative/dir", "", " /srv/git/", "ftp://example.org/", "https://u:p@github.com/", "https://github.com/a/../b/", "git@github.com:org/"]) {
      expect(() => repoPlaces([entry]), entry).toThrow(RepoPlacesError);
    }
    expect(() => repoPlaces(["relative/dir"])).toThrow('the allowed repository location "relative/dir" is not an address (scheme://host/path): give an address prefix such as https://github.com/opensafely/, or an absolute folder such as /srv/git/');
  });
});

// ---------------------------------------------------------------------------

describe("the job server, with allowed repositories", () => {
  let store: Store;
  let auditLog: AuditLog;
  let server: JobServer;
  let token: string;
  let study: { repo: string; commit: string };

  beforeAll(async () => {
    study = studyRepo(path.join(allowedDir, "study"));
    studyRepo(path.join(outsideDir, "study"));
    store = await Store.open(path.join(tmp, "jobserver.db"));
    auditLog = await AuditLog.open(path.join(tmp, "audit.db"));
    await store.createUser({ username: "dev", password: "pass-of-dev-7" });
    await store.createOrg("org");
    await store.createProject({ number: 1, name: "Diabetes", org: "org" });
    await store.addMember(1, "dev", ["ProjectDeveloper"]);
    await store.createBackend("tpp");
    await store.addBackendMember("tpp", "dev");
    token = await store.rotateApiToken("dev");
    server = await startJobServer({ store, auditLog, allowedRepos: [GITHUB, allowedDir], logCacheMs: 0, log: () => undefined });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await store?.close();
    await auditLog?.close();
  });

  const create = (name: string, repo: string, base = server.url) => api(base, "POST", "/api/v1/projects/1/workspaces", { token, body: { name, repo, branch: "main" } });

  it("creates a workspace whose repository is in an allowed place", async () => {
    expect((await create("inside", study.repo)).status).toBe(201);
    expect((await create("on-github", "https://github.com/opensafely/some-study")).status).toBe(201);
  });

  it("refuses one elsewhere with 400, naming the allowed places, on the API and the page, and audits the refusal", async () => {
    for (const [name, repo] of [
      ["out", path.join(outsideDir, "study")],
      ["up", `${allowedDir}/../outside/study`],
      ["link", path.join(allowedDir, "link-out")],
      ["etc", "/etc"],
      ["evil", "https://github.com/opensafely-evil/x"],
      ["creds", "https://token@github.com/opensafely/x"],
    ]) {
      const a = await create(name!, repo!);
      expect(a.status, repo).toBe(400);
      expect(a.json.error).toMatch(/is not allowed: .*; this job server takes repositories from https:\/\/github\.com\/opensafely\/, .*allowed only$/);
      expect(await store.getWorkspace(name!)).toBeUndefined();
    }
    const b = new Browser(server.url);
    await b.login("dev", "pass-of-dev-7");
    await b.get("/projects/1");
    const page = await b.post("/projects/1/workspaces", { name: "page-out", repo: path.join(outsideDir, "study"), branch: "main" });
    expect(page.status).toBe(400);
    expect(page.text).toContain("is not allowed");
    const refusals = (await auditLog.entries()).filter((e) => e.action === "workspace.refuse");
    expect(refusals).toHaveLength(7);
    expect(refusals.find((e) => e.details.name === "creds")?.details.repo).toBe("https://***@github.com/opensafely/x");
    expect(JSON.stringify(refusals)).not.toContain("token@");
  });

  it("refuses job requests for a workspace that is not (or no longer) allowed, and accepts them where it is", async () => {
    const good = await api(server.url, "POST", "/api/v1/job-requests", { token, body: { workspace: "inside", backend: "tpp", actions: ["report"] } });
    expect(good.status).toBe(201);
    // Made before the list said otherwise (straight in the store): refused when a request comes.
    await store.createWorkspace({ project: 1, name: "made-before", repo: path.join(outsideDir, "study"), branch: "main" });
    const refused = await api(server.url, "POST", "/api/v1/job-requests", { token, body: { workspace: "made-before", backend: "tpp", actions: ["report"] } });
    expect(refused.status).toBe(422);
    expect(refused.json.problems).toEqual([expect.stringMatching(/^workspace made-before: the repository .*outside\/study is not allowed: it is under none of those places/)]);
    // The workspace's page says why it cannot run jobs instead of offering the form.
    const b = new Browser(server.url);
    await b.login("dev", "pass-of-dev-7");
    expect((await b.get("/workspaces/made-before")).text).toMatch(/cannot be read: workspace made-before: the repository .* is not allowed/);
  });

  it("checks again at every request: a narrower list, or a link moved to lead elsewhere, refuses what was accepted", async () => {
    const base = { store, backend: "tpp", actions: ["report"], force: false, requester: "dev" };
    const problems = async (input: Parameters<typeof submitJobRequest>[0]): Promise<readonly string[]> => {
      try {
        await submitJobRequest(input);
        return [];
      } catch (e) {
        if (e instanceof JobRequestError) return e.problems;
        throw e;
      }
    };
    expect(await problems({ ...base, workspace: "inside", allowedRepos: [allowedDir] })).toEqual([]);
    expect(await problems({ ...base, workspace: "inside", allowedRepos: [GITHUB] })).toEqual([expect.stringMatching(/^workspace inside: the repository .* is not allowed/)]);
    // Without a list, the default: GitHub only.
    expect(await problems({ ...base, workspace: "inside" })).toEqual([expect.stringMatching(/takes repositories from https:\/\/github\.com\/ only$/)]);

    const link = path.join(allowedDir, "current");
    fs.symlinkSync(study.repo, link);
    await store.createWorkspace({ project: 1, name: "via-link", repo: link, branch: "main" });
    expect(await problems({ ...base, workspace: "via-link", allowedRepos: [allowedDir] })).toEqual([]);
    fs.unlinkSync(link);
    fs.symlinkSync(path.join(outsideDir, "study"), link);
    expect(await problems({ ...base, workspace: "via-link", allowedRepos: [allowedDir] })).toEqual([expect.stringMatching(/really .*outside\/study\) is under none of those places/)]);
  });

  it("without allowedRepos, takes https://github.com/ only", async () => {
    const plain = await startJobServer({ store, auditLog, logCacheMs: 0, log: () => undefined });
    try {
      const a = await create("plain-local", study.repo, plain.url);
      expect(a.status).toBe(400);
      expect(a.json.error).toMatch(/takes repositories from https:\/\/github\.com\/ only$/);
      expect((await create("plain-github", "https://github.com/someone/study", plain.url)).status).toBe(201);
    } finally {
      await plain.close();
    }
  });

  it("will not start with a list it cannot read", async () => {
    await expect(startJobServer({ store, auditLog, allowedRepos: ["srv/git"], log: () => undefined })).rejects.toThrow(/"srv\/git" is not an address/);
  });
});

// ---------------------------------------------------------------------------

describe("--allowed-repos and ENCLAVE_ALLOWED_REPOS", () => {
  const saved = process.env.ENCLAVE_ALLOWED_REPOS;
  afterEach(() => {
    if (saved === undefined) delete process.env.ENCLAVE_ALLOWED_REPOS;
    else process.env.ENCLAVE_ALLOWED_REPOS = saved;
  });

  it("takes places comma-separated or repeated, else from the environment, else leaves the default", () => {
    delete process.env.ENCLAVE_ALLOWED_REPOS;
    expect(allowedRepos(undefined)).toBeUndefined();
    expect(allowedRepos([`${GITHUB}, /srv/git/`, "/opt/repos"])).toEqual([GITHUB, "/srv/git/", "/opt/repos"]);
    process.env.ENCLAVE_ALLOWED_REPOS = "/srv/git/,https://github.com/org/";
    expect(allowedRepos(undefined)).toEqual(["/srv/git/", "https://github.com/org/"]);
    expect(allowedRepos(["/opt/repos"])).toEqual(["/opt/repos"]);
    process.env.ENCLAVE_ALLOWED_REPOS = " ";
    expect(allowedRepos(undefined)).toBeUndefined();
  });

  it("refuses a bad place, or none, as a usage error naming the option", () => {
    delete process.env.ENCLAVE_ALLOWED_REPOS;
    expect(() => allowedRepos(["srv/git"])).toThrow(UsageError);
    expect(() => allowedRepos(["srv/git"])).toThrow(/^--allowed-repos: the allowed repository location "srv\/git"/);
    expect(() => allowedRepos([","])).toThrow("--allowed-repos names no location");
    process.env.ENCLAVE_ALLOWED_REPOS = "ftp://x/";
    expect(() => allowedRepos(undefined)).toThrow(/^\$ENCLAVE_ALLOWED_REPOS: /);
  });
});
