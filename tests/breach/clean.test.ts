// enclave breach clean: the blobs are gone from every commit and ref, and from
// the object store, and everything else in the history is as it was. The
// rewrite is git's own fast-export | fast-import here whether or not git
// filter-repo is installed (--method), so that the fallback is always tested.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/index.js";
import { StripBlobs } from "../../src/breach/clean.js";
import { cleanRepository, filterRepoInstalled, nextSteps, planClean, scanRepository } from "../../src/breach/index.js";
import { LEVEL3, PATIENTS, SMALL, type World, build } from "./fixture.js";
import { Repo, breach, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

/** Every commit's message, parents' count and tree listing but for the removed paths: what a clean must keep. */
function shape(repo: Repo, removed: readonly string[]): string[] {
  const commits = repo.git("rev-list", "--all", "--date-order", "--reverse", "--parents").split("\n");
  return commits.map((line) => {
    const [c, ...parents] = line.split(" ");
    const files = repo
      .git("ls-tree", "-r", "--name-only", c!)
      .split("\n")
      .filter((f) => f !== "" && !removed.includes(f));
    return `${repo.git("log", "-1", "--format=%s|%an|%at", c!)}|${parents.length}|${files.join(",")}`;
  });
}

describe("enclave breach clean", { timeout: 60_000 }, () => {
  let w: World;
  let blobs: string[];
  let removedPaths: string[];
  let before: string[];
  let run: Awaited<ReturnType<typeof breach>>;
  let audit: string;

  beforeAll(async () => {
    w = build();
    const found = (await scanRepository(w.repo.dir, { manifests: [w.manifest], released: [w.released] })).report.findings;
    blobs = [...new Set(found.map((f) => f.blob))];
    removedPaths = [...new Set(found.map((f) => f.path))];
    // A ref straight at a blob: fast-export cannot carry it, so clean must delete it.
    w.repo.git("tag", "raw-blob", w.repo.blobOf(LEVEL3));
    before = shape(w.repo, removedPaths);
    audit = path.join(tempDir(), "audit.db");
    run = await breach(["clean", w.repo.dir, ...blobs.flatMap((b) => ["--blob", b]), "--yes", "--method", "fast-export", "--audit-db", audit, "--actor", "tester"]);
  }, 120_000);

  it("exits with 0 and says the repository is verified clean", () => {
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("with git fast-export | git fast-import");
    expect(run.stdout).toContain("Verified: no ref, reflog or index reaches the blobs");
    expect(run.stdout).toMatch(/Rewritten: .*refs\/heads\/main/);
    expect(run.stdout).toContain("refs/tags/v-leak");
    expect(run.stdout).toContain("Deleted: refs/tags/raw-blob.");
  });

  it("leaves no object with those ids", () => {
    for (const b of blobs) expect(w.repo.has(b)).toBe(false);
    const objects = w.repo.git("rev-list", "--objects", "--all", "--reflog");
    for (const b of blobs) expect(objects).not.toContain(b);
  });

  it("leaves nothing for scan to find", async () => {
    const after = await scanRepository(w.repo.dir, { manifests: [w.manifest], released: [w.released] });
    expect(after.report.findings).toEqual([]);
  });

  it("keeps every commit, branch, tag, merge, message and other file", () => {
    expect(shape(w.repo, removedPaths)).toEqual(before);
    expect(w.repo.git("for-each-ref", "--format=%(refname)").split("\n").sort()).toEqual(["refs/heads/feature", "refs/heads/main", "refs/heads/side", "refs/tags/v-leak"]);
    expect(w.repo.git("cat-file", "-t", "v-leak")).toBe("tag");
    expect(w.repo.git("log", "-1", "--format=%B", "v-leak^{commit}")).toBe("only a tag holds this");
    expect(w.repo.git("show", "main:README.md")).toBe("# study");
    expect(w.repo.git("show", "v-leak:released/table.csv")).toContain("east,300");
  });

  it("tells what must happen next", () => {
    expect(run.stdout).toContain("git push --force --all <remote>");
    expect(run.stdout).toContain("git push --force --tags <remote>");
    expect(run.stdout).toContain("git push <remote> --delete refs/tags/raw-blob");
    expect(run.stdout).toMatch(/clone again/);
    expect(run.stdout).toMatch(/pull request refs/);
    expect(run.stdout).toMatch(/rotate/);
  });

  it("appends the incident to the audit log", async () => {
    const log = await AuditLog.open(audit);
    try {
      const entries = await log.entries();
      expect(entries).toHaveLength(1);
      const e = entries[0]!;
      expect([e.actor, e.action, e.subject]).toEqual(["tester", "breach.clean", `repo:${w.repo.dir}`]);
      expect(e.details.verified).toBe(true);
      expect(e.details.method).toBe("fast-export");
      expect((e.details.blobs as { id: string }[]).map((b) => b.id).sort()).toEqual([...blobs].sort());
      expect(e.details.refs_rewritten).toContain("refs/heads/main");
      expect(e.details.refs_deleted).toEqual(["refs/tags/raw-blob"]);
      expect((await log.verify()).ok).toBe(true);
    } finally {
      await log.close();
    }
  });
});

describe("enclave breach clean, in other states", { timeout: 60_000 }, () => {
  it("cleans a leak that is checked out, leaving the file on disk untracked, and one in the stash", async () => {
    const repo = Repo.init();
    repo.commit("start", { "README.md": "hi\n" });
    repo.commit("the leak", { "out/patients.csv": PATIENTS, "keep.csv": "band,count\na,100\n" });
    fs.writeFileSync(path.join(repo.dir, "stashed.csv"), SMALL);
    repo.git("add", "stashed.csv");
    repo.git("stash", "push", "--quiet", "-m", "older, with the leak");
    fs.writeFileSync(path.join(repo.dir, "README.md"), "changed\n");
    repo.git("stash", "push", "--quiet", "-m", "newer");
    const leak = repo.blobOf(PATIENTS);
    const stashed = repo.blobOf(SMALL);
    const plan = await planClean(repo.dir, [leak.slice(0, 12), stashed], { method: "fast-export" });
    expect(plan.blobs.map((b) => [b.id, b.paths])).toEqual([
      [leak, ["out/patients.csv"]],
      [stashed, ["stashed.csv"]],
    ]);
    const result = await cleanRepository(plan);
    expect(result.verified).toBe(true);
    expect(result.problems).toEqual([]);
    expect(result.stillInWorktree).toEqual(["out/patients.csv"]);
    expect(repo.has(leak) || repo.has(stashed)).toBe(false);
    expect(repo.git("status", "--porcelain")).toBe("?? out/");
    expect(repo.git("show", "HEAD:keep.csv")).toBe("band,count\na,100");
    expect((await scanRepository(repo.dir, { reflogs: true })).report.findings).toEqual([]);
    // Both stash entries are still there, the older one without the leak.
    expect(repo.git("stash", "list", "--format=%gs")).toBe("On main: newer\nOn main: older, with the leak");
    expect(repo.git("stash", "show", "--name-only", "stash@{1}")).toBe("");
    expect(repo.git("stash", "show", "--name-only", "stash@{0}")).toBe("README.md");
    expect(repo.git("for-each-ref", "--format=%(refname)")).toBe("refs/heads/main\nrefs/stash");
  });

  it("cleans a bare repository and a detached HEAD", async () => {
    const repo = Repo.init();
    repo.commit("start", { "README.md": "hi\n" });
    const leakCommit = repo.commit("the leak", { "p.csv": PATIENTS });
    repo.git("checkout", "--quiet", "--detach", leakCommit);
    const leak = repo.blobOf(PATIENTS);
    const r1 = await cleanRepository(await planClean(repo.dir, [leak], { method: "fast-export" }));
    expect(r1.verified).toBe(true);
    expect(r1.refsRewritten).toContain("HEAD");
    expect(repo.git("log", "-1", "--format=%s", "HEAD")).toBe("the leak");

    const bare = Repo.init({ bare: true });
    const source = Repo.init();
    source.commit("start", { "p.csv": PATIENTS, "README.md": "x\n" });
    source.git("push", "--quiet", bare.dir, "main");
    const r2 = await cleanRepository(await planClean(bare.dir, [leak], { method: "fast-export" }));
    expect(r2.verified).toBe(true);
    expect(r2.refsRewritten).toEqual(["refs/heads/main"]);
    expect(bare.git("ls-tree", "--name-only", "main")).toBe("README.md");
  });

  it("refuses without --yes when nobody can be asked, and changes nothing", async () => {
    const repo = Repo.init();
    repo.commit("leak", { "p.csv": PATIENTS });
    const leak = repo.blobOf(PATIENTS);
    const r = await breach(["clean", repo.dir, "--blob", leak, "--method", "fast-export"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`blob ${leak} (`);
    expect(r.stderr).toContain("pass --yes");
    expect(repo.has(leak)).toBe(true);
  });

  it("refuses a repository with staged changes (exit 1)", async () => {
    const repo = Repo.init();
    repo.commit("leak", { "p.csv": PATIENTS });
    fs.writeFileSync(path.join(repo.dir, "new.txt"), "x\n");
    repo.git("add", "new.txt");
    const r = await breach(["clean", repo.dir, "--blob", repo.blobOf(PATIENTS), "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("has staged changes");
  });

  it("exits with 2 for an unknown blob, a commit id, something not an id, a missing repository or no --blob", async () => {
    const repo = Repo.init();
    const commit = repo.commit("x", { "a.txt": "a\n" });
    let r = await breach(["clean", repo.dir, "--blob", "0123456789abcdef0123456789abcdef01234567", "--yes"]);
    expect([r.code, r.stderr]).toEqual([2, `error: --blob 0123456789abcdef0123456789abcdef01234567: there is no such object in ${repo.dir}\n`]);
    r = await breach(["clean", repo.dir, "--blob", commit, "--yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--blob ${commit} is a commit, not a blob`);
    r = await breach(["clean", repo.dir, "--blob", "output/x.csv", "--yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is not a blob id");
    r = await breach(["clean", path.join(repo.dir, "nowhere"), "--blob", commit, "--yes"]);
    expect([r.code, r.stderr]).toEqual([2, `error: ${path.join(repo.dir, "nowhere")}: there is no such folder\n`]);
    r = await breach(["clean", repo.dir, "--yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--blob ID");
  });
});

describe.runIf(await filterRepoInstalled(process.cwd()))("enclave breach clean with git filter-repo (where it is installed)", { timeout: 60_000 }, () => {
  it("removes the blobs just as the fallback does", async () => {
    const w = build();
    w.repo.git("remote", "add", "origin", "https://example.org/study.git");
    const found = (await scanRepository(w.repo.dir, { manifests: [w.manifest], released: [w.released] })).report.findings;
    const blobs = [...new Set(found.map((f) => f.blob))];
    const plan = await planClean(w.repo.dir, blobs);
    expect(plan.method).toBe("filter-repo");
    const result = await cleanRepository(plan);
    expect(result.problems).toEqual([]);
    expect(result.verified).toBe(true);
    for (const b of blobs) expect(w.repo.has(b)).toBe(false);
    expect((await scanRepository(w.repo.dir, { manifests: [w.manifest], released: [w.released] })).report.findings).toEqual([]);
    expect(w.repo.git("show", "main:README.md")).toBe("# study");
    // filter-repo removes origin, so that nothing is pushed by mistake: clean says how to add it back.
    if (result.remotesRemoved.includes("origin")) expect(nextSteps(plan, result).join("\n")).toContain("git remote add origin https://example.org/study.git");
  });
});

describe("StripBlobs, the filter between fast-export and fast-import", () => {
  async function filter(input: string, ids: string[]): Promise<string> {
    const f = new StripBlobs(new Set(ids));
    const out: Buffer[] = [];
    f.on("data", (c: Buffer) => out.push(c));
    const done = new Promise((resolve) => f.on("end", resolve));
    // Byte by byte: a data block or a line split across chunks must make no difference.
    for (const byte of Buffer.from(input, "latin1")) f.write(Buffer.from([byte]));
    f.end();
    await done;
    return Buffer.concat(out).toString("latin1");
  }
  const A = "a".repeat(40);
  const B = "b".repeat(40);

  it("turns the M line of a removed blob into a D line, and leaves messages that look like commands alone", async () => {
    const message = `M 100644 ${A} fake\n`;
    const input = `commit refs/heads/main\nmark :1\ncommitter T <t@x> 1 +0000\ndata ${message.length}\n${message}M 100644 ${A} "out/\\303\\251.csv"\nM 100644 ${B} keep.csv\n\ndone\n`;
    expect(await filter(input, [A])).toBe(`commit refs/heads/main\nmark :1\ncommitter T <t@x> 1 +0000\ndata ${message.length}\n${message}D "out/\\303\\251.csv"\nM 100644 ${B} keep.csv\n\ndone\n`);
  });
});
