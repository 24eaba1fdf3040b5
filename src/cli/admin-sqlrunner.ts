// `enclave admin prepare-sqlrunner`: the operator makes the PostgreSQL roles
// the SQL runner connects as, one per scope variant, each able to read only
// views that leave out the patients its scope excludes (see
// engines/sql/restricted.ts). The change is appended to the audit log; the
// password is printed once, in the DSNs, and stored nowhere by Enclave.

import type { Command } from "commander";
import { AuditError, AuditLog } from "../audit/index.js";
import {
  type OptOutVariant,
  type PreparedRole,
  RESTRICTED_ROLE_PREFIX,
  RestrictedSessionError,
  dropRestrictedRoles,
  prepareRestrictedRoles,
  restrictedDsn,
  scrub,
} from "../engines/sql/index.js";
import { tppTables } from "../language/tables/tpp.js";
import { generatePassword } from "../jobserver/passwords.js";
import { UsageError, UserError } from "./errors.js";

interface Options {
  database: string;
  schema: string;
  prefix: string;
  passwordStdin?: boolean;
  drop?: boolean;
  auditDb?: string;
  actor: string;
}

/** Adds `prepare-sqlrunner` to `enclave admin`. */
export function registerPrepareSqlrunner(admin: Command): void {
  admin
    .command("prepare-sqlrunner")
    .description("Make (or remake) the PostgreSQL roles the SQL runner connects as: one per opt-out scope, each reading only views without the patients it excludes.")
    .requiredOption("--database <dsn>", "the patient database, as a role that may create roles and reads the base tables (postgresql://...)")
    .option("--schema <name>", "the schema of the base tables", "public")
    .option("--prefix <name>", "the start of the role and schema names", RESTRICTED_ROLE_PREFIX)
    .option("--password-stdin", "read the roles' password from standard input; otherwise one is generated and printed once")
    .option("--drop", "drop the roles and their schemas instead")
    .option("--audit-db <url>", "the audit log (default: $ENCLAVE_AUDIT_DB, else ./enclave-audit.db)")
    .option("--actor <actor>", "who is acting, for the audit log", "system")
    .action(async (opts: Options) => {
      await prepareSqlrunnerCommand(opts, (text) => process.stdout.write(text));
    });
}

async function prepareSqlrunnerCommand(opts: Options, out: (text: string) => void): Promise<void> {
  if (!/^postgres(ql)?:\/\//i.test(opts.database)) {
    throw new UsageError("--database must be a PostgreSQL DSN (postgresql://...): restricted roles are a PostgreSQL feature (the DSN itself is not shown: it may hold a password)");
  }
  const password = opts.drop ? "" : opts.passwordStdin ? await readStdin() : generatePassword();
  if (!opts.drop && password === "") throw new UsageError("the password read from standard input is empty");
  const target = databaseName(opts.database);

  let log: AuditLog | undefined;
  try {
    // The log is opened first, so no change is made that could not then be logged.
    log = await AuditLog.open(opts.auditDb ?? process.env.ENCLAVE_AUDIT_DB ?? "enclave-audit.db");
    if (opts.drop) {
      await dropRestrictedRoles(opts.database, { prefix: opts.prefix });
      await log.append({ actor: opts.actor, action: "sqlrunner.drop_roles", subject: target, details: { prefix: opts.prefix } });
      out(`dropped the sqlrunner roles ${opts.prefix}* and their schemas\n`);
      return;
    }
    const restrictedTables = Object.fromEntries(Object.values(tppTables).flatMap((t) => (t.requiredPermission ? [[t.name, t.requiredPermission]] : [])));
    const roles = await prepareRestrictedRoles(opts.database, { password, prefix: opts.prefix, schema: opts.schema, restrictedTables });
    await log.append({
      actor: opts.actor,
      action: "sqlrunner.prepare_roles",
      subject: target,
      details: { schema: opts.schema, prefix: opts.prefix, roles: roles.map((r) => ({ role: r.role, includes: includes(r.variant), tables: [...r.tables] })) },
    });
    out(report(roles, opts, password));
  } catch (e) {
    if (e instanceof RestrictedSessionError || e instanceof AuditError) throw new UserError(e.message);
    if (e instanceof Error && !(e instanceof UserError)) throw new UserError(`could not prepare the sqlrunner roles: ${scrub(e.message, opts.database)}`);
    throw e;
  } finally {
    await log?.close();
  }
}

function includes(v: OptOutVariant): string[] {
  return [...(v.includeT1oo ? ["include_t1oo"] : []), ...(v.includeNdoo ? ["include_ndoo"] : [])];
}

function report(roles: readonly PreparedRole[], opts: Options, password: string): string {
  const width = Math.max(...roles.map((r) => r.role.length));
  const lines = roles.map((r) => {
    const scope = includes(r.variant);
    const dsn = restrictedDsn(withPassword(opts.database, password), { permissions: scope }, opts.prefix);
    return `  ${r.role.padEnd(width)}  scope ${JSON.stringify(scope).padEnd(33)}  ${r.tables.length} ${r.tables.length === 1 ? "view " : "views"}  ${dsn}`;
  });
  return [
    `prepared ${roles.length} sqlrunner roles over the tables of schema ${opts.schema}; give a sqlrunner action the DSN for its project's scope as DATABASE_URL:`,
    ...lines,
    opts.passwordStdin ? "(the password is the one read from standard input)" : "(the password in these DSNs is shown once: Enclave stores it nowhere)",
    "",
  ].join("\n");
}

function withPassword(dsn: string, password: string): string {
  const url = new URL(dsn);
  url.password = password;
  return url.href;
}

/** The database a DSN names, for the audit log: host, port and name, never the credentials. */
function databaseName(dsn: string): string {
  try {
    const url = new URL(dsn);
    return `database:${url.host}${url.pathname}`;
  } catch {
    throw new UsageError("--database is not a URL (the DSN itself is not shown: it may hold a password)");
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // One trailing newline is how `echo` and files end; anything else is the password.
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}
