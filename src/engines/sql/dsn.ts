// A backend database named by a DSN: sqlite://, duckdb://, postgresql:// (or
// postgres://). A DSN holds credentials, so no message here repeats it; callers
// that print a driver's message pass it through `scrub` first.

import * as fs from "node:fs";
import * as path from "node:path";
import type { SqlConnection } from "./connection.js";
import { DuckdbConnection } from "./duckdb.js";
import { PostgresConnection } from "./postgres.js";
import { SqliteConnection } from "./sqlite.js";

export type DsnEngine = "sqlite" | "duckdb" | "postgres";

/**
 * A DSN that cannot be used. `usage` means the DSN itself is malformed (the
 * command line is wrong); `database` means it names a database that is not
 * there or cannot be reached.
 */
export class DsnError extends Error {
  override name = "DsnError";
  constructor(
    message: string,
    readonly kind: "usage" | "database",
  ) {
    super(message);
  }
}

export interface ParsedDsn {
  engine: DsnEngine;
  /** The database, as messages may name it (never the DSN itself). */
  where: string;
  /** The database file, for SQLite and DuckDB. */
  file?: string;
  connect(readonly: boolean): Promise<SqlConnection>;
}

/** Parses a DSN into an engine and how to connect; errors never repeat the DSN. */
export function parseDsn(dsn: string, options: { create?: boolean } = {}): ParsedDsn {
  const m = /^([a-z]+):\/\/(.*)$/i.exec(dsn);
  const scheme = m?.[1]?.toLowerCase();
  if (scheme === "sqlite" || scheme === "duckdb") {
    // sqlite:///absolute/path.db or sqlite://relative/path.db
    const rest = m![2]!;
    const file = rest.startsWith("/") ? rest : path.resolve(rest);
    if (!options.create && !fs.existsSync(file)) throw new DsnError(`the ${scheme} database in the DSN does not exist (${path.basename(file)})`, "database");
    return {
      engine: scheme,
      where: `${scheme} database ${path.basename(file)}`,
      file,
      connect: async (readonly) => (scheme === "sqlite" ? new SqliteConnection(file, { readonly, create: options.create }) : DuckdbConnection.open(file, { readonly })),
    };
  }
  if (scheme === "postgresql" || scheme === "postgres") {
    return {
      engine: "postgres",
      where: "PostgreSQL database",
      connect: async () => {
        try {
          return await PostgresConnection.open(dsn);
        } catch (e) {
          throw new DsnError(`could not connect to the PostgreSQL database in the DSN: ${scrub((e as Error).message, dsn)}`, "database");
        }
      },
    };
  }
  throw new DsnError("the DSN must start with sqlite://, duckdb://, postgresql:// or postgres:// (the DSN itself is not shown: it may hold a password)", "usage");
}

/** Removes a DSN and its password from a message. */
export function scrub(message: string, dsn: string): string {
  let out = message.split(dsn).join("<dsn>");
  const password = /:\/\/[^:/@]*:([^@]*)@/.exec(dsn)?.[1];
  if (!password) return out;
  // A driver may quote the password as written or percent-decoded.
  for (const form of new Set([password, decoded(password)])) if (form) out = out.split(form).join("***");
  return out;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
