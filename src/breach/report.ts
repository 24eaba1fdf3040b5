// The readable report of a scan: findings grouped by file (a blob at a path),
// each group naming where it first appeared and which commits hold it, then
// the command that removes them.

import type { Finding, ScanResult } from "./scan.js";

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
}

function quoteArg(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** The report, ending in a newline; `repoArg` is the repository as the user named it, for the commands it suggests. */
export function formatReport(result: ScanResult, repoArg: string): string {
  const { findings } = result.report;
  const s = result.stats;
  const lines = [`Scanned ${result.repository}: ${plural(s.commits, "commit")} reachable from ${plural(s.refs, "ref")} (and HEAD), ${plural(s.paths, "path")}, ${plural(s.tables, "table")} checked.`];
  const short = (c: string) => result.commitInfo.get(c)?.short ?? c.slice(0, 10);
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const key = `${f.blob}\u0000${f.path}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  for (const list of groups.values()) {
    const f = list[0]!;
    const first = result.commitInfo.get(f.introduced_in);
    lines.push("", `${f.path}  (blob ${f.blob}, sha256 ${f.sha256.slice(0, 16)}...)`);
    const firstText = first ? `${first.short} ${first.date} "${first.subject}"` : short(f.introduced_in);
    const others = f.commits.slice(1, 5).map(short);
    const rest = f.commits.length > 5 ? `, and ${f.commits.length - 5} more` : "";
    lines.push(`  first in ${firstText}; held by ${plural(f.commits.length, "commit")}${others.length > 0 ? ` (also ${others.join(", ")}${rest})` : ""}`);
    for (const x of list) lines.push(`  ${x.rule}${x.level !== null ? ` (level ${x.level})` : ""}: ${x.message}`);
  }
  for (const w of result.warnings) lines.push("", `warning: ${w}`);
  if (findings.length === 0) {
    lines.push("", "Nothing found.");
    return lines.join("\n") + "\n";
  }
  const blobs = [...new Set(findings.map((f) => f.blob))];
  lines.push(
    "",
    `${plural(findings.length, "finding")} in ${plural(groups.size, "file")} (${plural(blobs.length, "blob")}).`,
    "Deleting or reverting a file does not remove it: every clone holds every commit above.",
    "To remove these blobs from every commit and ref (read `enclave breach clean --help` first):",
    `  enclave breach clean ${quoteArg(repoArg)} ${blobs.map((b) => `--blob ${b}`).join(" ")}`,
  );
  return lines.join("\n") + "\n";
}
