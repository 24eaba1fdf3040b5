// `enclave audit verify|head|append|show`: the operator's view of the audit
// log. The services write to it through src/audit; this is for checking it,
// publishing its head, and (for operators and tests) writing an entry by hand.

import type { Command } from "commander";
import { type Anchor, AuditError, AuditLog, type JsonObject, parseAnchor } from "../audit/index.js";
import { UsageError, UserError } from "./errors.js";

const DB_HELP = "the audit log: a SQLite file, sqlite:///path.db, or a postgresql:// URL (default: $ENCLAVE_AUDIT_DB, else ./enclave-audit.db)";

function target(db: string | undefined): string {
  return db ?? process.env.ENCLAVE_AUDIT_DB ?? "enclave-audit.db";
}

/** Opens the log; reading commands never create one, so a mistyped path is an error, not an empty log that verifies. */
async function open(db: string | undefined, create: boolean): Promise<AuditLog> {
  try {
    return await AuditLog.open(target(db), { create });
  } catch (e) {
    if (e instanceof AuditError) throw new UserError(e.message);
    throw e;
  }
}

async function using<T>(log: AuditLog, fn: (log: AuditLog) => Promise<T>): Promise<T> {
  try {
    return await fn(log);
  } catch (e) {
    if (e instanceof AuditError) throw new UserError(e.message);
    throw e;
  } finally {
    await log.close();
  }
}

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("Check and read the hash-chained audit log of every operation.");

  audit
    .command("verify")
    .description("Check every entry of the audit log and the chain that links them.")
    .option("--db <url>", DB_HELP)
    .option("--anchor <head>", "a head printed earlier by `enclave audit head`: also check that the log still holds it (catches entries removed from the end)")
    .addHelpText("after", "\nPrints `audit log OK: N entries, head <hash>`, or each problem with its entry\nand exits with 1.\n\nExample:\n  enclave audit verify --anchor \"$(cat published-head.txt)\"")
    .action(async (opts: { db?: string; anchor?: string }) => {
      let anchor: Anchor | undefined;
      if (opts.anchor !== undefined) {
        try {
          anchor = parseAnchor(opts.anchor);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      const result = await using(await open(opts.db, false), (log) => log.verify({ anchor }));
      if (result.ok) {
        process.stdout.write(`audit log OK: ${result.entries} ${result.entries === 1 ? "entry" : "entries"}, head ${result.head}\n`);
        return;
      }
      for (const p of result.problems) process.stdout.write(`entry ${p.seq}: ${p.problem}\n`);
      const n = result.problems.length;
      throw new UserError(`the audit log is not intact: ${n} ${n === 1 ? "problem" : "problems"} in ${result.entries} entries`);
    });

  audit
    .command("head")
    .description("Print the last entry's seq and hash, to publish elsewhere and give to `verify --anchor` later.")
    .option("--db <url>", DB_HELP)
    .action(async (opts: { db?: string }) => {
      const head = await using(await open(opts.db, false), (log) => log.head());
      process.stdout.write(`${head.seq} ${head.hash}\n`);
    });

  audit
    .command("append")
    .description("Add an entry by hand (for operators and tests; the services append their own).")
    .option("--db <url>", DB_HELP)
    .requiredOption("--actor <actor>", "who: a user id, agent:<backend>, or system")
    .requiredOption("--action <action>", "what, dotted: login, role.grant, project.status, job_request.create, ...")
    .requiredOption("--subject <subject>", "what it is about: project:12, job:abc, ...")
    .option("--details <json>", "a JSON object", "{}")
    .action(async (opts: { db?: string; actor: string; action: string; subject: string; details: string }) => {
      let details: unknown;
      try {
        details = JSON.parse(opts.details);
      } catch (e) {
        throw new UsageError(`--details is not JSON: ${(e as Error).message}`);
      }
      if (typeof details !== "object" || details === null || Array.isArray(details)) throw new UsageError("--details must be a JSON object, like '{\"role\":\"researcher\"}'");
      const entry = await using(await open(opts.db, true), (log) => log.append({ actor: opts.actor, action: opts.action, subject: opts.subject, details: details as JsonObject }));
      process.stdout.write(`${entry.seq} ${entry.hash}\n`);
    });

  audit
    .command("show")
    .description("Print the entries, oldest first: seq, time, actor, action, subject, details.")
    .option("--db <url>", DB_HELP)
    .option("--since <seq>", "start at this entry", "1")
    .option("--json", "one JSON object per line, with every field")
    .action(async (opts: { db?: string; since: string; json?: boolean }) => {
      if (!/^\d+$/.test(opts.since)) throw new UsageError(`--since must be an entry number, not ${JSON.stringify(opts.since)}`);
      const entries = await using(await open(opts.db, false), (log) => log.entries(Number(opts.since)));
      for (const e of entries) {
        process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : `${e.seq}\t${e.timestamp}\t${e.actor}\t${e.action}\t${e.subject}\t${JSON.stringify(e.details)}\n`);
      }
    });
}
