// A node:v1 analysis as a researcher would write it: a table with arquero,
// statistics, a chart as SVG and PNG, disclosure control from enclave/sdc, and
// its settings from the action's config.

import * as fs from "node:fs";
import * as aq from "arquero";
import * as ss from "simple-statistics";
import * as vega from "vega";
import * as vl from "vega-lite";
import { Resvg } from "@resvg/resvg-js";
import { disclosureControlColumns, redact, roundToNearest } from "enclave/sdc";

const at = process.argv.indexOf("--config");
const config = (at >= 0 ? JSON.parse(process.argv[at + 1]!) : {}) as { title?: string };

const patients = aq.table({
  region: ["north", "north", "south", "south", "east", "west"],
  count: [3, 12, 40, 21, 7, 8],
});
const byRegion = patients.groupby("region").rollup({ count: aq.op.sum("count") }).orderby("region");
const safe = aq.from(disclosureControlColumns(byRegion.objects() as Record<string, unknown>[], "count"));

fs.mkdirSync("output", { recursive: true });
fs.writeFileSync("output/table.csv", safe.toCSV());

const spec: vl.TopLevelSpec = {
  title: config.title ?? "untitled",
  data: { values: safe.objects() },
  mark: "bar",
  encoding: { x: { field: "region", type: "nominal" }, y: { field: "count", type: "quantitative" } },
};
const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
const svg = await view.toSVG();
fs.writeFileSync("output/chart.svg", svg);
fs.writeFileSync("output/chart.png", new Resvg(svg).render().asPng());

fs.writeFileSync(
  "output/summary.json",
  JSON.stringify({ config, mean: ss.mean(patients.array("count") as number[]), rounded: roundToNearest(12), redacted: redact(5), kept: redact(8) }),
);
console.log("analysis done");
