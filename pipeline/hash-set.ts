import { mix32 } from './hash.js';

/**
 * A fixed set of 32-bit integers in one open-addressing table: membership tests in hot loops without
 * boxing numbers or allocating.
 */
export class HashSet32 {
  private readonly slots: Uint32Array;
  private readonly mask: number;
  /** Zero marks an empty slot, so whether 0 itself is a member is kept aside. */
  private readonly hasZero: boolean;
  readonly size: number;

  constructor(values: Iterable<number>) {
    const unique = new Set<number>();
    for (const v of values) unique.add(v >>> 0);
    let capacity = 16;
    while (capacity < unique.size * 2) capacity *= 2;
    this.slots = new Uint32Array(capacity);
    this.mask = capacity - 1;
    this.hasZero = unique.has(0);
    this.size = unique.size;
    for (const v of unique) {
      if (v === 0) continue;
      let i = mix32(v) & this.mask;
      while (this.slots[i] !== 0) i = (i + 1) & this.mask;
      this.slots[i] = v;
    }
  }

  has(value: number): boolean {
    value >>>= 0;
    if (value === 0) return this.hasZero;
    let i = mix32(value) & this.mask;
    for (;;) {
      const slot = this.slots[i];
      if (slot === value) return true;
      if (slot === 0) return false;
      i = (i + 1) & this.mask;
    }
  }
}
