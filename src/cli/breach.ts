// `enclave breach scan` and `enclave breach clean`: a public contract
// (../shared/spec/breach.md). scan exits with 0 when nothing is found, 1 when
// anything is, 2 for a usage error (a bad repository, manifest or list of
// released files); clean exits with 0 when the repository is clean after, 1
// when it is not (or when it is refused), 2 for a usage error (a bad
// repository, an unknown blob id, no --yes without a terminal). main.ts maps
// UserError to 1 and UsageError to 2.
//
// Given the job server's store and the workspace whose repository leaked
// (--db, --workspace), a verified clean also opens an incident there: the
// workspace is restricted (no job requests, nothing published) until staff
// close it, since every other copy of the history still holds the leak.

import * as readline from "node:readline/promises";
import { type Command, Option } from "commander";
import { AuditError, AuditLog, type JsonObject } from "../audit/index.js";
import {
  BreachInputError,
  type CleanMethod,
  type CleanPlan,
  type CleanResult,
  CleanRefused,
  GitError,
  type ScanResult,
  cleanRepository,
  formatReport,
  nextSteps,
  planClean,
  scanRepository,
} from "../breach/index.js";
import { DEFAULT_CONTENT_LIMIT } from "../breach/content.js";
import { type Incident, Store, StoreError } from "../jobserver/index.js";
import { currentUser, formatBytes } from "../pipeline/metadata.js";
import { DEFAULT_THRESHOLD } from "../sdc/check.js";
import { UsageError, UserError } from "./errors.js";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

interface ScanCommandOptions {
  manifest?: string[];
  released?: string[];
  reflogs?: boolean;
  json?: boolean;
}

interface CleanCommandOptions {
  blob?: string[];
  yes?: boolean;
  auditDb?: string;
  actor?: string;
  method?: CleanMethod;
  db?: string;
  workspace?: string;
}

/** Registers the `breach` command group. */
export function registerBreach(program: Command): Command {
  const breach = program.command("breach").description("Find outputs committed to a study's repository, in every commit of its history, and remove them.");
  breach
    .command("scan")
    .description("Walk every commit reachable from any ref and report each file that must not be there: known outputs, patient-level tables, small counts, output paths.")
    .argument("<repo>", "the git repository (a working folder or a bare repository)")
    .option("--manifest <file>", "a metadata/manifest.json whose outputs' sha256 are known (repeatable); without one, only the content and path rules apply", collect)
    .option("--released <file>", "a file of sha256 of released files, one a line (sha256sum's output works; repeatable): released level 4 outputs may be in a repository, and no rule reports them", collect)
    .option("--reflogs", "also walk commits that only reflogs hold (older stash entries, amended or reset commits): local to this clone, never pushed")
    .option("--json", 'print {"version": 1, "findings": [...]} instead of a report')
    .addHelpText(
      "after",
      "\nRules (each finding is one blob at one path, with every commit that holds it):\n" +
        "  known_output   its sha256 is a level 3 output's, or a level 4 output's never released (--manifest)\n" +
        "  patient_level  a table with a patient_id column, or one row per patient (sdc check's rule)\n" +
        `  small_count    a table with counts of 1 to ${DEFAULT_THRESHOLD} (sdc check's rule)\n` +
        "  output_path    a path that some version of project.yaml declares as an output, or that a manifest names\n" +
        `\nTables are CSV and TSV (also .gz) and Parquet and Arrow (by their magic bytes); at most\n${formatBytes(DEFAULT_CONTENT_LIMIT)} of each is read (a larger CSV is checked on its first lines, a larger\nParquet or Arrow file is reported unread). Stata, R, Excel and SAS files are not read.\n` +
        "\nRefs are every branch, tag, remote-tracking ref, note and the stash, and HEAD; a tag that\npoints straight at a blob or a tree (not a commit) is not walked. Reflogs are this clone's\nown and are never pushed: --reflogs walks them too.\n" +
        "\nExit status: 0 when nothing is found; 1 when anything is; 2 for a usage error.\n" +
        "\nExamples:\n" +
        "  enclave breach scan . --manifest metadata/manifest.json\n" +
        "  enclave breach scan ../study --manifest m1.json --manifest m2.json --released released.sha256 --json",
    )
    .action((repo: string, options: ScanCommandOptions) => scan(repo, options));
  breach
    .command("clean")
    .description("Remove blobs from every commit and ref of a repository, prune them, and check that they are gone.")
    .argument("<repo>", "the git repository")
    .option("--blob <id>", "a blob to remove, as enclave breach scan prints it (repeatable)", collect)
    .option("--yes", "rewrite without asking (needed when standard input is not a terminal)")
    .option("--audit-db <url>", "append the incident to this audit log (default: $ENCLAVE_AUDIT_DB, else none)")
    .option("--actor <actor>", "who is cleaning, for the audit log (default: this account's user name)")
    .option("--workspace <name>", "the job server's workspace whose repository this is: after a verified clean, an incident is opened for it, restricting it until staff close it")
    .option("--db <url>", "the job server's database, for --workspace (default: $ENCLAVE_DB)")
    .addOption(new Option("--method <method>", "how to rewrite (tests)").choices(["filter-repo", "fast-export"]).hideHelp())
    .addHelpText(
      "after",
      "\nRewrites history with git filter-repo when it is installed, otherwise with git fast-export |\n" +
        "fast-import; then expires every reflog (the stash's entries are kept, rewritten too), runs\n" +
        "gc, and checks that no ref, reflog or index reaches the blobs and that git cat-file -e finds\n" +
        "none of them.\n" +
        "Commits keep their messages, authors and dates, but get new ids from the first one that\n" +
        "held a blob on (git filter-repo also drops commits left empty, and removes the remote\n" +
        "origin). Refs that point straight at a blob are deleted. The index is reset to the new\n" +
        "HEAD; files in the working folder are left as they are (git filter-repo resets them too).\n" +
        "Every clone and fork, and the hosting service, still hold the blobs: the command says\n" +
        "what to do about them.\n" +
        "\nRefused: a shallow clone, a merge or rebase in progress, staged changes, other worktrees.\n" +
        "\nWith --workspace, a verified clean opens an incident on the job server (--db): the\n" +
        "workspace takes no job requests and nothing is published from it until staff close the\n" +
        "incident (its page /staff/incidents, or POST /api/v1/incidents/:id/close).\n" +
        "\nExit status: 0 when the repository is clean after; 1 when it is not, or when the\n" +
        "repository cannot be rewritten as it is; 2 for a usage error (such as an unknown blob).\n" +
        "\nExample:\n  enclave breach clean . --blob 3b18e512dba79e4c8300dd08aeb37f8e728b8dad --yes",
    )
    .action((repo: string, options: CleanCommandOptions) => clean(repo, options));
  return breach;
}

async function scan(repo: string, options: ScanCommandOptions): Promise<void> {
  let result: ScanResult;
  try {
    result = await scanRepository(repo, { manifests: options.manifest ?? [], released: options.released ?? [], reflogs: options.reflogs === true });
  } catch (e) {
    if (e instanceof BreachInputError) throw new UsageError(e.message);
    if (e instanceof GitError) throw new UserError(e.message);
    throw e;
  }
  const { findings } = result.report;
  if (options.json) {
    process.stdout.write(JSON.stringify(result.report, null, 2) + "\n");
    for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  } else {
    process.stdout.write(formatReport(result, repo));
  }
  if (findings.length > 0) {
    const files = new Set(findings.map((f) => `${f.blob}\u0000${f.path}`)).size;
    throw new UserError(`${findings.length} ${findings.length === 1 ? "finding" : "findings"} (${files} ${files === 1 ? "file" : "files"}) in the history of ${repo}`);
  }
}

async function clean(repo: string, options: CleanCommandOptions): Promise<void> {
  const storeUrl = options.workspace !== undefined ? (options.db ?? process.env.ENCLAVE_DB) : undefined;
  if (options.workspace !== undefined && (storeUrl === undefined || storeUrl === "")) throw new UsageError("--workspace needs the job server's database: give --db URL (or set ENCLAVE_DB)");
  if (options.db !== undefined && options.workspace === undefined) throw new UsageError("--db is where the incident is opened: give --workspace NAME too (the workspace whose repository this is)");
  let plan: CleanPlan;
  try {
    plan = await planClean(repo, options.blob ?? [], { method: options.method ?? "auto" });
  } catch (e) {
    if (e instanceof BreachInputError) throw new UsageError(e.message);
    if (e instanceof CleanRefused || e instanceof GitError) throw new UserError(e.message);
    throw e;
  }
  process.stdout.write(describePlan(plan));
  if (options.yes !== true) {
    if (process.stdin.isTTY !== true) {
      throw new UsageError(`nothing was changed: standard input is not a terminal, so nobody can confirm the rewrite of ${repo}: pass --yes`);
    }
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question("Rewrite the history? [y/N] ");
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) throw new UserError("nothing was changed: the rewrite was not confirmed");
  }

  // The log is opened first, so that no history is rewritten that could not then be logged.
  const target = options.auditDb ?? process.env.ENCLAVE_AUDIT_DB;
  let log: AuditLog | undefined;
  try {
    if (target !== undefined && target !== "") log = await AuditLog.open(target);
  } catch (e) {
    const why = e instanceof AuditError || e instanceof Error ? e.message : String(e);
    throw new UserError(`cannot open the audit log ${target}: ${why}; nothing was changed`);
  }
  // Likewise the store, and the workspace is checked to exist: a leak cleaned is never left without its incident for a typo.
  let store: Store | undefined;
  try {
    if (storeUrl !== undefined) {
      store = await Store.open(storeUrl);
      if (!(await store.getWorkspace(options.workspace!))) throw new UsageError(`--workspace ${options.workspace}: the job server has no workspace of that name; nothing was changed`);
    }
  } catch (e) {
    await store?.close();
    await log?.close();
    if (e instanceof UsageError) throw e;
    throw new UserError(`cannot open the job server's database ${storeUrl}: ${(e as Error).message}; nothing was changed`);
  }
  let result: CleanResult | undefined;
  let failure: Error | undefined;
  try {
    result = await cleanRepository(plan);
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
  }
  const actor = options.actor ?? currentUser();
  const repoName = plan.remotes.get("origin") ?? plan.repository.dir;
  let incident: Incident | undefined;
  let incidentFailure: string | undefined;
  // With the job server's database, its entries go through its outbox (the
  // incident's in the incident's own transaction), and wait there if the log
  // is not given or refuses them; without it, straight to the log.
  const cleaned = { actor, action: "breach.clean", subject: `repo:${repoName}`, details: auditDetails(plan, result, failure) };
  try {
    if (store !== undefined) await store.recordAudit(cleaned);
    else await log?.append(cleaned);
  } catch (e) {
    process.stderr.write(`warning: the clean could not be recorded for the audit log${target ? ` ${target}` : ""}: ${(e as Error).message}\n`);
  }
  try {
    if (store !== undefined && result?.verified === true) {
      incident = await store.openIncident({ workspace: options.workspace!, repo: repoName, blobs: plan.blobs, refsRewritten: result.refsRewritten, refsDeleted: result.refsDeleted, openedBy: actor }, (i) => ({
        actor,
        action: "incident.open",
        subject: `incident:${i.id}`,
        details: { workspace: i.workspace, project: i.project, repo: repoName, blobs: plan.blobs.map((b) => b.id) },
      }));
    }
    if (store !== undefined && log !== undefined) {
      await store.flushAudit(log).catch((e: unknown) => {
        process.stderr.write(`warning: the audit entries could not be moved into the audit log ${target} (${(e as Error).message}); they are kept in the job server's database: run \`enclave admin flush-audit\` once the log is reachable\n`);
      });
    }
  } catch (e) {
    incidentFailure = e instanceof StoreError || e instanceof AuditError || e instanceof Error ? e.message : String(e);
  } finally {
    await store?.close();
    await log?.close();
  }
  if (failure !== undefined) {
    if (failure instanceof CleanRefused || failure instanceof GitError) throw new UserError(`the rewrite of ${repo} failed: ${failure.message}`);
    throw failure;
  }
  const r = result!;
  process.stdout.write(describeResult(plan, r));
  if (incident !== undefined) {
    process.stdout.write(
      `\nIncident ${incident.id} is open on the job server: workspace ${incident.workspace} takes no job requests and nothing is published from it until staff close the incident (/staff/incidents), once every copy is clean.\n`,
    );
  }
  if (!r.verified) throw new UserError(`${repo} is not clean: ${r.problems.length === 1 ? "a blob is" : "blobs are"} still there`, r.problems);
  if (incidentFailure !== undefined) {
    throw new UserError(`${repo} is clean, but the incident for workspace ${options.workspace} could not be opened: ${incidentFailure}`, [
      "the workspace is not restricted: archive it on the job server (its page, or POST /api/v1/workspaces/NAME/archive) and tell the job server's staff, until the incident can be opened",
    ]);
  }
}

function describePlan(plan: CleanPlan): string {
  const how = plan.method === "filter-repo" ? "git filter-repo" : "git fast-export | git fast-import";
  const lines = [`Rewriting the history of ${plan.repository.dir} (${plan.refs} ${plan.refs === 1 ? "ref" : "refs"}) with ${how}, to remove:`];
  for (const b of plan.blobs) lines.push(`  blob ${b.id} (${formatBytes(b.size)})${b.paths.length > 0 ? ` at ${b.paths.join(", ")}` : ", reachable from no commit"}`);
  lines.push("Every commit that holds one of them, and every commit after it, gets a new id; reflogs are expired (but the stash's).");
  return lines.join("\n") + "\n";
}

function describeResult(plan: CleanPlan, r: CleanResult): string {
  const lines = [""];
  lines.push(`Rewritten: ${r.refsRewritten.length === 0 ? "no ref" : r.refsRewritten.join(", ")}.`);
  if (r.refsDeleted.length > 0) lines.push(`Deleted: ${r.refsDeleted.join(", ")}.`);
  if (r.verified) lines.push(`Verified: no ref, reflog or index reaches the ${plan.blobs.length === 1 ? "blob" : "blobs"}, and git cat-file -e finds none of them in ${plan.repository.dir}.`);
  else for (const p of r.problems) lines.push(`NOT CLEAN: ${p}`);
  lines.push("", ...nextSteps(plan, r));
  return lines.join("\n") + "\n";
}

function auditDetails(plan: CleanPlan, r: CleanResult | undefined, failure: Error | undefined): JsonObject {
  const details: JsonObject = {
    path: plan.repository.dir,
    method: plan.method,
    blobs: plan.blobs.map((b) => ({ id: b.id, size: b.size, paths: b.paths })),
    refs_rewritten: r?.refsRewritten ?? [],
    refs_deleted: r?.refsDeleted ?? [],
    verified: r?.verified ?? false,
  };
  if (r !== undefined && r.problems.length > 0) details.problems = r.problems;
  if (failure !== undefined) details.error = failure.message;
  return details;
}
