// project.yaml: every rule, each with a file it refuses (tests/pipeline/invalid/),
// valid studies, the action graph, shell splitting, output patterns, and
// `enclave validate` end to end.
//
// Each file of the corpus opens with one `# expect: line N<regex>` comment per
// problem, in the order of the file (`line none` for a problem with no line):
// the file must give exactly those problems, each at that line and matching
// the regex.

import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LEVEL4_EXTENSIONS,
  type Project,
  ProjectError,
  RunCommandError,
  actionGraph,
  dependenciesOf,
  expandRunAll,
  isDatabaseAction,
  matchesPattern,
  outputPatterns,
  parseProject,
  parseRunCommand,
  patternsOverlap,
  shellSplit,
} from "../../src/pipeline/index.js";
import { enclave, ensureBuilt, removeStudies, study } from "../cli/helpers.js";

const CORPUS = path.join(path.dirname(fileURLToPath(import.meta.url)), "invalid");

function problems(text: string): string[] {
  try {
    parseProject(text);
  } catch (e) {
    if (e instanceof ProjectError) return e.lines;
    throw e;
  }
  return [];
}

describe("invalid project.yaml files", () => {
  const files = fs.readdirSync(CORPUS).filter((f) => f.endsWith(".yaml")).sort();

  it("the corpus has at least 40 files", () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
  });

  for (const name of files) {
    it(name, () => {
      const text = fs.readFileSync(path.join(CORPUS, name), "utf8");
      const expects = [...text.matchAll(/^# expect: line (\d+|none)(.*)$/gm)].map((m) => ({ line: m[1]!, pattern: m[2]!.replace(/^[,:] ?/, "") }));
      expect(expects.length, "the file has no # expect: line").toBeGreaterThan(0);
      const got = problems(text);
      expect(got, "the problems found").toHaveLength(expects.length);
      expects.forEach((x, i) => {
        const where = x.line === "none" ? /^project\.yaml: / : new RegExp(`^project\\.yaml, line ${x.line}[,:]`);
        expect(got[i], `problem ${i + 1}`).toMatch(where);
        expect(got[i], `problem ${i + 1}`).toMatch(new RegExp(x.pattern));
      });
    });
  }
});

describe("ProjectError", () => {
  it("holds every problem with its line, action and key, and names the file", () => {
    try {
      parseProject("version: 4\nactions:\n  a:\n    run: node:v1 a.ts\n    needs: [b]\n    outputs:\n      highly_sensitive:\n        x: out/x.csv\n", "study/project.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProjectError);
      const err = e as ProjectError;
      expect(err.problems).toEqual([{ message: 'no action named "b"', line: 5, action: "a", key: "needs" }]);
      expect(err.message).toBe('study/project.yaml, line 5, action "a", key "needs": no action named "b"');
    }
  });
});

// ---------------------------------------------------------------------------
// Valid files

const STUDY = `# A realistic study: a dataset, measures, analyses and a report.
version: '4.0'

actions:
  generate_dataset:
    run: >
      enclave:v1 generate-dataset analysis/dataset_definition.ts
      --output output/dataset.csv.gz --param start=2020-01-01
    outputs:
      highly_sensitive:
        dataset: output/dataset.csv.gz

  generate_measures:
    run: enclave:v1 generate-measures analysis/measures.ts --output=output/measures/measures.csv
    outputs:
      highly_sensitive:
        measures: output/measures/*.csv

  describe:
    run: node:v1 analysis/describe.ts --title "Baseline characteristics"
    needs: [generate_dataset]
    config:
      groups: [age_band, sex]
      threshold: 7
    outputs:
      moderately_sensitive:
        table: output/describe/table1.csv
        charts: output/describe/chart_*.png

  model:
    run: python:v1 analysis/model.py
    needs:
      - generate_dataset
    outputs:
      highly_sensitive:
        fit: output/model/fit.pickle
      moderately_sensitive:
        coefficients: output/model/coefficients.csv
        log: output/model/*.log

  report:
    run: r:v1 analysis/report.R
    needs: [describe, model, generate_measures]
    outputs:
      moderately_sensitive:
        report: output/report.html
`;

describe("valid project.yaml files", () => {
  it("a realistic study", () => {
    const p = parseProject(STUDY);
    expect(p.version).toBe(4);
    expect([...p.actions.keys()]).toEqual(["generate_dataset", "generate_measures", "describe", "model", "report"]);
    const dataset = p.actions.get("generate_dataset")!;
    expect(dataset.run).toEqual({
      image: "enclave",
      version: "v1",
      command: ["generate-dataset", "analysis/dataset_definition.ts", "--output", "output/dataset.csv.gz", "--param", "start=2020-01-01"],
      raw: "enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv.gz --param start=2020-01-01\n",
    });
    expect(dataset.line).toBe(5);
    expect(dataset.needs).toEqual([]);
    expect(dataset.outputs).toEqual({ highly_sensitive: { dataset: "output/dataset.csv.gz" } });
    expect(dataset.config).toBeUndefined();
    const describeAction = p.actions.get("describe")!;
    expect(describeAction.run.command).toEqual(["analysis/describe.ts", "--title", "Baseline characteristics"]);
    expect(describeAction.config).toEqual({ groups: ["age_band", "sex"], threshold: 7 });
    expect(p.actions.get("model")!.outputs).toEqual({
      highly_sensitive: { fit: "output/model/fit.pickle" },
      moderately_sensitive: { coefficients: "output/model/coefficients.csv", log: "output/model/*.log" },
    });
    expect(p.actions.get("report")!.needs).toEqual(["describe", "model", "generate_measures"]);
    expect([...p.actions.values()].filter(isDatabaseAction).map((a) => a.name)).toEqual(["generate_dataset", "generate_measures"]);
  });

  for (const written of ["4", "4.0", "'4.0'", '"4"', "'4'"]) {
    it(`version: ${written}`, () => {
      expect(parseProject(`version: ${written}\nactions:\n  a:\n    run: node:v1 a.ts\n    outputs:\n      moderately_sensitive:\n        x: out/x.csv\n`).version).toBe(4);
    });
  }

  it("sqlrunner, dump-dataset-definition, dev images, flow style", () => {
    const p = parseProject(`
version: 4
actions:
  query:
    run: sqlrunner:v1 analysis/query.sql --output output/query.csv
    outputs: {highly_sensitive: {results: output/query.csv}}
  dump:
    run: enclave:dev dump-dataset-definition analysis/dataset_definition.ts
    outputs:
      moderately_sensitive:
        model: output/model.json
  tables:
    run: node:v1 analysis/tables.ts
    needs: [query]
    outputs: {moderately_sensitive: {tables: output/tables/*.csv}}
`);
    expect(p.actions.size).toBe(3);
    expect(isDatabaseAction(p.actions.get("query")!)).toBe(true);
    expect(isDatabaseAction(p.actions.get("dump")!)).toBe(false);
    expect(p.actions.get("dump")!.run.version).toBe("dev");
  });

  it("anchors and merge keys", () => {
    const p = parseProject(`
version: 4
actions:
  a:
    run: node:v1 analysis/a.ts
    outputs: &outputs
      moderately_sensitive:
        a: output/a.csv
  b: &b
    run: node:v1 analysis/b.ts
    needs: [a]
    outputs:
      moderately_sensitive:
        b: output/b.csv
  c:
    <<: *b
    run: node:v1 analysis/c.ts
    outputs:
      moderately_sensitive:
        c: output/c/*.csv
`);
    expect(p.actions.get("c")!.needs).toEqual(["a"]);
    expect(p.actions.get("c")!.run.command).toEqual(["analysis/c.ts"]);
    expect(p.actions.get("c")!.outputs).toEqual({ moderately_sensitive: { c: "output/c/*.csv" } });
  });

  it("patterns of one action and one level may overlap; `needs:` with nothing is no needs", () => {
    const p = parseProject(`
version: 4
actions:
  a:
    run: node:v1 analysis/a.ts
    needs:
    outputs:
      moderately_sensitive:
        all: output/*.csv
        summary: output/summary.csv
`);
    expect(p.actions.get("a")!.needs).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// The action graph

function project(needs: Record<string, string[]>): Project {
  const lines = ["version: 4", "actions:"];
  for (const [name, n] of Object.entries(needs)) {
    lines.push(`  ${name}:`, `    run: node:v1 analysis/${name}.ts`, `    needs: [${n.join(", ")}]`, "    outputs:", "      moderately_sensitive:", `        x: output/${name}.csv`);
  }
  return parseProject(lines.join("\n"));
}

describe("the action graph", () => {
  // Written with the dependants first, so that the order has to be worked out.
  const p = project({ report: ["describe", "model"], model: ["dataset"], describe: ["dataset", "measures"], dataset: [], measures: [], other: [] });

  it("orders every action after what it needs, otherwise in the file's order", () => {
    const g = actionGraph(p);
    expect(g.order).toEqual(["dataset", "measures", "describe", "model", "report", "other"]);
    expect(g.needs.get("describe")).toEqual(["dataset", "measures"]);
    expect(g.dependants.get("dataset")).toEqual(["model", "describe"]);
    expect(g.dependants.get("report")).toEqual([]);
  });

  it("finds dependencies, with and without the actions themselves", () => {
    expect(dependenciesOf(p, ["report"])).toEqual(["dataset", "measures", "describe", "model", "report"]);
    expect(dependenciesOf(p, ["report"], { includeSelf: false })).toEqual(["dataset", "measures", "describe", "model"]);
    expect(dependenciesOf(p, ["model"])).toEqual(["dataset", "model"]);
    expect(dependenciesOf(p, ["model", "describe"])).toEqual(["dataset", "measures", "describe", "model"]);
    expect(dependenciesOf(p, ["model", "dataset"], { includeSelf: false })).toEqual([]);
    expect(dependenciesOf(p, ["other"])).toEqual(["other"]);
  });

  it("run_all is every action; other requests are checked and kept in the file's order", () => {
    expect(expandRunAll(p, ["run_all"])).toEqual(["report", "model", "describe", "dataset", "measures", "other"]);
    expect(expandRunAll(p, ["model", "report", "model"])).toEqual(["report", "model"]);
    expect(() => expandRunAll(p, ["modle"])).toThrow(/no action named "modle" \(did you mean "model"\?\)/);
    expect(() => dependenciesOf(p, ["nothing"])).toThrow(ProjectError);
  });

  it("lists the output patterns", () => {
    expect(outputPatterns(parseProject(STUDY))).toContainEqual({ action: "model", level: "moderately_sensitive", name: "log", pattern: "output/model/*.log" });
    expect(outputPatterns(parseProject(STUDY))).toHaveLength(8);
  });
});

// ---------------------------------------------------------------------------
// Splitting run:, output patterns

describe("shell splitting", () => {
  const cases: [string, string[]][] = [
    ["a b  c", ["a", "b", "c"]],
    ["  a\tb\nc  ", ["a", "b", "c"]],
    [`a "b c" 'd e'`, ["a", "b c", "d e"]],
    [`--title="Weekly counts"`, ["--title=Weekly counts"]],
    [`a '' ""`, ["a", "", ""]],
    [`a\\ b`, ["a b"]],
    [`'it''s'`, ["its"]],
    [`"it's"`, ["it's"]],
    [`'say "hi"'`, ['say "hi"']],
    [`"a \\"b\\" \\\\ \\$x \\n"`, ['a "b" \\ $x \\n']],
    [`'a\\b'`, ["a\\b"]],
    ["a \\\nb", ["a", "b"]],
    ["a#b $HOME *.csv", ["a#b", "$HOME", "*.csv"]],
    ["", []],
  ];
  for (const [line, words] of cases) {
    it(JSON.stringify(line), () => expect(shellSplit(line)).toEqual(words));
  }

  it("refuses unclosed quotes and a trailing backslash", () => {
    expect(() => shellSplit(`a "b`)).toThrow(/double quote \("\) at character 3 is never closed/);
    expect(() => shellSplit(`a 'b`)).toThrow(/single quote \('\) at character 3 is never closed/);
    expect(() => shellSplit(`a "b\\"`)).toThrow(RunCommandError);
    expect(() => shellSplit(`a \\`)).toThrow(/backslash/);
  });

  it("parses image:version and the command; a quoted operator is an argument", () => {
    expect(parseRunCommand("python:v2 analysis/x.py '>' 1")).toEqual({ image: "python", version: "v2", command: ["analysis/x.py", ">", "1"], raw: "python:v2 analysis/x.py '>' 1" });
    expect(() => parseRunCommand("python:v2 analysis/x.py | tee log")).toThrow(/"\|" is not a shell operator/);
  });
});

describe("output patterns", () => {
  it("* matches within one folder", () => {
    expect(matchesPattern("output/*.csv", "output/a.csv")).toBe(true);
    expect(matchesPattern("output/*.csv", "output/.csv")).toBe(true);
    expect(matchesPattern("output/*.csv", "output/sub/a.csv")).toBe(false);
    expect(matchesPattern("output/*.csv", "output/a.csv.gz")).toBe(false);
    expect(matchesPattern("output/*/a.csv", "output/x/a.csv")).toBe(true);
    expect(matchesPattern("output/*/a.csv", "output/a.csv")).toBe(false);
    expect(matchesPattern("output/a_*_b.csv", "output/a_1_2_b.csv")).toBe(true);
    expect(matchesPattern("output/a.csv", "output/aXcsv")).toBe(false);
    expect(matchesPattern("output/a+(1).csv", "output/a+(1).csv")).toBe(true);
    expect(matchesPattern("output/*", "output")).toBe(false);
  });

  it("two patterns overlap when some path matches both", () => {
    expect(patternsOverlap("output/*.csv", "output/a.csv")).toBe(true);
    expect(patternsOverlap("output/a_*.csv", "output/*_b.csv")).toBe(true);
    expect(patternsOverlap("output/a_*.csv", "output/b_*.csv")).toBe(false);
    expect(patternsOverlap("output/*.csv", "output/*.png")).toBe(false);
    expect(patternsOverlap("output/*.csv", "output/x/a.csv")).toBe(false);
    expect(patternsOverlap("output/*/a.csv", "output/x/*.csv")).toBe(true);
    expect(patternsOverlap("a*b*c.txt", "*bc*.txt")).toBe(true);
    expect(patternsOverlap("ab*.txt", "*ba.txt")).toBe(true);
    expect(patternsOverlap("x*.txt", "y*.txt")).toBe(false);
  });

  it("level 4 extensions", () => {
    expect(LEVEL4_EXTENSIONS).toEqual([".csv", ".jpg", ".jpeg", ".png", ".svg", ".svgz", ".html", ".txt", ".log", ".json", ".md"]);
  });
});

// ---------------------------------------------------------------------------
// enclave validate

describe.concurrent("enclave validate", { timeout: 60_000 }, () => {
  beforeAll(ensureBuilt, 120_000);
  afterAll(removeStudies);

  it("a valid file: says so, exit 0; from the folder, the file or the folder's name", async () => {
    const dir = study({ "project.yaml": STUDY, "sub/project.yaml": STUDY });
    for (const [args, name] of [[[], "project.yaml"], [["project.yaml"], "project.yaml"], [["sub"], "sub/project.yaml"], [["sub/project.yaml"], "sub/project.yaml"]] as const) {
      const r = await enclave(["validate", ...args], { cwd: dir });
      expect(r).toEqual({ code: 0, stdout: `${name} is valid: 5 actions\n`, stderr: "" });
    }
  });

  it("an invalid file: every problem on its own line, exit 1", async () => {
    const text = fs.readFileSync(path.join(CORPUS, fs.readdirSync(CORPUS).find((f) => f.endsWith("several-problems.yaml"))!), "utf8");
    const dir = study({ "project.yaml": text });
    const r = await enclave(["validate"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line).toMatch(/^error: project\.yaml, line \d+, /);
    expect(lines).toContain('error: project.yaml, line 20, action "analyse", key "needs": no action named "extrct" (did you mean "extract"?)');
  });

  it("malformed YAML: yaml's message with the line and column", async () => {
    const dir = study({ "project.yaml": "version: 4\nactions:\n  a: [b\n" });
    const r = await enclave(["validate"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: project\.yaml, line \d+, column \d+: /);
  });

  it("no file: a clear error", async () => {
    const dir = study({});
    const none = await enclave(["validate"], { cwd: dir });
    expect(none).toEqual({ code: 1, stdout: "", stderr: "error: there is no project.yaml in the current folder (give the file or its folder: enclave validate path/to/project.yaml)\n" });
    const missing = await enclave(["validate", "studies/x.yaml"], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot find studies\/x\.yaml /);
  });

  it("explains itself", async () => {
    const r = await enclave(["validate", "--help"], { cwd: study({}) });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: enclave validate \[options\] \[file\]/);
    expect(r.stdout).toContain("Examples:");
  });
});
