// The repository most tests share: a study whose history hides a leak at
// every depth (see build), a manifest of its outputs, and a list of releases.

import * as fs from "node:fs";
import * as path from "node:path";
import { Repo, sha256, tempDir } from "./helpers.js";

const PROJECT = `version: "4"
actions:
  generate_dataset:
    run: enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv
    outputs:
      highly_sensitive:
        dataset: output/dataset.csv
  tables:
    run: node:v1 analysis/tables.js
    needs: [generate_dataset]
    outputs:
      moderately_sensitive:
        tables: output/table_*.csv
`;

export const LEVEL3 = "patient_id,age,sex\n1,34,F\n2,56,M\n3,71,F\n";
export const LEVEL4 = "region,count\nnorth,120\nsouth,245\n";
export const RELEASED = "region,count\neast,300\nwest,410\n";
export const PATIENTS = "patient_id,bmi\n10,22.5\n11,31.0\n";
export const SMALL = "practice_group,count\nA,3\nB,150\n";
export const DUMMY_OUTPUT = "year,total\n2020,1000\n2021,1100\n";

export interface World {
  repo: Repo;
  c: Record<string, string>;
  manifest: string;
  released: string;
}

export function build(): World {
  const repo = Repo.init();
  const c: Record<string, string> = {};
  c.start = repo.commit("start", { "README.md": "# study\n", "project.yaml": PROJECT, "analysis/dataset_definition.ts": "// the dataset\n" });
  c.addLevel3 = repo.commit("add a file by mistake", { "analysis/extract.csv": LEVEL3 });
  c.deleteLevel3 = repo.commit("remove it", { "analysis/extract.csv": null });
  c.addLevel4 = repo.commit("add a table", { "data/unreleased.csv": LEVEL4 });
  repo.git("mv", "data/unreleased.csv", "data/moved.csv");
  c.rename = repo.commit("rename it");
  repo.git("checkout", "--quiet", "-b", "side");
  c.side = repo.commit("patients on a side branch", { "side/patients.csv": PATIENTS });
  repo.git("checkout", "--quiet", "main");
  c.main = repo.commit("work on main", { "analysis/tables.js": "// tables\n" });
  c.merge = repo.merge("side", "merge side");
  repo.git("checkout", "--quiet", "-b", "feature");
  c.feature = repo.commit("small counts on a branch", { "notes/counts.csv": SMALL });
  repo.git("checkout", "--quiet", "--detach", c.merge);
  c.tagged = repo.commit("only a tag holds this", { "output/dataset.csv": DUMMY_OUTPUT, "released/table.csv": RELEASED });
  repo.git("tag", "-a", "v-leak", "-m", "a tag that holds a leak");
  repo.git("checkout", "--quiet", "main");
  c.cleanup = repo.commit("remove patients", { "side/patients.csv": null });

  const dir = tempDir();
  const manifest = path.join(dir, "manifest.json");
  const entry = (level: string, text: string, extra: object = {}) => ({
    level,
    action: level === "highly_sensitive" ? "generate_dataset" : "tables",
    job_id: "job-1",
    job_request: "req-1",
    user: "someone",
    repo: null,
    commit: null,
    size: Buffer.byteLength(text),
    timestamp: "2024-01-01T00:00:00Z",
    sha256: sha256(text),
    excluded: level === "highly_sensitive" ? null : false,
    excluded_reason: null,
    rows: null,
    columns: null,
    ...extra,
  });
  fs.writeFileSync(
    manifest,
    JSON.stringify({
      version: 1,
      workspace: "w",
      repo: null,
      files: {
        "output/dataset.csv": entry("highly_sensitive", LEVEL3),
        "output/table_a.csv": entry("moderately_sensitive", LEVEL4),
        "output/table_b.csv": entry("moderately_sensitive", RELEASED),
      },
    }),
  );
  const released = path.join(dir, "released.sha256");
  fs.writeFileSync(released, `# released on 2024-02-01\n${sha256(RELEASED)}  output/table_b.csv\n`);
  return { repo, c, manifest, released };
}

