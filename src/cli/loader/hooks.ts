// Module hooks for the child process that runs a definition, and for the
// process of a node:v1 analysis script (they run on Node's loader thread):
// - `enclave` and `enclave/...` mean the running Enclave's own files, the very
//   modules the child's entry sets the load context on, wherever the definition
//   lives (a study folder has no node_modules);
// - `.ts` and `.mts` files are transpiled on the fly, with an inline source map
//   so that `--enable-source-maps` puts the .ts file and line in stack traces;
// - relative imports between TypeScript files may be written as the type-checker
//   accepts them: `./x.ts`, `./x.js`, `./x` or a folder with an index.ts;
// - for an analysis script (node:v1, see register-script.ts), a package that the
//   script's own files import must be one of the fixed set of libraries, and
//   means Enclave's installed copy of it: a study has no node_modules, and one
//   it brought along would differ from what the backend runs.

import { stat, readFile } from "node:fs/promises";
import { type InitializeHook, type LoadHook, type ResolveHook, isBuiltin } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { isEnclaveSpecifier } from "../../pipeline/package-root.js";

export interface HookData {
  /** Specifier (`enclave`, `enclave/tables/core`, ...) → absolute path of the module. */
  exports: Record<string, string>;
  /** Analysis scripts only: the packages they may import, from Enclave's folder `root`. */
  libraries?: { names: string[]; root: string };
}

let exportsMap: Record<string, string> = {};
let libraries: { names: Set<string>; list: string; from: string; enclaveFiles: string[] } | undefined;

export const initialize: InitializeHook<HookData> = (data) => {
  exportsMap = data.exports;
  if (data.libraries) {
    const root = pathToFileURL(data.libraries.root).href.replace(/\/?$/, "/");
    libraries = {
      names: new Set(data.libraries.names),
      list: data.libraries.names.join(", "),
      // Resolving as if imported from Enclave's package.json finds its node_modules.
      from: new URL("package.json", root).href,
      // The libraries' own imports (and Enclave's) resolve as usual; anything else is the study's.
      enclaveFiles: [new URL("node_modules/", root).href, new URL("dist/", root).href],
    };
  }
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
  if (libraries !== undefined && isPackageSpecifier(specifier) && !libraries.enclaveFiles.some((f) => context.parentURL?.startsWith(f))) {
    const name = packageName(specifier);
    if (!libraries.names.has(name)) {
      const offered = `${libraries.list}, Node's built-in modules (node:fs, ...), ${Object.keys(exportsMap).join(", ")}`;
      throw Object.assign(new Error(`"${name}" is not one of the libraries an analysis script can import (node:v1 has ${offered}); packages cannot be installed for a study`), {
        code: "ERR_MODULE_NOT_FOUND",
      });
    }
    return nextResolve(specifier, { ...context, parentURL: libraries.from });
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

/** A bare specifier naming a package (`arquero`, `@scope/name/sub`), not a file, URL or built-in module. */
function isPackageSpecifier(specifier: string): boolean {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("#")) return false;
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return false; // node:, file:, data:, ...
  return !isBuiltin(specifier);
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

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
