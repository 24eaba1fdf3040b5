// The viewer's parts on their own: the column summary on a known CSV, sorting
// and filtering from the query string, the edit script (checked against
// random inputs), the CSV cell diff, the log's colours, and the accessibility
// check the web tests rely on.

import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diffLines, diffTables, readTableQuery, selectRows, summarise, textHunks } from "../../src/airlock/index.js";
import { formatNumber, rawHeaders, renderCsv, renderLog } from "../../src/airlock/viewer.js";
import { accessibilityProblems } from "./web-helpers.js";

const table = (text: string) => {
  const [header, ...rows] = text
    .trim()
    .split("\n")
    .map((l) => l.split(","));
  return { header: header!, rows };
};

describe("the column summary", () => {
  const t = table(`
name,count,rate,mid_midpoint6,flag
a,10,0.5,3,x
b,0,1.25,9,
c,[REDACTED],,0,y
d,redacted,2,15,NA
e,<=7,,21,z
f,25,0.25,na,
g,,3,27,w`);
  const s = Object.fromEntries(summarise(t).map((c) => [c.name, c]));

  it("counts missing and redacted values, and leaves both out of the figures", () => {
    expect(s.count).toEqual({ name: "count", type: "integer", missing: 1, redacted: 3, min: 0, minNonZero: 10, max: 25, sum: 35, divisibleBy5: true, midpoint6: false });
  });

  it("types decimals, and gives their figures without floating-point noise", () => {
    expect(s.rate).toMatchObject({ type: "decimal", missing: 2, redacted: 0, min: 0.25, minNonZero: 0.25, max: 3, divisibleBy5: false, midpoint6: false });
    expect(formatNumber(s.rate!.sum)).toBe("7");
    expect(formatNumber(0.1 + 0.2)).toBe("0.3");
  });

  it("knows midpoint-6 rounding (0, 3, 9, 15, ...) and text columns", () => {
    expect(s.mid_midpoint6).toMatchObject({ type: "integer", redacted: 1, min: 0, minNonZero: 3, max: 27, sum: 75, divisibleBy5: false, midpoint6: true });
    expect(s.name).toMatchObject({ type: "text", min: null, sum: null, divisibleBy5: null, midpoint6: null });
    expect(s.flag).toMatchObject({ type: "text", missing: 2, redacted: 1 });
  });

  it("calls a column with nothing but gaps empty", () => {
    expect(summarise(table("a,b\n1,\n2,"))[1]).toMatchObject({ type: "empty", missing: 2, min: null });
  });
});

describe("sorting and filtering", () => {
  const t = table(`
group,count
b,20
a,100
c,[REDACTED]
d,3
e,x`);
  const q = (s: string) => readTableQuery(new URLSearchParams(s), t.header);

  it("sorts numbers as numbers, text after them, and gaps last in either direction", () => {
    expect(selectRows(t, q("sort=count&dir=asc"))).toEqual([3, 0, 1, 4, 2]);
    expect(selectRows(t, q("sort=count&dir=desc"))).toEqual([1, 0, 3, 4, 2]);
    expect(selectRows(t, q("sort=group&dir=desc"))).toEqual([4, 3, 2, 0, 1]);
  });

  it("filters by column (case aside), in any column, and with the form's fields", () => {
    expect(selectRows(t, q("filter=group:A"))).toEqual([1]);
    expect(selectRows(t, q("filter=:redact"))).toEqual([2]);
    expect(selectRows(t, q("fcol=count&ftext=0"))).toEqual([0, 1]);
    expect(selectRows(t, q("filter=count:0&filter=group:b"))).toEqual([0]);
  });

  it("ignores a column that does not exist, and finds names that hold a colon", () => {
    expect(q("sort=nope&filter=nope:1")).toEqual({ sort: undefined, dir: "asc", filters: [] });
    expect(readTableQuery(new URLSearchParams("filter=a:b:c"), ["a", "a:b"]).filters).toEqual([{ column: "a:b", text: "c" }]);
  });

  it("escapes every cell and header of the table", () => {
    const page = renderCsv("t.csv", Buffer.from('"<b>x</b>",y\n"<script>",1\n'), { query: new URLSearchParams(), link: () => "/", check: null }).text;
    expect(page).not.toContain("<script>");
    expect(page).not.toContain("<b>");
    expect(page).toContain("&lt;script&gt;");
  });
});

describe("the edit script", () => {
  const apply = (a: string[], b: string[]) => {
    const edits = diffLines(a, b);
    const out: string[] = [];
    const fromA: string[] = [];
    for (const e of edits) {
      if (e.op === "same") {
        expect(a[e.a]).toBe(b[e.b]);
        out.push(b[e.b]!);
        fromA.push(a[e.a]!);
      } else if (e.op === "add") out.push(b[e.b]!);
      else fromA.push(a[e.a]!);
    }
    return { out, fromA, edits };
  };

  it("turns any list into any other, using every line of each once, in order", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("a", "b", "c", "d"), { maxLength: 30 }), fc.array(fc.constantFrom("a", "b", "c", "d"), { maxLength: 30 }), (a, b) => {
        const { out, edits } = apply(a, b);
        expect(out).toEqual(b);
        const olds = edits.filter((e) => e.op !== "add").map((e) => (e as { a: number }).a);
        expect(olds).toEqual(a.map((_, i) => i));
      }),
    );
  });

  it("is minimal on a small case, and copes with large files", () => {
    expect(diffLines(["a", "b", "c"], ["a", "x", "c"]).map((e) => e.op)).toEqual(["same", "del", "add", "same"]);
    const big = Array.from({ length: 20_000 }, (_, i) => `line ${i}`);
    const changed = big.map((l, i) => (i % 1000 === 0 ? `${l} changed` : l));
    expect(diffLines(big, changed).filter((e) => e.op !== "same")).toHaveLength(40);
    const rewritten = big.map((l) => `${l}!`);
    expect(apply(big.slice(0, 5000), rewritten.slice(0, 5000)).out).toEqual(rewritten.slice(0, 5000));
  });
});

describe("the CSV diff", () => {
  it("pairs rows changed in place and marks the cells, under the new header", () => {
    const d = diffTables(table("g,n,old\na,3,x\nb,100,y\nc,5,z"), table("g,n,new\na,10,1\nb,100,2\nd,7,3\ne,1,4"));
    expect(d.columns).toEqual([
      { name: "g", status: "same" },
      { name: "n", status: "same" },
      { name: "new", status: "added" },
      { name: "old", status: "removed" },
    ]);
    expect(d.rows.map((r) => [r.kind, r.oldRow, r.newRow])).toEqual([
      ["changed", 1, 1],
      ["changed", 3, 3],
      ["added", null, 4],
    ]);
    expect(d.rows[0]!.cells[1]).toEqual({ value: "10", before: "3", changed: true });
    // Row 2 differs only in the columns that came and went: not a change of the row.
    expect(d.unchangedRows).toBe(1);
  });

  it("reports nothing for the same table", () => {
    expect(diffTables(table("a\n1\n2"), table("a\n1\n2"))).toEqual({ columns: [{ name: "a", status: "same" }], rows: [], unchangedRows: 2 });
  });

  it("gives text changes in hunks with context", () => {
    const before = Array.from({ length: 20 }, (_, i) => `l${i}`).join("\n");
    const after = before.replace("l10", "L10");
    const [hunk, ...rest] = textHunks(before, after);
    expect(rest).toEqual([]);
    expect(hunk!.lines.map((l) => `${l.op} ${l.text}`)).toEqual(["same l7", "same l8", "same l9", "del l10", "add L10", "same l11", "same l12", "same l13"]);
  });
});

describe("logs and raw files", () => {
  it("turns ANSI colours into classes, drops other escapes, and escapes the text", () => {
    expect(renderLog("\x1b[1;32mok <x>\x1b[0m \x1b[2Kdone").text).toBe('<pre class="file-text log" tabindex="0"><span class="ansi-bold ansi-32">ok &lt;x&gt;</span> done</pre>');
  });

  it("serves every raw file sandboxed, with a safe file name", () => {
    const h = rawHeaders('out/we"ird\\näme.svg', "attachment");
    expect(h["Content-Security-Policy"]).toMatch(/^sandbox;/);
    expect(h["Content-Disposition"]).toBe(`attachment; filename="we_ird_n_me.svg"; filename*=UTF-8''${encodeURIComponent('we"ird\\näme.svg')}`);
    expect(rawHeaders("a.bin", "inline")["Content-Type"]).toBe("application/octet-stream");
  });
});

describe("the accessibility check", () => {
  it("finds what it looks for", () => {
    const page = '<html lang="en"><link rel="stylesheet"><h1>x</h1><h3>y</h3><input id="a"><table><tr><th>z</th></tr></table><img src="x">';
    expect(accessibilityProblems(page)).toEqual([
      "heading h3 follows h1",
      'a input without a label: <input id="a">',
      "a th without scope: <th>",
      "a table without a caption",
      "an image without alt text",
    ]);
  });
});
