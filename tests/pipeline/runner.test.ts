// The local runner (`enclave run`), driven by fake executors written here: each
// writes files into its working folder, looks at what it can see, fails, or
// waits, so that the runner's own behaviour (planning, reuse, isolation,
// outputs, level 4, logs, manifest, state) is tested without any runtime.
// The last block runs the built `enclave run` command.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActionExecutor, ActionResult, ActionRun } from "../../src/pipeline/action.js";
import { LEVEL4_MAX_BYTES, checkLevel4, describeFile } from "../../src/pipeline/level4.js";
import type { ActionRecord, Manifest, RunState } from "../../src/pipeline/metadata.js";
import { parseProject } from "../../src/pipeline/project.js";
import { type ActionOutcome, type RunEvent, type RunOptions, RunnerError, type RunSummary, jobIdFor, runPipeline } from "../../src/pipeline/runner.js";
import { ROOT, enclave, ensureBuilt, removeStudies, study } from "../cli/helpers.js";

const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  removeStudies();
});

function tempDir(prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  made.push(dir);
  return dir;
}

/** A study folder holding project.yaml and `files`. */
function setup(yaml: string, files: Record<string, string> = {}): string {
  const dir = tempDir("enclave-runner-");
  for (const [name, text] of Object.entries({ "project.yaml": yaml, ...files })) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

type Behaviour = (run: ActionRun) => void | Partial<ActionResult> | Promise<void | Partial<ActionResult>>;

/** An executor that runs `behaviours[action]`, or else writes each declared output (with * as "x"); records the actions it ran. */
function fake(behaviours: Record<string, Behaviour> = {}, calls: string[] = []): ActionExecutor {
  return async (run) => {
    calls.push(run.action.name);
    const behaviour = behaviours[run.action.name] ?? writeDeclared;
    const r = await behaviour(run);
    return { exitCode: 0, signal: null, timedOut: false, cpuSeconds: null, peakMemoryBytes: null, ...(r ?? {}) };
  };
}

function writeDeclared(run: ActionRun): void {
  for (const level of ["highly_sensitive", "moderately_sensitive"] as const) {
    for (const pattern of Object.values(run.action.outputs[level] ?? {})) write(run, pattern.replaceAll("*", "x"), `${run.action.name}\n`);
  }
}

function write(run: ActionRun, file: string, text: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(run.workdir, file)), { recursive: true });
  fs.writeFileSync(path.join(run.workdir, file), text);
}

/** A clock that ticks a second each time it is read. */
function ticking(start = "2025-01-01T00:00:00.000Z"): () => Date {
  let t = Date.parse(start);
  return () => new Date((t += 1000));
}

const workdirs = tempDir("enclave-runner-work-");

function run(dir: string, actions: string[], executor: ActionExecutor, extra: Partial<RunOptions> = {}): Promise<RunSummary> {
  return runPipeline({ projectDir: dir, actions, executor, commit: null, now: ticking(), tmpDir: workdirs, concurrency: 1, ...extra });
}

function outcome(summary: RunSummary, action: string): ActionOutcome {
  const o = summary.actions.find((a) => a.action === action);
  if (o === undefined) throw new Error(`no outcome for ${action}`);
  return o;
}

const statuses = (s: RunSummary) => Object.fromEntries(s.actions.map((a) => [a.action, a.statusCode === null ? a.status : `${a.status}:${a.statusCode}`]));
const readState = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, "metadata", ".enclave-state.json"), "utf8")) as RunState;
const readManifest = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, "metadata", "manifest.json"), "utf8")) as Manifest;
const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

// a → b → c: each reads what it needs and writes its own output.
const CHAIN = `version: 4
actions:
  a:
    run: node:v1 analysis/a.js
    outputs:
      highly_sensitive:
        data: output/a.csv
  b:
    run: node:v1 analysis/b.js
    needs: [a]
    outputs:
      highly_sensitive:
        data: output/b.csv
  c:
    run: node:v1 analysis/c.js
    needs: [b]
    outputs:
      moderately_sensitive:
        table: output/c.csv
`;

const chainBehaviours: Record<string, Behaviour> = {
  a: (r) => write(r, "output/a.csv", "x\n1\n"),
  b: (r) => write(r, "output/b.csv", `${fs.readFileSync(path.join(r.workdir, "output/a.csv"), "utf8")}2\n`),
  c: (r) => write(r, "output/c.csv", `${fs.readFileSync(path.join(r.workdir, "output/b.csv"), "utf8")}3\n`),
};

describe("planning and running", () => {
  it("runs a chain of three actions in order, each with what it needs", async () => {
    const dir = setup(CHAIN);
    const calls: string[] = [];
    const s = await run(dir, ["run_all"], fake(chainBehaviours, calls));
    expect(calls).toEqual(["a", "b", "c"]);
    expect(s.ok).toBe(true);
    expect(statuses(s)).toEqual({ a: "succeeded:succeeded", b: "succeeded:succeeded", c: "succeeded:succeeded" });
    expect(fs.readFileSync(path.join(dir, "output/c.csv"), "utf8")).toBe("x\n1\n2\n3\n");
    // The working folders are gone.
    expect(fs.readdirSync(workdirs)).toEqual([]);
  });

  it("reuses dependencies that succeeded, in a later run (the state survives)", async () => {
    const dir = setup(CHAIN);
    const first = await run(dir, ["run_all"], fake(chainBehaviours), { requestId: "first" });
    const calls: string[] = [];
    const events: RunEvent[] = [];
    const second = await run(dir, ["c"], fake(chainBehaviours, calls), { requestId: "second", reporter: (e) => events.push(e) });
    expect(calls).toEqual(["c"]);
    // b is reused, so what it needs is not looked at.
    expect(statuses(second)).toEqual({ b: "reused:succeeded", c: "succeeded:succeeded" });
    // A reused action keeps the job that made its outputs.
    expect(outcome(second, "b").jobId).toBe(outcome(first, "b").jobId);
    expect(outcome(first, "b").jobId).toBe(jobIdFor("first", "b"));
    expect(outcome(second, "c").jobId).toBe(jobIdFor("second", "c"));
    const plan = events.find((e) => e.type === "plan");
    expect(plan).toMatchObject({ type: "plan", requestId: "second", actions: [{ action: "b", decision: "reuse", requested: false }, { action: "c", decision: "run", requested: true, reason: "requested" }] });
    const state = readState(dir);
    expect(state.actions.c).toMatchObject({ jobId: jobIdFor("second", "c"), requestId: "second", status: "succeeded", statusCode: "succeeded", exitCode: 0 });
    expect(state.actions.a!.outputs["output/a.csv"]).toMatchObject({ level: "highly_sensitive", size: 4, sha256: sha256(path.join(dir, "output/a.csv")) });
    expect(state.actions.b!.inputs).toEqual({ a: { "output/a.csv": sha256(path.join(dir, "output/a.csv")) } });
  });

  it.each([
    { name: "a dependency whose output was deleted runs again", change: (dir: string) => fs.rmSync(path.join(dir, "output/a.csv")), request: ["b"], ran: ["a", "b"], reason: /output\/a\.csv was deleted/ },
    { name: "a dependency whose output was changed runs again", change: (dir: string) => fs.writeFileSync(path.join(dir, "output/a.csv"), "x\n9\n"), request: ["b"], ran: ["a", "b"], reason: /output\/a\.csv was changed/ },
    { name: "a deleted output of a dependency that is not needed (its dependant is reused) is left alone", change: (dir: string) => fs.rmSync(path.join(dir, "output/a.csv")), request: ["c"], ran: ["c"], reason: undefined },
    { name: "a dependency whose definition changed runs again", change: (dir: string) => fs.writeFileSync(path.join(dir, "project.yaml"), CHAIN.replace("analysis/a.js", "analysis/a.js --fast")), request: ["b"], ran: ["a", "b"], reason: /definition in project.yaml changed/ },
    { name: "an action whose need ran again since is stale", change: async (dir: string) => void (await run(dir, ["a"], fake({ a: (r) => write(r, "output/a.csv", "x\n5\n") }))), request: ["c"], ran: ["b", "c"], reason: /a has written other outputs/ },
    { name: "with -f every dependency runs again", change: () => {}, request: ["c"], ran: ["a", "b", "c"], reason: /-f/, force: true },
  ])("$name", async ({ change, request, ran, reason, force }) => {
    const dir = setup(CHAIN);
    await run(dir, ["run_all"], fake(chainBehaviours));
    await change(dir);
    const calls: string[] = [];
    const events: RunEvent[] = [];
    const s = await run(dir, request, fake(chainBehaviours, calls), { forceRunDependencies: force ?? false, reporter: (e) => events.push(e) });
    expect(calls).toEqual(ran);
    expect(s.ok).toBe(true);
    if (reason !== undefined) expect(outcome(s, ran[0]!).reason).toMatch(reason);
  });

  it("fails the dependants of a failed dependency with dependency_failed, without running them", async () => {
    const dir = setup(CHAIN);
    const calls: string[] = [];
    const s = await run(dir, ["c"], fake({ a: (r) => (r.onOutput("something broke\n"), { exitCode: 3 }) }, calls));
    expect(calls).toEqual(["a"]);
    expect(s.ok).toBe(false);
    expect(statuses(s)).toEqual({ a: "failed:nonzero_exit", b: "failed:dependency_failed", c: "failed:dependency_failed" });
    expect(outcome(s, "a").statusMessage).toBe("exited with code 3");
    expect(outcome(s, "a").outputTail).toEqual(["something broke"]);
    expect(outcome(s, "b").statusMessage).toMatch(/needs a, which failed/);
    expect(outcome(s, "c").statusMessage).toMatch(/needs b, which failed/);
    const state = readState(dir);
    expect(state.actions.b).toMatchObject({ status: "failed", statusCode: "dependency_failed" });
    // A failed dependency runs again next time.
    const again: string[] = [];
    await run(dir, ["c"], fake(chainBehaviours, again));
    expect(again).toEqual(["a", "b", "c"]);
  });

  const INDEPENDENT = `version: 4
actions:
  bad:
    run: node:v1 bad.js
    outputs:
      highly_sensitive:
        out: output/bad.csv
  after_bad:
    run: node:v1 after.js
    needs: [bad]
    outputs:
      highly_sensitive:
        out: output/after.csv
  other:
    run: node:v1 other.js
    outputs:
      highly_sensitive:
        out: output/other.csv
`;

  it.each([
    { continueOnError: false, expected: { bad: "failed:nonzero_exit", after_bad: "failed:dependency_failed", other: "not_started" }, ran: ["bad"] },
    { continueOnError: true, expected: { bad: "failed:nonzero_exit", after_bad: "failed:dependency_failed", other: "succeeded:succeeded" }, ran: ["bad", "other"] },
  ])("continueOnError=$continueOnError", async ({ continueOnError, expected, ran }) => {
    const dir = setup(INDEPENDENT);
    const calls: string[] = [];
    const s = await run(dir, ["run_all"], fake({ bad: () => ({ exitCode: 1 }) }, calls), { continueOnError });
    expect(calls).toEqual(ran);
    expect(statuses(s)).toEqual(expected);
    expect(s.ok).toBe(false);
    if (!continueOnError) expect(outcome(s, "other").statusMessage).toMatch(/--continue-on-error/);
  });

  it.each([
    { concurrency: 1, overlap: false },
    { concurrency: 2, overlap: true },
  ])("runs up to $concurrency actions at once", async ({ concurrency, overlap }) => {
    const dir = setup(`version: 4
actions:
  one:
    run: node:v1 one.js
    outputs:
      highly_sensitive:
        out: output/one.csv
  two:
    run: node:v1 two.js
    outputs:
      highly_sensitive:
        out: output/two.csv
`);
    // Each action waits (up to a limit) for the other to start: they overlap exactly when both saw the other running.
    const started = new Set<string>();
    const sawOther: Record<string, boolean> = {};
    const times: Record<string, [number, number]> = {};
    const behaviour: Behaviour = async (r) => {
      const me = r.action.name;
      const other = me === "one" ? "two" : "one";
      const t0 = performance.now();
      started.add(me);
      for (let i = 0; i < 40 && !started.has(other); i += 1) await new Promise((res) => setTimeout(res, 10));
      sawOther[me] = started.has(other);
      await new Promise((res) => setTimeout(res, 20));
      writeDeclared(r);
      times[me] = [t0, performance.now()];
    };
    const s = await run(dir, ["run_all"], fake({ one: behaviour, two: behaviour }), { concurrency });
    expect(s.ok).toBe(true);
    expect(sawOther.one && sawOther.two).toBe(overlap);
    const [a, b] = [times.one!, times.two!];
    expect(a[0] < b[1] && b[0] < a[1]).toBe(overlap);
  });

  it("refuses unknown actions and a bad concurrency before running anything", async () => {
    const dir = setup(CHAIN);
    const calls: string[] = [];
    await expect(run(dir, ["run_al"], fake({}, calls))).rejects.toThrow(/no action named "run_al" \(did you mean "run_all"\?\)/);
    await expect(run(dir, [], fake({}, calls))).rejects.toThrow(RunnerError);
    await expect(run(dir, ["a"], fake({}, calls), { concurrency: 0 })).rejects.toThrow(/at least 1/);
    expect(calls).toEqual([]);
  });

  it("refuses to run a study that another live process is running", async () => {
    const dir = setup(CHAIN);
    fs.mkdirSync(path.join(dir, "metadata"));
    fs.writeFileSync(path.join(dir, "metadata/.enclave-run.lock"), String(process.ppid));
    await expect(run(dir, ["a"], fake())).rejects.toThrow(/another enclave run \(process \d+\)/);
    // A lock left by a process that is gone is cleared.
    fs.writeFileSync(path.join(dir, "metadata/.enclave-run.lock"), "999999999");
    expect((await run(dir, ["a"], fake())).ok).toBe(true);
    expect(fs.existsSync(path.join(dir, "metadata/.enclave-run.lock"))).toBe(false);
  });

  it("records an executor that throws as internal_error, and a cancelled run as cancelled_by_user", async () => {
    const dir = setup(INDEPENDENT);
    const s = await run(dir, ["other"], async () => {
      throw new Error("no such runtime");
    });
    expect(statuses(s)).toEqual({ other: "failed:internal_error" });
    expect(outcome(s, "other").statusMessage).toBe("Enclave could not run the action: no such runtime");

    const controller = new AbortController();
    // Cancelled while it runs: the executor stops it and says it was killed.
    const slow: Behaviour = (r) =>
      new Promise((resolve) => {
        r.signal!.addEventListener("abort", () => resolve({ exitCode: null, signal: "SIGTERM" }));
        controller.abort();
      });
    const c = await run(dir, ["run_all"], fake({ bad: slow }), { signal: controller.signal, continueOnError: true });
    expect(statuses(c)).toEqual({ bad: "failed:cancelled_by_user", after_bad: "failed:dependency_failed", other: "not_started" });
    expect(outcome(c, "other").statusMessage).toMatch(/cancelled before it started/);
  });

  it("reports killed and timed-out actions with what stopped them", async () => {
    const dir = setup(INDEPENDENT);
    const s = await run(dir, ["other"], fake({ other: () => ({ exitCode: null, signal: "SIGKILL", timedOut: true, message: "over the wall-clock limit" }) }), { limits: { memoryMb: 100, cpuSeconds: 5, wallSeconds: 7 } });
    expect(outcome(s, "other")).toMatchObject({ statusCode: "nonzero_exit", exitCode: null, statusMessage: "stopped after the time limit of 7s: over the wall-clock limit" });
  });
});

describe("code isolation", () => {
  it("shows an action the study's code and the outputs of its needs, nothing else", async () => {
    const dir = setup(
      `version: 4
actions:
  first:
    run: node:v1 analysis/first.js
    outputs:
      highly_sensitive:
        data: output/first.csv
  second:
    run: node:v1 analysis/second.js
    outputs:
      highly_sensitive:
        data: output/second_*.csv
  third:
    run: node:v1 analysis/third.js
    needs: [first]
    outputs:
      moderately_sensitive:
        seen: output/seen.json
`,
      {
        "analysis/third.js": "// code",
        "codelists/codes.csv": "code\n1\n",
        // Left in the repository, but an output of "second": not the study's code.
        "output/second_old.csv": "stale\n",
        "node_modules/pkg/index.js": "",
        ".git/HEAD": "ref: refs/heads/main\n",
      },
    );
    let seen: string[] = [];
    const listAll = (root: string, rel = ""): string[] =>
      fs.readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listAll(root, path.posix.join(rel, e.name)) : [path.posix.join(rel, e.name)]));
    const s = await run(dir, ["run_all"], fake({
      third: (r) => {
        seen = listAll(r.workdir).sort();
        write(r, "output/seen.json", JSON.stringify(seen));
      },
    }));
    expect(s.ok).toBe(true);
    // first's output (a need), and not second's (fresh or stale), metadata/, node_modules/ or .git/.
    expect(seen).toEqual(["analysis/third.js", "codelists/codes.csv", "output/first.csv", "project.yaml"]);
  });

  it("with codeDir, takes the code from there and the outputs from the project folder (as the backend runs a checked-out commit)", async () => {
    const yaml = `version: 4
actions:
  first:
    run: node:v1 analysis/first.js
    outputs:
      highly_sensitive:
        data: output/first.csv
  second:
    run: node:v1 analysis/second.js
    needs: [first]
    outputs:
      moderately_sensitive:
        seen: output/seen.json
`;
    const code = setup(yaml, {
      "analysis/first.js": "// first, as committed",
      "analysis/second.js": "// second, as committed",
      // Committed by mistake: an output, so never code, and not first's output either.
      "output/first.csv": "committed\n",
      "metadata/notes.txt": "not code\n",
    });
    // The workspace: an earlier run's outputs and files that are not the study's code.
    const workspace = setup("version: 4\nactions: {}\n", { "analysis/old.js": "// left over", "stray.txt": "x" });
    const seen: Record<string, string[]> = {};
    const listAll = (root: string, rel = ""): string[] =>
      fs.readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listAll(root, path.posix.join(rel, e.name)) : [path.posix.join(rel, e.name)]));
    const behaviours: Record<string, Behaviour> = {
      first: (r) => {
        seen.first = listAll(r.workdir).sort();
        expect(fs.readFileSync(path.join(r.workdir, "analysis/first.js"), "utf8")).toBe("// first, as committed");
        write(r, "output/first.csv", "made\n");
      },
      second: (r) => {
        seen.second = listAll(r.workdir).sort();
        expect(fs.readFileSync(path.join(r.workdir, "output/first.csv"), "utf8")).toBe("made\n");
        write(r, "output/seen.json", "{}");
      },
    };
    const s = await run(workspace, ["run_all"], fake(behaviours), { codeDir: code, project: parseProject(yaml) });
    expect(s.ok).toBe(true);
    expect(seen.first).toEqual(["analysis/first.js", "analysis/second.js", "project.yaml"]);
    expect(seen.second).toEqual(["analysis/first.js", "analysis/second.js", "output/first.csv", "project.yaml"]);
    // Outputs and records go to the project folder; the code folder is left as it was.
    expect(fs.readFileSync(path.join(workspace, "output/first.csv"), "utf8")).toBe("made\n");
    expect(fs.existsSync(path.join(workspace, "metadata/level4/output/seen.json"))).toBe(true);
    expect(fs.readFileSync(path.join(code, "output/first.csv"), "utf8")).toBe("committed\n");
    expect(fs.existsSync(path.join(code, "metadata/manifest.json"))).toBe(false);

    // A later request reuses first from the project folder, and deleting it there is noticed.
    const calls: string[] = [];
    const again = await run(workspace, ["second"], fake(behaviours, calls), { codeDir: code, project: parseProject(yaml) });
    expect(calls).toEqual(["second"]);
    expect(statuses(again)).toEqual({ first: "reused:succeeded", second: "succeeded:succeeded" });
    fs.rmSync(path.join(workspace, "output/first.csv"));
    const third = await run(workspace, ["second"], fake(behaviours, calls.splice(0)), { codeDir: code, project: parseProject(yaml) });
    expect(statuses(third)).toEqual({ first: "succeeded:succeeded", second: "succeeded:succeeded" });
  });

  it("replaces an action's earlier outputs with those of its latest run", async () => {
    const dir = setup(`version: 4
actions:
  tables:
    run: node:v1 tables.js
    outputs:
      moderately_sensitive:
        tables: output/table_*.csv
`);
    await run(dir, ["tables"], fake({ tables: (r) => (write(r, "output/table_1.csv", "a\n1\n"), write(r, "output/table_2.csv", "a\n2\n")) }));
    expect(fs.existsSync(path.join(dir, "metadata/level4/output/table_2.csv"))).toBe(true);
    await run(dir, ["tables"], fake({ tables: (r) => write(r, "output/table_1.csv", "a\n3\n") }));
    expect(fs.readdirSync(path.join(dir, "output"))).toEqual(["table_1.csv"]);
    expect(fs.readdirSync(path.join(dir, "metadata/level4/output"))).toEqual(["table_1.csv"]);
    expect(Object.keys(readManifest(dir).files)).toEqual(["output/table_1.csv"]);
  });
});

describe("outputs", () => {
  it("fails with unmatched_patterns and a hint naming the file that was written instead", async () => {
    const dir = setup(`version: 4
actions:
  generate_dataset:
    run: enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv
    outputs:
      highly_sensitive:
        dataset: output/dataset.csv
`);
    const s = await run(dir, ["generate_dataset"], fake({ generate_dataset: (r) => (write(r, "output/dataset.csv.gz", "zz"), write(r, "scratch/notes.txt", "n")) }));
    const o = outcome(s, "generate_dataset");
    expect(o).toMatchObject({ status: "failed", statusCode: "unmatched_patterns", statusMessage: "no file matches the output pattern output/dataset.csv" });
    expect(o.hint).toMatch(/output\/dataset\.csv\.gz was written; did you mean it/);
    expect(o.hint).toMatch(/scratch\/notes\.txt/);
    expect(o.discarded).toEqual(["output/dataset.csv.gz", "scratch/notes.txt"]);
    // Discarded files stay out of the project folder; the log says so.
    expect(fs.existsSync(path.join(dir, "output/dataset.csv.gz"))).toBe(false);
    const log = fs.readFileSync(path.join(dir, "metadata/generate_dataset.log"), "utf8");
    expect(log).toMatch(/hint: +output\/dataset\.csv\.gz was written; did you mean it/);
    expect(log).toMatch(/discarded \(written by the action, but matching none of its output patterns\):\n {2}output\/dataset\.csv\.gz\n {2}scratch\/notes\.txt/);
  });

  const LEVELS = `version: 4
actions:
  tables:
    run: node:v1 analysis/tables.js
    outputs:
      moderately_sensitive:
        good: output/good.csv
        edge: output/edge.csv
        with_ids: output/with_ids.csv
        too_long: output/too_long.csv
        too_big: output/too_big.csv
        chart: output/chart.svg
      highly_sensitive:
        raw: output/raw.feather
`;

  const rows = (n: number) => `group,count\n${Array.from({ length: n }, (_, i) => `g${i},${i}`).join("\n")}\n`;

  async function levels(): Promise<{ dir: string; s: RunSummary }> {
    const dir = setup(LEVELS);
    const s = await run(dir, ["tables"], fake({
      tables: (r) => {
        write(r, "output/good.csv", 'group,"count, rounded"\na,10\n"b\nwith a line break",15\n\nc,20\n');
        write(r, "output/edge.csv", rows(5000));
        // A byte order mark and a quoted name are still a patient_id column.
        write(r, "output/with_ids.csv", '\uFEFF"patient_id",value\r\n1,2\r\n');
        write(r, "output/too_long.csv", rows(5001));
        write(r, "output/too_big.csv", "a,b\n");
        fs.truncateSync(path.join(r.workdir, "output/too_big.csv"), LEVEL4_MAX_BYTES + 1);
        write(r, "output/chart.svg", "<svg/>");
        write(r, "output/raw.feather", "FEA1");
      },
    }));
    return { dir, s };
  }

  it("copies moderately_sensitive files that pass the checks to level 4, and leaves a .txt saying why for the others", async () => {
    const { dir, s } = await levels();
    expect(s.ok).toBe(true);
    const level4 = path.join(dir, "metadata/level4/output");
    expect(fs.readdirSync(level4).sort()).toEqual(["chart.svg", "edge.csv", "good.csv", "too_big.csv.txt", "too_long.csv.txt", "with_ids.csv.txt"]);
    expect(fs.readFileSync(path.join(level4, "good.csv"), "utf8")).toBe(fs.readFileSync(path.join(dir, "output/good.csv"), "utf8"));
    expect(fs.readFileSync(path.join(level4, "with_ids.csv.txt"), "utf8")).toMatch(/^output\/with_ids\.csv was not copied to level 4 because it:\n {2}- has a patient_id column\n/);
    expect(fs.readFileSync(path.join(level4, "too_long.csv.txt"), "utf8")).toMatch(/has 5001 rows, over the limit of 5000/);
    expect(fs.readFileSync(path.join(level4, "too_big.csv.txt"), "utf8")).toMatch(/is 16\.00 MiB, over the limit of 16\.00 MiB/);
    // Every output is in level 3.
    for (const f of ["good.csv", "edge.csv", "with_ids.csv", "too_long.csv", "too_big.csv", "chart.svg", "raw.feather"]) expect(fs.existsSync(path.join(dir, "output", f))).toBe(true);
    const byPath = Object.fromEntries(outcome(s, "tables").outputs.map((o) => [o.path, o]));
    expect(byPath["output/good.csv"]).toMatchObject({ rows: 3, columns: 2, level4: { copied: true } });
    expect(byPath["output/with_ids.csv"]!.level4).toEqual({ copied: false, reasons: ["has a patient_id column"], placeholder: path.join(level4, "with_ids.csv.txt") });
    expect(byPath["output/raw.feather"]!.level4).toBeUndefined();
  });

  it("writes a manifest entry for each output, with its sha256, size, rows, columns and level 4 verdict", async () => {
    const { dir, s } = await levels();
    const manifest = readManifest(dir);
    expect(manifest.workspace).toBe(path.basename(dir));
    expect(Object.keys(manifest.files)).toEqual(["output/chart.svg", "output/edge.csv", "output/good.csv", "output/raw.feather", "output/too_big.csv", "output/too_long.csv", "output/with_ids.csv"]);
    for (const [file, entry] of Object.entries(manifest.files)) {
      expect(entry.sha256).toBe(sha256(path.join(dir, file)));
      expect(entry.size).toBe(fs.statSync(path.join(dir, file)).size);
      expect(entry).toMatchObject({ action: "tables", job_id: outcome(s, "tables").jobId, job_request: s.requestId, commit: null });
      expect(Date.parse(entry.timestamp)).toBeGreaterThan(0);
    }
    expect(manifest.files["output/good.csv"]).toMatchObject({ level: "moderately_sensitive", excluded: false, excluded_reason: null, rows: 3, columns: 2 });
    expect(manifest.files["output/edge.csv"]).toMatchObject({ excluded: false, rows: 5000, columns: 2 });
    expect(manifest.files["output/too_long.csv"]).toMatchObject({ excluded: true, excluded_reason: "has 5001 rows, over the limit of 5000", rows: 5001 });
    expect(manifest.files["output/with_ids.csv"]).toMatchObject({ excluded: true, excluded_reason: "has a patient_id column", rows: 1, columns: 2 });
    expect(manifest.files["output/raw.feather"]).toMatchObject({ level: "highly_sensitive", excluded: null, rows: null, columns: null });
  });

  it("ends the log with a summary block", async () => {
    const dir = setup(CHAIN);
    const s = await run(
      dir,
      ["a"],
      fake({ a: (r) => (r.onOutput("reading the "), r.onOutput("data\nwrote 1 row\n"), write(r, "output/a.csv", "x\n1\n"), { cpuSeconds: 1.2, peakMemoryBytes: 89_443_533 }) }),
      { requestId: "req-1", commit: "0123456789abcdef0123456789abcdef01234567" },
    );
    expect(outcome(s, "a")).toMatchObject({ cpuSeconds: 1.2, peakMemoryBytes: 89_443_533 });
    const log = fs.readFileSync(path.join(dir, "metadata/a.log"), "utf8");
    expect(log).toContain("reading the data\nwrote 1 row\n");
    const block = log.slice(log.indexOf("==== enclave job summary ===="));
    expect(block).toBe(
      [
        "==== enclave job summary ====",
        `job_id:         ${jobIdFor("req-1", "a")}`,
        "job_request_id: req-1",
        "action:         a",
        "run:            node:v1 analysis/a.js",
        "commit:         0123456789abcdef0123456789abcdef01234567",
        "status:         succeeded (succeeded)",
        "exit_code:      0",
        // The ticking clock: read once at the start and once at the end, with the manifest's timestamp between.
        "started_at:     2025-01-01T00:00:01.000Z",
        "finished_at:    2025-01-01T00:00:03.000Z",
        "duration:       2.0s",
        "cpu_time:       1.2s",
        "peak_memory:    85.3 MiB",
        "status_message: Completed successfully",
        "",
        "outputs:",
        "  output/a.csv  highly_sensitive, 4 B",
        "",
      ].join("\n"),
    );
  });

  it("carries what each action used into its outcome and log, and says when nothing was measured", async () => {
    const dir = setup(CHAIN);
    const measured: Behaviour = (r) => (chainBehaviours[r.action.name]!(r), { cpuSeconds: 0.42, peakMemoryBytes: 3 * 1024 ** 3 });
    await run(dir, ["b"], fake({ a: measured, b: measured }));
    const s = await run(dir, ["c"], fake({ c: (r) => void chainBehaviours.c!(r) }));
    // b was reused: what it used was spent in the earlier run, and is in its log from then.
    expect(outcome(s, "b")).toMatchObject({ status: "reused", cpuSeconds: null, peakMemoryBytes: null });
    expect(outcome(s, "c")).toMatchObject({ status: "succeeded", cpuSeconds: null, peakMemoryBytes: null });
    expect(fs.readFileSync(path.join(dir, "metadata/b.log"), "utf8")).toContain("cpu_time:       0.4s\npeak_memory:    3.00 GiB\n");
    expect(fs.readFileSync(path.join(dir, "metadata/c.log"), "utf8")).toContain("cpu_time:       not measured\npeak_memory:    not measured\n");

    // An action that never started used nothing that could be measured.
    const failed = await run(dir, ["c"], async () => {
      throw new Error("no such runtime");
    });
    expect(outcome(failed, "c")).toMatchObject({ statusCode: "internal_error", cpuSeconds: null, peakMemoryBytes: null });
  });

  it("redacts the values of the action's environment from its log", async () => {
    const dir = setup(CHAIN);
    const secret = "postgresql://user:hunter2hunter2@db/x";
    await run(dir, ["a"], fake({ a: (r) => (r.onOutput(`connecting to ${secret.slice(0, 20)}`), r.onOutput(`${secret.slice(20)} now\n`), writeDeclared(r)) }), { env: () => ({ DATABASE_URL: secret }) });
    const log = fs.readFileSync(path.join(dir, "metadata/a.log"), "utf8");
    expect(log).toContain("connecting to [redacted] now");
    expect(log).not.toContain("hunter2");
  });
});

describe("level 4 checks", () => {
  const dir = tempDir("enclave-level4-");
  const file = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };

  it.each([
    { name: "plain.csv", text: "a,b\n1,2\n3,4\n", header: ["a", "b"], rows: 2 },
    { name: "crlf.csv", text: "a,b\r\n1,2\r\n3,4", header: ["a", "b"], rows: 2 },
    { name: "blank-lines.csv", text: "a\n\n1\n\n\n2\n", header: ["a"], rows: 2 },
    { name: "quoted.csv", text: '"a ""x""","b,c"\n"1\n2",3\n', header: ['a "x"', "b,c"], rows: 1 },
    { name: "bom.csv", text: "\uFEFFpatient_id,v\n1,2\n", header: ["patient_id", "v"], rows: 1 },
    { name: "stray-quote.csv", text: 'a,b\n1 "inch",2\n3,4\n', header: ["a", "b"], rows: 2 },
    { name: "empty.csv", text: "", header: [], rows: 0 },
    { name: "header-only.csv", text: "a,b\n", header: ["a", "b"], rows: 0 },
  ])("reads the header and counts the rows of $name", async ({ name, text, header, rows }) => {
    const facts = await describeFile(file(name, text), { csv: true });
    expect(facts.csv).toEqual({ header, rows, columns: header.length });
    expect(facts.sha256).toBe(createHash("sha256").update(text).digest("hex"));
  });

  it.each([
    { name: "table.csv", facts: { size: 10, sha256: "", csv: { header: ["a"], rows: 5000, columns: 1 } }, reasons: [] },
    { name: "table.csv", facts: { size: 10, sha256: "", csv: { header: [" Patient_ID "], rows: 1, columns: 1 } }, reasons: ["has a patient_id column"] },
    { name: "book.xlsx", facts: { size: 10, sha256: "" }, reasons: [/has the extension ".xlsx"/] },
    { name: "chart.png", facts: { size: LEVEL4_MAX_BYTES, sha256: "" }, reasons: [] },
    { name: "chart.png", facts: { size: LEVEL4_MAX_BYTES + 1, sha256: "" }, reasons: [/over the limit of 16\.00 MiB/] },
  ])("checks $name ($facts.size bytes)", ({ name, facts, reasons }) => {
    const check = checkLevel4(`output/${name}`, facts);
    expect(check.ok).toBe(reasons.length === 0);
    expect(check.reasons).toHaveLength(reasons.length);
    reasons.forEach((r, i) => (typeof r === "string" ? expect(check.reasons[i]).toBe(r) : expect(check.reasons[i]).toMatch(r)));
  });
});

describe("the state file", () => {
  it("records each action's latest job", async () => {
    const dir = setup(CHAIN);
    await run(dir, ["run_all"], fake(chainBehaviours), { requestId: "r1" });
    const record: ActionRecord = readState(dir).actions.c!;
    expect(record).toMatchObject({
      jobId: jobIdFor("r1", "c"),
      requestId: "r1",
      status: "succeeded",
      statusCode: "succeeded",
      statusMessage: "Completed successfully",
      exitCode: 0,
      commit: null,
      outputs: { "output/c.csv": { level: "moderately_sensitive", size: 8, sha256: sha256(path.join(dir, "output/c.csv")) } },
      inputs: { b: { "output/b.csv": sha256(path.join(dir, "output/b.csv")) } },
    });
    expect(Date.parse(record.finishedAt!)).toBeGreaterThan(Date.parse(record.startedAt!));
  });

  it("treats an action left running by a run that died as one to run again", async () => {
    const dir = setup(CHAIN);
    await run(dir, ["run_all"], fake(chainBehaviours));
    const state = readState(dir);
    state.actions.a!.status = "running";
    fs.writeFileSync(path.join(dir, "metadata/.enclave-state.json"), JSON.stringify(state));
    const calls: string[] = [];
    const s = await run(dir, ["b"], fake(chainBehaviours, calls));
    expect(calls).toEqual(["a", "b"]);
    expect(outcome(s, "a").reason).toBe("its last run did not finish");
  });

  it("runs everything again when the state file cannot be read, with a warning", async () => {
    const dir = setup(CHAIN);
    await run(dir, ["run_all"], fake(chainBehaviours));
    fs.writeFileSync(path.join(dir, "metadata/.enclave-state.json"), "{ not json");
    const events: RunEvent[] = [];
    const calls: string[] = [];
    await run(dir, ["b"], fake(chainBehaviours, calls), { reporter: (e) => events.push(e) });
    expect(calls).toEqual(["a", "b"]);
    expect(events).toContainEqual({ type: "warning", message: expect.stringMatching(/cannot be read/) });
  });
});

describe("enclave run", { timeout: 60_000 }, () => {
  beforeAll(ensureBuilt, 120_000);
  const runtimesWritten = !fs.readFileSync(path.join(ROOT, "src/pipeline/runtimes.ts"), "utf8").includes("runtimes not written yet");

  const PROJECT = `version: 4
actions:
  count:
    run: node:v1 analysis/x.js
    outputs:
      moderately_sensitive:
        table: output/counts.csv
`;

  it("reports every problem of project.yaml, and exits with 1", async () => {
    const dir = study({ "project.yaml": "version: 4\nactions:\n  a:\n    run: node:v1\n    outputs: {}\n  b:\n    needs: [zz]\n" });
    const r = await enclave(["run", "run_all"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: project\.yaml, line 4, action "a", key "run": /m);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("error: project.yaml")).length).toBeGreaterThanOrEqual(3);
  });

  it("names an unknown action with a suggestion, exits with 1, and runs nothing", async () => {
    const dir = study({ "project.yaml": PROJECT, "analysis/x.js": "" });
    const r = await enclave(["run", "cuont"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: no action named "cuont" (did you mean "count"?)\n');
    expect(fs.existsSync(path.join(dir, "metadata"))).toBe(false);
  });

  it("asks for actions, and for a folder with a project.yaml", async () => {
    const dir = study({ "project.yaml": PROJECT });
    const none = await enclave(["run"], { cwd: dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/name the actions to run, or run_all/);
    const elsewhere = await enclave(["run", "run_all", "--project-dir", "nowhere"], { cwd: dir });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/there is no project\.yaml in nowhere/);
    const bad = await enclave(["run", "run_all", "--concurrency", "0"], { cwd: dir });
    expect(bad.code).toBe(2);
  });

  it.skipIf(!runtimesWritten)("runs a node:v1 action and prints a summary", async () => {
    const script = "const fs = require('node:fs');\nfs.mkdirSync('output', { recursive: true });\nfs.writeFileSync('output/counts.csv', 'group,n\\na,10\\n');\nconsole.log('done');\n";
    const dir = study({ "project.yaml": PROJECT, "analysis/x.js": script, "package.json": '{"type":"commonjs"}' });
    const r = await enclave(["run", "count"], { cwd: dir });
    expect(r.stderr).toMatch(/succeeded count/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/count +succeeded/);
    expect(r.stdout).toMatch(/metadata\/count\.log/);
    expect(fs.readFileSync(path.join(dir, "metadata/level4/output/counts.csv"), "utf8")).toBe("group,n\na,10\n");
    const log = fs.readFileSync(path.join(dir, "metadata/count.log"), "utf8");
    expect(log).toMatch(/done\n[\s\S]*status: +succeeded/);
    // Measured by the runtimes, where /proc can tell.
    if (fs.existsSync("/proc/self/stat")) expect(log).toMatch(/\ncpu_time: +\d+\.\ds\npeak_memory: +\d+\.\d MiB\n/);
  });
});
