// `enclave airlock`: runs Airlock, the service inside the backend where
// researchers ask for level 4 files to be released and output checkers review
// them, with its uploader, until Ctrl-C or SIGTERM. People log in with their
// job server accounts, through the job server. The backend's token never
// comes from the command line, where `ps` shows it to every user of the
// machine: it comes from ENCLAVE_BACKEND_TOKEN or a file.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { JobServerError, startAirlockServer } from "../airlock/index.js";
import { AuditError } from "../audit/index.js";
import { UserError } from "./errors.js";
import { addressInUse, parsePort, readBackendToken, stopOnSignal } from "./service.js";

interface Options {
  jobServer: string;
  backend: string;
  agentDir: string;
  dir: string;
  db?: string;
  auditDb?: string;
  host: string;
  port: string;
  tokenFile?: string;
  secureCookies?: boolean;
}

export function registerAirlock(program: Command): void {
  program
    .command("airlock")
    .description("Run Airlock inside the backend: level 4 outputs, release requests, output checking, and the upload of approved files to the job server.")
    .requiredOption("--job-server <url>", "the job server's URL")
    .requiredOption("--backend <name>", "this backend's name on the job server")
    .requiredOption("--agent-dir <dir>", "the agent's folder (its --dir): workspaces/ with the manifests and logs, level4/, and the repository mirrors")
    .requiredOption("--dir <dir>", "Airlock's own folder: the requests' copies of files and the projects' ledgers")
    .option("--db <url>", "Airlock's database: a SQLite file or a postgresql:// URL (default: <dir>/airlock.db)")
    .option("--audit-db <url>", "the audit log: a SQLite file or a postgresql:// URL (default: <dir>/audit.db)")
    .option("--host <address>", "the address to listen on; anything but loopback exposes Airlock", "127.0.0.1")
    .option("--port <number>", "the port to listen on (0: any free port)", "8100")
    .option("--token-file <file>", "a file holding the backend's token (default: $ENCLAVE_BACKEND_TOKEN)")
    .option("--secure-cookies", "mark the session cookie Secure (say so when people reach Airlock over HTTPS)")
    .addHelpText(
      "after",
      "\nThe token is never given on the command line, where other users of the machine could\n" +
        "see it: set ENCLAVE_BACKEND_TOKEN, or give --token-file.\n" +
        "\nExample:\n" +
        "  ENCLAVE_BACKEND_TOKEN=... enclave airlock --job-server https://jobs.example.org \\\n" +
        "    --backend tpp --agent-dir /srv/enclave --dir /srv/airlock",
    )
    .action(async (opts: Options) => airlockCommand(opts));
}

async function airlockCommand(opts: Options): Promise<void> {
  const port = parsePort(opts.port);
  if (!fs.existsSync(path.join(opts.agentDir, "workspaces"))) throw new UserError(`--agent-dir ${opts.agentDir} is not an agent's folder: it has no workspaces/ folder (give the agent's --dir)`);
  const token = readBackendToken(opts.tokenFile, "airlock");
  // Nothing Airlock starts (git, to read the mirrors) needs it.
  delete process.env.ENCLAVE_BACKEND_TOKEN;
  let server;
  try {
    server = await startAirlockServer({
      jobServer: opts.jobServer,
      backend: opts.backend,
      token,
      agentDir: opts.agentDir,
      airlockDir: opts.dir,
      storeUrl: opts.db ?? path.join(opts.dir, "airlock.db"),
      auditUrl: opts.auditDb ?? path.join(opts.dir, "audit.db"),
      host: opts.host,
      port,
      secureCookies: opts.secureCookies ?? false,
    });
  } catch (e) {
    if (e instanceof JobServerError || e instanceof AuditError) throw new UserError(e.message);
    throw addressInUse(e, opts.host, opts.port) ?? e;
  }
  process.stdout.write(`airlock listening on ${server.url}\n`);
  await stopOnSignal(() => server.close());
  process.stdout.write("airlock stopped\n");
}
