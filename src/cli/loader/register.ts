// Loaded with `node --import` in the child process that runs a definition:
// installs the module hooks before the definition is imported.

import { register } from "node:module";
import { enclaveExports } from "../../pipeline/package-root.js";
import type { HookData } from "./hooks.js";

const data: HookData = { exports: Object.fromEntries([...enclaveExports()].map(([specifier, e]) => [specifier, e.module])) };
register("./hooks.js", import.meta.url, { data });
