// Starting and stopping the job server: opens the store and the audit log
// (unless given them), moves audit entries a crash left in the store into the
// log (and keeps doing so, should the log fail for a while), wires the
// middleware, the pages, the JSON API, the agent protocol and the backend
// services' protocol to one router, and listens (on 127.0.0.1 unless told
// otherwise).

import { createServer } from "node:http";
import * as path from "node:path";
import { AuditLog } from "../audit/index.js";
import type { Policy } from "../policy/index.js";
import { type App, ClaimWaiters, JobLogCache, RELEASE_FILE_LIMIT, ReleaseFolder, registerAgent, registerApi, registerBackend } from "./api.js";
import { Ctx, Router, authenticate, csrf, errors, listen, securityHeaders } from "./http.js";
import { errorPage, registerPages } from "./pages.js";
import { DEFAULT_ALLOWED_REPOS, repoPlaces } from "./requests.js";
import { Store } from "./store.js";

export interface JobServerOptions {
  /** The state: an open store (left open on close), or where to open one. */
  store?: Store;
  storeUrl?: string;
  /** The audit log: an open one (left open on close), or where to open one. */
  auditLog?: AuditLog;
  auditUrl?: string;
  /** Default 127.0.0.1: reaching it from elsewhere is a decision to make, not a default. */
  host?: string;
  /** Default 0: any free port (the answer's url says which). */
  port?: number;
  /** The committed allowlists job requests are checked against (default: requests.ts loads them). */
  policy?: Policy;
  /**
   * Where workspaces' repositories may be: address prefixes (https://github.com/opensafely/)
   * and absolute folders (/srv/git/). Default: https://github.com/ only. A
   * workspace elsewhere cannot be created, and takes no job requests.
   */
  allowedRepos?: readonly string[];
  /** Mark cookies Secure: say so when the server is reached over HTTPS. */
  secureCookies?: boolean;
  /** The clock for login throttling; the system clock by default. */
  now?: () => Date;
  /** How long a login lasts (default 8 hours). */
  sessionTtlSeconds?: number;
  /** The largest request body accepted (default 1 MiB); released files have their own limit. */
  bodyLimit?: number;
  /** Where released files' bytes are kept (default: enclave-releases beside the SQLite file, else ./enclave-releases). Made when the first file arrives. */
  releasesDir?: string;
  /** The largest released file taken, in bytes (default 64 MiB). */
  releaseFileLimit?: number;
  /** How long a page of the public job log is reused, in ms (default 1000; 0: never). Changes made through this server show at once. */
  logCacheMs?: number;
  /** Where unexpected errors are written (default stderr). */
  log?: (message: string) => void;
  /** How often audit entries that could not be moved into the log are tried again, in ms (default 5000). */
  auditRetryMs?: number;
}

export interface JobServer {
  /** The base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  close(): Promise<void>;
}

export async function startJobServer(options: JobServerOptions): Promise<JobServer> {
  if (!options.store && !options.storeUrl) throw new Error("startJobServer needs a store or a storeUrl");
  if (!options.auditLog && !options.auditUrl) throw new Error("startJobServer needs an auditLog or an auditUrl");
  const allowedRepos = [...(options.allowedRepos ?? DEFAULT_ALLOWED_REPOS)];
  // A list that cannot be read is refused before anything opens, rather than denying every repository later.
  repoPlaces(allowedRepos);
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const clock = options.now ?? (() => new Date());
  // The log is opened first, so that nothing is changed that could not then be logged.
  const audit = options.auditLog ?? (await AuditLog.open(options.auditUrl!));
  let store: Store;
  try {
    store = options.store ?? (await Store.open(options.storeUrl!, { clock }));
  } catch (e) {
    if (!options.auditLog) await audit.close();
    throw e;
  }

  // Every change records its entry in the store (see Store.serial); this moves them on.
  // Said when the log starts refusing, once a minute while it goes on, and when it is back: not at every retry.
  let refusedSince: number | undefined;
  let lastSaid = 0;
  const refused = (e: Error): void => {
    const now = Date.now();
    if (refusedSince === undefined || now - lastSaid >= 60_000) {
      log(`job server: audit entries wait in the store, as the audit log refused them${refusedSince === undefined ? "" : ` (since ${new Date(refusedSince).toISOString()})`}: ${e.message}`);
      lastSaid = now;
    }
    refusedSince ??= now;
  };
  const detach = store.attachAuditLog(audit, refused);
  const moveAudit = (): Promise<void> =>
    store.flushAudit().then(
      (moved) => {
        if (refusedSince !== undefined) log(`job server: the audit log takes entries again${moved > 0 ? `; ${moved} waiting ${moved === 1 ? "entry was" : "entries were"} moved into it` : ""}`);
        refusedSince = undefined;
      },
      (e: unknown) => refused(e as Error),
    );
  await moveAudit();
  const auditRetry = setInterval(() => void moveAudit(), options.auditRetryMs ?? 5000);
  auditRetry.unref();

  const closing = new AbortController();
  const releasesDir = options.releasesDir ?? (store.file ? path.join(path.dirname(store.file), "enclave-releases") : "enclave-releases");
  const app: App = {
    store,
    policy: options.policy,
    clock,
    sessionTtlSeconds: options.sessionTtlSeconds ?? 8 * 3600,
    claims: new ClaimWaiters(),
    log: new JobLogCache(options.logCacheMs ?? 1000),
    closing: closing.signal,
    releases: new ReleaseFolder(releasesDir, options.releaseFileLimit ?? RELEASE_FILE_LIMIT),
    allowedRepos,
  };
  const router = new Router();
  registerAgent(router, app);
  registerBackend(router, app);
  registerApi(router, app);
  registerPages(router, app);
  const handle = router.handle([
    securityHeaders(),
    errors(errorPage, log),
    authenticate({ session: (t) => store.session(t), apiToken: (t) => store.userForApiToken(t), principal: (u) => store.principal(u) }),
    csrf(),
  ]);
  const core = { bodyLimit: options.bodyLimit ?? 1024 * 1024, secureCookies: options.secureCookies ?? false, clock };

  const server = createServer((req, res) => {
    handle(new Ctx(req, res, core)).catch((e: unknown) => {
      // Only an error in the error handler itself gets here.
      log(`job server: ${req.method} ${req.url}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  let url: string;
  try {
    url = await listen(server, options.port ?? 0, options.host ?? "127.0.0.1");
  } catch (e) {
    clearInterval(auditRetry);
    detach();
    if (!options.store) await store.close();
    if (!options.auditLog) await audit.close();
    throw e;
  }

  let closed: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closed ??= (async () => {
        // Long polls answer 204 at once, then idle keep-alive connections go.
        closing.abort();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), 2000);
        await done;
        clearTimeout(force);
        clearInterval(auditRetry);
        await moveAudit();
        detach();
        if (!options.store) await store.close();
        if (!options.auditLog) await audit.close();
      })()),
  };
}
