// enclave breach scan on a repository with leaks at every depth git hides
// them: added then deleted, renamed, on a branch only, brought in by a merge,
// in a commit only a tag reaches, in the stash.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Finding, formatReport, scanRepository } from "../../src/breach/index.js";
import { LEVEL3, PATIENTS, type World, build } from "./fixture.js";
import { Repo, breach, removeTempDirs, sha256, tempDir } from "./helpers.js";

let w: World;
let findings: Finding[];

beforeAll(async () => {
  w = build();
  findings = (await scanRepository(w.repo.dir, { manifests: [w.manifest], released: [w.released] })).report.findings;
}, 60_000);
afterAll(removeTempDirs);

function find(rule: string, file: string): Finding {
  const f = findings.find((x) => x.rule === rule && x.path === file);
  if (f === undefined) throw new Error(`no ${rule} finding at ${file}; found:\n${findings.map((x) => `${x.rule} ${x.path}`).join("\n")}`);
  return f;
}

describe("breach scan", { timeout: 60_000 }, () => {
  it("finds a level 3 output that was added, then deleted", () => {
    const f = find("known_output", "analysis/extract.csv");
    expect(f.level).toBe(3);
    expect(f.sha256).toBe(sha256(LEVEL3));
    expect(f.blob).toBe(w.repo.blobOf(LEVEL3));
    expect(f.commits).toEqual([w.c.addLevel3]);
    expect(f.introduced_in).toBe(w.c.addLevel3);
    expect(f.message).toContain("highly_sensitive");
    // The same blob is also a patient-level table, by its content.
    expect(find("patient_level", "analysis/extract.csv").level).toBeNull();
  });

  it("finds an unreleased level 4 output at both of its paths, before and after a rename", () => {
    const before = find("known_output", "data/unreleased.csv");
    const after = find("known_output", "data/moved.csv");
    expect([before.level, after.level]).toEqual([4, 4]);
    expect(before.blob).toBe(after.blob);
    expect(before.commits).toEqual([w.c.addLevel4]);
    expect(after.introduced_in).toBe(w.c.rename);
    expect(new Set(after.commits)).toEqual(w.repo.commitsHolding(after.blob, "data/moved.csv"));
    expect(after.message).toContain("never released");
  });

  it("finds a patient-level table brought in by a merge, in the side branch's commit and every commit after", () => {
    const f = find("patient_level", "side/patients.csv");
    expect(f.introduced_in).toBe(w.c.side);
    expect(f.commits).toContain(w.c.merge);
    expect(f.commits).toContain(w.c.feature);
    expect(f.commits).toContain(w.c.tagged);
    expect(f.commits).not.toContain(w.c.cleanup);
    expect(new Set(f.commits)).toEqual(w.repo.commitsHolding(f.blob, "side/patients.csv"));
  });

  it("finds small counts on a branch only", () => {
    const f = find("small_count", "notes/counts.csv");
    expect(f.commits).toEqual([w.c.feature]);
    expect(f.message).toContain('column "count": 3');
  });

  it("finds a file at an output path in a commit that only a tag reaches", () => {
    const f = find("output_path", "output/dataset.csv");
    expect(f.commits).toEqual([w.c.tagged]);
    expect(f.introduced_in).toBe(w.c.tagged);
    expect(f.message).toContain('action "generate_dataset"');
  });

  it("does not report a released level 4 output, nor clean files", () => {
    const reported = new Set(findings.map((f) => f.path));
    expect(reported.has("released/table.csv")).toBe(false);
    for (const file of ["README.md", "project.yaml", "analysis/tables.js", "analysis/dataset_definition.ts"]) expect(reported.has(file)).toBe(false);
    expect(findings).toHaveLength(7);
  });

  it("lists every commit that holds each blob, earliest first, and the earliest is introduced_in", () => {
    const order = w.repo.git("rev-list", "--all", "--date-order", "--reverse").split("\n");
    for (const f of findings) {
      expect(new Set(f.commits)).toEqual(w.repo.commitsHolding(f.blob, f.path));
      expect(f.introduced_in).toBe(f.commits[0]);
      const positions = f.commits.map((c) => order.indexOf(c));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
  });

  it("reports a released level 4 output when the list of releases is not given", async () => {
    const r = await scanRepository(w.repo.dir, { manifests: [w.manifest] });
    const f = r.report.findings.find((x) => x.path === "released/table.csv" && x.rule === "known_output");
    expect(f?.level).toBe(4);
  });

  it("finds a level 3 output committed through Git LFS, by the sha256 its pointer names", async () => {
    const repo = Repo.init();
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(LEVEL3)}\nsize ${LEVEL3.length}\n`;
    repo.commit("lfs", { "data/extract.csv": pointer });
    const r = await scanRepository(repo.dir, { manifests: [w.manifest] });
    expect(r.report.findings.map((f) => [f.rule, f.level, f.path, f.sha256])).toEqual([["known_output", 3, "data/extract.csv", sha256(pointer)]]);
    expect(r.report.findings[0]!.message).toContain("LFS server");
  });

  it("without a manifest, applies only the content and path rules", async () => {
    const r = await scanRepository(w.repo.dir);
    expect(r.report.findings.some((f) => f.rule === "known_output")).toBe(false);
    expect(r.report.findings.map((f) => `${f.rule} ${f.path}`).sort()).toEqual([
      "output_path output/dataset.csv",
      "patient_level analysis/extract.csv",
      "patient_level side/patients.csv",
      "small_count notes/counts.csv",
    ]);
  });

  it("finds a leak that only the stash holds", async () => {
    const repo = Repo.init();
    repo.commit("start", { "README.md": "hi\n" });
    fs.writeFileSync(path.join(repo.dir, "patients.csv"), PATIENTS);
    repo.git("add", "patients.csv");
    repo.git("stash", "push", "--quiet");
    const r = await scanRepository(repo.dir);
    expect(r.report.findings.map((f) => [f.rule, f.path])).toEqual([["patient_level", "patients.csv"]]);
  });

  it("reads gzipped CSV, TSV and Arrow tables", async () => {
    const { gzipSync } = await import("node:zlib");
    const repo = Repo.init();
    const dir = tempDir();
    const arrowFile = path.join(dir, "t.arrow");
    const { tableFromArrays, tableToIPC } = await import("apache-arrow");
    fs.writeFileSync(arrowFile, tableToIPC(tableFromArrays({ patient_id: Int32Array.from([1, 2, 3]), age: Int32Array.from([30, 40, 50]) }), "file"));
    fs.mkdirSync(path.join(repo.dir, "out"));
    fs.writeFileSync(path.join(repo.dir, "out", "d.csv.gz"), gzipSync(PATIENTS));
    fs.copyFileSync(arrowFile, path.join(repo.dir, "out", "d.dat"));
    repo.commit("tables", { "out/t.tsv": "band\tcount\nx\t2\ny\t500\n", "out/fine.csv": "band,count\nx,100\ny,500\n" });
    const r = await scanRepository(repo.dir);
    expect(r.report.findings.map((f) => `${f.rule} ${f.path}`).sort()).toEqual(["patient_level out/d.csv.gz", "patient_level out/d.dat", "small_count out/t.tsv"]);
  });

  it("reads Parquet by its magic bytes, and flags a Parquet file it cannot read", async () => {
    const { writeParquet } = await import("../../src/engines/files/columnar.js");
    const repo = Repo.init();
    const file = path.join(tempDir(), "t.parquet");
    async function* rows() {
      yield [[1, "F"], [2, "M"]];
    }
    await writeParquet(file, [{ name: "patient_id", type: "int" }, { name: "sex", type: "str" }], rows());
    fs.mkdirSync(path.join(repo.dir, "out"));
    fs.copyFileSync(file, path.join(repo.dir, "out", "dataset.parquet"));
    repo.commit("tables", { "out/broken.parquet": "not parquet at all\n" });
    const r = await scanRepository(repo.dir);
    expect(r.report.findings.map((f) => `${f.rule} ${f.path}`)).toEqual(["patient_level out/broken.parquet", "patient_level out/dataset.parquet"]);
    expect(r.report.findings[0]!.message).toContain("not one");
  });

  it("reads at most contentLimit bytes of a table, but hashes all of it", async () => {
    const repo = Repo.init();
    const big = "patient_id,age\n" + Array.from({ length: 500 }, (_, i) => `${i},${20 + (i % 60)}`).join("\n") + "\n";
    const counts = "band,count\n" + Array.from({ length: 200 }, (_, i) => `b${i},100`).join("\n") + "\nlast,3\n";
    repo.commit("big", { "big.csv": big, "counts.csv": counts });
    const dir = tempDir();
    const manifest = path.join(dir, "m.json");
    // No sizes: every blob is hashed.
    fs.writeFileSync(manifest, JSON.stringify({ version: 1, files: { "output/big.csv": { level: "highly_sensitive", sha256: sha256(big) } } }));
    const r = await scanRepository(repo.dir, { manifests: [manifest], contentLimit: 1024 });
    expect(r.report.findings.map((f) => `${f.rule} ${f.path}`)).toEqual(["known_output big.csv", "patient_level big.csv"]);
    expect(r.report.findings[1]!.message).toMatch(/\(in its first 10[0-9]{2} B: the rest was not read\)$/);
    // The small count is past the limit; with the default it is found.
    expect((await scanRepository(repo.dir)).report.findings.map((f) => `${f.rule} ${f.path}`)).toEqual(["patient_level big.csv", "small_count counts.csv"]);
  });

  it("warns about a table it cannot read, and finds nothing in it", async () => {
    const repo = Repo.init();
    repo.commit("bad", { "data/bad.csv": 'a,b\n"unterminated,1\n' });
    const r = await scanRepository(repo.dir);
    expect(r.report.findings).toEqual([]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^data\/bad\.csv \(blob [0-9a-f]{40}, as a \.csv file\): not checked: cannot read it as CSV: line 2/);
  });

  it("names refs that point straight at a blob or a tree, which no commit walk reaches", async () => {
    const repo = Repo.init();
    repo.commit("start", { "README.md": "hi\n" });
    fs.writeFileSync(path.join(repo.dir, "p.csv"), PATIENTS);
    const blob = repo.git("hash-object", "-w", "p.csv").trim();
    fs.rmSync(path.join(repo.dir, "p.csv"));
    repo.git("tag", "leak", blob);
    repo.git("tag", "-a", "-m", "annotated", "leak-annotated", blob);
    const tree = repo.git("rev-parse", "HEAD^{tree}").trim();
    repo.git("update-ref", "refs/tags/tree", tree);
    const r = await scanRepository(repo.dir);
    expect(r.report.findings).toEqual([]);
    expect(r.warnings).toEqual([
      expect.stringMatching(new RegExp(`^refs/tags/leak points at blob ${blob}, not at a commit: it was not scanned.*enclave breach clean --blob ${blob}`)),
      expect.stringMatching(new RegExp(`^refs/tags/leak-annotated points at blob ${blob}, not at a commit`)),
      expect.stringMatching(new RegExp(`^refs/tags/tree points at tree ${tree}, not at a commit`)),
    ]);
  });

  it("reports a file held by many commits with the first, four more and how many others", async () => {
    const repo = Repo.init();
    repo.commit("leak", { "p.csv": PATIENTS });
    for (let i = 1; i <= 7; i += 1) repo.commit(`later ${i}`, { [`notes${i}.md`]: `${i}\n` });
    const r = await scanRepository(repo.dir);
    const text = formatReport(r, "study");
    expect(text).toMatch(/first in [0-9a-f]+ \d{4}-\d\d-\d\d "leak"; held by 8 commits \(also [0-9a-f]+, [0-9a-f]+, [0-9a-f]+, [0-9a-f]+, and 3 more\)/);
    expect(text).toContain("enclave breach clean study --blob ");
  });

  it("names data files it cannot read (Stata, R, Excel...), even ones deleted since", async () => {
    const repo = Repo.init();
    repo.commit("exports", { "analysis/extract.dta": "\x72\x00stata-ish bytes", "analysis/model.rds": "R data", "notes.md": "hi\n" });
    repo.git("rm", "--quiet", "analysis/extract.dta");
    repo.git("commit", "--quiet", "-m", "remove the export");
    const r = await scanRepository(repo.dir);
    expect(r.report.findings).toEqual([]);
    expect(r.warnings).toEqual([
      "2 data files in the history are in a format the content rules do not read (Stata, R, Excel, SAS, SPSS, pickles, databases): analysis/extract.dta, analysis/model.rds; only their hashes and paths were checked: look at them",
    ]);
  });

  it("walks reflogs only when asked: an amended commit is in this clone alone", async () => {
    const repo = Repo.init();
    repo.commit("start", { "README.md": "hi\n" });
    repo.commit("oops", { "p.csv": PATIENTS });
    repo.git("rm", "--quiet", "p.csv");
    fs.writeFileSync(path.join(repo.dir, "notes.md"), "notes\n");
    repo.git("add", "notes.md");
    repo.git("commit", "--quiet", "--amend", "-m", "fixed");
    expect((await scanRepository(repo.dir)).report.findings).toEqual([]);
    const r = await breach(["scan", repo.dir, "--reflogs", "--json"]);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { findings: Finding[] }).findings.map((f) => f.path)).toEqual(["p.csv"]);
  });

  it("scans the whole repository when given a folder inside it", async () => {
    const r = await scanRepository(path.join(w.repo.dir, "analysis"));
    expect(r.repository).toBe(w.repo.dir);
    expect(r.report.findings.length).toBeGreaterThan(0);
  });

  it("finds nothing in a clean repository, and in an empty one", async () => {
    const repo = Repo.init();
    expect((await scanRepository(repo.dir)).report.findings).toEqual([]);
    repo.commit("start", { "README.md": "hi\n", "analysis/x.py": "print(1)\n", "codelists/asthma.csv": "code,term\n123,Asthma\n" });
    expect((await scanRepository(repo.dir)).report.findings).toEqual([]);
  });
});

describe("enclave breach scan (the command)", { timeout: 60_000 }, () => {
  it("prints the JSON of the contract and exits with 1", async () => {
    const r = await breach(["scan", w.repo.dir, "--manifest", w.manifest, "--released", w.released, "--json"]);
    expect(r.code).toBe(1);
    const parsed = JSON.parse(r.stdout) as { version: number; findings: Record<string, unknown>[] };
    expect(Object.keys(parsed)).toEqual(["version", "findings"]);
    expect(parsed.version).toBe(1);
    expect(parsed.findings).toHaveLength(7);
    for (const f of parsed.findings) {
      expect(Object.keys(f)).toEqual(["rule", "level", "path", "blob", "sha256", "commits", "introduced_in", "message"]);
      expect(["known_output", "patient_level", "small_count", "output_path"]).toContain(f.rule);
      expect(f.rule === "known_output" ? [3, 4] : [null]).toContain(f.level);
      expect(f.blob).toMatch(/^[0-9a-f]{40}$/);
      expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(f.introduced_in).toBe((f.commits as string[])[0]);
    }
    expect(r.stderr).toMatch(/^error: 7 findings \(6 files\) in the history of /);
  });

  it("prints a readable report naming the path, the rule and the first commit", async () => {
    const r = await breach(["scan", w.repo.dir, "--manifest", w.manifest, "--released", w.released]);
    expect(r.code).toBe(1);
    const short = w.repo.git("rev-parse", "--short", w.c.addLevel3);
    expect(r.stdout).toContain("analysis/extract.csv");
    expect(r.stdout).toContain(`first in ${short} `);
    expect(r.stdout).toContain('"add a file by mistake"');
    expect(r.stdout).toContain("known_output (level 3): ");
    expect(r.stdout).toMatch(/enclave breach clean \S+ --blob [0-9a-f]{40}/);
  });

  it("exits with 0 for a clean repository", async () => {
    const repo = Repo.init();
    repo.commit("start", { "README.md": "hi\n" });
    const r = await breach(["scan", repo.dir]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toContain("Nothing found.");
    const j = await breach(["scan", repo.dir, "--json"]);
    expect([j.code, JSON.parse(j.stdout)]).toEqual([0, { version: 1, findings: [] }]);
  });

  it("exits with 2, naming what is wrong, for bad inputs", async () => {
    const notRepo = tempDir();
    const missing = path.join(notRepo, "nowhere");
    let r = await breach(["scan", missing]);
    expect([r.code, r.stderr]).toEqual([2, `error: ${missing}: there is no such folder\n`]);
    r = await breach(["scan", notRepo]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${notRepo} is not a git repository`);
    r = await breach(["scan", w.repo.dir, "--manifest", path.join(notRepo, "manifest.json")]);
    expect([r.code, r.stderr]).toEqual([2, `error: cannot read the manifest ${path.join(notRepo, "manifest.json")}: there is no such file\n`]);
    const broken = path.join(notRepo, "broken.json");
    fs.writeFileSync(broken, "{ not json");
    r = await breach(["scan", w.repo.dir, "--manifest", broken]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the manifest ${broken} is not valid JSON`);
    const wrong = path.join(notRepo, "wrong.json");
    fs.writeFileSync(wrong, JSON.stringify({ version: 1, files: { "output/x.csv": { level: "highly_sensitive", sha256: "abc" } } }));
    r = await breach(["scan", w.repo.dir, "--manifest", wrong]);
    expect([r.code, r.stderr]).toEqual([2, `error: the manifest ${wrong}: files["output/x.csv"].sha256 must be 64 hex digits, not "abc"\n`]);
    fs.writeFileSync(wrong, JSON.stringify({ version: 1, files: { "output/x.csv": { level: "secret", sha256: "a".repeat(64) } } }));
    r = await breach(["scan", w.repo.dir, "--manifest", wrong]);
    expect(r.stderr).toContain('files["output/x.csv"].level must be "highly_sensitive" or "moderately_sensitive", not "secret"');
    const list = path.join(notRepo, "released.txt");
    fs.writeFileSync(list, "# ok\nnot-a-hash\n");
    r = await breach(["scan", w.repo.dir, "--released", list]);
    expect([r.code, r.stderr]).toEqual([2, `error: ${list}, line 2: "not-a-hash" is not a sha256 (64 hex digits)\n`]);
    r = await breach(["scan"]);
    expect(r.code).toBe(2);
  });
});
