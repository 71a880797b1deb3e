import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let fullCollection: (() => void) | undefined;

/**
 * A full garbage collection now, and a wait until the array buffers it freed have gone back to the system. For
 * a stage that lets gigabytes of arrays go before it allocates again: V8 collects on its own schedule, and
 * large arrays let go can wait there, unreturned, while the next ones pile on top.
 */
export async function collectGarbage(): Promise<void> {
  if (fullCollection === undefined) {
    // The collector's entry point is exposed to contexts created after the flag is set.
    setFlagsFromString('--expose-gc');
    fullCollection = runInNewContext('gc') as () => void;
  }
  fullCollection();
  // The buffers go back over the next few hundred milliseconds, off this thread: after the candidate stage
  // of a million articles, the resident memory fell from 2.0 GB to 0.1 GB over 250 ms, a turn of the event
  // loop after the collection had not yet freed 0.1 GB of it (node /tmp/sh/gc.mjs). So this waits, 10 ms at
  // a time and at most a second, until the resident memory stops falling.
  let resident = process.memoryUsage.rss();
  for (let waited = 0; waited < SETTLE_MAX_MS; waited += SETTLE_STEP_MS) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_STEP_MS));
    const now = process.memoryUsage.rss();
    if (resident - now < SETTLED_BYTES) break;
    resident = now;
  }
}

const SETTLE_STEP_MS = 10;
const SETTLE_MAX_MS = 1000;
/** Less than this returned in a step: the memory has settled. */
const SETTLED_BYTES = 1 << 20;

/** A copy of `a` in an array twice as long: scratch buffers grow geometrically, so appending stays O(1). */
export function doubled(a: Uint32Array): Uint32Array<ArrayBuffer> {
  const grown = new Uint32Array(a.length * 2);
  grown.set(a);
  return grown;
}

type TypedArrayType<T> = { new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number };

/**
 * A zeroed typed array of `length` elements; with `shared`, in a SharedArrayBuffer, which worker threads read
 * and write without a copy.
 */
export function allocate<T>(make: TypedArrayType<T>, length: number, shared = false): T {
  const bytes = make.BYTES_PER_ELEMENT * length;
  return new make((shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes)) as ArrayBuffer);
}

/** A copy of `array` in a SharedArrayBuffer, for worker threads to read without a copy each. */
export function sharedCopy<T extends Uint8Array | Uint32Array | Float32Array | Float64Array>(array: T): T {
  const copy = new (array.constructor as new (buffer: SharedArrayBuffer) => T)(new SharedArrayBuffer(array.byteLength));
  copy.set(array as never);
  return copy;
}

/** Bits of the key a pass of KeySorter sorts on: 2,048 counters, which stay in the L1 cache. */
const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;

/**
 * Sorts 32-bit keys with an item each (an article) by key, items of equal keys in the order given: a least
 * significant digit radix sort, three passes of 11 bits. A band's million (key, article) pairs packed into
 * doubles and sorted by the built-in sort took most of findCandidatesIn's time (candidates.ts).
 */
export class KeySorter {
  keys: Uint32Array;
  items: Uint32Array;
  private spareKeys: Uint32Array;
  private spareItems: Uint32Array;
  private readonly counts = new Uint32Array(RADIX);

  constructor(size: number) {
    this.keys = new Uint32Array(size);
    this.items = new Uint32Array(size);
    this.spareKeys = new Uint32Array(size);
    this.spareItems = new Uint32Array(size);
  }

  /** Sorts keys[0 .. count) and their items; returns the arrays that hold the result (this.keys and this.items after). */
  sort(count: number): { keys: Uint32Array; items: Uint32Array } {
    const counts = this.counts;
    for (let shift = 0; shift < 32; shift += RADIX_BITS) {
      const { keys, items, spareKeys, spareItems } = this;
      counts.fill(0);
      for (let i = 0; i < count; i++) counts[(keys[i] >>> shift) & (RADIX - 1)]++;
      let sum = 0;
      for (let d = 0; d < RADIX; d++) {
        const c = counts[d];
        counts[d] = sum;
        sum += c;
      }
      for (let i = 0; i < count; i++) {
        const key = keys[i];
        const at = counts[(key >>> shift) & (RADIX - 1)]++;
        spareKeys[at] = key;
        spareItems[at] = items[i];
      }
      this.keys = spareKeys;
      this.items = spareItems;
      this.spareKeys = keys;
      this.spareItems = items;
    }
    return { keys: this.keys, items: this.items };
  }
}
