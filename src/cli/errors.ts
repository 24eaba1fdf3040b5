// The errors the command reports to the user: one line each (or a few, for a
// list of type errors), never a stack trace. main.ts turns them into exit codes.

import * as path from "node:path";

/** Something the user can fix: a bad definition, a missing file. Exit code 1. */
export class UserError extends Error {
  override name = "UserError";
  /** Every line of the report; the first is the message. */
  readonly lines: readonly string[];
  constructor(message: string, more: readonly string[] = []) {
    super(message);
    this.lines = [message, ...more];
  }
}

/** The command line itself is wrong (a malformed option, say). Exit code 2. */
export class UsageError extends UserError {
  override name = "UsageError";
}

/** A path as the user should see it: relative to the current folder. */
export function displayPath(file: string): string {
  return path.relative(process.cwd(), file) || file;
}
