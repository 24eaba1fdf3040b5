// Patients and patients with asthma by age band and sex, made safe to release:
// counts of `threshold` or less are redacted, the rest rounded to the nearest
// `rounding` (both from project.yaml's config), and the table is written as a
// CSV with a bar chart of it as SVG and PNG.
//
// A node:v1 action: it runs with Enclave's fixed set of libraries (arquero,
// vega-lite, vega, @resvg/resvg-js, simple-statistics) and enclave/sdc, and
// sees only the outputs of the actions it needs.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import * as aq from "arquero";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import { roundToNearest, suppressSmallCounts } from "enclave/sdc";

const { values } = parseArgs({ options: { config: { type: "string", default: "{}" } } });
const config = JSON.parse(values.config!) as { threshold?: number; rounding?: number };
const threshold = config.threshold ?? 7;
const rounding = config.rounding ?? 5;

const dataset = aq.fromCSV(gunzipSync(readFileSync("output/dataset.csv.gz")).toString("utf8"), { parse: { has_asthma: (v: string) => v === "T" } });

const counts = dataset
  .groupby("age_band", "sex")
  .rollup({ patients: aq.op.count(), with_asthma: (d: { has_asthma: boolean }) => aq.op.sum(d.has_asthma ? 1 : 0) })
  .orderby("age_band", "sex");

// Suppress first, then round what is left: a rounded small count could still be recovered.
const safe = (n: number): number | string => {
  const kept = suppressSmallCounts(n, threshold);
  return kept === null ? "[REDACTED]" : roundToNearest(kept, rounding);
};
const rows = (counts.objects() as { age_band: string; sex: string; patients: number; with_asthma: number }[]).map((r) => ({
  age_band: r.age_band,
  sex: r.sex,
  patients: safe(r.patients),
  with_asthma: safe(r.with_asthma),
}));

mkdirSync("output", { recursive: true });
writeFileSync("output/asthma_by_age_band.csv", aq.from(rows).toCSV() + "\n");

// The chart shows only the safe numbers (redacted cells are left out).
const spec: vegaLite.TopLevelSpec = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: "Patients with asthma by age band and sex (rounded to the nearest 5)",
  data: { values: rows.filter((r) => typeof r.with_asthma === "number") },
  mark: "bar",
  encoding: {
    x: { field: "age_band", type: "nominal", title: "Age band" },
    xOffset: { field: "sex" },
    y: { field: "with_asthma", type: "quantitative", title: "Patients with asthma" },
    color: { field: "sex", type: "nominal", title: "Sex" },
  },
  width: 480,
  height: 300,
};
const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
const svg = await view.toSVG();
writeFileSync("output/asthma_by_age_band.svg", svg);
writeFileSync("output/asthma_by_age_band.png", new Resvg(svg, { background: "white" }).render().asPng());
console.log(`wrote output/asthma_by_age_band.csv (${rows.length} rows), .svg and .png`);
