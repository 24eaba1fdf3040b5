// The context a definition is loaded in: where the definition file lives (so a
// relative codelist path means the same thing wherever the command runs) and
// the parameters given with `--param name=value`. The loader sets it before it
// imports the definition; in tests it can be set directly.

import * as path from "node:path";

export interface LoadContext {
  /** The folder of the definition file; relative codelist paths are resolved against it. */
  definitionDir: string;
  /** Values given with --param, as strings. */
  params: Readonly<Record<string, string>>;
}

let current: LoadContext = { definitionDir: process.cwd(), params: {} };

export function setLoadContext(ctx: Partial<LoadContext>): void {
  current = {
    definitionDir: path.resolve(ctx.definitionDir ?? current.definitionDir),
    params: { ...(ctx.params ?? current.params) },
  };
}

export function loadContext(): LoadContext {
  return current;
}
