// The code a job ran, for the checkers and researchers to read beside its
// outputs. The agent keeps a bare mirror of each workspace's repository under
// its folder (src/agent/checkout.ts); Airlock only reads it, with git, at the
// job's commit: nothing is fetched from inside the backend, and nothing of a
// working tree is involved.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { NotFound, RuleViolation } from "./errors.js";
import { checkRelativePath } from "./files.js";

/** Where the agent keeps the mirror of `repo` (the name src/agent/checkout.ts gives it). */
export function mirrorPath(agentDir: string, repo: string): string {
  return path.join(agentDir, "repos", `${createHash("sha256").update(repo).digest("hex").slice(0, 16)}.git`);
}

const MAX_FILE = 2 * 1024 * 1024;

function git(mirror: string, args: string[]): Promise<Buffer> {
  // No hooks, no configuration but the mirror's, no prompts, none of Airlock's secrets.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: "/nonexistent" };
  return new Promise((resolve, reject) => {
    execFile("git", ["--git-dir", mirror, ...args], { env, encoding: "buffer", maxBuffer: MAX_FILE + 1024, timeout: 15_000 }, (e, stdout, stderr) => {
      if (e) reject(Object.assign(e, { stderr: Buffer.isBuffer(stderr) ? stderr.toString("utf8") : String(stderr) }));
      else resolve(stdout);
    });
  });
}

export class CodeReader {
  constructor(private readonly agentDir: string) {}

  private mirror(repo: string, commit: string): string {
    if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) throw new RuleViolation(`${JSON.stringify(commit)} is not a full commit hash`);
    const mirror = mirrorPath(this.agentDir, repo);
    if (!fs.existsSync(path.join(mirror, "HEAD"))) throw new NotFound(`the backend holds no copy of the repository ${repo}: the agent has not run a job from it`);
    return mirror;
  }

  /** Every file of the commit, sorted. */
  async files(repo: string, commit: string): Promise<string[]> {
    const mirror = this.mirror(repo, commit);
    let out: Buffer;
    try {
      out = await git(mirror, ["ls-tree", "-r", "-z", "--name-only", `${commit}^{tree}`]);
    } catch {
      throw new NotFound(`commit ${commit} is not in the backend's copy of ${repo}`);
    }
    return out
      .toString("utf8")
      .split("\0")
      .filter((f) => f !== "")
      .sort();
  }

  /** One file of the commit. */
  async file(repo: string, commit: string, p: string): Promise<Buffer> {
    checkRelativePath(p);
    const mirror = this.mirror(repo, commit);
    const spec = `${commit}:${p}`;
    let type: string;
    try {
      type = (await git(mirror, ["cat-file", "-t", spec])).toString("utf8").trim();
    } catch {
      throw new NotFound(`${JSON.stringify(p)} is not a file of commit ${commit}`);
    }
    if (type !== "blob") throw new NotFound(`${JSON.stringify(p)} is a ${type} of commit ${commit}, not a file`);
    const size = Number((await git(mirror, ["cat-file", "-s", spec])).toString("utf8").trim());
    if (size > MAX_FILE) throw new RuleViolation(`${JSON.stringify(p)} at commit ${commit} is ${size} bytes, more than the ${MAX_FILE} shown here`);
    return git(mirror, ["cat-file", "blob", spec]);
  }
}
