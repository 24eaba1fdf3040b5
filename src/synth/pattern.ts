// Strings that match a regular expression, for columns whose values are only
// known by their pattern (ehrQL's `Constraint.Regex`, such as `E020[0-9]{5}`).
// It understands the plain subset schemas use: literals, escapes, character
// classes with ranges, groups with alternatives, and the quantifiers ? * + {n}
// {n,m}. Anything else is refused when the pattern is compiled, not later.

import type { Rng } from "./random.js";

type Part =
  | { readonly kind: "chars"; readonly chars: string }
  | { readonly kind: "group"; readonly alternatives: readonly (readonly Repeat[])[] };
interface Repeat {
  readonly part: Part;
  readonly min: number;
  readonly max: number;
}

const DIGITS = "0123456789";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const CLASSES: Record<string, string> = { d: DIGITS, w: UPPER + LOWER + DIGITS + "_", s: " " };

export class PatternError extends Error {
  override name = "PatternError";
}

/** Compiles a pattern into a generator of matching strings. */
export function patternGenerator(pattern: string): (rng: Rng) => string {
  let i = 0;
  const fail = (why: string): never => {
    throw new PatternError(`cannot generate strings for /${pattern}/: ${why} at position ${i}`);
  };

  function alternatives(): Repeat[][] {
    const alts: Repeat[][] = [sequence()];
    while (pattern[i] === "|") {
      i++;
      alts.push(sequence());
    }
    return alts;
  }
  function sequence(): Repeat[] {
    const seq: Repeat[] = [];
    while (i < pattern.length && pattern[i] !== "|" && pattern[i] !== ")") seq.push(quantified(atom()));
    return seq;
  }
  function atom(): Part {
    const ch = pattern[i]!;
    if (ch === "(") {
      i++;
      if (pattern.startsWith("?:", i)) i += 2;
      else if (pattern[i] === "?") fail("lookaround and named groups are not supported");
      const alts = alternatives();
      if (pattern[i] !== ")") fail("unclosed group");
      i++;
      return { kind: "group", alternatives: alts };
    }
    if (ch === "[") return { kind: "chars", chars: charClass() };
    if (ch === "\\") return { kind: "chars", chars: escape() };
    if (ch === ".") {
      i++;
      return { kind: "chars", chars: UPPER + DIGITS };
    }
    if (ch === "^" || ch === "$") fail("anchors are implied");
    if ("*+?{".includes(ch)) fail("a quantifier with nothing to repeat");
    i++;
    return { kind: "chars", chars: ch };
  }
  function escape(): string {
    i++;
    const e = pattern[i++];
    if (e === undefined) return fail("a trailing backslash");
    if (e in CLASSES) return CLASSES[e]!;
    if (/[a-zA-Z0-9]/.test(e)) return fail(`the escape \\${e} is not supported`);
    return e;
  }
  function charClass(): string {
    i++;
    if (pattern[i] === "^") fail("negated character classes are not supported");
    let chars = "";
    while (i < pattern.length && pattern[i] !== "]") {
      let from: string;
      if (pattern[i] === "\\") {
        const e = escape();
        if (e.length > 1) {
          chars += e;
          continue;
        }
        from = e;
      } else {
        from = pattern[i++]!;
      }
      if (pattern[i] === "-" && pattern[i + 1] !== undefined && pattern[i + 1] !== "]") {
        i++;
        const to = pattern[i] === "\\" ? escape() : pattern[i++]!;
        if (to.length !== 1 || to < from) fail("a bad range in a character class");
        for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c++) chars += String.fromCharCode(c);
      } else {
        chars += from;
      }
    }
    if (pattern[i] !== "]") fail("unclosed character class");
    i++;
    if (chars === "") fail("an empty character class");
    return chars;
  }
  function quantified(part: Part): Repeat {
    const ch = pattern[i];
    if (ch === "?") return (i++, { part, min: 0, max: 1 });
    if (ch === "*") return (i++, { part, min: 0, max: 3 });
    if (ch === "+") return (i++, { part, min: 1, max: 3 });
    if (ch === "{") {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(pattern.slice(i));
      if (!m) return fail("a bad {n,m} quantifier");
      i += m[0].length;
      const min = Number(m[1]);
      const max = m[2] ? (m[3] ? Number(m[3]) : min + 3) : min;
      if (max < min) fail("{n,m} with m below n");
      return { part, min, max };
    }
    return { part, min: 1, max: 1 };
  }

  const top = alternatives();
  if (i < pattern.length) fail("an unmatched )");

  function gen(rng: Rng, alts: readonly (readonly Repeat[])[]): string {
    const seq = alts.length === 1 ? alts[0]! : rng.pick(alts);
    let out = "";
    for (const r of seq) {
      const n = r.min === r.max ? r.min : rng.int(r.min, r.max);
      for (let k = 0; k < n; k++) out += r.part.kind === "chars" ? r.part.chars[Math.floor(rng.next() * r.part.chars.length)]! : gen(rng, r.part.alternatives);
    }
    return out;
  }
  const check = new RegExp(`^(?:${pattern})$`);
  return (rng) => {
    const s = gen(rng, top);
    if (!check.test(s)) throw new PatternError(`generated ${JSON.stringify(s)}, which does not match /${pattern}/`);
    return s;
  };
}
