// Policy as code: the committed allowlists and the one function that turns
// them into a project's analysis scope.
//
// The allowlists are data files in the repository (policy/allowlists/), not
// rows in a database, so that every change is in the public history and needs
// the review named in CODEOWNERS. This module only reads them: there is
// deliberately no function that adds to them, and the scope depends on
// nothing but the files and the project's number, category and status.

import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from "yaml";
import { type BackendScope, PermissionError, checkPermissions, tablesOf } from "../engines/sql/engine.js";
import { tppTables } from "../language/tables/tpp.js";
import type { Dataset } from "../querymodel/index.js";

export type { BackendScope } from "../engines/sql/engine.js";

/** The lists, each one file `<name>.yaml`. */
export const ALLOWLISTS = ["t1oo", "ndoo", "restricted-datasets", "sqlrunner"] as const;
export type AllowlistName = (typeof ALLOWLISTS)[number];

export const INCLUDE_T1OO = "include_t1oo";
export const INCLUDE_NDOO = "include_ndoo";
/** Not an engine permission: it lets a project run `sqlrunner` actions at all. */
export const SQL_RUNNER = "sqlrunner";

/** The dataset permissions, taken from the tables themselves so the two can never drift apart. */
export const DATASET_PERMISSIONS: readonly string[] = Object.freeze(
  [...new Set(Object.values(tppTables).flatMap((t) => (t.requiredPermission ? [t.requiredPermission] : [])))].sort(),
);

/** What each file may grant: a list cannot grant what another list is for. */
const GRANTS: Readonly<Record<AllowlistName, readonly string[]>> = {
  t1oo: [INCLUDE_T1OO],
  ndoo: [INCLUDE_NDOO],
  "restricted-datasets": DATASET_PERMISSIONS,
  sqlrunner: [SQL_RUNNER],
};

const ENTRY_KEYS = ["project", "permissions", "reason", "approval", "date"] as const;
const TOP_KEYS = ["entries"] as const;

export interface AllowlistEntry {
  readonly project: number;
  readonly permissions: readonly string[];
  readonly reason: string;
  readonly approval: string;
  /** The approval's date, YYYY-MM-DD. */
  readonly date: string;
  /** Where the entry is, for messages and audits. */
  readonly file: string;
  readonly line: number;
}

export interface Policy {
  readonly dir: string;
  readonly lists: Readonly<Record<AllowlistName, readonly AllowlistEntry[]>>;
}

export interface PolicyProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export class PolicyError extends Error {
  override name = "PolicyError";
  constructor(readonly problems: readonly PolicyProblem[]) {
    super(`the policy files are invalid:\n${problems.map((p) => `  ${p.file}:${p.line}:${p.column}: ${p.message}`).join("\n")}`);
  }
}

/**
 * The committed allowlists. `src/policy/` and `dist/policy/` are at the same
 * depth, so one relative path finds them from the sources and the build.
 */
export const DEFAULT_POLICY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../policy/allowlists");

/** Reads and strictly validates every allowlist; throws a PolicyError listing every problem. */
export function loadPolicy(dir: string = DEFAULT_POLICY_DIR): Policy {
  const problems: PolicyProblem[] = [];
  const lists = {} as Record<AllowlistName, readonly AllowlistEntry[]>;
  const display = (file: string) => relative(process.cwd(), file) || file;

  let present: string[];
  try {
    present = readdirSync(dir);
  } catch (e) {
    throw new PolicyError([{ file: display(dir), line: 0, column: 0, message: `cannot read the policy folder: ${(e as Error).message}` }]);
  }
  // A stray file may be someone's belief that it grants something: refuse it rather than ignore it.
  for (const name of present.sort()) {
    if (!ALLOWLISTS.some((l) => `${l}.yaml` === name)) {
      problems.push({ file: display(join(dir, name)), line: 0, column: 0, message: `unknown file; the policy folder holds only ${ALLOWLISTS.map((l) => `${l}.yaml`).join(", ")}` });
    }
  }
  for (const list of ALLOWLISTS) {
    const path = join(dir, `${list}.yaml`);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      // A missing list would deny everyone anyway, but silently; make the deletion loud.
      problems.push({ file: display(path), line: 0, column: 0, message: "missing; every allowlist must exist, with `entries: []` when empty" });
      lists[list] = Object.freeze([]);
      continue;
    }
    lists[list] = parseAllowlist(list, display(path), text, problems);
  }
  if (problems.length > 0) throw new PolicyError(problems);
  return Object.freeze({ dir, lists: Object.freeze(lists) });
}

function parseAllowlist(list: AllowlistName, file: string, text: string, problems: PolicyProblem[]): readonly AllowlistEntry[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
  const at = (node: YamlNode | null | undefined, message: string) => {
    const { line, col } = node?.range ? lc.linePos(node.range[0]) : { line: 1, col: 1 };
    problems.push({ file, line, column: col, message });
  };
  for (const err of [...doc.errors, ...doc.warnings]) {
    const pos = err.linePos?.[0] ?? { line: 1, col: 1 };
    problems.push({ file, line: pos.line, column: pos.col, message: err.message.split("\n")[0]! });
  }
  if (doc.errors.length > 0) return Object.freeze([]);

  const root = doc.contents;
  if (!isMap(root)) {
    at(root, "expected a mapping with the key `entries`");
    return Object.freeze([]);
  }
  checkKeys(root, TOP_KEYS, "the top level", at);
  const seq = root.get("entries", true);
  if (!isSeq(seq)) {
    at(seq ?? root, "`entries` must be a list (write `entries: []` for none)");
    return Object.freeze([]);
  }

  const entries: AllowlistEntry[] = [];
  const firstLine = new Map<number, number>();
  for (const item of seq.items) {
    const node = item as YamlNode;
    if (!isMap(node)) {
      at(node, "each entry must be a mapping of project, permissions, reason, approval, date");
      continue;
    }
    const line = lc.linePos(node.range![0]).line;
    checkKeys(node, ENTRY_KEYS, "an entry", at);
    for (const key of ENTRY_KEYS) if (!node.has(key)) at(node, `the entry has no \`${key}\``);

    const projectNode = node.get("project", true) as YamlNode | undefined;
    const project = projectNode && isScalar(projectNode) ? projectNode.value : undefined;
    const validProject = typeof project === "number" && Number.isSafeInteger(project) && project > 0;
    if (projectNode && !validProject) at(projectNode, `\`project\` must be a project number (a whole number above 0), got ${JSON.stringify(project)}`);

    const permissions = readPermissions(list, node.get("permissions", true) as YamlNode | undefined, at);
    const reason = readText(node.get("reason", true) as YamlNode | undefined, "reason", at);
    const approval = readText(node.get("approval", true) as YamlNode | undefined, "approval", at);
    const dateNode = node.get("date", true) as YamlNode | undefined;
    const date = dateNode && isScalar(dateNode) ? dateNode.value : undefined;
    if (dateNode && !isIsoDate(date)) at(dateNode, `\`date\` must be a date written YYYY-MM-DD, got ${JSON.stringify(date)}`);

    if (validProject) {
      // One entry per project per list, so that a removal is one visible change, not one of several.
      const seen = firstLine.get(project);
      if (seen !== undefined) at(projectNode, `duplicate entry: project ${project} is already listed at line ${seen}`);
      else firstLine.set(project, line);
    }
    if (validProject && permissions && reason !== undefined && approval !== undefined && isIsoDate(date)) {
      entries.push(Object.freeze({ project, permissions, reason, approval, date, file, line }));
    }
  }
  return Object.freeze(entries);
}

type At = (node: YamlNode | null | undefined, message: string) => void;

function checkKeys(map: YamlNode, allowed: readonly string[], where: string, at: At): void {
  if (!isMap(map)) return;
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? pair.key.value : pair.key;
    if (typeof key !== "string" || !allowed.includes(key)) {
      at(pair.key as YamlNode, `unknown key ${JSON.stringify(key)} in ${where}; expected ${allowed.join(", ")}`);
    }
  }
}

function readPermissions(list: AllowlistName, node: YamlNode | undefined, at: At): readonly string[] | undefined {
  if (!node) return undefined;
  if (!isSeq(node) || node.items.length === 0) {
    at(node, "`permissions` must be a non-empty list of permission names");
    return undefined;
  }
  const out: string[] = [];
  let ok = true;
  for (const item of node.items) {
    const p = isScalar(item) ? item.value : undefined;
    const allowed = GRANTS[list];
    if (typeof p !== "string" || !allowed.includes(p)) {
      at(item as YamlNode, `unknown permission ${JSON.stringify(p)} for ${list}.yaml; expected one of ${allowed.join(", ")}`);
      ok = false;
    } else if (out.includes(p)) {
      at(item as YamlNode, `duplicate permission ${JSON.stringify(p)} in this entry`);
      ok = false;
    } else {
      out.push(p);
    }
  }
  return ok ? Object.freeze(out) : undefined;
}

function readText(node: YamlNode | undefined, key: string, at: At): string | undefined {
  if (!node) return undefined;
  const v = isScalar(node) ? node.value : undefined;
  // The reason and approval are the audit trail; an empty one is no trail.
  if (typeof v !== "string" || v.trim() === "") {
    at(node, `\`${key}\` must be non-empty text`);
    return undefined;
  }
  return v;
}

function isIsoDate(v: unknown): v is string {
  if (typeof v !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return false;
  const d = new Date(`${v}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v;
}

export type ProjectCategory = "approved" | "internal" | "short data report";

export interface ProjectRef {
  readonly number: number | string;
  readonly category?: ProjectCategory;
  readonly status?: string;
}

export type AnalysisScope = BackendScope & {
  readonly sqlRunner: boolean;
  /** Why the scope is what it is, in words, for the job request page and the audit log. */
  readonly reasons: readonly string[];
};

/**
 * A project's analysis scope, from the allowlists alone. Deny by default:
 * only a listed, ongoing project gets anything, and the SQL runner also needs
 * the internal category, so a mistaken entry cannot hand it to a research
 * project. Nothing else about the project (its members, a claimed permission,
 * the environment) is read.
 */
export function analysisScope(project: ProjectRef, policy: Policy): AnalysisScope {
  const number = projectNumber(project.number);
  const label = `project ${String(project.number)}`;
  if (number === undefined) {
    return scope([], false, [`${label}: not a project number, so nothing is granted`]);
  }
  if (project.status !== "ongoing") {
    // An unknown status is treated as not ongoing: access has to be shown, not assumed.
    const why = project.status === undefined ? "its status is not known" : `its status is ${project.status}`;
    return scope([], false, [`${label} is not ongoing (${why}), so it gets no permissions and no SQL runner`]);
  }

  const reasons: string[] = [];
  const permissions = new Set<string>();
  for (const list of ["t1oo", "ndoo", "restricted-datasets"] as const) {
    for (const entry of policy.lists[list]) {
      if (entry.project !== number) continue;
      for (const p of entry.permissions) permissions.add(p);
      reasons.push(`${entry.permissions.join(", ")}: ${entry.file}:${entry.line} (${entry.approval}, ${entry.date})`);
    }
  }
  let sqlRunner = false;
  const sql = policy.lists.sqlrunner.find((e) => e.project === number);
  if (sql && project.category === "internal") {
    sqlRunner = true;
    reasons.push(`sqlrunner: ${sql.file}:${sql.line} (${sql.approval}, ${sql.date})`);
  } else if (sql) {
    reasons.push(`sqlrunner: listed at ${sql.file}:${sql.line}, but refused: only the internal project may run SQL (category is ${project.category ?? "not known"})`);
  }
  if (!permissions.has(INCLUDE_T1OO)) reasons.push("type 1 opt-out patients are excluded");
  if (!permissions.has(INCLUDE_NDOO)) reasons.push("national data opt-out applies: only patients without an opt-out are included");
  return scope([...permissions].sort(), sqlRunner, reasons);
}

function scope(permissions: string[], sqlRunner: boolean, reasons: string[]): AnalysisScope {
  return Object.freeze({ permissions: Object.freeze(permissions), sqlRunner, reasons: Object.freeze(reasons) });
}

/** Project numbers are the one key (never slugs); a numeric string such as "12" is the number 12. */
function projectNumber(n: number | string): number | undefined {
  const v = typeof n === "string" && /^\s*\d+\s*$/.test(n) ? Number(n) : n;
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

export interface MissingPermission {
  readonly table: string;
  readonly permission: string;
}

export type DefinitionCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly missing: readonly MissingPermission[]; readonly message: string };

/**
 * Checks a definition before anything runs, so a missing permission is
 * refused at once rather than after hours of work. The engine's own
 * `checkPermissions` decides; this only works out every table and permission
 * that are missing, so the refusal can name them all.
 */
export function checkDefinitionAgainstScope(dataset: Dataset, scope: BackendScope): DefinitionCheck {
  let first: string;
  try {
    checkPermissions(dataset, scope);
    return { ok: true };
  } catch (e) {
    if (!(e instanceof PermissionError)) throw e;
    first = e.message;
  }
  const granted = new Set(scope.permissions);
  const names = tablesOf(dataset).map((t) => t.name);
  const missing: MissingPermission[] = [];
  // A table outside the TPP schema with a permission of its own: the probes below cannot isolate
  // it, so the engine's message (which names it) is given instead.
  const unknownMissing = refuses(dataset, [...scope.permissions, ...DATASET_PERMISSIONS]);
  // Ask the engine one permission at a time: with every other one granted, it refuses only if this one is needed.
  for (const permission of unknownMissing ? [] : DATASET_PERMISSIONS) {
    if (granted.has(permission)) continue;
    const others = [...new Set([...scope.permissions, ...DATASET_PERMISSIONS.filter((p) => p !== permission)])];
    if (refuses(dataset, others)) {
      const tables = names.filter((n) => tppTables[n]?.requiredPermission === permission);
      for (const table of tables.length > 0 ? tables : ["(a table)"]) missing.push({ table, permission });
    }
  }
  const lines = missing.map((m) => `table ${m.table} requires the permission ${JSON.stringify(m.permission)}, which this project does not have`);
  if (unknownMissing || lines.length === 0) lines.push(first);
  return { ok: false, missing, message: lines.join("; ") };
}

function refuses(dataset: Dataset, permissions: string[]): boolean {
  try {
    checkPermissions(dataset, { permissions });
    return false;
  } catch (e) {
    if (e instanceof PermissionError) return true;
    throw e;
  }
}
