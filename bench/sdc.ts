// npm run bench:sdc: `enclave sdc check` on a 5,000-row, 20-column CSV (the
// largest table level 4 takes), in this process: writes the table to a
// temporary folder, checks it several times and prints the median, against
// the target of 200 ms. Exits with 1 when the median misses the target.
//
//   npm run bench:sdc -- [--rows 5000] [--runs 9]

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { checkFiles } from "../dist/sdc/check.js";

const TARGET_MS = 200;
const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "5000" },
    runs: { type: "string", default: "9" },
  },
});
const rows = Number(values.rows);
const runs = Number(values.runs);

// 4 category columns, a total, 13 counts (some redacted, some small, some
// unrounded, so every rule has cells to report) and 2 statistics: 20 columns.
const counts = Array.from({ length: 13 }, (_, k) => `count_${k + 1}`);
const header = ["region", "sex", "age_band", "ethnicity", "total", ...counts, "mean_age", "rate"];
const lines = [header.join(",")];
let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
for (let i = 0; i < rows; i++) {
  const cells = counts.map(() => {
    const r = random();
    return r < 0.05 ? "[REDACTED]" : r < 0.07 ? String(1 + Math.floor(random() * 7)) : String(5 * Math.floor(random() * 400) + (r < 0.1 ? 1 : 0));
  });
  const total = cells.reduce((s, c) => s + (c === "[REDACTED]" ? 0 : Number(c)), 0);
  lines.push([`"region ${i % 9}"`, i % 2 ? "F" : "M", `age ${i % 17}`, `group ${i % 5}`, String(total), ...cells, (40 + random() * 20).toFixed(1), random().toFixed(4)].join(","));
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "enclave-bench-sdc-"));
const file = path.join(dir, "table.csv");
fs.writeFileSync(file, lines.join("\n") + "\n");

try {
  const times: number[] = [];
  let failures = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const results = await checkFiles([file]);
    times.push(performance.now() - t0);
    failures = results.files[0]!.failures.length;
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const size = (fs.statSync(file).size / 1024).toFixed(0);
  console.log(`enclave sdc check: ${rows} rows x ${header.length} columns (${size} KiB), ${failures} failing cells reported`);
  console.log(`median of ${runs} runs: ${median.toFixed(1)} ms (min ${times[0]!.toFixed(1)}, max ${times[times.length - 1]!.toFixed(1)}); target ${TARGET_MS} ms`);
  if (median > TARGET_MS) {
    console.log("MISSED the target");
    process.exitCode = 1;
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
