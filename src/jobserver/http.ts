// The job server's small web core, on node:http: a router with path
// parameters, one request context with the helpers handlers need, and the
// middleware every request goes through (security headers, errors, who is
// asking, CSRF, permissions). Handlers refuse by throwing an HttpError; one
// handler turns every error into a JSON answer under /api and an HTML page
// elsewhere, so no handler formats its own errors.
//
// Who is asking, in one of three ways:
//   - a browser session: the cookie `enclave_session`, for pages and the JSON API;
//     every unsafe request must carry the session's CSRF token;
//   - an API token: `Authorization: Bearer <token>`, for the JSON API only (no
//     cookie is involved, so no CSRF token is needed);
//   - nobody: the public pages and the public part of the API.
// The agent protocol (/api/agent) and the backend services' protocol
// (/api/backend) authenticate backends themselves (api.ts) and ignore both.

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Permission, type Principal, type ProjectRef, can } from "./permissions.js";
import type { Session, User } from "./store.js";

// ---------------------------------------------------------------------------
// Errors

/** A refusal with its status; the message is shown to whoever asked, so it says what is wrong and how to fix it. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    /** More for a JSON answer (a list of problems, say). */
    readonly extra: Record<string, unknown> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad request",
  401: "Login required",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflict",
  413: "Too large",
  422: "Refused",
  429: "Too many attempts",
  500: "Internal error",
};

// ---------------------------------------------------------------------------
// HTML: one escape function, and a tagged template that applies it to every
// interpolation unless the value is already SafeHtml (built the same way).

const ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Markup built by `html`; the only way to put markup into a page. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function renderValue(v: HtmlValue): string {
  if (v instanceof SafeHtml) return v.text;
  if (Array.isArray(v)) return v.map(renderValue).join("");
  // `cond && html`...`` leaves false behind: render nothing, as for null.
  if (v === null || v === undefined || v === false) return "";
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += renderValue(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** A path with every interpolation percent-encoded as one segment: path`/workspaces/${name}`. */
export function path(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += encodeURIComponent(String(values[i]!)) + strings[i + 1]!;
  return out;
}

// ---------------------------------------------------------------------------
// The request context

export type Auth =
  | { kind: "anonymous" }
  | { kind: "session"; user: User; token: string; csrf: string }
  | { kind: "token"; user: User };

export interface CoreOptions {
  /** Largest request body accepted, in bytes. */
  bodyLimit: number;
  /** Cookies get `Secure` (the server is reached over HTTPS). */
  secureCookies: boolean;
  clock: () => Date;
}

interface CookieOptions {
  maxAge?: number;
  httpOnly?: boolean;
}

export const SESSION_COOKIE = "enclave_session";
/** Before login there is no session to bind a CSRF token to, so the login form's token is this cookie's value. */
export const PRE_SESSION_COOKIE = "enclave_csrf";
export const CSRF_FIELD = "csrf";
export const CSRF_HEADER = "x-csrf-token";

export class Ctx {
  readonly url: URL;
  readonly method: string;
  /** The path, percent-decoding left to the router (per segment). */
  readonly path: string;
  /** Under /api/: errors are JSON and Bearer tokens count. */
  readonly api: boolean;
  params: Record<string, string> = {};
  auth: Auth = { kind: "anonymous" };
  /** A session cookie came, but its session has ended (expired or logged out). */
  sessionEnded = false;
  /** Loads the principal of the user asking (set by `authenticate`). */
  loadPrincipal: (username: string) => Promise<Principal> = () => Promise.reject(new Error("the authenticate middleware did not run"));
  responded = false;
  private readonly cookiesOut: string[] = [];
  private cookiesIn?: Map<string, string>;
  private bodyRead?: Promise<Buffer>;
  private formRead?: Promise<URLSearchParams>;
  private principalMemo?: Promise<Principal | undefined>;
  private preSessionToken?: string;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly options: CoreOptions,
  ) {
    // The Host header is not trusted for anything: the base only lets URL parse the path.
    this.url = new URL(req.url ?? "/", "http://job-server.invalid");
    this.method = (req.method ?? "GET").toUpperCase();
    this.path = this.url.pathname;
    this.api = this.path === "/api" || this.path.startsWith("/api/");
  }

  get query(): URLSearchParams {
    return this.url.searchParams;
  }

  get user(): User | undefined {
    return this.auth.kind === "anonymous" ? undefined : this.auth.user;
  }

  /** The principal of the user asking, loaded once per request and only if a handler needs it. */
  principal(): Promise<Principal | undefined> {
    const user = this.user;
    return (this.principalMemo ??= user ? this.loadPrincipal(user.username) : Promise.resolve(undefined));
  }

  /** Whether the user asking holds the permission (for the project, if given); false for anonymous visitors. */
  async can(permission: Permission, project?: ProjectRef): Promise<boolean> {
    const p = await this.principal();
    return p !== undefined && can(p, permission, project);
  }

  /** Throws 401 (nobody is logged in) or 403 unless the user holds one of the permissions. */
  async authorize(permissions: Permission | readonly Permission[], project?: ProjectRef, what?: string): Promise<Principal> {
    const list = typeof permissions === "string" ? [permissions] : permissions;
    const p = await this.requirePrincipal();
    if (list.some((perm) => can(p, perm, project))) return p;
    const scope = project ? ` on project ${project.number}${project.status === "ongoing" ? "" : ` (which is ${project.status})`}` : "";
    throw new HttpError(403, `${p.username} may not ${what ?? describe(list)}${scope}: that needs the permission ${list.join(" or ")}`);
  }

  async requirePrincipal(): Promise<Principal> {
    const p = await this.principal();
    if (!p) throw loginRequired(this);
    return p;
  }

  cookie(name: string): string | undefined {
    if (!this.cookiesIn) {
      this.cookiesIn = new Map();
      for (const part of (this.req.headers.cookie ?? "").split(";")) {
        const eq = part.indexOf("=");
        if (eq < 0) continue;
        const key = part.slice(0, eq).trim();
        // The first of two cookies with one name wins, as browsers send the more specific path first.
        if (!this.cookiesIn.has(key)) this.cookiesIn.set(key, part.slice(eq + 1).trim());
      }
    }
    return this.cookiesIn.get(name);
  }

  setCookie(name: string, value: string, options: CookieOptions = {}): void {
    const parts = [`${name}=${value}`, "Path=/", "SameSite=Lax"];
    if (options.httpOnly ?? true) parts.push("HttpOnly");
    if (this.options.secureCookies) parts.push("Secure");
    if (options.maxAge !== undefined) parts.push(`Max-Age=${options.maxAge}`);
    this.cookiesOut.push(parts.join("; "));
  }

  clearCookie(name: string): void {
    this.setCookie(name, "", { maxAge: 0 });
  }

  /** The CSRF token to put in this page's forms: the session's, or before login the pre-session cookie's (set here if need be). */
  csrfToken(): string {
    if (this.auth.kind === "session") return this.auth.csrf;
    if (this.preSessionToken) return this.preSessionToken;
    const existing = this.cookie(PRE_SESSION_COOKIE);
    if (existing && /^[A-Za-z0-9_-]{32,128}$/.test(existing)) return (this.preSessionToken = existing);
    this.preSessionToken = randomBytes(32).toString("base64url");
    this.setCookie(PRE_SESSION_COOKIE, this.preSessionToken);
    return this.preSessionToken;
  }

  // --- the body -----------------------------------------------------------

  rawBody(): Promise<Buffer> {
    return (this.bodyRead ??= readBody(this.req, this.options.bodyLimit));
  }

  /**
   * The body as it arrives, for one too large to hold in memory (a released
   * file): up to `limit` bytes, over which it throws 413. Read it once, and
   * never together with rawBody.
   */
  async *bodyStream(limit: number): AsyncGenerator<Buffer> {
    if (this.bodyRead) throw new Error(`${this.method} ${this.path}: the body was already read whole`);
    this.bodyRead = Promise.resolve(Buffer.alloc(0));
    const declared = Number(this.req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `the request body is ${declared} bytes; the limit is ${limit}`);
    let size = 0;
    for await (const chunk of this.req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new HttpError(413, `the request body is over the limit of ${limit} bytes`);
      yield chunk as Buffer;
    }
  }

  private contentType(): string {
    return (this.req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  }

  isForm(): boolean {
    return this.contentType() === "application/x-www-form-urlencoded";
  }

  /** The fields of an HTML form (application/x-www-form-urlencoded). */
  form(): Promise<URLSearchParams> {
    return (this.formRead ??= (async () => {
      if (!this.isForm()) throw new HttpError(400, `${this.method} ${this.path} takes an HTML form (application/x-www-form-urlencoded), not ${this.contentType() || "a body without a Content-Type"}`);
      return new URLSearchParams((await this.rawBody()).toString("utf8"));
    })());
  }

  /** The JSON body; an object unless `anything`. */
  async jsonBody(): Promise<Record<string, unknown>> {
    if (this.contentType() !== "application/json") throw new HttpError(400, `${this.method} ${this.path} takes a JSON body (Content-Type: application/json)`);
    const text = (await this.rawBody()).toString("utf8");
    let value: unknown;
    try {
      value = JSON.parse(text === "" ? "{}" : text);
    } catch (e) {
      throw new HttpError(400, `the body of ${this.method} ${this.path} is not JSON: ${(e as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new HttpError(400, `the body of ${this.method} ${this.path} must be a JSON object`);
    return value as Record<string, unknown>;
  }

  // --- answers --------------------------------------------------------------

  private head(status: number, type: string | undefined, length: number | undefined, headers: Record<string, string>): void {
    if (this.responded) throw new Error(`${this.method} ${this.path} answered twice: a handler went on after sending its answer`);
    this.responded = true;
    if (this.cookiesOut.length > 0) this.res.setHeader("Set-Cookie", this.cookiesOut);
    // Nothing shown to a logged-in user (tokens, roles, files) should be kept by a cache.
    if (this.auth.kind !== "anonymous" || this.cookiesOut.length > 0) this.res.setHeader("Cache-Control", "no-store");
    for (const [k, v] of Object.entries(headers)) this.res.setHeader(k, v);
    if (type) this.res.setHeader("Content-Type", type);
    if (length !== undefined) this.res.setHeader("Content-Length", length);
    this.res.writeHead(status);
  }

  private send(status: number, type: string | undefined, body: string | Buffer | undefined, headers: Record<string, string> = {}): void {
    this.head(status, type, body === undefined ? undefined : Buffer.byteLength(body), headers);
    this.res.end(body);
  }

  /** Streams `size` bytes from `body` (a file) as a 200 answer; a failure once the headers are sent can only drop the connection. */
  async stream(body: Readable, size: number, type: string, headers: Record<string, string> = {}): Promise<void> {
    this.head(200, type, size, headers);
    try {
      await pipeline(body, this.res);
    } catch {
      // The client went away, or the file could not be read to its end: either way the answer is cut short.
      this.res.destroy();
    }
  }

  json(value: unknown, status = 200, headers: Record<string, string> = {}): void {
    this.send(status, "application/json; charset=utf-8", JSON.stringify(value), headers);
  }

  html(page: SafeHtml, status = 200, headers: Record<string, string> = {}): void {
    this.send(status, "text/html; charset=utf-8", page.text, headers);
  }

  text(body: string | Buffer, type: string, headers: Record<string, string> = {}): void {
    this.send(200, type, body, headers);
  }

  /** See other: the answer to a form post, so that reloading does not post again. */
  redirect(location: string, status = 303): void {
    this.send(status, undefined, "", { Location: location });
  }

  empty(status = 204): void {
    this.send(status, undefined, undefined);
  }

  /** Drops the connection without an answer (the client has gone). */
  abandon(): void {
    this.responded = true;
    this.res.destroy();
  }
}

function describe(permissions: readonly Permission[]): string {
  const words: Partial<Record<Permission, string>> = {
    "job.run": "run jobs",
    "job.cancel": "cancel jobs",
    "workspace.create": "create workspaces",
    "workspace.archive": "archive workspaces",
    "user.manage": "manage users",
    "backend.manage": "manage backends",
    "project.create": "change a project's status",
    "project.edit_roles": "edit project roles",
    "release.view": "see released files",
  };
  return permissions.map((p) => words[p] ?? `use ${p}`).join(" or ");
}

function loginRequired(ctx: Ctx): HttpError {
  const message = ctx.sessionEnded ? "your session has ended: log in again" : "log in first";
  return new HttpError(401, ctx.api ? `${message} (send Authorization: Bearer <API token>)` : message);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `the request body is ${declared} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `the request body is over the limit of ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------
// The router and the middleware chain

export type Next = () => Promise<void>;
export type Middleware = (ctx: Ctx, next: Next) => Promise<void>;
export type Handler = (ctx: Ctx) => Promise<void>;

interface Route {
  method: string;
  pattern: string;
  segments: readonly ({ param: string } | string)[];
  chain: readonly Middleware[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  private add(method: string, pattern: string, steps: (Middleware | Handler)[]): this {
    if (!pattern.startsWith("/")) throw new Error(`the route ${pattern} must start with /`);
    const handler = steps.pop() as Handler | undefined;
    if (!handler) throw new Error(`the route ${method} ${pattern} has no handler`);
    const segments = pattern
      .split("/")
      .slice(1)
      .map((s) => (s.startsWith(":") ? { param: s.slice(1) } : s));
    this.routes.push({ method, pattern, segments, chain: steps as Middleware[], handler });
    return this;
  }

  /** GET, and HEAD (node leaves the body out). Steps before the last are middleware for this route only. */
  get(pattern: string, ...steps: [...Middleware[], Handler]): this {
    return this.add("GET", pattern, steps);
  }

  post(pattern: string, ...steps: [...Middleware[], Handler]): this {
    return this.add("POST", pattern, steps);
  }

  put(pattern: string, ...steps: [...Middleware[], Handler]): this {
    return this.add("PUT", pattern, steps);
  }

  /** The route for a request, its parameters, or the methods the path allows when the method is wrong. */
  match(method: string, pathname: string): { route: Route; params: Record<string, string> } | { allowed: string[] } | undefined {
    const parts = pathname.split("/").slice(1);
    const allowed = new Set<string>();
    for (const route of this.routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = route.segments[i]!;
        if (typeof seg === "string") ok = seg === parts[i];
        else if (parts[i] === "") ok = false;
        else params[seg.param] = decodeSegment(parts[i]!);
      }
      if (!ok) continue;
      if (route.method === method || (method === "HEAD" && route.method === "GET")) return { route, params };
      allowed.add(route.method);
    }
    return allowed.size > 0 ? { allowed: [...allowed] } : undefined;
  }

  /** The whole chain for a request: global middleware, then the route's, then its handler. */
  handle(middleware: readonly Middleware[]): Handler {
    return async (ctx) => {
      const dispatch: Middleware = async (c) => {
        const found = this.match(c.method, c.path);
        if (!found) throw new HttpError(404, `there is no page at ${c.path}`);
        if ("allowed" in found) throw new HttpError(405, `${c.path} answers ${found.allowed.join(", ")}, not ${c.method}`, {}, { Allow: found.allowed.join(", ") });
        c.params = found.params;
        await compose([...found.route.chain, async (c2) => found.route.handler(c2)])(c, async () => undefined);
        if (!c.responded) throw new Error(`the handler of ${found.route.method} ${found.route.pattern} sent no answer: did it forget to await or to call ctx.json/ctx.html/ctx.redirect?`);
      };
      await compose([...middleware, dispatch])(ctx, async () => undefined);
    };
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, `the path segment ${JSON.stringify(s)} is not valid percent-encoding`);
  }
}

export function compose(chain: readonly Middleware[]): Middleware {
  return (ctx, last) => {
    let index = -1;
    const run = async (i: number): Promise<void> => {
      if (i <= index) throw new Error("a middleware called next() twice");
      index = i;
      if (i === chain.length) return last();
      await chain[i]!(ctx, () => run(i + 1));
    };
    return run(0);
  };
}

// ---------------------------------------------------------------------------
// Middleware

const CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

export function securityHeaders(): Middleware {
  return async function securityHeaders(ctx, next) {
    const r = ctx.res;
    r.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    r.setHeader("X-Content-Type-Options", "nosniff");
    r.setHeader("Referrer-Policy", "same-origin");
    r.setHeader("X-Frame-Options", "DENY");
    r.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    await next();
  };
}

/** Renders an error as a page for browsers; given by the server, which owns the layout. */
export type ErrorPage = (ctx: Ctx, status: number, message: string) => SafeHtml;

/** The one error path: HttpError as itself, anything else as a 500 that is logged and not shown. */
export function errors(page: ErrorPage, log: (message: string) => void): Middleware {
  return async function errors(ctx, next) {
    try {
      await next();
    } catch (e) {
      let err: HttpError;
      if (e instanceof HttpError) err = e;
      else {
        log(`job server: ${ctx.method} ${ctx.path}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        err = new HttpError(500, "the job server failed to answer this request; the error is in its log");
      }
      // A body too large was not read to its end: closing stops the client sending the rest.
      if (err.status === 413) ctx.res.setHeader("Connection", "close");
      if (ctx.responded) {
        ctx.res.destroy();
        return;
      }
      if (ctx.api) ctx.json({ error: err.message, ...err.extra }, err.status, err.status === 401 ? { "WWW-Authenticate": "Bearer", ...err.headers } : { ...err.headers });
      else if (err.status === 401 && (ctx.method === "GET" || ctx.method === "HEAD")) ctx.redirect(`/login?next=${encodeURIComponent(ctx.path + ctx.url.search)}`);
      else ctx.html(page(ctx, err.status, err.message), err.status, { ...err.headers });
    }
  };
}

export interface AuthenticateOptions {
  session(token: string): Promise<Session | undefined>;
  apiToken(token: string): Promise<User | undefined>;
  principal(username: string): Promise<Principal>;
}

/** Says who is asking (see the top of this file); an API token that is wrong is refused at once, even for public answers, so a script notices. */
export function authenticate(options: AuthenticateOptions): Middleware {
  return async function authenticate(ctx, next) {
    ctx.loadPrincipal = options.principal;
    // Backends authenticate themselves; the static files are the same for everyone.
    if (isBackendPath(ctx.path) || ctx.path.startsWith("/static/")) return next();
    const authorization = ctx.req.headers.authorization;
    if (ctx.api && authorization !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) throw new HttpError(401, "the Authorization header must be `Bearer <API token>`");
      const user = await options.apiToken(m[1]!);
      if (!user) throw new HttpError(401, "the API token is wrong or has been replaced: create a new one on your account page");
      ctx.auth = { kind: "token", user };
      return next();
    }
    const token = ctx.cookie(SESSION_COOKIE);
    if (token) {
      const session = await options.session(token);
      if (session) ctx.auth = { kind: "session", user: session.user, token, csrf: session.csrf };
      else {
        ctx.sessionEnded = true;
        ctx.clearCookie(SESSION_COOKIE);
      }
    }
    await next();
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The protocols backends speak with their own token: the agents' and the backend services' (Airlock's). */
function isBackendPath(pathname: string): boolean {
  return pathname.startsWith("/api/agent/") || pathname.startsWith("/api/backend/");
}

function sameToken(a: string | undefined | null, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Refuses (403) an unsafe request that a cookie authenticates unless it carries
 * the CSRF token: the session's, or before login the pre-session cookie's. It
 * comes as the form field `csrf` or the header `X-CSRF-Token`. Fails closed:
 * a page form without a token, or a request a browser marks cross-site, is
 * refused. Bearer tokens and the backends' protocols involve no cookie and pass.
 */
export function csrf(): Middleware {
  return async function csrf(ctx, next) {
    if (SAFE_METHODS.has(ctx.method) || ctx.auth.kind === "token" || isBackendPath(ctx.path)) return next();
    let expected: string | undefined;
    if (ctx.auth.kind === "session") expected = ctx.auth.csrf;
    // An anonymous API call has no cookie to abuse; it is refused later if it needs a login.
    else if (ctx.api) return next();
    else expected = ctx.cookie(PRE_SESSION_COOKIE);
    if (ctx.req.headers["sec-fetch-site"] === "cross-site") throw new HttpError(403, "this form was posted from another site; post it from the job server's own page");
    const given = ctx.req.headers[CSRF_HEADER] ?? (ctx.isForm() ? (await ctx.form()).get(CSRF_FIELD) : undefined);
    if (!sameToken(typeof given === "string" ? given : undefined, expected)) {
      const why = ctx.sessionEnded ? "your session has ended: log in again and resend the form" : "the form's security token is missing or out of date: reload the page and try again (cookies must be enabled)";
      throw new HttpError(403, why);
    }
    await next();
  };
}

/** Route middleware: a logged-in user is required. */
export const requireUser: Middleware = async function requireUser(ctx, next) {
  await ctx.requirePrincipal();
  await next();
};

/** Route middleware for permissions that concern no one project: the user must hold one of them. */
export function requirePermission(...permissions: Permission[]): Middleware {
  return async function requirePermission(ctx, next) {
    await ctx.authorize(permissions);
    await next();
  };
}

/** Starts `server` listening on host:port (0: any free port) and gives its base URL, e.g. http://127.0.0.1:8000; a failure to listen rejects. */
export async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
}
