// The libraries an analysis script (a node:v1 action) can import. They are
// Enclave's own dependencies, pinned to exact versions in package.json (a test
// keeps the two in step): a study has no node_modules, and nothing can be
// installed in the backend, so a script runs against exactly these, locally
// and in the backend alike. A new version of one is a new image version.
//
// Kept apart from runtimes.ts because the script's own process reads it (see
// cli/loader/register-script.ts), and should load nothing else of the runner.

/** Package name → the exact version node:v1 ships. */
export const NODE_V1_LIBRARIES: Readonly<Record<string, string>> = {
  // Data frames: filter, group, join, pivot, read and write CSV.
  arquero: "7.2.1",
  // Statistics: descriptive statistics, regression, distributions, tests.
  "simple-statistics": "7.12.1",
  // Charts: a Vega-Lite specification compiled to Vega, rendered to SVG...
  "vega-lite": "6.4.3",
  vega: "6.4.0",
  // ...and SVG rendered to PNG.
  "@resvg/resvg-js": "2.6.2",
};
