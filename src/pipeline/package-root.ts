// Where this Enclave lives, and what its package.json "exports" offer. Both the
// type-checker and the child process's module hooks use this to make
// `import ... from "enclave"` mean the running Enclave, wherever the definition is.

import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export interface EnclaveExport {
  /** Absolute path of the declaration file (`types`). */
  readonly types: string;
  /** Absolute path of the module that runs (`default`). */
  readonly module: string;
}

let cachedRoot: string | undefined;

/** The folder of this package's package.json (real path, so module URLs match). */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string }).name === "enclave") {
      cachedRoot = fs.realpathSync(dir);
      return cachedRoot;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find Enclave's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The package's exports, keyed by the specifier a definition writes: `enclave`, `enclave/tables/core`, ... */
export function enclaveExports(root = packageRoot()): Map<string, EnclaveExport> {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
    exports?: Record<string, { types?: string; import?: string; default?: string }>;
  };
  const out = new Map<string, EnclaveExport>();
  for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
    const module = target.import ?? target.default;
    if (target.types === undefined || module === undefined) continue;
    const specifier = sub === "." ? "enclave" : `enclave/${sub.replace(/^\.\//, "")}`;
    out.set(specifier, { types: path.join(root, target.types), module: path.join(root, module) });
  }
  return out;
}

/** True for `enclave` and `enclave/...`: specifiers that must mean this package. */
export function isEnclaveSpecifier(specifier: string): boolean {
  return specifier === "enclave" || specifier.startsWith("enclave/");
}
