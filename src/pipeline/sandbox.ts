// Running researcher code at arm's length: bubblewrap (bwrap) puts a process in
// new namespaces with no network, no view of other processes (so not of their
// environments either), no capabilities, and only the folders it is given,
// read-only unless said otherwise.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface SandboxSpec {
  /** Folders (or files) the process may read. */
  readOnly: readonly string[];
  /** Folders the process may write. */
  writable?: readonly string[];
  /** Working folder inside the sandbox (also readable). */
  cwd: string;
}

let probed: boolean | undefined;

/** Whether bwrap is installed and can create namespaces here (probed once). */
export function sandboxAvailable(): boolean {
  if (probed === undefined) {
    const r = spawnSync("bwrap", ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"], { stdio: "ignore", timeout: 10_000 });
    probed = r.status === 0;
  }
  return probed;
}

// What any dynamically linked program needs to start.
const SYSTEM = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives"];

/** The bwrap command line that runs `command args` inside the sandbox. */
export function sandboxed(command: string, args: readonly string[], spec: SandboxSpec): { command: string; args: string[] } {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const exe = real(command);
  const b: string[] = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"];
  for (const p of SYSTEM) b.push("--ro-bind-try", p, p);
  // Mounted before the folders, so that a folder under /tmp is not hidden by it.
  b.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  const ro = new Set([path.dirname(exe), ...spec.readOnly.map(real), real(spec.cwd)]);
  for (const p of ro) b.push("--ro-bind", p, p);
  for (const p of spec.writable ?? []) b.push("--bind", real(p), real(p));
  // bwrap sets PWD for the new working folder; nothing of the environment is wanted.
  b.push("--chdir", real(spec.cwd), "--unsetenv", "PWD");
  return { command: "bwrap", args: [...b, "--", exe, ...args] };
}
