// str series: comparisons are case-sensitive and by character; contains
// treats `%` and `_` as plain characters.

import { maximumOf, value } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "eq is case-sensitive",
    tables: { p: "patient | s1\n1 | abc\n2 | ABC\n3 | Abc\n4 |" },
    series: () => p.s1.eq("abc"),
    expected: { 1: true, 2: false, 3: false, 4: null },
  },
  {
    name: "ne on two series",
    tables: { p: "patient | s1 | s2\n1 | a | a\n2 | a | b\n3 | a |" },
    series: () => p.s1.ne(p.s2),
    expected: { 1: false, 2: true, 3: null },
  },
  {
    name: "lt orders strings by character, not by number",
    tables: { p: "patient | s1 | s2\n1 | 10 | 9\n2 | apple | banana\n3 | b | a\n4 | a | ab" },
    series: () => p.s1.lt(p.s2),
    expected: { 1: true, 2: true, 3: false, 4: true },
  },
  {
    name: "upper case sorts before lower case",
    tables: { p: "patient | s1\n1 | B\n2 | a" },
    series: () => p.s1.lt("a"),
    expected: { 1: true, 2: false },
  },
  {
    name: "le, gt and ge with a literal",
    tables: { p: "patient | s1\n1 | m\n2 | n\n3 | o\n4 |" },
    series: () => p.s1.le("n").and(p.s1.ge("m")).and(p.s1.gt("l")),
    expected: { 1: true, 2: true, 3: false, 4: null },
  },
  {
    name: "contains a substring",
    tables: { p: "patient | s1\n1 | hello world\n2 | Hello\n3 | help\n4 |" },
    series: () => p.s1.contains("ello"),
    expected: { 1: true, 2: true, 3: false, 4: null },
  },
  {
    name: "contains is case-sensitive",
    tables: { p: "patient | s1\n1 | Hello\n2 | hello" },
    series: () => p.s1.contains("H"),
    expected: { 1: true, 2: false },
  },
  {
    name: "contains treats % as a plain character",
    tables: { p: "patient | s1\n1 | 100%\n2 | 100 percent\n3 | %\n4 | abc" },
    series: () => p.s1.contains("%"),
    expected: { 1: true, 2: false, 3: true, 4: false },
  },
  {
    name: "contains treats _ as a plain character",
    tables: { p: "patient | s1\n1 | a_b\n2 | axb\n3 | ab" },
    series: () => p.s1.contains("a_b"),
    expected: { 1: true, 2: false, 3: false },
  },
  {
    name: "contains a pattern-like string only literally",
    tables: { p: "patient | s1\n1 | a%c\n2 | abbbc\n3 | a%c%" },
    series: () => p.s1.contains("a%c"),
    expected: { 1: true, 2: false, 3: true },
  },
  {
    name: "contains another series",
    tables: { p: "patient | s1 | s2\n1 | haystack | st\n2 | haystack | needle\n3 | haystack |\n4 | | a" },
    series: () => p.s1.contains(p.s2),
    expected: { 1: true, 2: false, 3: null, 4: null },
  },
  {
    name: "contains the empty string is true",
    tables: { p: 'patient | s1\n1 | abc\n2 | ""' },
    series: () => p.s1.contains(""),
    expected: { 1: true, 2: true },
  },
  {
    name: "a value() str on the left",
    tables: { p: "patient | s1\n1 | b\n2 | c" },
    series: () => value("b").eq(p.s1),
    expected: { 1: true, 2: false },
  },
  {
    name: "contains on an event series, then counted",
    tables: { e: "patient | s1\n1 | x-ray\n1 | xray\n1 |\n2 | X-RAY" },
    series: () => e.where(e.s1.contains("-")).countForPatient(),
    expected: { 1: 1, 2: 1 },
  },
  {
    name: "a str literal that looks like a number stays a string",
    tables: { p: "patient | s1\n1 | 007\n2 | 7" },
    series: () => p.s1.eq("7"),
    expected: { 1: false, 2: true },
  },
  {
    name: "characters beyond ASCII compare by code point",
    tables: { p: "patient | s1\n1 | é\n2 | z\n3 | Z" },
    series: () => p.s1.gt("z"),
    expected: { 1: true, 2: false, 3: false },
  },
  {
    name: "strings with spaces inside",
    tables: { p: "patient | s1\n1 | a b\n2 | ab" },
    series: () => p.s1.contains(" "),
    expected: { 1: true, 2: false },
  },
  {
    name: "strings order by code point, so a character beyond U+FFFF sorts after U+FF5A",
    tables: { p: "patient | s1\n1 | \uff5a\n2 | \u{1F600}" },
    series: () => p.s1.lt("\u{1F600}"),
    expected: { 1: true, 2: false },
  },
  {
    name: "maximumOf follows code point order",
    tables: { p: "patient | s1\n1 | \uff5a" },
    series: () => maximumOf(p.s1, "\u{1F600}"),
    expected: { 1: "\u{1F600}" },
  },
];
