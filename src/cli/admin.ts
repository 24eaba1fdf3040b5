// `enclave admin ...`: the operator's commands for the job server's state
// (users, orgs, projects, members, roles, backends). Each change records its
// audit entry in its own transaction (the store's outbox), which is then moved
// into the audit log; secrets (passwords, tokens) are printed once and
// never written to either database in the clear nor to the log.

import type { Command } from "commander";
import { AuditError, AuditLog, type JsonObject } from "../audit/index.js";
import {
  type AuditNote,
  type GlobalRole,
  type ProjectCategory,
  type ProjectRole,
  type ProjectStatus,
  PROJECT_CATEGORIES,
  PROJECT_STATUSES,
  ROLES,
  Store,
  StoreError,
  isGlobalRole,
  isProjectRole,
  isRole,
} from "../jobserver/store.js";
import { generatePassword } from "../jobserver/passwords.js";
import { UsageError, UserError } from "./errors.js";
import { registerPrepareSqlrunner } from "./admin-sqlrunner.js";

interface Common {
  db?: string;
  auditDb?: string;
  actor: string;
}

const DB_HELP = "the job server's database: a SQLite file, sqlite:///path.db, or a postgresql:// URL (default: $ENCLAVE_DB, else ./enclave.db)";
const AUDIT_HELP = "the audit log (default: $ENCLAVE_AUDIT_DB, else ./enclave-audit.db)";

function common(cmd: Command): Command {
  return cmd.option("--db <url>", DB_HELP).option("--audit-db <url>", AUDIT_HELP).option("--actor <actor>", "who is acting, for the audit log", "system");
}

type Entry = (action: string, subject: string, details?: JsonObject) => AuditNote;

/**
 * Opens both databases and runs the change, which hands `entry(...)` to the
 * store call it makes: the entry is recorded in that call's transaction and
 * then moved into the log. Should the move fail, the change stands and its
 * entry waits in the store, for `enclave admin flush-audit` or the job server's
 * next start.
 */
async function change(opts: Common, fn: (store: Store, entry: Entry) => Promise<void>): Promise<void> {
  const problems: Error[] = [];
  await withDatabases(opts, async (store, log) => {
    store.attachAuditLog(log, (e) => problems.push(e));
    await fn(store, (action, subject, details = {}) => ({ actor: opts.actor, action, subject, details }));
  });
  if (problems.length > 0) {
    process.stderr.write(`warning: the change was made, but its audit entry could not be moved into the audit log (${problems[0]!.message}); it is kept in the job server's database: run \`enclave admin flush-audit\` once the log is reachable\n`);
  }
}

/** Opens the audit log, then the job server's store (so that nothing is changed when the log cannot even be reached), runs fn, and closes both. */
async function withDatabases(opts: Common, fn: (store: Store, log: AuditLog) => Promise<void>): Promise<void> {
  let store: Store | undefined;
  let log: AuditLog | undefined;
  try {
    log = await AuditLog.open(opts.auditDb ?? process.env.ENCLAVE_AUDIT_DB ?? "enclave-audit.db");
    store = await Store.open(opts.db ?? process.env.ENCLAVE_DB ?? "enclave.db");
    await fn(store, log);
  } catch (e) {
    if (e instanceof StoreError || e instanceof AuditError) throw new UserError(e.message);
    throw e;
  } finally {
    await store?.close();
    await log?.close();
  }
}

function projectNumber(text: string): number {
  if (!/^[1-9]\d*$/.test(text)) throw new UsageError(`a project is given by its number, not ${JSON.stringify(text)}`);
  return Number(text);
}

function roleList(roles: readonly string[]): string {
  return `the roles are ${roles.join(", ")}`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // One trailing newline is how `echo` and files end; anything else is the password.
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

export function registerAdmin(program: Command): void {
  const admin = program.command("admin").description("Manage the job server's users, orgs, projects, roles and backends (operators only).");
  registerPrepareSqlrunner(admin);

  common(admin.command("create-user").description("Create a local account."))
    .argument("<username>")
    .option("--staff", "a member of staff (may use the staff area, given a role)")
    .option("--full-name <name>", "the person's name", "")
    .option("--email <address>", "their email address", "")
    .option("--password-stdin", "read the password from standard input; otherwise one is generated and printed once")
    .action(async (username: string, opts: Common & { staff?: boolean; fullName: string; email: string; passwordStdin?: boolean }) => {
      const password = opts.passwordStdin ? await readStdin() : generatePassword();
      if (password === "") throw new UsageError("the password read from standard input is empty");
      await change(opts, async (store, entry) => {
        await store.createUser({ username, password, fullName: opts.fullName, email: opts.email, isStaff: opts.staff ?? false }, (user) => entry("user.create", `user:${user.username}`, { is_staff: user.isStaff, full_name: user.fullName, email: user.email }));
      });
      process.stdout.write(`created user ${username}\n`);
      if (!opts.passwordStdin) process.stdout.write(`password: ${password}\n(shown once: it is stored only as a hash)\n`);
    });

  common(admin.command("create-org").description("Create an organisation."))
    .argument("<name>")
    .action(async (name: string, opts: Common) => {
      await change(opts, async (store, entry) => {
        await store.createOrg(name, (org) => entry("org.create", `org:${org.name}`));
      });
      process.stdout.write(`created org ${name}\n`);
    });

  common(admin.command("create-project").description("Create a project (status ongoing)."))
    .argument("<number>", "the project's number")
    .argument("<name>")
    .requiredOption("--org <org>", "the organisation that owns it")
    .option("--category <category>", `one of: ${PROJECT_CATEGORIES.join(", ")}`, "approved")
    .action(async (numberText: string, name: string, opts: Common & { org: string; category: string }) => {
      const number = projectNumber(numberText);
      if (!(PROJECT_CATEGORIES as readonly string[]).includes(opts.category)) throw new UsageError(`unknown category ${JSON.stringify(opts.category)}: use one of ${PROJECT_CATEGORIES.map((c) => JSON.stringify(c)).join(", ")}`);
      await change(opts, async (store, entry) => {
        await store.createProject({ number, name, org: opts.org, category: opts.category as ProjectCategory }, (p) => entry("project.create", `project:${p.number}`, { name: p.name, org: p.org, category: p.category, status: p.status }));
      });
      process.stdout.write(`created project ${number}\n`);
    });

  common(admin.command("add-member").description("Make a user a member of a project, with project roles."))
    .argument("<project>", "the project's number")
    .argument("<user>")
    .requiredOption("--role <role...>", `project roles: ${ROLES.filter(isProjectRole).join(", ")}`)
    .action(async (projectText: string, username: string, opts: Common & { role: string[] }) => {
      const project = projectNumber(projectText);
      for (const r of opts.role) {
        if (!isProjectRole(r)) throw new UsageError(isGlobalRole(r) ? `${r} is a global role, not a project role: use \`enclave admin grant-role ${username} ${r}\`` : `unknown role ${JSON.stringify(r)}: project ${roleList(ROLES.filter(isProjectRole))}`);
      }
      await change(opts, async (store, entry) => {
        await store.addMember(project, username, opts.role as ProjectRole[], (m) => entry("membership.add", `project:${project}`, { user: username, roles: opts.role, holds: m.roles }));
      });
      process.stdout.write(`${username} is a member of project ${project} with ${opts.role.join(", ")}\n`);
    });

  common(admin.command("grant-role").description("Grant a role: a global role, or with --project a project role."))
    .argument("<user>")
    .argument("<role>")
    .option("--project <number>", "for a project role: the project")
    .action(async (username: string, role: string, opts: Common & { project?: string }) => {
      if (!isRole(role)) throw new UsageError(`unknown role ${JSON.stringify(role)}: ${roleList(ROLES)}`);
      if (isProjectRole(role) && opts.project === undefined) throw new UsageError(`${role} is a project role: give --project NUMBER`);
      if (isGlobalRole(role) && opts.project !== undefined) throw new UsageError(`${role} is a global role: it takes no --project`);
      const project = opts.project === undefined ? undefined : projectNumber(opts.project);
      await change(opts, async (store, entry) => {
        if (project !== undefined) await store.addMember(project, username, [role as ProjectRole], entry("role.grant", `user:${username}`, { role, project }));
        else await store.grantGlobalRole(username, role as GlobalRole, entry("role.grant", `user:${username}`, { role }));
      });
      process.stdout.write(`granted ${role} to ${username}${project === undefined ? "" : ` in project ${project}`}\n`);
    });

  common(admin.command("set-project-status").description("Set a project's status; members lose job running and level 4 access at once when it is not ongoing."))
    .argument("<project>", "the project's number")
    .argument("<status>", PROJECT_STATUSES.join(" | "))
    .action(async (projectText: string, status: string, opts: Common) => {
      const project = projectNumber(projectText);
      if (!(PROJECT_STATUSES as readonly string[]).includes(status)) throw new UsageError(`unknown status ${JSON.stringify(status)}: use one of ${PROJECT_STATUSES.join(", ")}`);
      await change(opts, async (store, entry) => {
        await store.setProjectStatus(project, status as ProjectStatus, ({ previous }) => entry("project.status", `project:${project}`, { from: previous, to: status }));
      });
      process.stdout.write(`project ${project} is ${status}\n`);
    });

  common(admin.command("create-backend").description("Create a backend and print its token (once)."))
    .argument("<name>")
    .action(async (name: string, opts: Common) => {
      let token = "";
      await change(opts, async (store, entry) => {
        ({ token } = await store.createBackend(name, entry("backend.create", `backend:${name}`)));
      });
      process.stdout.write(`created backend ${name}\ntoken: ${token}\n(shown once: it is stored only as a hash)\n`);
    });

  common(admin.command("rotate-backend-token").description("Give a backend a new token; the old one stops working at once."))
    .argument("<name>")
    .action(async (name: string, opts: Common) => {
      let token = "";
      await change(opts, async (store, entry) => {
        token = await store.rotateBackendToken(name, entry("backend.rotate_token", `backend:${name}`));
      });
      process.stdout.write(`new token for backend ${name}: ${token}\n(shown once: the old token no longer works)\n`);
    });

  common(admin.command("flush-audit").description("Move audit entries still waiting in the job server's database (after a crash, or while the log was unreachable) into the audit log."))
    .action(async (opts: Common) => {
      await withDatabases(opts, async (store, log) => {
        const moved = await store.flushAudit(log);
        process.stdout.write(`moved ${moved} audit ${moved === 1 ? "entry" : "entries"} into the audit log\n`);
      });
    });
}
