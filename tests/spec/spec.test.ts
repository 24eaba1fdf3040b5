// Runs every case of every chapter on every engine, every error case once, and
// checks that the cases together exercise every node kind and operation of the
// query model.

import { describe, expect, it } from "vitest";
import { CHAPTERS } from "./chapters.js";
import { ENGINES, type SpecCase, buildDataset, everythingToExercise, exercised, runCase, runErrorCase } from "./harness.js";

for (const chapter of CHAPTERS) {
  describe(chapter.name, () => {
    for (const section of chapter.sections) {
      describe(section.name, () => {
        for (const c of section.cases ?? []) {
          for (const engine of ENGINES) {
            it(`${c.name} [${engine.name}]`, () => runCase(c, engine));
          }
        }
        for (const c of section.errors ?? []) {
          it(`refused: ${c.name}`, () => runErrorCase(c));
        }
      });
    }
  });
}

describe("the spec", () => {
  const all: SpecCase[] = CHAPTERS.flatMap((ch) => ch.sections.flatMap((s) => s.cases ?? []));

  it("names every case uniquely within its section", () => {
    for (const ch of CHAPTERS) {
      for (const s of ch.sections) {
        const names = (s.cases ?? []).map((c) => c.name).concat((s.errors ?? []).map((c) => c.name));
        const dupes = names.filter((n, i) => names.indexOf(n) !== i);
        expect(dupes, `${ch.name} / ${s.name}`).toEqual([]);
      }
    }
  });

  it("exercises every node kind, function and aggregation of the query model", () => {
    const seen = exercised(
      all.flatMap((c) => {
        try {
          return [{ dataset: buildDataset(c), ownPopulation: c.population !== undefined }];
        } catch {
          return []; // reported by the case itself
        }
      }),
    );
    const missing = everythingToExercise().filter((x) => !seen.has(x));
    expect(missing, "not exercised by any case").toEqual([]);
  });
});
