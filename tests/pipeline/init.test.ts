// `enclave init`: a new study that validates, whose codelists check, and that
// `enclave run run_all` runs green, writing a safe table and a chart that pass
// the level 4 checks. And it never overwrites a file.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enclave, ensureBuilt, removeStudies, study } from "../cli/helpers.js";

beforeAll(ensureBuilt, 120_000);
afterAll(removeStudies);

const ENV = { DATABASE_URL: "" };

describe("enclave init", () => {
  it("makes a study that validates, checks and runs green with run_all", { timeout: 240_000 }, async () => {
    const parent = study({});
    const made = await enclave(["init", "demo"], { cwd: parent, env: ENV });
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toContain("next: cd demo && enclave run run_all");
    const dir = path.join(parent, "demo");
    for (const f of ["project.yaml", "README.md", ".gitignore", "analysis/dataset_definition.ts", "analysis/measures_definition.ts", "analysis/report.ts", "codelists/codelists.txt", "codelists/codelists.json"]) {
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    }

    const valid = await enclave(["validate"], { cwd: dir, env: ENV });
    expect([valid.code, valid.stdout]).toEqual([0, "project.yaml is valid: 3 actions\n"]);
    const codelists = await enclave(["codelists", "check"], { cwd: dir, env: ENV });
    expect(codelists.code, codelists.stderr + codelists.stdout).toBe(0);

    const run = await enclave(["run", "run_all"], { cwd: dir, env: ENV });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("disclosure check of 3 moderately_sensitive outputs: 3 passed\n");
    for (const f of ["output/dataset.csv.gz", "output/measures.csv", "output/asthma_by_age_band.csv", "output/asthma_by_age_band.svg", "output/asthma_by_age_band.png"]) {
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    }
    // The table and the chart pass the level 4 checks and are copied there; the dataset never is.
    for (const f of ["asthma_by_age_band.csv", "asthma_by_age_band.svg", "asthma_by_age_band.png"]) {
      expect(fs.existsSync(path.join(dir, "metadata", "level4", "output", f)), f).toBe(true);
    }
    expect(fs.existsSync(path.join(dir, "metadata", "level4", "output", "dataset.csv.gz"))).toBe(false);

    // The table is safe: no count from 1 to 7, every count a multiple of 5.
    const [header, ...rows] = fs.readFileSync(path.join(dir, "output", "asthma_by_age_band.csv"), "utf8").trim().split("\n");
    expect(header).toBe("age_band,sex,patients,with_asthma");
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      for (const cell of row.split(",").slice(2)) {
        if (cell === "[REDACTED]") continue;
        const n = Number(cell);
        expect(Number.isInteger(n) && n % 5 === 0 && (n === 0 || n > 7), `${row}`).toBe(true);
      }
    }
    const png = fs.readFileSync(path.join(dir, "output", "asthma_by_age_band.png"));
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(fs.readFileSync(path.join(dir, "output", "asthma_by_age_band.svg"), "utf8")).toMatch(/^<svg/);

    // A second run reuses nothing it need not rerun, and succeeds again.
    const again = await enclave(["run", "describe_cohort"], { cwd: dir, env: ENV });
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });

  it("never overwrites a file", { timeout: 60_000 }, async () => {
    const dir = study({ "project.yaml": "version: 4\n", "analysis/report.ts": "// mine\n" });
    const r = await enclave(["init"], { cwd: dir, env: ENV });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already has analysis\/report\.ts, project\.yaml; enclave init never overwrites files/);
    expect(fs.readFileSync(path.join(dir, "project.yaml"), "utf8")).toBe("version: 4\n");
    expect(fs.existsSync(path.join(dir, "README.md"))).toBe(false);
  });

  it("enclave run warns of each output that fails the disclosure check, cell by cell, without failing the run", { timeout: 60_000 }, async () => {
    const dir = study({
      "project.yaml": "version: 4\nactions:\n  table:\n    run: node:v1 analysis/table.ts\n    outputs:\n      moderately_sensitive:\n        table: output/counts.csv\n",
      "analysis/table.ts": `import { mkdirSync, writeFileSync } from "node:fs";\nmkdirSync("output", { recursive: true });\nwriteFileSync("output/counts.csv", "region,count\\nNorth,120\\nSouth,4\\nEast,23\\n");\n`,
    });
    const r = await enclave(["run", "table"], { cwd: dir, env: ENV });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("disclosure check of 1 moderately_sensitive output: 0 passed\n");
    expect(r.stdout).toContain("warning: output/counts.csv: fails the disclosure check\n");
    expect(r.stdout).toMatch(/row 2, column "count": small_count: /);
    expect(r.stdout).toMatch(/row 3, column "count": unrounded: /);
  });
});
