// A small seeded random number generator (sfc32, seeded through a 32-bit
// mixer), and the distributions synthetic data needs. Nothing here reads the
// clock or Math.random: the same keys give the same numbers on every machine.

/** Mixes 32-bit words into one (murmur3's finaliser over a running hash). */
function mix32(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit hash of a string (its UTF-16 code units). */
export function hashString(s: string): number {
  let h = 0x9747b28c;
  for (let i = 0; i < s.length; i++) h = mix32(h, s.charCodeAt(i));
  return fmix32(h ^ s.length);
}

/** A seed as given by a user (a number or a string) as a 32-bit key; "42" is the same seed as 42. */
export function seedKey(seed: number | string): number {
  if (typeof seed === "string" && /^-?[0-9]+$/.test(seed) && Number.isSafeInteger(Number(seed))) seed = Number(seed);
  if (typeof seed === "number" && Number.isSafeInteger(seed)) {
    const lo = seed >>> 0;
    const hi = Math.floor(Math.abs(seed) / 2 ** 32) >>> 0;
    return fmix32(mix32(mix32(0x2545f491, lo), hi ^ (seed < 0 ? 0x80000000 : 0)));
  }
  return hashString(`${typeof seed}:${String(seed)}`);
}

/** sfc32: fast, small, and good enough for simulation (passes PractRand to 2^40 and beyond). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | undefined;

  /** A generator for a tuple of 32-bit keys (seed, patient, stream, ...): each tuple its own stream. */
  constructor(...keys: number[]) {
    let h = 0x3c6ef372;
    for (const k of keys) h = mix32(h, k | 0);
    h = fmix32(h ^ keys.length);
    this.a = h;
    this.b = fmix32(h ^ 0x9e3779b9);
    this.c = fmix32(h ^ 0x7f4a7c15);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }
  /** A uniform integer from lo to hi, both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** A standard normal deviate times sd plus mean (Box–Muller, keeping the second value). */
  normal(mean = 0, sd = 1): number {
    let z = this.spare;
    if (z === undefined) {
      const u = 1 - this.next();
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u));
      z = r * Math.cos(2 * Math.PI * v);
      this.spare = r * Math.sin(2 * Math.PI * v);
    } else {
      this.spare = undefined;
    }
    return mean + sd * z;
  }
  /** A normal deviate clamped to [lo, hi]. */
  clampedNormal(mean: number, sd: number, lo: number, hi: number): number {
    return Math.min(hi, Math.max(lo, this.normal(mean, sd)));
  }
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }
  /** Gamma(shape, scale), by Marsaglia and Tsang. */
  gamma(shape: number, scale = 1): number {
    if (shape < 1) return this.gamma(shape + 1, scale) * Math.pow(1 - this.next(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next();
      if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * scale;
    }
  }
  /** Poisson(lambda): Knuth's method for small means, a rounded normal for large ones. */
  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 40) return Math.max(0, Math.round(this.normal(lambda, Math.sqrt(lambda))));
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    for (;;) {
      p *= this.next();
      if (p <= l) return k;
      k++;
    }
  }
  /** A skewed count: Poisson with a gamma-distributed mean (negative binomial); smaller shape, longer tail. */
  skewedCount(mean: number, shape: number): number {
    return this.poisson(this.gamma(shape, mean / shape));
  }
}

/** Items with weights, picked in O(log n). */
export class Weighted<T> {
  private readonly items: T[];
  private readonly cumulative: Float64Array;
  constructor(entries: readonly (readonly [T, number])[]) {
    const kept = entries.filter(([, w]) => w > 0);
    if (kept.length === 0) throw new Error("Weighted: no item has a positive weight");
    this.items = kept.map(([t]) => t);
    this.cumulative = new Float64Array(kept.length);
    let total = 0;
    kept.forEach(([, w], i) => (this.cumulative[i] = total += w));
  }
  get size(): number {
    return this.items.length;
  }
  pick(rng: Rng): T {
    const c = this.cumulative;
    const x = rng.next() * c[c.length - 1]!;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo]!;
  }
}
