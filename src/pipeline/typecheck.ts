// Type-checks a definition before it runs, the way the child process will run
// it: strict, ES modules, `enclave` and `enclave/...` resolved to this package's
// declaration files. Only the definition and what it imports are checked.

import * as path from "node:path";
import { enclaveExports, isEnclaveSpecifier, packageRoot } from "./package-root.js";

/** What a definition may use beyond JavaScript's own built-ins (console.log goes to stderr). */
const GLOBALS = `
interface EnclaveConsole {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
  table(data: unknown, columns?: string[]): void;
  dir(item: unknown): void;
}
declare var console: EnclaveConsole;
`;

/** Every error, as `path/to/file.ts:LINE:COL: message` with paths relative to `shownFrom` (the current folder by default). */
export async function typecheckDefinition(file: string, root = packageRoot(), shownFrom = process.cwd()): Promise<string[]> {
  const { default: ts } = await import("typescript");
  const exports = enclaveExports(root);
  const options: import("typescript").CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2023.d.ts"],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    moduleDetection: ts.ModuleDetectionKind.Force,
    allowImportingTsExtensions: true,
    isolatedModules: true,
    esModuleInterop: true,
    resolveJsonModule: true,
    skipLibCheck: true,
    // No @types: a definition builds a query; it has JavaScript's built-ins and `console` (GLOBALS).
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const globals = path.join(root, "dist", "pipeline", "definition-globals.d.ts");
  const readFile = host.readFile.bind(host);
  host.readFile = (f) => (f === globals ? GLOBALS : readFile(f));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (f) => f === globals || fileExists(f);
  const cache = ts.createModuleResolutionCache(process.cwd(), (f) => f, options);
  host.resolveModuleNameLiterals = (literals, containingFile, redirected, opts) =>
    literals.map((literal) => {
      const name = literal.text;
      if (isEnclaveSpecifier(name)) {
        const target = exports.get(name);
        return {
          resolvedModule: target && { resolvedFileName: target.types, extension: ts.Extension.Dts, isExternalLibraryImport: true },
        };
      }
      return ts.resolveModuleName(name, containingFile, opts, host, cache, redirected);
    });
  const program = ts.createProgram({ rootNames: [file, globals], options, host });
  const distDir = path.join(root, "dist") + path.sep;
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error && !d.file?.fileName.startsWith(distDir))
    .map((d) => {
      let message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      // "Cannot find name 'process'. Do you need to install type definitions for node? Try `npm i ...`": not advice for a definition.
      if (d.code === 2580 || d.code === 2591) message = `${message.split(".")[0]}: a definition has JavaScript's built-ins and console, not Node's APIs`;
      if (d.file === undefined || d.start === undefined) return message;
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${path.relative(shownFrom, d.file.fileName) || d.file.fileName}:${line + 1}:${character + 1}: ${message}`;
    });
}
