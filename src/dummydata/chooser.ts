// Random choices that learn. Each place where the generator makes a choice
// (is this column NULL? which codelist? how many rows?) owns a Slot: a prior
// weight per option. After each batch of candidates, an option's weight
// becomes its prior times the share of candidates that made it and were in the
// population. That is the option's probability given the population (Bayes'
// rule), so patients look like prior ones that happen to be in the population:
// options that the population needs win quickly, and options that do not
// matter keep their prior share instead of drifting towards whichever was
// lucky early on, as rewarding only the winners' choices would make them.
//
// Slots are made once, when a plan is built, so that a choice costs no string
// building or map lookup: choosing is the hot loop of dummy data.

import type { Random } from "./random.js";

// Pseudo-wins on each side of an option's rate, so that what a few candidates
// in the population happened to choose does not drive every other option out.
const SMOOTHING = 5;

export class Slot {
  readonly weights: number[];
  total = 0;
  private readonly prior: readonly number[];
  /** How many times each option was chosen, and by how many candidates that were in the population. */
  private readonly made: number[];
  private readonly won: number[];
  dirty = false;

  constructor(initial: readonly number[]) {
    this.prior = [...initial];
    this.weights = [...initial];
    this.made = initial.map(() => 0);
    this.won = initial.map(() => 0);
    for (const w of this.weights) this.total += w;
  }

  count(option: number, accepted: boolean): void {
    this.made[option]!++;
    if (accepted) this.won[option]!++;
    this.dirty = true;
  }

  /**
   * Weights from the counts so far: the prior times each option's smoothed
   * rate of candidates in the population, relative to the slot's, to the power
   * `sharpness` (above 1 when the population is hard to meet, and speed
   * matters more than patients looking like prior ones).
   */
  update(sharpness: number): void {
    this.dirty = false;
    let made = 0, won = 0;
    for (let i = 0; i < this.made.length; i++) {
      made += this.made[i]!;
      won += this.won[i]!;
    }
    // Nothing yet in the population: nothing to learn from.
    if (won === 0) return;
    const rate = won / made;
    this.total = 0;
    for (let i = 0; i < this.weights.length; i++) {
      // Wins against the wins the option would have if it made no difference.
      const ratio = (this.won[i]! + SMOOTHING) / (this.made[i]! * rate + SMOOTHING);
      const w = this.prior[i]! * (sharpness === 1 ? ratio : ratio ** sharpness);
      this.weights[i] = w;
      this.total += w;
    }
  }
}

export class Chooser {
  // The choices made since the log was cleared, as parallel lists rather than
  // a pair per choice: a candidate makes about a hundred, and a batch holds
  // thousands of candidates.
  private slots: Slot[] = [];
  private picks: number[] = [];
  private length = 0;

  constructor(public rng: Random) {}

  choose(slot: Slot): number {
    const w = slot.weights;
    let x = this.rng.next() * slot.total;
    let i = 0;
    for (; i < w.length - 1; i++) {
      x -= w[i]!;
      if (x < 0) break;
    }
    this.slots[this.length] = slot;
    this.picks[this.length] = i;
    this.length++;
    return i;
  }

  /** Where the log is now: the choices between one candidate's mark and the next's are that candidate's. */
  mark(): number {
    return this.length;
  }

  /**
   * Learns from a batch: `marks` has one mark per candidate and a last one,
   * and `accepted[c]` says whether candidate c was in the population.
   */
  learn(marks: Int32Array, accepted: Uint8Array, sharpness = 1): void {
    const touched: Slot[] = [];
    for (let c = 0; c + 1 < marks.length; c++) {
      const yes = accepted[c] === 1;
      for (let j = marks[c]!; j < marks[c + 1]!; j++) {
        const slot = this.slots[j]!;
        if (!slot.dirty) touched.push(slot);
        slot.count(this.picks[j]!, yes);
      }
    }
    for (const slot of touched) slot.update(sharpness);
  }

  /** Forgets the log (what was learnt stays). */
  clear(): void {
    this.length = 0;
  }
}
