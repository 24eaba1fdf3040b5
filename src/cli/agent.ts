// `enclave agent`: runs the secure backend's agent (agent/agent.ts) until
// Ctrl-C or SIGTERM, which stop it claiming, cancel what runs (reported to the
// job server as cancelled) and exit. It binds nothing: it only calls out to the
// job server. Secrets never come from the command line, where `ps` shows them
// to every user of the machine: the token comes from ENCLAVE_BACKEND_TOKEN or
// a file, and the database's DSN may come from DATABASE_URL.

import { type Command, InvalidArgumentError } from "commander";
import { AgentError, DEFAULT_MAX_DATABASE_WORKERS, DEFAULT_MAX_WORKERS, startAgent } from "../agent/index.js";
import { UsageError, UserError } from "./errors.js";
import { readBackendToken, stopOnSignal } from "./service.js";

interface AgentCommandOptions {
  server: string;
  backend: string;
  name: string;
  dir: string;
  database?: string;
  sqlrunnerDatabase?: string;
  tokenFile?: string;
  maxWorkers: number;
  maxDatabaseWorkers: number;
  auditDb?: string;
}

export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("Run the secure backend's agent: take job requests from the job server and run their actions, each in the sandbox.")
    .requiredOption("--server <url>", "the job server's URL")
    .requiredOption("--backend <name>", "this backend's name on the job server")
    .requiredOption("--name <agent>", "this agent's name: the same across restarts, unique in the backend")
    .requiredOption("--dir <dir>", "the agent's folder: workspaces/ (level 3), level4/, repository mirrors, checkouts, its audit log")
    .option("--database <dsn>", "the backend's database: sqlite:///path, duckdb:///path or postgresql://... (default: $DATABASE_URL)")
    .option("--token-file <file>", "a file holding the backend's token (default: $ENCLAVE_BACKEND_TOKEN)")
    .option("--max-workers <n>", "actions running at once, across all requests", positiveInteger, DEFAULT_MAX_WORKERS)
    .option("--sqlrunner-database <dsn>", "PostgreSQL backends: the SQL runner's restricted DSN for the strictest scope, as `enclave admin prepare-sqlrunner` prints it (default: $ENCLAVE_SQLRUNNER_DATABASE_URL)")
    .option("--max-database-workers <n>", "database actions running at once", positiveInteger, DEFAULT_MAX_DATABASE_WORKERS)
    .option("--audit-db <url>", "the agent's audit log: a SQLite file or a postgresql:// URL (default: <dir>/audit.db)")
    .addHelpText(
      "after",
      "\nThe token is never given on the command line, where other users of the machine could\n" +
        "see it: set ENCLAVE_BACKEND_TOKEN, or give --token-file. The same goes for a database\n" +
        "DSN that holds a password: prefer DATABASE_URL to --database.\n" +
        "\nOutputs go to <dir>/workspaces/<workspace>/ (level 3, with metadata/: logs, manifest)\n" +
        "and <dir>/level4/<workspace>/ (level 4). Several agents may serve one backend, each\n" +
        "with its own --dir and --name, if their workspaces/ and level4/ folders are the same\n" +
        "shared storage.\n" +
        "\nCtrl-C (or SIGTERM) stops claiming, cancels the running requests and exits.\n" +
        "\nExample:\n" +
        "  ENCLAVE_BACKEND_TOKEN=... DATABASE_URL=duckdb:///data/backend.duckdb \\\n" +
        "    enclave agent --server https://jobs.example.org --backend tpp --name agent-1 --dir /srv/enclave",
    )
    .action(async (opts: AgentCommandOptions) => agentCommand(opts));
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("Expected a whole number of at least 1.");
  return n;
}

async function agentCommand(opts: AgentCommandOptions): Promise<void> {
  const token = readBackendToken(opts.tokenFile, "the agent");
  const database = opts.database ?? process.env.DATABASE_URL;
  if (database === undefined || database === "") throw new UsageError("the agent needs the backend's database: give --database DSN, or set DATABASE_URL");
  // Nothing the agent starts needs them from here on (actions get a clean environment; git gets neither).
  delete process.env.ENCLAVE_BACKEND_TOKEN;
  delete process.env.DATABASE_URL;
  const sqlrunnerDatabase = opts.sqlrunnerDatabase ?? process.env.ENCLAVE_SQLRUNNER_DATABASE_URL;
  delete process.env.ENCLAVE_SQLRUNNER_DATABASE_URL;

  let agent;
  try {
    agent = await startAgent({
      server: opts.server,
      backend: opts.backend,
      name: opts.name,
      dir: opts.dir,
      token,
      database,
      ...(sqlrunnerDatabase ? { sqlrunnerDatabase } : {}),
      maxWorkers: opts.maxWorkers,
      maxDatabaseWorkers: opts.maxDatabaseWorkers,
      ...(opts.auditDb === undefined ? {} : { auditDb: opts.auditDb }),
    });
  } catch (e) {
    if (e instanceof AgentError) throw new UserError(e.message);
    throw e;
  }
  // A second Ctrl-C quits at once; the actions die with the agent (their parent-death signal).
  await stopOnSignal(() => agent.stop(), "stopping the agent: cancelling the running requests (Ctrl-C again to quit at once)");
}
