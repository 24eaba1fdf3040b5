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
import { UsageError, UserError } from "./errors.js";

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

function readToken(file: string | undefined): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      throw new UserError(`cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const token = text.trim();
    if (token === "") throw new UserError(`the token file ${file} is empty`);
    return token;
  }
  const token = process.env.ENCLAVE_BACKEND_TOKEN?.trim();
  if (!token) throw new UsageError("airlock needs the backend's token: set ENCLAVE_BACKEND_TOKEN, or give --token-file FILE (never on the command line, where ps shows it)");
  return token;
}

async function airlockCommand(opts: Options): Promise<void> {
  if (!/^\d{1,5}$/.test(opts.port) || Number(opts.port) > 65535) throw new UsageError(`--port ${JSON.stringify(opts.port)}: give a port number from 0 to 65535`);
  if (!fs.existsSync(path.join(opts.agentDir, "workspaces"))) throw new UserError(`--agent-dir ${opts.agentDir} is not an agent's folder: it has no workspaces/ folder (give the agent's --dir)`);
  const token = readToken(opts.tokenFile);
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
      port: Number(opts.port),
      secureCookies: opts.secureCookies ?? false,
    });
  } catch (e) {
    if (e instanceof JobServerError || e instanceof AuditError) throw new UserError(e.message);
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") throw new UserError(`${opts.host}:${opts.port} is in use: choose another --port`);
    throw e;
  }
  process.stdout.write(`airlock listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void server.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  process.stdout.write("airlock stopped\n");
}
