/**
 * 32-bit hashing for hot loops. Everything stays in int32 arithmetic (Math.imul, >>> 0): multiplying
 * 32-bit values as doubles loses low bits above 2^53, which is how naive MinHash code goes wrong.
 */

/** MurmurHash3's finalizer: a bijection on 32-bit integers with full avalanche. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Order-dependent combination of two 32-bit hashes (for n-grams of token hashes). */
export function combine32(a: number, b: number): number {
  return mix32((Math.imul(a, 0x9e3779b1) ^ b) + 0x7f4a7c15);
}

/** FNV-1a start value; feed code units with `hashUnit`, finish with `mix32`. */
export const FNV_OFFSET = 0x811c9dc5;

export function hashUnit(h: number, codeUnit: number): number {
  return Math.imul(h ^ codeUnit, 0x01000193);
}

/** Hash of a whole string, equal to feeding its code units one by one (used for stopword tables). */
export function hashString(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = hashUnit(h, s.charCodeAt(i));
  return mix32(h);
}

/** Deterministic pseudo-random 32-bit stream (mulberry32), for hash seeds and tests. */
export function randomStream(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
