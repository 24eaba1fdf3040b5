// Job requests as the job server validates them, against real git repositories
// made here: the commit and the branch, project.yaml at the commit, the actions,
// the definitions of database actions (loaded in the isolated loader, as the
// researcher wrote them) against the project's analysis scope, and codelists.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobRequestError, type SubmitInput, submitJobRequest, workspaceActions } from "../../src/jobserver/requests.js";
import { Store } from "../../src/jobserver/store.js";
import { writeCodelistsJson } from "../../src/pipeline/codelists.js";
import type { AllowlistEntry, Policy } from "../../src/policy/index.js";
import { ROOT, ensureBuilt } from "../cli/helpers.js";
import { commitFiles, git } from "../support/git.js";

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-requests-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));



const PROJECT_YAML = `version: 4
actions:
  generate_dataset:
    run: enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv
    outputs:
      highly_sensitive:
        dataset: output/dataset.csv
  report:
    run: node:v1 analysis/report.ts
    needs: [generate_dataset]
    outputs:
      moderately_sensitive:
        table: output/table.csv
  count_appointments:
    run: enclave:v1 generate-dataset analysis/appointments.ts --output output/appointments.csv
    outputs:
      highly_sensitive:
        dataset: output/appointments.csv
  generate_measures:
    run: enclave:v1 generate-measures analysis/measures_definition.ts --output output/measures.csv
    outputs:
      highly_sensitive:
        measures: output/measures.csv
  broken_definition:
    run: enclave:v1 generate-dataset analysis/broken.ts --output output/broken.csv
    outputs:
      highly_sensitive:
        dataset: output/broken.csv
  query:
    run: sqlrunner:v1 analysis/query.sql --output output/query.csv
    outputs:
      highly_sensitive:
        rows: output/query.csv
  summary:
    run: node:v1 analysis/summary.ts
    outputs:
      moderately_sensitive:
        summary: output/summary.csv
`;

const DATASET = `import { codelistFromCsv, createDataset } from "enclave";
import { clinicalEvents, patients, practiceRegistrations } from "enclave/tables/core";

const asthma = codelistFromCsv("../codelists/user-enclave-example-asthma-diagnosis.csv", { column: "code" });
const dataset = createDataset();
dataset.definePopulation(practiceRegistrations.existsForPatientOn("2024-01-01"));
dataset.addColumn("sex", patients.sex);
dataset.addColumn("has_asthma", clinicalEvents.where(clinicalEvents.snomedctCode.isIn(asthma)).existsForPatient());
export default dataset;
`;

const APPOINTMENTS = `import { createDataset } from "enclave";
import { practiceRegistrations } from "enclave/tables/core";
import { appointments } from "enclave/tables/tpp";

const dataset = createDataset();
dataset.definePopulation(practiceRegistrations.existsForPatientOn("2024-01-01"));
dataset.addColumn("appointments", appointments.countForPatient());
export default dataset;
`;

// A measure that reads a restricted table only in a group-by, where a check of the population alone would miss it.
const MEASURES = `import { INTERVAL, createMeasures, months } from "enclave";
import { practiceRegistrations } from "enclave/tables/core";
import { appointments } from "enclave/tables/tpp";

const measures = createMeasures();
measures.defineMeasure("registered", {
  numerator: practiceRegistrations.existsForPatientOn(INTERVAL.endDate),
  denominator: practiceRegistrations.existsForPatientOn(INTERVAL.startDate),
  groupBy: { booked: appointments.where(appointments.bookedDate.isDuring(INTERVAL)).existsForPatient() },
  intervals: months(3).startingOn("2023-01-01"),
});
export default measures;
`;

const BROKEN = `import { createDataset } from "enclave";

const dataset = createDataset();
dataset.definePopulation(42);
export default dataset;
`;

const templateCodelists = path.join(ROOT, "templates", "study", "codelists");
const codelistFiles = Object.fromEntries(fs.readdirSync(templateCodelists).map((f) => [`codelists/${f}`, fs.readFileSync(path.join(templateCodelists, f), "utf8")]));

let repo: string;
const commits: Record<string, string> = {};

beforeAll(() => {
  ensureBuilt();
  repo = path.join(tmp, "study");
  fs.mkdirSync(repo);
  git(repo, "init", "--quiet", "-b", "main");
  commitFiles(repo, { "README.md": "a study\n" }, "start");
  commits.first = git(repo, "rev-parse", "HEAD");
  for (const [name, text] of Object.entries(codelistFiles)) {
    fs.mkdirSync(path.dirname(path.join(repo, name)), { recursive: true });
    fs.writeFileSync(path.join(repo, name), text);
  }
  writeCodelistsJson(repo, new Date("2026-01-01T00:00:00Z"));
  commits.main = commitFiles(
    repo,
    {
      "project.yaml": PROJECT_YAML,
      "analysis/dataset_definition.ts": DATASET,
      "analysis/appointments.ts": APPOINTMENTS,
      "analysis/measures_definition.ts": MEASURES,
      "analysis/broken.ts": BROKEN,
      "analysis/report.ts": "console.log('report');\n",
      "analysis/summary.ts": "console.log('summary');\n",
      "analysis/query.sql": "SELECT 1 AS one\n",
    },
    "the study",
  );

  // A branch whose last commit is not on main.
  git(repo, "checkout", "--quiet", "-b", "side");
  commits.side = commitFiles(repo, { "notes.md": "on the side\n" }, "side work");
  // A branch with an invalid project.yaml.
  git(repo, "checkout", "--quiet", "-b", "broken", "main");
  commits.broken = commitFiles(repo, { "project.yaml": PROJECT_YAML.replace("    needs: [generate_dataset]\n", "    needs: [generate_datset]\n").replace("version: 4\n", "version: 4\ncolour: blue\n") }, "typo");
  // A branch whose codelist no longer matches what was downloaded.
  git(repo, "checkout", "--quiet", "-b", "stale", "main");
  commits.stale = commitFiles(repo, { "codelists/user-enclave-example-asthma-review.csv": "code,term\n270442000,Asthma monitoring check done\n" }, "edit a codelist");
  git(repo, "checkout", "--quiet", "main");
}, 180_000);

const entry = (project: number, permissions: string[], file: string): AllowlistEntry => ({ project, permissions, reason: "test", approval: "IG-1", date: "2024-01-01", file, line: 1 });

function policy(lists: { restricted?: AllowlistEntry[]; sqlrunner?: AllowlistEntry[] } = {}): Policy {
  return { dir: "(test)", lists: { t1oo: [], ndoo: [], "restricted-datasets": lists.restricted ?? [], sqlrunner: lists.sqlrunner ?? [] } };
}

let n = 0;

/** A store with project 12 (approved) and workspaces on each branch of the study: ws-main, ws-side, ws-broken, ws-stale. */
async function world(): Promise<Store> {
  const store = await Store.open(path.join(tmp, `store-${++n}.db`));
  await store.createUser({ username: "alice", password: "x" });
  await store.createOrg("Uni");
  await store.createProject({ number: 12, name: "Asthma", org: "Uni" });
  await store.createBackend("tpp");
  for (const branch of ["main", "side", "broken", "stale"]) await store.createWorkspace({ project: 12, name: `ws-${branch}`, repo, branch });
  return store;
}

async function refused(input: SubmitInput): Promise<readonly string[]> {
  try {
    await submitJobRequest(input);
  } catch (e) {
    if (e instanceof JobRequestError) return e.problems;
    throw e;
  }
  throw new Error("the request was accepted");
}

const base = (store: Store, more: Partial<SubmitInput> = {}): SubmitInput => ({
  store,
  workspace: "ws-main",
  backend: "tpp",
  actions: ["report"],
  force: false,
  requester: "alice",
  policy: policy(),
  repoCache: path.join(tmp, "mirrors"),
  allowedRepos: [tmp],
  ...more,
});

describe("submitJobRequest", { timeout: 120_000 }, () => {
  it("stores a good request at the tip of the branch, or at a commit on it given in short", async () => {
    const store = await world();
    try {
      const r = await submitJobRequest(base(store));
      expect(r).toMatchObject({ workspace: "ws-main", project: 12, backend: "tpp", commit: commits.main, actions: ["report"], force: false, requester: "alice", status: "pending" });
      expect(await store.getJobRequest(r.identifier)).toEqual(r);
      const again = await submitJobRequest(base(store, { commit: commits.main!.slice(0, 8).toUpperCase(), actions: ["generate_dataset", "report"], force: true }));
      expect(again).toMatchObject({ commit: commits.main, actions: ["generate_dataset", "report"], force: true });
    } finally {
      await store.close();
    }
  });

  it("refuses a commit that is not on the branch, one that does not exist, and a malformed one", async () => {
    const store = await world();
    try {
      const side = commits.side!.slice(0, 10);
      expect(await refused(base(store, { commit: side }))).toEqual([`commit ${side} is not on branch main of ${repo}`]);
      expect(await refused(base(store, { commit: "deadbeef" }))).toEqual([`commit deadbeef does not exist in ${repo} (or its abbreviation is ambiguous: give more of it)`]);
      expect(await refused(base(store, { commit: "HEAD~1" }))).toEqual(['"HEAD~1" is not a commit: give its hash, in full or its first 7 or more hex digits']);
      // An older commit of the branch is on it, but has no project.yaml.
      expect(await refused(base(store, { commit: commits.first }))).toEqual([`there is no project.yaml at the top of ${repo} at commit ${commits.first!.slice(0, 7)}`]);
      expect(await store.countJobRequests({})).toBe(0);
    } finally {
      await store.close();
    }
  });

  it("reports every problem of an invalid project.yaml with its line, and unknown actions", async () => {
    const store = await world();
    try {
      const problems = await refused(base(store, { workspace: "ws-broken" }));
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/^project\.yaml, line 2\b.*colour/);
      expect(problems[1]).toMatch(/^project\.yaml, line 1\d\b.*action "report".*key "needs".*generate_datset/);
      expect(await refused(base(store, { actions: ["report", "genrate_dataset"] }))).toEqual(['project.yaml: no action named "genrate_dataset" (did you mean "generate_dataset"?)']);
      expect(await refused(base(store, { actions: [] }))).toEqual(["the request names no action: name the actions to run, or run_all"]);
    } finally {
      await store.close();
    }
  });

  it("refuses a definition that needs a permission the project lacks, naming the table and permission, and accepts it once granted", async () => {
    const store = await world();
    try {
      expect(await refused(base(store, { actions: ["count_appointments"] }))).toEqual([
        "action count_appointments (analysis/appointments.ts): table appointments needs the permission appointments, which project 12 does not have",
      ]);
      // In measures too, even where only a group-by reads the table.
      expect(await refused(base(store, { actions: ["generate_measures"] }))).toEqual([
        "action generate_measures (analysis/measures_definition.ts): table appointments needs the permission appointments, which project 12 does not have",
      ]);
      const granted = policy({ restricted: [entry(12, ["appointments"], "restricted-datasets.yaml")] });
      const r = await submitJobRequest(base(store, { actions: ["count_appointments", "generate_measures"], policy: granted }));
      expect(r.actions).toEqual(["count_appointments", "generate_measures"]);
      // Another project's grant is not this one's.
      const elsewhere = policy({ restricted: [entry(13, ["appointments"], "restricted-datasets.yaml")] });
      expect(await refused(base(store, { actions: ["count_appointments"], policy: elsewhere }))).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it("refuses a definition that does not type-check, and the SQL runner outside the internal project", async () => {
    const store = await world();
    try {
      const problems = await refused(base(store, { actions: ["broken_definition", "query"] }));
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/^action broken_definition: analysis\/broken\.ts:4:\d+: Argument of type '42' is not assignable/);
      expect(problems[1]).toBe(
        "action query (sqlrunner:v1): project 12 may not use the SQL runner; only the internal project, listed in policy/allowlists/sqlrunner.yaml, may",
      );
    } finally {
      await store.close();
    }
  });

  it("refuses stale codelists for database actions only", async () => {
    const store = await world();
    try {
      const problems = await refused(base(store, { workspace: "ws-stale" }));
      expect(problems).toEqual([
        "stale codelists: codelists/user-enclave-example-asthma-review.csv has been changed since it was downloaded (its hash is not the one in codelists/codelists.json)",
        expect.stringMatching(/^database actions \(generate_dataset\) do not run with stale codelists: run `enclave codelists update`/),
      ]);
      // Without a database action, nothing reads the codelists.
      expect((await submitJobRequest(base(store, { workspace: "ws-stale", actions: ["summary"] }))).commit).toBe(commits.stale);
    } finally {
      await store.close();
    }
  });

  it("refuses an archived workspace, a project that is not ongoing, an unknown workspace and backend", async () => {
    const store = await world();
    try {
      await store.setWorkspaceArchived("ws-main", true);
      expect(await refused(base(store))).toEqual(["workspace ws-main is archived: it takes no new job requests"]);
      await store.setWorkspaceArchived("ws-main", false);
      await store.setProjectStatus(12, "postponed");
      expect(await refused(base(store))).toEqual(["project 12 (Asthma) is postponed, not ongoing: only an ongoing project runs jobs"]);
      await store.setProjectStatus(12, "ongoing");
      expect(await refused(base(store, { workspace: "nope" }))).toEqual(["there is no workspace named nope"]);
      expect(await refused(base(store, { backend: "emis" }))).toEqual(["there is no backend named emis"]);
    } finally {
      await store.close();
    }
  });

  it("reports all the problems at once", async () => {
    const store = await world();
    try {
      await store.setWorkspaceArchived("ws-stale", true);
      const problems = await refused(base(store, { workspace: "ws-stale", backend: "emis", actions: ["report", "count_appointments", "broken_definition"] }));
      expect(problems).toEqual([
        "workspace ws-stale is archived: it takes no new job requests",
        "there is no backend named emis",
        expect.stringMatching(/^stale codelists: codelists\/user-enclave-example-asthma-review\.csv has been changed/),
        expect.stringMatching(/^database actions \(generate_dataset, count_appointments, broken_definition\) do not run with stale codelists/),
        "action count_appointments (analysis/appointments.ts): table appointments needs the permission appointments, which project 12 does not have",
        expect.stringMatching(/^action broken_definition: analysis\/broken\.ts:4:/),
      ]);
      expect(await store.countJobRequests({})).toBe(0);
    } finally {
      await store.close();
    }
  });

  it("reads a repository given by URL through a mirror that it fetches each time", async () => {
    const store = await world();
    const url = pathToFileURL(repo).href;
    const cache = path.join(tmp, `mirrors-${++n}`);
    try {
      await store.createWorkspace({ project: 12, name: "ws-url", repo: url, branch: "main" });
      const first = await workspaceActions(store, "ws-url", { repoCache: cache, allowedRepos: [tmp] });
      expect(first).toEqual({ commit: commits.main, actions: ["generate_dataset", "report", "count_appointments", "generate_measures", "broken_definition", "query", "summary"] });
      expect(fs.readdirSync(cache)).toHaveLength(1);
      const later = commitFiles(repo, { "project.yaml": `${PROJECT_YAML}  extra:\n    run: node:v1 analysis/extra.ts\n    outputs:\n      moderately_sensitive:\n        x: output/extra.csv\n` }, "more");
      try {
        const second = await workspaceActions(store, "ws-url", { repoCache: cache, allowedRepos: [tmp] });
        expect(second.commit).toBe(later);
        expect(second.actions).toContain("extra");
        const r = await submitJobRequest(base(store, { workspace: "ws-url", actions: ["extra"], repoCache: cache }));
        expect(r.commit).toBe(later);
      } finally {
        git(repo, "reset", "--quiet", "--hard", commits.main!);
      }

      await store.createWorkspace({ project: 12, name: "ws-gone", repo: path.join(tmp, "no-such-repo"), branch: "main" });
      await expect(workspaceActions(store, "ws-gone", { allowedRepos: [tmp] })).rejects.toThrow(new JobRequestError([`the repository ${path.join(tmp, "no-such-repo")} cannot be read: there is no such folder`]));
      await store.createWorkspace({ project: 12, name: "ws-url-gone", repo: "file:///no/such/repo.git", branch: "main" });
      await expect(workspaceActions(store, "ws-url-gone", { repoCache: cache, allowedRepos: ["/no/such/"] })).rejects.toThrow(/^the repository file:\/\/\/no\/such\/repo\.git cannot be read: '\/no\/such\/repo\.git' does not appear to be a git repository/);
      await store.createWorkspace({ project: 12, name: "ws-ext", repo: "ext::sh -c touch% /tmp/pwned", branch: "main" });
      // Neither an address nor an absolute folder: refused before git sees it.
      await expect(workspaceActions(store, "ws-ext", { allowedRepos: [tmp] })).rejects.toThrow("workspace ws-ext: the repository ext::sh -c touch% /tmp/pwned is not allowed: it is neither an address");
      await store.createWorkspace({ project: 12, name: "ws-nobranch", repo, branch: "develop" });
      await expect(workspaceActions(store, "ws-nobranch", { allowedRepos: [tmp] })).rejects.toThrow(`branch develop does not exist in ${repo}`);
      await expect(workspaceActions(store, "ws-broken", { allowedRepos: [tmp] })).rejects.toThrow(/^project\.yaml, line 2/);
      await expect(workspaceActions(store, "nope")).rejects.toThrow("there is no workspace named nope");
    } finally {
      await store.close();
    }
  });
});
