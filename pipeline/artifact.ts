/**
 * The binary files stages hand to each other in `OUT/work/`: a JSON header (what wrote it, with which
 * options) followed by typed arrays, each 8-byte aligned so they can be viewed without copying.
 *
 *   "NEARDUP1" | header length (uint32 LE) | header JSON | padding | array bytes ...
 */
import { type FileHandle, open } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.js';
import { InputError } from './errors.js';

const MAGIC = 'NEARDUP1';
const ARRAY_TYPES = { Uint8Array, Uint32Array, Int32Array, Float32Array, Float64Array } as const;
type ArrayTypeName = keyof typeof ARRAY_TYPES;
export type StoredArray = Uint8Array | Uint32Array | Int32Array | Float32Array | Float64Array;

interface ArrayEntry {
  name: string;
  type: ArrayTypeName;
  offset: number;
  length: number;
}

export interface Artifact<Meta> {
  meta: Meta;
  arrays: Record<string, StoredArray>;
}

const align8 = (x: number) => Math.ceil(x / 8) * 8;

export async function writeArtifact(path: string, kind: string, meta: object, arrays: Record<string, StoredArray>): Promise<void> {
  const entries: ArrayEntry[] = [];
  let offset = 0;
  for (const [name, array] of Object.entries(arrays)) {
    entries.push({ name, type: array.constructor.name as ArrayTypeName, offset, length: array.length });
    offset = align8(offset + array.byteLength);
  }
  const header = Buffer.from(JSON.stringify({ kind, meta, arrays: entries }), 'utf8');
  const dataStart = align8(MAGIC.length + 4 + header.length);
  const prefix = Buffer.alloc(dataStart);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(header.length, MAGIC.length);
  header.copy(prefix, MAGIC.length + 4);
  const chunks: Uint8Array[] = [prefix];
  for (const array of Object.values(arrays)) {
    chunks.push(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    const padding = align8(array.byteLength) - array.byteLength;
    if (padding > 0) chunks.push(new Uint8Array(padding));
  }
  await writeFileAtomic(path, chunks);
}

/** Bytes per read call (a single read is limited to 2 GiB). */
const READ_CHUNK = 1 << 30;

/**
 * Reads an artifact written by `writeArtifact`; says which stage to run when it is missing or foreign. Each
 * array is read straight into a buffer of its own (aligned, and with `shared` a SharedArrayBuffer that worker
 * threads read without a copy): no second copy of a file that holds gigabytes at a million articles, and no
 * single buffer over the 4 GiB a typed array can view. `only`: the names of the arrays to read (default all).
 */
export async function readArtifact<Meta>(path: string, kind: string, producedBy: string, shared = false, only?: readonly string[]): Promise<Artifact<Meta>> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      // A missing stage file is a mistake in the command (exit code 1 and a message), not a crash.
      throw new InputError(path, undefined, `does not exist: run \`neardup ${producedBy}\` (or \`neardup run\`) with the same --out first`);
    }
    throw error;
  }
  try {
    const size = (await file.stat()).size;
    const prefix = Buffer.alloc(MAGIC.length + 4);
    const notOurs = `${path} is not a neardup work file; delete it and run \`neardup ${producedBy}\` again`;
    if (size < prefix.length) throw new Error(notOurs);
    await readExactly(file, prefix, 0, path, producedBy);
    if (prefix.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error(notOurs);
    const headerLength = prefix.readUInt32LE(MAGIC.length);
    const headerBytes = Buffer.alloc(headerLength);
    await readExactly(file, headerBytes, prefix.length, path, producedBy);
    const header = JSON.parse(headerBytes.toString('utf8')) as { kind: string; meta: Meta; arrays: ArrayEntry[] };
    if (header.kind !== kind) throw new Error(`${path} holds ${header.kind}, not ${kind}; run \`neardup ${producedBy}\` again`);
    const dataStart = align8(MAGIC.length + 4 + headerLength);
    const arrays: Record<string, StoredArray> = {};
    for (const entry of header.arrays) {
      if (only !== undefined && !only.includes(entry.name)) continue;
      const type = ARRAY_TYPES[entry.type];
      const bytes = entry.length * type.BYTES_PER_ELEMENT;
      const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
      await readExactly(file, new Uint8Array(buffer), dataStart + entry.offset, path, producedBy);
      arrays[entry.name] = new type(buffer as ArrayBuffer);
    }
    return { meta: header.meta, arrays };
  } finally {
    await file.close();
  }
}

/** Fills `into` from the file at `position`, in calls of at most READ_CHUNK bytes. */
async function readExactly(file: FileHandle, into: Uint8Array, position: number, path: string, producedBy: string): Promise<void> {
  for (let at = 0; at < into.length; ) {
    const { bytesRead } = await file.read(into, at, Math.min(into.length - at, READ_CHUNK), position + at);
    if (bytesRead === 0) throw new Error(`${path} ends early: it is truncated or changed while being read; run \`neardup ${producedBy}\` again`);
    at += bytesRead;
  }
}
