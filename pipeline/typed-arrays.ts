import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let fullCollection: (() => void) | undefined;

/**
 * A full garbage collection now, then a turn of the event loop, in which the array buffers it freed go back
 * to the system. For a stage that lets gigabytes of arrays go before it allocates again: V8 collects on its
 * own schedule, and large arrays let go can wait there, unreturned, while the next ones pile on top.
 */
export async function collectGarbage(): Promise<void> {
  if (fullCollection === undefined) {
    // The collector's entry point is exposed to contexts created after the flag is set.
    setFlagsFromString('--expose-gc');
    fullCollection = runInNewContext('gc') as () => void;
  }
  fullCollection();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

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
