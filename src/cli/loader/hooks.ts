// Module hooks for the child process that runs a definition (they run on
// Node's loader thread):
// - `enclave` and `enclave/...` mean the running Enclave's own files, the very
//   modules the child's entry sets the load context on, wherever the definition
//   lives (a study folder has no node_modules);
// - `.ts` and `.mts` files are transpiled on the fly, with an inline source map
//   so that `--enable-source-maps` puts the .ts file and line in stack traces;
// - relative imports between TypeScript files may be written as the type-checker
//   accepts them: `./x.ts`, `./x.js`, `./x` or a folder with an index.ts.

import { stat, readFile } from "node:fs/promises";
import type { InitializeHook, LoadHook, ResolveHook } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { isEnclaveSpecifier } from "../package-root.js";

export interface HookData {
  /** Specifier (`enclave`, `enclave/tables/core`, ...) → absolute path of the module. */
  exports: Record<string, string>;
}

let exportsMap: Record<string, string> = {};

export const initialize: InitializeHook<HookData> = (data) => {
  exportsMap = data.exports;
};

const TS_FILE = /\.m?ts$/;

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  if (isEnclaveSpecifier(specifier)) {
    const target = exportsMap[specifier];
    if (target === undefined) {
      const offered = Object.keys(exportsMap).map((s) => `"${s}"`).join(", ");
      throw Object.assign(new Error(`Enclave has no module "${specifier}" (it offers ${offered})`), { code: "ERR_PACKAGE_PATH_NOT_EXPORTED" });
    }
    return { url: pathToFileURL(target).href, format: "module", shortCircuit: true };
  }
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    const parent = context.parentURL;
    const relative = specifier.startsWith("./") || specifier.startsWith("../");
    if (!relative || parent === undefined || !TS_FILE.test(parent)) throw e;
    for (const candidate of typeScriptCandidates(specifier)) {
      const url = new URL(candidate, parent);
      if (await isFile(url)) return { url: url.href, shortCircuit: true };
    }
    throw e;
  }
};

/** Where the type-checker (bundler resolution) would look for a relative import. */
function typeScriptCandidates(specifier: string): string[] {
  const bare = specifier.replace(/\/$/, "");
  if (/\.js$/.test(bare)) return [bare.replace(/\.js$/, ".ts")];
  if (/\.mjs$/.test(bare)) return [bare.replace(/\.mjs$/, ".mts")];
  return [`${bare}.ts`, `${bare}.mts`, `${bare}/index.ts`];
}

async function isFile(url: URL): Promise<boolean> {
  try {
    return (await stat(url)).isFile();
  } catch {
    return false;
  }
}

export const load: LoadHook = async (url, context, nextLoad) => {
  if (!url.startsWith("file:") || !TS_FILE.test(url)) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const { outputText } = ts.transpileModule(await readFile(file, "utf8"), {
    fileName: file,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      isolatedModules: true,
      esModuleInterop: true,
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  return { format: "module", source: outputText, shortCircuit: true };
};
