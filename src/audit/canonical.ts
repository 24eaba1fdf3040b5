// The canonical form that an entry's hash is taken over. It is RFC 8785 (the
// JSON Canonicalization Scheme) restricted to what an audit entry can hold, so
// any JCS library in any language can recompute a hash:
//
//   - objects: members sorted by key, comparing keys as sequences of UTF-16
//     code units (JavaScript's default sort; for ASCII keys, plain byte order);
//     `{`, `}`, `:`, `,` with no whitespace anywhere
//   - arrays: elements in order, `[`, `]`, `,`
//   - strings: as ECMAScript JSON.stringify writes them: `"` and `\` escaped,
//     U+0008 U+0009 U+000A U+000C U+000D as \b \t \n \f \r, other controls
//     below U+0020 as \u00xx (lower-case hex), everything else as itself
//   - numbers: finite only, as ECMAScript Number.prototype.toString writes
//     them (1, 1.5, 1e+21, -0 becomes 0)
//   - true, false, null
//
// The bytes hashed are the UTF-8 encoding of that text; the hash is the
// lower-case hex SHA-256 of them.

import { createHash } from "node:crypto";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The canonical JSON text of `value`; throws on anything JSON cannot hold. */
export function canonicalJson(value: unknown): string {
  return write(value, "");
}

function write(value: unknown, where: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      // JSON.stringify's string escaping is exactly the one JCS prescribes.
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`${where || "value"} is ${value}, which JSON cannot hold`);
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${where}[${i}]`)).join(",")}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      // A Date or a Map would silently turn into something else; the caller should say what it means.
      if (proto !== Object.prototype && proto !== null) throw new TypeError(`${where || "value"} is not a plain object`);
      const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
      keys.sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write((value as Record<string, unknown>)[k], `${where}.${k}`)}`).join(",")}}`;
    }
    default:
      throw new TypeError(`${where || "value"} is a ${typeof value}, which JSON cannot hold`);
  }
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
