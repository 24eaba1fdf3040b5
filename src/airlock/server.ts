// Starting and stopping Airlock's web service: opens the state and the audit
// log (unless given them), connects to the job server with the backend's
// token, and wires the job server's small web core (src/jobserver/http.ts:
// router, security headers, CSRF) to Airlock's own sessions, error page and
// pages. The uploader runs in the same process. It listens on 127.0.0.1
// unless told otherwise: Airlock is for people inside the backend.

import * as fs from "node:fs";
import { createServer } from "node:http";
import * as path from "node:path";
import { AuditLog } from "../audit/index.js";
import { Ctx, HttpError, type Middleware, Router, csrf, listen, securityHeaders } from "../jobserver/http.js";
import { CodeReader } from "./code.js";
import { AirlockError, Blocked, ContentMismatch, InvalidTransition, NotFound, PermissionDenied, RuleViolation } from "./errors.js";
import { type JobServerApi, JobServerClient, JobServerError, WorkspaceCache } from "./jobserver-client.js";
import { type AirlockApp, SESSION_COOKIE, errorPage, registerPages, setSession } from "./pages.js";
import { Airlock } from "./service.js";
import { DEFAULT_RECHECK_MS, Sessions } from "./sessions.js";
import { AirlockStore } from "./store.js";
import { Uploader } from "./uploader.js";

export interface AirlockServerOptions {
  /** The job server's URL, or (tests, benchmarks) something that answers as it would. */
  jobServer: string | JobServerApi;
  /** This backend's name on the job server. */
  backend: string;
  /** The backend's token (never from the command line). Needed with a URL. */
  token?: string;
  /** The agent's folder: workspaces/<name>/metadata (manifests, logs), level4/<name>/, repos/ (mirrors). */
  agentDir: string;
  /** Airlock's own folder: the requests' copies (objects/) and the projects' ledgers. */
  airlockDir: string;
  /** The state: an open store (left open on close), or where to open one (default <airlockDir>/airlock.db). */
  store?: AirlockStore;
  storeUrl?: string;
  /** The audit log: an open one (left open on close), or where to open one (default <airlockDir>/audit.db). */
  auditLog?: AuditLog;
  auditUrl?: string;
  host?: string;
  port?: number;
  /** How old a session's access may get before it is read again from the job server (default, and at most, 15 minutes). */
  recheckMs?: number;
  /** How long a workspace's state from the job server is reused (default 5 s). */
  workspaceCacheMs?: number;
  /** How long a login lasts (default 8 hours). */
  sessionTtlMs?: number;
  /** The clock for sessions, re-checks and caches (the store has its own); the system clock by default. */
  clock?: () => Date;
  /** The uploader's timing, or false for no uploader in this process. */
  uploader?: false | { intervalMs?: number; initialBackoffMs?: number; maxBackoffMs?: number };
  /** Mark cookies Secure (when people reach Airlock over HTTPS). */
  secureCookies?: boolean;
  /** The automated checks' limits. */
  checks?: { threshold?: number; base?: number };
  /** Where errors and the uploader's news go (default stderr). */
  log?: (message: string) => void;
}

export interface AirlockServer {
  url: string;
  airlock: Airlock;
  uploader: Uploader | undefined;
  sessions: Sessions;
  close(): Promise<void>;
}

/** Every refusal of the service as the HTTP status that says it best. */
export function statusOf(e: AirlockError): number {
  if (e instanceof NotFound) return 404;
  if (e instanceof PermissionDenied) return 403;
  if (e instanceof InvalidTransition || e instanceof Blocked || e instanceof ContentMismatch) return 409;
  if (e instanceof RuleViolation) return 422;
  return 400;
}

/**
 * The one error path: HttpError and the service's refusals as a page with
 * their message; the job server out of reach as 503; anything else as a 500
 * that is logged and not shown. A GET that needs a login goes to the login.
 */
function errors(log: (m: string) => void): Middleware {
  return async function errors(ctx, next) {
    try {
      await next();
    } catch (e) {
      let err: HttpError;
      if (e instanceof HttpError) err = e;
      else if (e instanceof AirlockError) err = new HttpError(statusOf(e), e.message);
      else if (e instanceof JobServerError) {
        log(`airlock: ${ctx.method} ${ctx.path}: ${e.message}`);
        err = new HttpError(503, "Airlock cannot reach the job server, which it asks who you are and what you may see; try again in a minute");
      } else {
        log(`airlock: ${ctx.method} ${ctx.path}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        err = new HttpError(500, "Airlock failed to answer this request; the error is in its log");
      }
      if (err.status === 413) ctx.res.setHeader("Connection", "close");
      if (ctx.responded) {
        ctx.res.destroy();
        return;
      }
      if (err.status === 401 && (ctx.method === "GET" || ctx.method === "HEAD")) ctx.redirect(`/login?next=${encodeURIComponent(ctx.path + ctx.url.search)}`);
      else ctx.html(errorPage(ctx, err.status, err.message), err.status, { ...err.headers });
    }
  };
}

/** Says who is asking, from the session cookie; the session's access is re-read when due (sessions.ts). */
function authenticate(sessions: Sessions): Middleware {
  return async function authenticate(ctx, next) {
    if (ctx.path.startsWith("/static/")) return next();
    const token = ctx.cookie(SESSION_COOKIE);
    if (token) {
      const session = await sessions.get(token);
      if (session) {
        setSession(ctx, token, session);
        // The job server's Ctx wants a User; Airlock knows only what the job server told it.
        ctx.auth = { kind: "session", user: { id: 0, username: session.username, fullName: session.fullName, email: "", isStaff: false, created: session.created.toISOString() }, token, csrf: session.csrf };
        ctx.loadPrincipal = async () => session.principal;
      } else {
        ctx.sessionEnded = true;
        ctx.clearCookie(SESSION_COOKIE);
      }
    }
    await next();
  };
}

export async function startAirlockServer(options: AirlockServerOptions): Promise<AirlockServer> {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const clock = options.clock ?? (() => new Date());
  const recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS;
  let api: JobServerApi;
  if (typeof options.jobServer === "string") {
    if (!options.token) throw new Error("startAirlockServer needs the backend's token to talk to the job server");
    api = new JobServerClient({ url: options.jobServer, backend: options.backend, token: options.token });
  } else api = options.jobServer;
  const sessions = new Sessions({ api, clock, recheckMs, ttlMs: options.sessionTtlMs });

  fs.mkdirSync(options.airlockDir, { recursive: true });
  const audit = options.auditLog ?? (await AuditLog.open(options.auditUrl ?? path.join(options.airlockDir, "audit.db")));
  let store: AirlockStore;
  try {
    store = options.store ?? (await AirlockStore.open(options.storeUrl ?? path.join(options.airlockDir, "airlock.db")));
  } catch (e) {
    if (!options.auditLog) await audit.close();
    throw e;
  }
  const workspaces = new WorkspaceCache(api, options.workspaceCacheMs ?? 5000, clock);
  const paths = { backendDir: path.resolve(options.agentDir), airlockDir: path.resolve(options.airlockDir) };
  const airlock = new Airlock({ store, audit, workspaces: workspaces.lookup, ...paths, checks: options.checks });
  const uploader = options.uploader === false ? undefined : new Uploader({ airlock, api, paths, log, ...options.uploader });

  const app: AirlockApp = { airlock, audit, api, workspaces, sessions, uploader, code: new CodeReader(paths.backendDir), paths, backend: options.backend, clock, secureCookies: options.secureCookies ?? false };
  const router = new Router();
  registerPages(router, app);
  const handle = router.handle([securityHeaders(), errors(log), authenticate(sessions), csrf()]);
  const core = { bodyLimit: 256 * 1024, secureCookies: app.secureCookies, clock };

  const server = createServer((req, res) => {
    handle(new Ctx(req, res, core)).catch((e: unknown) => {
      log(`airlock: ${req.method} ${req.url}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  let url: string;
  try {
    url = await listen(server, options.port ?? 0, options.host ?? "127.0.0.1");
  } catch (e) {
    if (!options.store) await store.close();
    if (!options.auditLog) await audit.close();
    throw e;
  }
  uploader?.start();

  let closed: Promise<void> | undefined;
  return {
    url,
    airlock,
    uploader,
    sessions,
    close: () =>
      (closed ??= (async () => {
        await uploader?.stop();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), 2000);
        await done;
        clearTimeout(force);
        if (!options.store) await store.close();
        if (!options.auditLog) await audit.close();
      })()),
  };
}
