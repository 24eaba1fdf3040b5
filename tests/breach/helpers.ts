// Repositories built in temporary folders, commit by commit, with fixed dates
// (so that the order of commits, and so `introduced_in`, is the same on every
// run), and the `breach` commands run in this process as main.ts runs them.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { vi } from "vitest";
import { registerBreach } from "../../src/cli/breach.js";
import { UsageError, UserError } from "../../src/cli/errors.js";

const folders: string[] = [];

export function tempDir(prefix = "enclave-breach-test-"): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  folders.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of folders.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A git repository with its own identity, no signing and no hooks from the user's configuration. */
export class Repo {
  private clock = 1_700_000_000;
  constructor(readonly dir: string) {}

  static init(options: { bare?: boolean } = {}): Repo {
    const r = new Repo(tempDir());
    r.git("init", "--quiet", "--initial-branch=main", ...(options.bare ? ["--bare"] : []));
    r.git("config", "user.name", "Test");
    r.git("config", "user.email", "test@example.org");
    r.git("config", "commit.gpgsign", "false");
    r.git("config", "tag.gpgsign", "false");
    r.git("config", "core.autocrlf", "false");
    return r;
  }

  git(...args: string[]): string {
    const date = `${this.clock} +0000`;
    return execFileSync("git", ["-C", this.dir, ...args], {
      encoding: "utf8",
      env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, GIT_CONFIG_NOSYSTEM: "1", HOME: this.dir, LC_ALL: "C" },
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  }

  /** Writes (or, for null, deletes) files, stages everything and commits; returns the commit's id. */
  commit(message: string, files: Record<string, string | null> = {}): string {
    for (const [name, text] of Object.entries(files)) {
      const file = path.join(this.dir, name);
      if (text === null) fs.rmSync(file, { force: true });
      else {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
      }
    }
    this.git("add", "--all");
    this.clock += 60;
    this.git("commit", "--quiet", "--allow-empty", "-m", message);
    return this.head();
  }

  /** A merge of `branch` into the current branch (no fast-forward). */
  merge(branch: string, message: string): string {
    this.clock += 60;
    this.git("merge", "--quiet", "--no-ff", "-m", message, branch);
    return this.head();
  }

  head(): string {
    return this.git("rev-parse", "HEAD");
  }

  blobOf(text: string): string {
    const file = path.join(tempDir(), "blob");
    fs.writeFileSync(file, text);
    return this.git("hash-object", file);
  }

  /** Whether the object store holds an object (git cat-file -e). */
  has(oid: string): boolean {
    try {
      this.git("cat-file", "-e", oid);
      return true;
    } catch {
      return false;
    }
  }

  /** Every commit whose tree holds `blob` at `file`, by asking git commit by commit: the slow way, as a check. */
  commitsHolding(blob: string, file: string): Set<string> {
    const out = new Set<string>();
    for (const c of this.git("rev-list", "--all").split("\n").filter((l) => l !== "")) {
      const line = this.git("ls-tree", "-r", c, "--", file);
      if (line.split(/\s+/)[2] === blob) out.add(c);
    }
    return out;
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `enclave breach ...args` in this process, with main.ts's exit codes; calls must not overlap. */
export async function breach(args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  const program = new Command("enclave").exitOverride().configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  registerBreach(program);
  let code = 0;
  try {
    await program.parseAsync(["node", "enclave", "breach", ...args]);
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode === 0 ? 0 : 2;
    else if (e instanceof UserError) {
      for (const line of e.lines) stderr += `error: ${line}\n`;
      code = e instanceof UsageError ? 2 : 1;
    } else throw e;
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { code, stdout, stderr };
}
