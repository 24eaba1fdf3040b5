// `enclave jobserver`: runs the job server (pages, JSON API, agent protocol,
// backend services' protocol) until interrupted. The same --db / --audit-db conventions as `enclave admin`.

import { type Command, Option } from "commander";
import { AuditError } from "../audit/index.js";
import { DEFAULT_ALLOWED_REPOS, RepoPlacesError, StoreError, repoPlaces, startJobServer } from "../jobserver/index.js";
import { type Policy, PolicyError, loadPolicy } from "../policy/index.js";
import { UsageError, UserError } from "./errors.js";
import { addressInUse, parsePort, stopOnSignal } from "./service.js";

interface Options {
  db?: string;
  auditDb?: string;
  host: string;
  port: string;
  secureCookies?: boolean;
  policyDir?: string;
  logCacheMs: string;
  releasesDir?: string;
  allowedRepos?: string[];
}

/** `--allowed-repos`, for `enclave jobserver` and `enclave serve`: where workspaces' repositories may be. */
export function allowedReposOption(): Option {
  return new Option(
    "--allowed-repos <places>",
    `where workspaces' repositories may be: address prefixes (https://github.com/opensafely/) and absolute folders (/srv/git/), comma-separated or repeated (default: $ENCLAVE_ALLOWED_REPOS, else ${DEFAULT_ALLOWED_REPOS.join(", ")} only)`,
  ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
}

/** The places from --allowed-repos or $ENCLAVE_ALLOWED_REPOS (undefined: the job server's default), checked before anything starts. */
export function allowedRepos(given: readonly string[] | undefined): string[] | undefined {
  const env = process.env.ENCLAVE_ALLOWED_REPOS;
  const from = given !== undefined ? "--allowed-repos" : "$ENCLAVE_ALLOWED_REPOS";
  const text = given ?? (env !== undefined && env.trim() !== "" ? [env] : undefined);
  if (text === undefined) return undefined;
  const places = text.flatMap((t) => t.split(",")).map((p) => p.trim()).filter((p) => p !== "");
  if (places.length === 0) throw new UsageError(`${from} names no location: give address prefixes or absolute folders, comma-separated`);
  try {
    repoPlaces(places);
  } catch (e) {
    if (e instanceof RepoPlacesError) throw new UsageError(`${from}: ${e.message}`);
    throw e;
  }
  return places;
}

export function registerJobserver(program: Command): void {
  program
    .command("jobserver")
    .description("Run the job server: the public job log, members' and staff pages, the JSON API and the agent protocol.")
    .option("--db <url>", "the job server's database: a SQLite file, sqlite:///path.db, or a postgresql:// URL (default: $ENCLAVE_DB, else ./enclave.db)")
    .option("--audit-db <url>", "the audit log (default: $ENCLAVE_AUDIT_DB, else ./enclave-audit.db)")
    .option("--host <address>", "the address to listen on; anything but loopback exposes the server", "127.0.0.1")
    .option("--port <number>", "the port to listen on (0: any free port)", "8000")
    .option("--secure-cookies", "mark the session cookie Secure (say so when users reach the server over HTTPS)")
    .option("--log-cache-ms <ms>", "how long a page of the public job log is reused (0: never); changes made through this server show at once", "1000")
    .option("--policy-dir <dir>", "the allowlists job requests are checked against (default: the committed policy/allowlists)")
    .option("--releases-dir <dir>", "where released files from Airlock are kept (default: enclave-releases beside a SQLite --db, else ./enclave-releases)")
    .addOption(allowedReposOption())
    .action(async (opts: Options) => {
      const port = parsePort(opts.port);
      if (!/^\d{1,7}$/.test(opts.logCacheMs)) throw new UsageError(`--log-cache-ms ${JSON.stringify(opts.logCacheMs)}: give a whole number of milliseconds`);
      const places = allowedRepos(opts.allowedRepos);
      let policy: Policy | undefined;
      try {
        if (opts.policyDir !== undefined) policy = loadPolicy(opts.policyDir);
      } catch (e) {
        if (e instanceof PolicyError) throw new UserError(e.message);
        throw e;
      }
      let server;
      try {
        server = await startJobServer({
          storeUrl: opts.db ?? process.env.ENCLAVE_DB ?? "enclave.db",
          auditUrl: opts.auditDb ?? process.env.ENCLAVE_AUDIT_DB ?? "enclave-audit.db",
          host: opts.host,
          port,
          secureCookies: opts.secureCookies ?? false,
          logCacheMs: Number(opts.logCacheMs),
          policy,
          ...(opts.releasesDir !== undefined ? { releasesDir: opts.releasesDir } : {}),
          ...(places !== undefined ? { allowedRepos: places } : {}),
        });
      } catch (e) {
        if (e instanceof StoreError || e instanceof AuditError) throw new UserError(e.message);
        throw addressInUse(e, opts.host, opts.port) ?? e;
      }
      process.stdout.write(`job server listening on ${server.url}\n`);
      await stopOnSignal(() => server.close());
      process.stdout.write("job server stopped\n");
    });
}
