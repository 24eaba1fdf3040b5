// Who is logged in to Airlock. A login is checked by the job server; the
// session then keeps the user's access as the job server gave it, and asks
// again once it is older than the re-check interval (15 minutes by default),
// so that a revoked role or a finished project takes effect within that time
// without a round trip on every page. When the re-check cannot reach the job
// server, the request is refused rather than served on old access.
//
// Sessions live in this process's memory: a restart logs everyone out, which
// is the safe direction, and nothing about them needs to outlive the process.
// Only a hash of each token is kept, so a heap dump holds no usable cookie.

import { createHash, randomBytes } from "node:crypto";
import type { Principal } from "../jobserver/permissions.js";
import { type Access, type BackendUser, type JobServerApi, principalOf } from "./jobserver-client.js";

export interface AirlockSession {
  username: string;
  fullName: string;
  access: Access;
  principal: Principal;
  /** Bound to the session: every form posts it back. */
  csrf: string;
  created: Date;
  /** When the access was last read from the job server. */
  checked: Date;
  expires: Date;
}

export interface SessionOptions {
  api: JobServerApi;
  clock: () => Date;
  /** How old the access may get before it is read again (default 15 minutes). */
  recheckMs?: number;
  /** How long a login lasts (default 8 hours). */
  ttlMs?: number;
}

export const DEFAULT_RECHECK_MS = 15 * 60 * 1000;
const DEFAULT_TTL_MS = 8 * 3600 * 1000;

const hash = (token: string): string => createHash("sha256").update(token).digest("hex");

export class Sessions {
  private readonly byHash = new Map<string, AirlockSession>();
  // One re-check at a time per session: a page's parallel requests share it.
  private readonly rechecks = new Map<string, Promise<AirlockSession | undefined>>();
  readonly recheckMs: number;
  readonly ttlMs: number;

  constructor(private readonly options: SessionOptions) {
    this.recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS;
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    if (!(this.recheckMs > 0) || this.recheckMs > DEFAULT_RECHECK_MS) throw new RangeError(`the access re-check interval must be more than 0 and at most 15 minutes, not ${this.recheckMs} ms`);
  }

  /** A new session for a user the job server has just let in; returns the cookie's token. */
  create(user: BackendUser, access: Access): { token: string; session: AirlockSession } {
    this.prune();
    const now = this.options.clock();
    const token = randomBytes(32).toString("base64url");
    const session: AirlockSession = {
      username: user.username,
      fullName: user.fullName,
      access,
      principal: principalOf(user.username, access),
      csrf: randomBytes(32).toString("base64url"),
      created: now,
      checked: now,
      expires: new Date(now.getTime() + this.ttlMs),
    };
    this.byHash.set(hash(token), session);
    return { token, session };
  }

  /**
   * The session of a cookie's token, its access re-read if it is due; undefined
   * when it has expired, was ended, or its user is gone. Throws the client's
   * JobServerError when a due re-check cannot be made.
   */
  async get(token: string): Promise<AirlockSession | undefined> {
    const key = hash(token);
    const session = this.byHash.get(key);
    if (!session) return undefined;
    const now = this.options.clock().getTime();
    if (now >= session.expires.getTime()) {
      this.byHash.delete(key);
      return undefined;
    }
    if (now - session.checked.getTime() < this.recheckMs) return session;
    let pending = this.rechecks.get(key);
    if (!pending) {
      pending = this.recheck(key, session).finally(() => this.rechecks.delete(key));
      this.rechecks.set(key, pending);
    }
    return pending;
  }

  private async recheck(key: string, session: AirlockSession): Promise<AirlockSession | undefined> {
    const fresh = await this.options.api.access(session.username);
    if (!fresh) {
      this.byHash.delete(key);
      return undefined;
    }
    session.access = fresh.access;
    session.fullName = fresh.user.fullName;
    session.principal = principalOf(session.username, fresh.access);
    session.checked = this.options.clock();
    return session;
  }

  end(token: string): void {
    this.byHash.delete(hash(token));
  }

  get size(): number {
    return this.byHash.size;
  }

  private prune(): void {
    const now = this.options.clock().getTime();
    for (const [k, s] of this.byHash) if (now >= s.expires.getTime()) this.byHash.delete(k);
  }
}
