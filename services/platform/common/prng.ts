/**
 * Seeded pseudo-random numbers (drift statistics, training splits, demos and fuzzers): every resample, fold split and
 * reference-side draw is reproducible from a seed, so a threshold or an AUC computed twice
 * gives the same number.
 */

/** A uniform generator on [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a 32-bit generator with a full 2^32 period, good enough for resampling (not for
 * cryptography). Same seed, same sequence, on every platform.
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/** Fisher-Yates shuffle in place; returns its argument. */
export function shuffleInPlace<T extends { length: number; [index: number]: number }>(
  values: T,
  random: Random,
): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const swap = values[i]!;
    values[i] = values[j]!;
    values[j] = swap;
  }
  return values;
}

/** `k` indices drawn from [0, n) with replacement (a bootstrap resample). */
export function sampleWithReplacement(random: Random, n: number, k: number): Int32Array {
  const out = new Int32Array(k);
  for (let i = 0; i < k; i++) out[i] = randomInt(random, n);
  return out;
}

/**
 * `k` distinct indices drawn from `from` (or from [0, n) when `from` is a number), in random
 * order: a partial Fisher-Yates shuffle of a copy, O(size of the population).
 */
export function sampleWithoutReplacement(
  random: Random,
  from: number | ArrayLike<number>,
  k: number,
): Int32Array {
  const population =
    typeof from === 'number'
      ? Int32Array.from({ length: from }, (_, i) => i)
      : Int32Array.from(from);
  if (k > population.length) {
    throw new RangeError(`cannot draw ${k} distinct items from ${population.length}`);
  }
  for (let i = 0; i < k; i++) {
    const j = i + randomInt(random, population.length - i);
    const swap = population[i]!;
    population[i] = population[j]!;
    population[j] = swap;
  }
  return population.slice(0, k);
}
