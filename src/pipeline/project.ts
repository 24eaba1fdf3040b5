// project.yaml: the actions of a study, what each runs, what it needs and what
// it writes. parseProject reads the file into a Project, or throws a
// ProjectError that lists every problem at once, each with its line, its action
// and its key, so that a researcher fixes the file in one pass rather than one
// error per job request.
//
// The rules are OpenSAFELY's (version 4 of the format), with a few made
// stricter where OpenSAFELY accepts something it then ignores or fails on late:
// `minimally_sensitive` is refused, overlapping output patterns are refused, a
// database action's --output must match its outputs, and `needs` must be a
// list of distinct, existing actions other than the action itself.

import { type Document, LineCounter, type Node, Scalar, isAlias, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { type RunCommand, RunCommandError, isDatabaseCommand, outputArgument, parseRunCommand } from "./run-command.js";

// ---------------------------------------------------------------------------
// THE MODEL

/** The version of the project.yaml format Enclave reads (OpenSAFELY's current one). */
export const CURRENT_VERSION = 4;

/** The reserved action name that means every action. */
export const RUN_ALL = "run_all";

/** The extensions a moderately_sensitive (level 4) output may have. */
export const LEVEL4_EXTENSIONS: readonly string[] = [".csv", ".jpg", ".jpeg", ".png", ".svg", ".svgz", ".html", ".txt", ".log", ".json", ".md"];

/** highly_sensitive: level 3 only; moderately_sensitive: level 3, and a copy to level 4 once it passes the checks. */
export type OutputLevel = "highly_sensitive" | "moderately_sensitive";
export const OUTPUT_LEVELS: readonly OutputLevel[] = ["highly_sensitive", "moderately_sensitive"];

export type { RunCommand } from "./run-command.js";

export interface Action {
  name: string;
  run: RunCommand;
  /** The actions whose outputs this one reads, as written. */
  needs: string[];
  /** Output name → path pattern, per level. */
  outputs: Partial<Record<OutputLevel, Record<string, string>>>;
  /** The `config` mapping, as plain data; passed to the command as `--config <json>`. */
  config?: unknown;
  /** The line of the action's name in the file. */
  line: number;
}

export interface Project {
  version: number;
  /** In the order of the file. */
  actions: Map<string, Action>;
}

/** One thing wrong with the file. */
export interface Problem {
  message: string;
  line?: number;
  column?: number;
  action?: string;
  key?: string;
}

/** The file is not a valid project.yaml; `problems` holds every problem found, in the order of the file. */
export class ProjectError extends Error {
  override name = "ProjectError";
  constructor(
    readonly file: string,
    readonly problems: readonly Problem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join("\n"));
  }
  /** Every problem as one line: `project.yaml, line 12, action "analyse", key "needs": ...`. */
  get lines(): string[] {
    return this.problems.map((p) => formatProblem(this.file, p));
  }
}

export function formatProblem(file: string, p: Problem): string {
  let where = file;
  if (p.line !== undefined) where += `, line ${p.line}`;
  if (p.column !== undefined) where += `, column ${p.column}`;
  if (p.action !== undefined) where += `, action "${p.action}"`;
  if (p.key !== undefined) where += `, key "${p.key}"`;
  return `${where}: ${p.message}`;
}

// ---------------------------------------------------------------------------
// READING THE FILE

const TOP_KEYS = ["version", "actions", "expectations"];
const ACTION_KEYS = ["run", "needs", "outputs", "config"];
const ACTION_NAME = /^[A-Za-z0-9_-]+$/;

/** Reads and validates a project.yaml; throws ProjectError listing every problem. */
export function parseProject(text: string, file = "project.yaml"): Project {
  return new Reader(text, file).read();
}

// What is known of an action after reading its own keys; the checks across
// actions (needs, cycles, unique runs and outputs) run on these.
interface Draft {
  name: string;
  line: number;
  run?: RunCommand;
  runLine?: number;
  needs: { name: string; line: number }[];
  needsLine?: number;
  outputs: Output[];
  levelLines: Partial<Record<OutputLevel, number>>;
  config?: unknown;
  configLine?: number;
}

interface Output {
  action: string;
  level: OutputLevel;
  name: string;
  pattern: string;
  line: number;
  /** Whether the pattern broke a rule (it is then left out of the checks across actions). */
  bad: boolean;
}

// One key of a mapping: `value` has its aliases resolved, `at` is where it was written.
interface Entry {
  key: string;
  keyLine: number;
  value: Node | null;
  at: Node | null;
}

type Context = { action?: string; key?: string };

class Reader {
  private readonly lines = new LineCounter();
  private readonly problems: Problem[] = [];
  private doc!: Document.Parsed;
  // yaml leaves an alias to a missing anchor for toJS to refuse; resolve() reports it, once.
  private readonly badAliases = new Set<Node>();

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  read(): Project {
    // Duplicate keys are found while walking (uniqueKeys: false), so that the
    // report can name the action and both lines. Merge keys (`<<: *defaults`)
    // are YAML 1.1's, which OpenSAFELY's reader accepts too.
    this.doc = parseDocument(this.text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: false, merge: true });
    if (this.doc.errors.length > 0) {
      // A file that is not YAML says nothing reliable about its actions.
      for (const e of this.doc.errors) {
        const pos = this.lines.linePos(e.pos[0]);
        this.problems.push({ line: pos.line, column: pos.col, message: yamlMessage(e.code, e.message) });
      }
      this.fail();
    }
    const top = this.readTop();
    this.fail();
    const actions = new Map<string, Action>();
    for (const d of top.drafts) {
      const outputs: Action["outputs"] = {};
      for (const o of d.outputs) (outputs[o.level] ??= {})[o.name] = o.pattern;
      const action: Action = { name: d.name, run: d.run!, needs: d.needs.map((n) => n.name), outputs, line: d.line };
      if (d.configLine !== undefined) action.config = d.config;
      actions.set(d.name, action);
    }
    return { version: top.version, actions };
  }

  private fail(): void {
    if (this.problems.length === 0) return;
    // In the order of the file; problems without a line (a missing key) first.
    const sorted = this.problems
      .map((p, i) => ({ p, i }))
      .sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || (a.p.column ?? 0) - (b.p.column ?? 0) || a.i - b.i)
      .map(({ p }) => p);
    throw new ProjectError(this.file, sorted);
  }

  private report(line: number | undefined, message: string, context: Context = {}): void {
    const p: Problem = { message };
    if (line !== undefined) p.line = line;
    if (context.action !== undefined) p.action = context.action;
    if (context.key !== undefined) p.key = context.key;
    this.problems.push(p);
  }

  private lineOf(node: Node | null | undefined): number | undefined {
    const start = node?.range?.[0];
    return start === undefined ? undefined : this.lines.linePos(start).line;
  }

  private resolve(node: unknown): Node | null {
    if (!isAlias(node)) return (node ?? null) as Node | null;
    const target = node.resolve(this.doc);
    if (target === undefined && !this.badAliases.has(node)) {
      this.badAliases.add(node);
      this.report(this.lineOf(node), `the alias *${node.source} names no anchor (&${node.source}) above it`);
    }
    return target ?? null;
  }

  /**
   * The keys of a mapping, merge keys expanded (keys written in the mapping win
   * over merged ones, as YAML has it); a key written twice is reported.
   */
  private entries(map: Node, context: Context, seen = new Set<Node>()): Entry[] {
    const own: Entry[] = [];
    const merged: Entry[] = [];
    if (!isMap(map) || seen.has(map)) return own;
    seen.add(map);
    const first = new Map<string, number>();
    for (const pair of map.items) {
      const keyNode = this.resolve(pair.key);
      const at = (pair.value ?? null) as Node | null;
      const keyLine = this.lineOf(pair.key as Node) ?? this.lineOf(at) ?? this.lineOf(map) ?? 1;
      if (isScalar(keyNode) && typeof keyNode.value === "symbol") {
        // `<<: *defaults` or `<<: [*a, *b]`
        const target = this.resolve(at);
        const sources = isSeq(target) ? target.items : [at];
        for (const s of sources) {
          const source = this.resolve(s);
          if (isMap(source)) merged.push(...this.entries(source, context, seen));
          else this.report(keyLine, "a merge key (<<) must name a mapping (<<: *defaults)", context);
        }
        continue;
      }
      const key = scalarText(keyNode);
      if (key === undefined) {
        this.report(keyLine, `a key must be a name, not ${describe(keyNode)}`, context);
        continue;
      }
      const earlier = first.get(key);
      if (earlier !== undefined) {
        if (context.key === "actions") this.report(keyLine, `is defined twice (first on line ${earlier}); only one is allowed`, { action: key });
        else this.report(keyLine, `is given twice (first on line ${earlier}); only one is allowed`, { ...context, key: context.key === undefined ? key : `${context.key}.${key}` });
        continue;
      }
      first.set(key, keyLine);
      own.push({ key, keyLine, value: this.resolve(at), at });
    }
    // Of merged mappings, the first to give a key wins, as YAML has it.
    const keys = new Set(own.map((e) => e.key));
    const result = [...own];
    for (const e of merged) {
      if (keys.has(e.key)) continue;
      keys.add(e.key);
      result.push(e);
    }
    return result;
  }

  // ---- the top level: version, actions

  private readTop(): { version: number; drafts: Draft[] } {
    const root = this.doc.contents as Node | null;
    if (root === null || (isScalar(root) && root.value === null)) {
      this.report(undefined, `the file is empty: a project.yaml needs "version: ${CURRENT_VERSION}" and "actions"`);
      return { version: CURRENT_VERSION, drafts: [] };
    }
    if (!isMap(root)) {
      this.report(this.lineOf(root), `the file must be a mapping with "version" and "actions", not ${describe(root)}`);
      return { version: CURRENT_VERSION, drafts: [] };
    }
    const top = this.entries(root, {});
    const get = (k: string) => top.find((e) => e.key === k);
    for (const e of top) {
      if (TOP_KEYS.includes(e.key)) continue;
      this.report(e.keyLine, `unknown key "${e.key}"${didYouMean(e.key, TOP_KEYS.slice(0, 2))}; a project.yaml has only "version" and "actions"`, { key: e.key });
    }
    const versionEntry = get("version");
    let version = CURRENT_VERSION;
    if (versionEntry === undefined) {
      this.report(undefined, `no "version": write "version: ${CURRENT_VERSION}" at the top (${CURRENT_VERSION} is the current version of project.yaml)`);
    } else {
      version = this.readVersion(versionEntry);
    }
    const expectations = get("expectations");
    if (expectations !== undefined) {
      this.report(expectations.keyLine, `is not allowed in version ${CURRENT_VERSION}: remove it (the size of the dummy population is set in the dataset definition, with dataset.configureDummyData)`, { key: "expectations" });
    }
    const actionsEntry = get("actions");
    if (actionsEntry === undefined) {
      this.report(undefined, 'no "actions": a project.yaml needs at least one action');
      return { version, drafts: [] };
    }
    const actions = actionsEntry.value;
    if (!isMap(actions)) {
      const empty = actions === null || (isScalar(actions) && actions.value === null);
      this.report(actionsEntry.keyLine, empty ? "there are no actions: a project.yaml needs at least one" : `must be a mapping of action names to actions, not ${describe(actions)}`, { key: "actions" });
      return { version, drafts: [] };
    }
    const drafts: Draft[] = [];
    const entries = this.entries(actions, { key: "actions" });
    if (actions.items.length === 0) this.report(actionsEntry.keyLine, "there are no actions: a project.yaml needs at least one", { key: "actions" });
    for (const e of entries) {
      const draft = this.readAction(e);
      if (draft !== undefined) drafts.push(draft);
    }
    this.checkAcross(drafts);
    return { version, drafts };
  }

  private readVersion(e: Entry): number {
    const v = e.value;
    // Written 4, 4.0, '4.0' or "4": YAML reads the first two as the number 4.
    const text = isScalar(v) && (typeof v.value === "number" || typeof v.value === "string") ? String(v.value).trim() : undefined;
    if (text !== undefined && /^\d+(\.\d+)?$/.test(text) && Number(text) === CURRENT_VERSION) return CURRENT_VERSION;
    const got = text !== undefined ? `"${isScalar(v) && v.source !== undefined ? v.source : text}"` : describe(v);
    this.report(e.keyLine, `must be ${CURRENT_VERSION}, not ${got}: Enclave reads version ${CURRENT_VERSION} of project.yaml, the current version (write "version: ${CURRENT_VERSION}")`, { key: "version" });
    return CURRENT_VERSION;
  }

  // ---- one action

  private readAction(e: Entry): Draft | undefined {
    const name = e.key;
    const context = { action: name };
    if (name === RUN_ALL) {
      this.report(e.keyLine, `"${RUN_ALL}" is reserved (it means every action); choose another name`, context);
      return undefined;
    }
    if (!ACTION_NAME.test(name)) {
      this.report(e.keyLine, "an action's name may hold only letters, digits, _ and -", context);
    }
    const body = e.value;
    if (!isMap(body)) {
      this.report(e.keyLine, `must be a mapping with "run" and "outputs", not ${describe(body)}`, context);
      return undefined;
    }
    const draft: Draft = { name, line: e.keyLine, needs: [], outputs: [], levelLines: {} };
    const keys = this.entries(body, context);
    // A misspelt key is reported once, as a typo, not also as a missing key.
    const misspelt = new Set<string>();
    for (const k of keys) {
      if (ACTION_KEYS.includes(k.key)) continue;
      const guess = nearest(k.key, ACTION_KEYS);
      if (guess !== undefined) misspelt.add(guess);
      const hint = k.key === "dummy_data_file" ? " (Enclave takes a dummy dataset as --dummy-data-file in run)" : guess === undefined ? "" : ` (did you mean "${guess}"?)`;
      this.report(k.keyLine, `unknown key "${k.key}"${hint}; an action has run, needs, outputs and config`, context);
    }
    const get = (k: string) => keys.find((x) => x.key === k);
    const run = get("run");
    if (run !== undefined) this.readRun(draft, run);
    else if (!misspelt.has("run")) this.report(e.keyLine, 'has no "run": say what the action runs, like "run: node:v1 analysis/report.ts"', context);
    const needs = get("needs");
    if (needs !== undefined) this.readNeeds(draft, needs);
    const outputs = get("outputs");
    if (outputs !== undefined) this.readOutputs(draft, outputs);
    else if (!misspelt.has("outputs")) this.report(e.keyLine, 'has no "outputs": every action declares the files it writes', context);
    const config = get("config");
    if (config !== undefined) this.readConfig(draft, config);
    return draft;
  }

  private readRun(draft: Draft, e: Entry): void {
    const context = { action: draft.name, key: "run" };
    const v = e.value;
    draft.runLine = this.lineOf(e.at) ?? e.keyLine;
    if (!isScalar(v) || (typeof v.value !== "string" && v.value !== null)) {
      this.report(e.keyLine, `must be a line of text, like "node:v1 analysis/report.ts", not ${describe(v)}`, context);
      return;
    }
    try {
      draft.run = parseRunCommand(typeof v.value === "string" ? v.value : "", nearest);
    } catch (err) {
      if (!(err instanceof RunCommandError)) throw err;
      this.report(draft.runLine, err.message, context);
    }
  }

  private readNeeds(draft: Draft, e: Entry): void {
    const context = { action: draft.name, key: "needs" };
    const v = e.value;
    draft.needsLine = e.keyLine;
    if (v === null || (isScalar(v) && v.value === null)) return; // `needs:` with nothing: none
    if (!isSeq(v)) {
      const example = isScalar(v) && typeof v.value === "string" ? `[${v.value.split(/[\s,]+/).filter(Boolean).join(", ")}]` : "[generate_dataset]";
      this.report(e.keyLine, `must be a list of action names, like needs: ${example}`, context);
      return;
    }
    for (const item of v.items) {
      const node = this.resolve(item);
      if (node === null && isAlias(item)) continue; // reported by resolve
      const line = this.lineOf(item as Node) ?? e.keyLine;
      const name = isScalar(node) && typeof node.value === "string" ? node.value : scalarText(node);
      if (name === undefined || !isScalar(node)) {
        this.report(line, `each item must be an action's name, not ${describe(node)}`, context);
        continue;
      }
      draft.needs.push({ name, line });
    }
  }

  private readOutputs(draft: Draft, e: Entry): void {
    const context = { action: draft.name, key: "outputs" };
    const v = e.value;
    if (!isMap(v)) {
      this.report(e.keyLine, `must be a mapping with highly_sensitive and/or moderately_sensitive, not ${describe(v)}`, context);
      return;
    }
    const levels = this.entries(v, context);
    for (const l of levels) {
      const key = `outputs.${l.key}`;
      if (l.key === "minimally_sensitive") {
        // OpenSAFELY accepts it and then does nothing with it; a file declared so would silently not exist.
        this.report(l.keyLine, "minimally_sensitive is not accepted (OpenSAFELY ignores it; Enclave refuses it): use moderately_sensitive for files to view in level 4, or highly_sensitive", { action: draft.name, key });
        continue;
      }
      if (!(OUTPUT_LEVELS as readonly string[]).includes(l.key)) {
        this.report(l.keyLine, `unknown key "${l.key}"${didYouMean(l.key, OUTPUT_LEVELS)}; outputs has highly_sensitive and moderately_sensitive`, { action: draft.name, key: "outputs" });
        continue;
      }
      this.readLevel(draft, l.key as OutputLevel, l);
    }
    if (levels.length === 0) {
      this.report(e.keyLine, "is empty: declare the files the action writes under highly_sensitive and/or moderately_sensitive", context);
    }
  }

  private readLevel(draft: Draft, level: OutputLevel, e: Entry): void {
    const key = `outputs.${level}`;
    const context = { action: draft.name, key };
    draft.levelLines[level] = e.keyLine;
    const v = e.value;
    const example = `like ${level === "highly_sensitive" ? "dataset: output/dataset.csv" : "table: output/table.csv"}`;
    if (!isMap(v)) {
      const empty = v === null || (isScalar(v) && v.value === null);
      this.report(e.keyLine, empty ? `is empty: give each file a name and a path, ${example}` : `must be a mapping of names to paths, ${example}, not ${describe(v)}`, context);
      return;
    }
    const files = this.entries(v, context);
    if (files.length === 0) this.report(e.keyLine, `is empty: give each file a name and a path, ${example}`, context);
    for (const f of files) {
      const fileContext = { action: draft.name, key: `${key}.${f.key}` };
      const line = this.lineOf(f.at) ?? f.keyLine;
      const p = f.value;
      if (!isScalar(p) || typeof p.value !== "string") {
        this.report(f.keyLine, `must be a path, like output/table.csv, not ${describe(p)}`, fileContext);
        continue;
      }
      const problem = patternProblem(p.value, level);
      if (problem !== undefined) this.report(line, problem, fileContext);
      draft.outputs.push({ action: draft.name, level, name: f.key, pattern: p.value, line, bad: problem !== undefined });
    }
  }

  private readConfig(draft: Draft, e: Entry): void {
    const context = { action: draft.name, key: "config" };
    if (!isMap(e.value)) {
      this.report(e.keyLine, `must be a mapping (it is passed to the command as --config <json>), not ${describe(e.value)}`, context);
      return;
    }
    try {
      draft.config = e.value.toJS(this.doc);
      draft.configLine = e.keyLine;
    } catch (err) {
      // yaml refuses aliases that expand too far (a "billion laughs" file).
      this.report(e.keyLine, `cannot be read: ${err instanceof Error ? err.message : String(err)}`, context);
    }
  }

  // ---- across actions

  private checkAcross(drafts: Draft[]): void {
    const names = drafts.map((d) => d.name);
    const byName = new Map(drafts.map((d) => [d.name, d]));
    for (const d of drafts) {
      const context = { action: d.name, key: "needs" };
      const seen = new Set<string>();
      for (const n of d.needs) {
        if (n.name === d.name) this.report(n.line, "an action cannot need itself", context);
        else if (seen.has(n.name)) this.report(n.line, `"${n.name}" is listed twice`, context);
        else if (n.name === RUN_ALL) this.report(n.line, `"${RUN_ALL}" is not an action (it means every action); name the actions this one reads`, context);
        else if (/[\s,]/.test(n.name) && n.name.split(/[\s,]+/).every((x) => byName.has(x))) this.report(n.line, `no action named "${n.name}": separate the actions with commas, like needs: [${n.name.split(/[\s,]+/).join(", ")}]`, context);
        else if (!byName.has(n.name)) this.report(n.line, `no action named "${n.name}"${didYouMean(n.name, names)}`, context);
        seen.add(n.name);
      }
      if (d.configLine !== undefined && d.run?.image === "enclave") {
        this.report(d.configLine, `enclave:${d.run.version} commands take no --config: pass values to the definition with --param name=value in run`, { action: d.name, key: "config" });
      }
    }
    this.checkCycles(drafts, byName);
    this.checkRuns(drafts);
    this.checkDatabaseActions(drafts);
    this.checkOutputsUnique(drafts);
  }

  private checkCycles(drafts: Draft[], byName: Map<string, Draft>): void {
    const order = new Map(drafts.map((d, i) => [d.name, i]));
    const state = new Map<string, "active" | "done">();
    const stack: string[] = [];
    const reported = new Set<string>();
    const visit = (name: string) => {
      state.set(name, "active");
      stack.push(name);
      for (const n of byName.get(name)!.needs) {
        if (n.name === name || !byName.has(n.name)) continue;
        const s = state.get(n.name);
        if (s === "active") {
          const cycle = stack.slice(stack.indexOf(n.name));
          // Start from the action first in the file, so that a cycle reads the same whichever way it was found.
          const first = cycle.reduce((a, b) => (order.get(a)! <= order.get(b)! ? a : b));
          const turned = [...cycle.slice(cycle.indexOf(first)), ...cycle.slice(0, cycle.indexOf(first))];
          const id = turned.join("\0");
          if (!reported.has(id)) {
            reported.add(id);
            const d = byName.get(first)!;
            this.report(d.needsLine ?? d.line, `the needs form a cycle: ${[...turned, first].join(" -> ")}`, { action: first, key: "needs" });
          }
        } else if (s === undefined) {
          visit(n.name);
        }
      }
      stack.pop();
      state.set(name, "done");
    };
    for (const d of drafts) if (!state.has(d.name)) visit(d.name);
  }

  private checkRuns(drafts: Draft[]): void {
    // Compared as split words, so that a difference in spacing or quoting alone does not make two runs different.
    const seen = new Map<string, Draft>();
    for (const d of drafts) {
      if (d.run === undefined) continue;
      const id = JSON.stringify([d.run.image, d.run.version, ...d.run.command]);
      const other = seen.get(id);
      if (other !== undefined) {
        this.report(d.runLine, `runs the same command as action "${other.name}" (line ${other.line}): two actions that run the same command would write the same files`, { action: d.name, key: "run" });
      } else {
        seen.set(id, d);
      }
    }
  }

  // A database action reads patient-level data and writes it: its output is
  // level 3 only, and the file it writes must be one it declares, or the job
  // would fail after the query had run (which can take hours).
  private checkDatabaseActions(drafts: Draft[]): void {
    for (const d of drafts) {
      if (d.run === undefined || !isDatabaseCommand(d.run)) continue;
      const what = d.run.image === "sqlrunner" ? `${d.run.image}:${d.run.version}` : `enclave:${d.run.version} ${d.run.command[0]}`;
      const line = d.levelLines.moderately_sensitive;
      if (line !== undefined) {
        this.report(line, `a database action (${what}) writes patient-level data, so its outputs must all be highly_sensitive`, { action: d.name, key: "outputs.moderately_sensitive" });
      }
      const context = { action: d.name, key: "run" };
      let output: string | undefined;
      try {
        output = outputArgument(d.run);
      } catch (err) {
        if (!(err instanceof RunCommandError)) throw err;
        this.report(d.runLine, err.message, context);
        continue;
      }
      if (output === undefined) {
        this.report(d.runLine, `a database action (${what}) must say where it writes, with --output <path> (one of its outputs)`, context);
        continue;
      }
      if (output.includes("*")) {
        this.report(d.runLine, `--output "${output}" must be a file's path, not a pattern`, context);
        continue;
      }
      const patterns = d.outputs.filter((o) => o.level === "highly_sensitive").map((o) => o.pattern);
      if (patterns.length > 0 && !patterns.some((p) => matchesPattern(p, output))) {
        this.report(d.runLine, `--output "${output}" matches none of the action's highly_sensitive outputs (${patterns.join(", ")})`, context);
      }
    }
  }

  // A file belongs to one action and one level: the runner decides from the
  // patterns where each file goes, and which action may overwrite it.
  private checkOutputsUnique(drafts: Draft[]): void {
    const all = drafts.flatMap((d) => d.outputs).filter((o) => !o.bad);
    const lineOf = new Map(drafts.map((d) => [d.name, d.line]));
    for (let j = 0; j < all.length; j += 1) {
      const b = all[j]!;
      const context = { action: b.action, key: `outputs.${b.level}.${b.name}` };
      for (let i = 0; i < j; i += 1) {
        const a = all[i]!;
        const where = a.action === b.action ? `output "${a.name}" of this action (line ${a.line})` : `action "${a.action}" (line ${lineOf.get(a.action)})`;
        if (a.pattern === b.pattern) {
          this.report(b.line, `"${b.pattern}" is also an output of ${where}: every output path must be unique`, context);
          break;
        }
        // Two patterns of one action and one level may overlap: a file they share is still that action's, at that level.
        if ((a.action !== b.action || a.level !== b.level) && patternsOverlap(a.pattern, b.pattern)) {
          this.report(b.line, `"${b.pattern}" can match the same files as "${a.pattern}", an output of ${where}: each file must belong to one action and one level`, context);
          break;
        }
      }
    }
  }
}

/** The text of a key or a scalar item: its source for plain scalars (so `1.0` stays `1.0`), undefined for anything else. */
function scalarText(node: Node | null): string | undefined {
  if (!isScalar(node) || node.value === null || typeof node.value === "symbol") return undefined;
  if (typeof node.value === "string") return node.value;
  if (node.type === Scalar.PLAIN && node.source !== undefined) return node.source;
  return typeof node.value === "object" ? undefined : String(node.value);
}

/** What a node is, for messages: `a list`, `a number (3)`, `nothing`. */
function describe(node: Node | null): string {
  if (node === null) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return "nothing";
    if (typeof v === "number") return `a number (${node.source ?? v})`;
    if (typeof v === "boolean") return `${v}`;
    if (typeof v === "string") return `text ("${v.length > 40 ? `${v.slice(0, 40)}...` : v}")`;
  }
  return "something else";
}

// yaml's own message, on one line, with the fix where yaml's words would not say it to a researcher.
function yamlMessage(code: string, message: string): string {
  if (code === "MULTIPLE_DOCS") return 'the file holds more than one YAML document: a project.yaml is one document, so remove the "---" line';
  const line = message.split("\n")[0]!.replace(/:$/, "");
  return code === "TAB_AS_INDENT" ? `${line} (indent with spaces)` : line;
}

// ---------------------------------------------------------------------------
// OUTPUT PATTERNS

/**
 * What is wrong with an output path pattern, or undefined. Patterns are
 * relative paths in normal form, with `*` (within one folder) as the only
 * wildcard, ending in an extension; moderately_sensitive ones have a level 4
 * extension. For example `output/../x.csv`, `/tmp/x.csv`, `output/**\/*.csv`,
 * `output/table` and `metadata/x.log` are refused.
 */
export function patternProblem(pattern: string, level: OutputLevel): string | undefined {
  if (pattern.trim() === "") return "is empty: give the file's path, like output/table.csv";
  if (pattern.includes("\\")) return `"${pattern}" has a backslash: write paths with forward slashes (/)`;
  if (pattern.startsWith("/") || /^[A-Za-z]:/.test(pattern)) return `"${pattern}" is an absolute path: outputs are paths inside the project, like output/table.csv`;
  for (const bad of ["**", "?", "["]) {
    if (pattern.includes(bad)) return `"${pattern}" has "${bad}": the only wildcard is *, which matches within one folder`;
  }
  const segments = pattern.split("/");
  const abnormal = pattern.endsWith("/") ? 'it ends in "/"' : pattern.includes("//") ? 'it has "//"' : segments.includes("..") ? 'it has ".."' : segments.includes(".") ? 'it has a "." folder' : undefined;
  if (abnormal !== undefined) return `"${pattern}" is not in normal form (${abnormal}): write it as a plain path, like output/table.csv`;
  if (segments[0]!.toLowerCase() === "metadata") return `"${pattern}" is under metadata/, which holds Enclave's logs and state: write outputs elsewhere, like output/`;
  const last = segments[segments.length - 1]!;
  const dot = last.lastIndexOf(".");
  const extension = dot > 0 ? last.slice(dot) : "";
  if (extension.length < 2 || extension.includes("*")) {
    return `"${pattern}" must end in a file extension, like .csv${extension.includes("*") ? " (a wildcard cannot stand for it)" : ""}`;
  }
  if (level === "moderately_sensitive" && !LEVEL4_EXTENSIONS.includes(extension)) {
    return `"${extension}" is not allowed for moderately_sensitive outputs, which may be ${LEVEL4_EXTENSIONS.join(" ")}; declare other files highly_sensitive`;
  }
  return undefined;
}

/** Whether a path (relative, with /) matches an output pattern: `*` matches any characters but `/`. */
export function matchesPattern(pattern: string, filePath: string): boolean {
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+^${}()|[\]\\?]/g, "\\$&"))
    .join("[^/]*");
  return new RegExp(`^${source}$`).test(filePath);
}

/**
 * Whether some path matches both patterns. Folder by folder: the same number
 * of folders, and each pair of segments has a common match, found by walking
 * both patterns at once (a state is a position in each; `*` may match nothing,
 * or take one character of the other segment).
 */
export function patternsOverlap(a: string, b: string): boolean {
  const as = a.split("/");
  const bs = b.split("/");
  return as.length === bs.length && as.every((s, i) => segmentsOverlap(s, bs[i]!));
}

function segmentsOverlap(a: string, b: string): boolean {
  const seen = new Set<number>();
  const stack: [number, number][] = [[0, 0]];
  const width = b.length + 1;
  while (stack.length > 0) {
    const [i, j] = stack.pop()!;
    if (seen.has(i * width + j)) continue;
    seen.add(i * width + j);
    if (i === a.length && j === b.length) return true;
    const p = a[i];
    const q = b[j];
    if (p === "*") stack.push([i + 1, j]);
    if (q === "*") stack.push([i, j + 1]);
    if (p === "*" && q !== undefined && q !== "*") stack.push([i, j + 1]);
    if (q === "*" && p !== undefined && p !== "*") stack.push([i + 1, j]);
    if (p !== undefined && p !== "*" && p === q) stack.push([i + 1, j + 1]);
  }
  return false;
}

/** Every output pattern of the project, in the order of the file. */
export function outputPatterns(project: Project): { action: string; level: OutputLevel; name: string; pattern: string }[] {
  const out: { action: string; level: OutputLevel; name: string; pattern: string }[] = [];
  for (const action of project.actions.values()) {
    for (const level of OUTPUT_LEVELS) {
      for (const [name, pattern] of Object.entries(action.outputs[level] ?? {})) out.push({ action: action.name, level, name, pattern });
    }
  }
  return out;
}

/** Whether the action reads the database (enclave:v1 generate-dataset / generate-measures, sqlrunner). */
export function isDatabaseAction(action: Action): boolean {
  return isDatabaseCommand(action.run);
}

// ---------------------------------------------------------------------------
// THE ACTION GRAPH

export interface ActionGraph {
  /** Every action, each after the actions it needs; otherwise in the order of the file. */
  order: string[];
  /** Action → the actions it needs. */
  needs: Map<string, readonly string[]>;
  /** Action → the actions that need it. */
  dependants: Map<string, string[]>;
}

export function actionGraph(project: Project): ActionGraph {
  const needs = new Map<string, readonly string[]>();
  const dependants = new Map<string, string[]>();
  for (const a of project.actions.values()) {
    needs.set(a.name, a.needs);
    dependants.set(a.name, []);
  }
  for (const a of project.actions.values()) for (const n of a.needs) dependants.get(n)?.push(a.name);
  return { order: topological(project, [...project.actions.keys()]), needs, dependants };
}

/**
 * The actions `names` need, directly or not, each after what it needs, and
 * `names` themselves with includeSelf (the default); without it, the named
 * actions are left out even where one needs another, which is what a runner
 * wants: the requested actions run anyway, their dependencies may be reused.
 * Throws ProjectError for a name that is no action.
 */
export function dependenciesOf(project: Project, names: readonly string[], options: { includeSelf?: boolean } = {}): string[] {
  checkNames(project, names);
  const wanted = new Set<string>();
  const add = (name: string) => {
    for (const n of project.actions.get(name)?.needs ?? []) {
      if (!wanted.has(n)) {
        wanted.add(n);
        add(n);
      }
    }
  };
  for (const n of names) add(n);
  for (const n of names) {
    if (options.includeSelf ?? true) wanted.add(n);
    else wanted.delete(n);
  }
  return topological(project, [...wanted]);
}

/** The actions a request names: every action for run_all, else the names checked; in the order of the file. */
export function expandRunAll(project: Project, requested: readonly string[]): string[] {
  if (requested.includes(RUN_ALL)) return [...project.actions.keys()];
  checkNames(project, requested);
  const unique = new Set(requested);
  return [...project.actions.keys()].filter((n) => unique.has(n));
}

function checkNames(project: Project, names: readonly string[]): void {
  const all = [...project.actions.keys()];
  const problems: Problem[] = names.filter((n) => !project.actions.has(n)).map((n) => ({ message: `no action named "${n}"${didYouMean(n, [...all, RUN_ALL])}` }));
  if (problems.length > 0) throw new ProjectError("project.yaml", problems);
}

// Depth first from each action in the order of the file: needs come out before
// the action, and otherwise the file's order is kept. Any subset comes out in
// the same order as the whole, so that a run's order does not depend on what
// was requested. A cycle cannot happen in a parsed project; a hand-built one is
// cut where it closes.
function topological(project: Project, names: readonly string[]): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  const visit = (name: string) => {
    if (done.has(name) || !project.actions.has(name)) return;
    done.add(name);
    for (const n of project.actions.get(name)!.needs) visit(n);
    out.push(name);
  };
  for (const name of project.actions.keys()) visit(name);
  const keep = new Set(names);
  return out.filter((n) => keep.has(n));
}

// ---------------------------------------------------------------------------
// SUGGESTIONS

/** The candidate nearest to `word` by edit distance, if near enough to be a typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  // A third of the word may be wrong, at least one character; but a name of one
  // or two characters is too short to guess from (other than by its case).
  const limit = word.length <= 2 ? 0 : Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance && d <= limit) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function didYouMean(word: string, candidates: readonly string[]): string {
  const guess = nearest(word, candidates);
  return guess === undefined ? "" : ` (did you mean "${guess}"?)`;
}

// Levenshtein distance, counting a swap of two neighbours as one edit.
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
