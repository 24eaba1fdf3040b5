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
  /**
   * Run as this user and group inside a user namespace of their own (the
   * namespace maps them to whoever started bwrap, so what the process writes
   * belongs to that user outside). Without it, the process keeps bwrap's ids.
   */
  user?: { uid: number; gid: number };
  /**
   * Keep the host's network (a database action whose database is a server);
   * every other namespace is still new.
   */
  shareNetwork?: boolean;
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
  if (spec.shareNetwork) b.push("--share-net");
  if (spec.user) b.push("--unshare-user", "--uid", String(spec.user.uid), "--gid", String(spec.user.gid));
  for (const p of SYSTEM) b.push("--ro-bind-try", p, p);
  // Mounted before the folders, so that a folder under /tmp is not hidden by it.
  b.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  // A folder listed as writable stays writable even when it is also readable
  // (the working folder is both). Mounts go outermost first: a later mount of a
  // parent would hide an earlier one inside it, read-only or not.
  const mounts = new Map<string, "ro" | "rw">();
  for (const p of [path.dirname(exe), ...spec.readOnly, spec.cwd]) mounts.set(real(p), "ro");
  for (const p of spec.writable ?? []) mounts.set(real(p), "rw");
  const depth = (p: string) => p.split(path.sep).filter(Boolean).length;
  for (const [p, mode] of [...mounts].sort(([a], [c]) => depth(a) - depth(c))) b.push(mode === "rw" ? "--bind" : "--ro-bind", p, p);
  // bwrap sets PWD for the new working folder; nothing of the environment is wanted.
  b.push("--chdir", real(spec.cwd), "--unsetenv", "PWD");
  return { command: "bwrap", args: [...b, "--", exe, ...args] };
}
