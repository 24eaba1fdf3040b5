import { describe, it } from "vitest";
import { CHAPTERS } from "../../spec/chapters.js";
import { type SpecEngine, runCase } from "../../spec/harness.js";
import { SqlEngine, SqliteConnection } from "../../../src/engines/sql/index.js";
import { RowsTableReader } from "../../../src/engines/files/index.js";

const sqlite: SpecEngine = {
  name: "sqlite",
  run: async (dataset, tables) => {
    const rows = [];
    for await (const b of new SqlEngine("sqlite", async () => new SqliteConnection(), { tables: new RowsTableReader(tables) }).execute(dataset)) rows.push(...b);
    return rows;
  },
};
for (const ch of CHAPTERS) describe(ch.name, () => { for (const s of ch.sections) for (const c of s.cases ?? []) it(`${s.name}: ${c.name}`, () => runCase(c, sqlite)); });
