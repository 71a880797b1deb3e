/** A copy of `a` in an array twice as long: scratch buffers grow geometrically, so appending stays O(1). */
export function doubled(a: Uint32Array): Uint32Array<ArrayBuffer> {
  const grown = new Uint32Array(a.length * 2);
  grown.set(a);
  return grown;
}
