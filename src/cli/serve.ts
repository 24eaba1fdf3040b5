// `enclave serve`: the job server and one agent in one process, for a single
// machine (a demo, a small deployment, the end-to-end tests). The two still talk
// only through the agent protocol over 127.0.0.1, exactly as they would across
// the backend's boundary, so nothing here is a shortcut the split deployment
// lacks.
//
// The agent needs the backend's token, which is stored hashed and so cannot be
// read back: unless ENCLAVE_BACKEND_TOKEN is set, serve creates the backend if
// it is missing, or rotates its token, and hands the new token to its own agent
// in memory (the rotation is audited). An agent elsewhere serving the same
// backend then needs the new token: run that kind of deployment with
// `enclave jobserver` and `enclave agent` instead.

import type { Command } from "commander";
import { AgentError, DEFAULT_MAX_DATABASE_WORKERS, DEFAULT_MAX_WORKERS, startAgent } from "../agent/index.js";
import { AuditError, AuditLog } from "../audit/index.js";
import { Store, StoreError, startJobServer } from "../jobserver/index.js";
import { UsageError, UserError } from "./errors.js";
import { allowedRepos, allowedReposOption } from "./jobserver.js";
import { addressInUse, stopOnSignal } from "./service.js";

interface ServeOptions {
  db?: string;
  auditDb?: string;
  host: string;
  port: string;
  dir: string;
  database?: string;
  sqlrunnerDatabase?: string;
  backend: string;
  name?: string;
  maxWorkers: string;
  maxDatabaseWorkers: string;
  releasesDir?: string;
  allowedRepos?: string[];
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("Run the job server and an agent together on one machine (the agent reaches the server over 127.0.0.1).")
    .requiredOption("--dir <dir>", "the agent's folder: workspaces/ (level 3), level4/, repository mirrors, checkouts, its audit log")
    .option("--database <dsn>", "the backend's database: sqlite:///path, duckdb:///path or postgresql://... (default: $DATABASE_URL)")
    .option("--sqlrunner-database <dsn>", "PostgreSQL backends: the SQL runner's restricted DSN (default: $ENCLAVE_SQLRUNNER_DATABASE_URL)")
    .option("--backend <name>", "the backend's name on the job server (created if missing)", "local")
    .option("--name <agent>", "the agent's name (default: <backend>-agent)")
    .option("--db <url>", "the job server's database (default: $ENCLAVE_DB, else ./enclave.db)")
    .option("--audit-db <url>", "the job server's audit log (default: $ENCLAVE_AUDIT_DB, else ./enclave-audit.db)")
    .option("--host <address>", "the address the job server listens on", "127.0.0.1")
    .option("--port <number>", "the job server's port (0: any free port)", "8000")
    .option("--releases-dir <dir>", "where the job server keeps released files (default: enclave-releases beside a SQLite --db, else ./enclave-releases)")
    .addOption(allowedReposOption())
    .option("--max-workers <n>", "actions running at once", String(DEFAULT_MAX_WORKERS))
    .option("--max-database-workers <n>", "database actions running at once", String(DEFAULT_MAX_DATABASE_WORKERS))
    .action(async (opts: ServeOptions) => serve(opts));
}

function whole(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`${name} ${JSON.stringify(value)}: give a whole number from ${min} to ${max}`);
  return Number(value);
}

async function serve(opts: ServeOptions): Promise<void> {
  const port = whole("--port", opts.port, 0, 65535);
  const maxWorkers = whole("--max-workers", opts.maxWorkers, 1);
  const maxDatabaseWorkers = whole("--max-database-workers", opts.maxDatabaseWorkers, 1);
  const places = allowedRepos(opts.allowedRepos);
  const database = opts.database ?? process.env.DATABASE_URL;
  if (!database) throw new UsageError("serve needs the backend's database: give --database DSN, or set DATABASE_URL");
  const sqlrunnerDatabase = opts.sqlrunnerDatabase ?? process.env.ENCLAVE_SQLRUNNER_DATABASE_URL;
  let token = process.env.ENCLAVE_BACKEND_TOKEN?.trim();
  // Nothing started from here on needs them in the environment.
  for (const v of ["DATABASE_URL", "ENCLAVE_SQLRUNNER_DATABASE_URL", "ENCLAVE_BACKEND_TOKEN"]) delete process.env[v];

  let audit: AuditLog | undefined;
  let store: Store | undefined;
  let server: Awaited<ReturnType<typeof startJobServer>> | undefined;
  try {
    audit = await AuditLog.open(opts.auditDb ?? process.env.ENCLAVE_AUDIT_DB ?? "enclave-audit.db");
    store = await Store.open(opts.db ?? process.env.ENCLAVE_DB ?? "enclave.db");
    if (!token) {
      const exists = (await store.listBackends()).some((b) => b.name === opts.backend);
      token = exists ? await store.rotateBackendToken(opts.backend) : (await store.createBackend(opts.backend)).token;
      await audit.append({ actor: "enclave serve", action: exists ? "backend.rotate_token" : "backend.create", subject: `backend:${opts.backend}`, details: { reason: "a token for serve's own agent" } });
    }
    server = await startJobServer({
      store,
      auditLog: audit,
      host: opts.host,
      port,
      ...(opts.releasesDir !== undefined ? { releasesDir: opts.releasesDir } : {}),
      ...(places !== undefined ? { allowedRepos: places } : {}),
    });
  } catch (e) {
    await server?.close();
    await store?.close();
    await audit?.close();
    if (e instanceof StoreError || e instanceof AuditError) throw new UserError(e.message);
    throw addressInUse(e, opts.host, opts.port) ?? e;
  }
  const closeServer = async () => {
    await server!.close();
    await store!.close();
    await audit!.close();
  };

  let agent;
  try {
    agent = await startAgent({
      server: server.url,
      backend: opts.backend,
      token,
      name: opts.name ?? `${opts.backend}-agent`,
      dir: opts.dir,
      database,
      ...(sqlrunnerDatabase ? { sqlrunnerDatabase } : {}),
      maxWorkers,
      maxDatabaseWorkers,
    });
  } catch (e) {
    await closeServer();
    if (e instanceof AgentError) throw new UserError(e.message);
    throw e;
  }
  process.stdout.write(`job server listening on ${server.url}\nagent ${opts.name ?? `${opts.backend}-agent`} serving backend ${opts.backend}, outputs in ${opts.dir}\n`);

  await stopOnSignal(async () => {
    await agent.stop();
    await closeServer();
  }, "stopping: cancelling the running requests, then closing the job server (Ctrl-C again to quit at once)");
}
