// Loaded with `node --import` in the process that runs an analysis script (a
// node:v1 action): the same hooks as for a definition (`enclave/...` means this
// Enclave, .ts runs as is), and the script's imports of packages are limited to
// the fixed, versioned set of libraries that Enclave ships for node:v1.

import { register } from "node:module";
import { enclaveExports, packageRoot } from "../../pipeline/package-root.js";
import { NODE_V1_LIBRARIES } from "../../pipeline/node-libraries.js";
import type { HookData } from "./hooks.js";

const data: HookData = {
  exports: Object.fromEntries([...enclaveExports()].map(([specifier, e]) => [specifier, e.module])),
  libraries: { names: Object.keys(NODE_V1_LIBRARIES), root: packageRoot() },
};
register("./hooks.js", import.meta.url, { data });
