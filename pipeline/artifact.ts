/**
 * The binary files stages hand to each other in `OUT/work/`: a JSON header (what wrote it, with which
 * options) followed by typed arrays, each 8-byte aligned so they can be viewed without copying.
 *
 *   "NEARDUP1" | header length (uint32 LE) | header JSON | padding | array bytes ...
 */
import { type FileHandle, access, open } from 'node:fs/promises';
import { BackgroundFlush, commitTemporary, discardTemporary, openTemporary, writeAll } from './atomic-write.js';
import invariant from 'tiny-invariant';
import { InputError } from './errors.js';

const MAGIC = 'NEARDUP1';
const ARRAY_TYPES = { Uint8Array, Uint16Array, Uint32Array, Int32Array, Float32Array, Float64Array } as const;
type ArrayTypeName = keyof typeof ARRAY_TYPES;
export type StoredArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

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

/**
 * Long lists of strings in a header's meta (every article's id, every cluster's) are stored as one string,
 * the list joined by line breaks, under this key: JSON.parse took 0.35 s for the million ids of a million
 * articles' work/shingles.bin, and 0.12 s for one string and its split, for every stage that opens it.
 */
const JOINED_LINES = '$joinedLines';
/** Shorter lists stay JSON arrays. */
const MIN_JOINED = 1024;

/** `meta` with each long list of strings without a line break (ids never have one: read-articles.ts) joined. */
function packMeta(meta: object): object {
  const packed: Record<string, unknown> = { ...meta };
  for (const [key, value] of Object.entries(packed)) {
    if (Array.isArray(value) && value.length >= MIN_JOINED && value.every((item) => typeof item === 'string' && !item.includes('\n'))) {
      packed[key] = { [JOINED_LINES]: value.join('\n') };
    }
  }
  return packed;
}

/** The meta packMeta stored, its joined lists split again. Files from before have their lists as arrays. */
function unpackMeta<Meta>(meta: Meta): Meta {
  for (const [key, value] of Object.entries(meta as Record<string, unknown>)) {
    const joined = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[JOINED_LINES] : undefined;
    if (typeof joined === 'string') (meta as Record<string, unknown>)[key] = joined.split('\n');
  }
  return meta;
}

/**
 * An array to store, whole or as consecutive parts of one type: parts are written one after the other where
 * they belong, never joined in memory (the candidate stage's merged parts, half a gigabyte at a million).
 */
export type StoredArrayParts = StoredArray | StoredArray[];

export async function writeArtifact(path: string, kind: string, meta: object, arrays: Record<string, StoredArrayParts>): Promise<void> {
  const writer = await ArtifactWriter.create(path, kind, meta, arraySpecs(arrays));
  try {
    for (const [name, array] of Object.entries(arrays)) {
      let at = 0;
      for (const part of Array.isArray(array) ? array : [array]) {
        await writer.writeRange(name, at, part);
        at += part.length;
      }
    }
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

const typeOf = (array: StoredArray): ArrayTypeName => array.constructor.name as ArrayTypeName;

/** An array an artifact will hold, before it is written. */
export interface ArraySpec {
  name: string;
  type: ArrayTypeName;
  length: number;
}

/** The specs of `arrays`, in their order. */
export function arraySpecs(arrays: Record<string, StoredArrayParts>): ArraySpec[] {
  return Object.entries(arrays).map(([name, array]) => {
    const parts = Array.isArray(array) ? array : [array];
    invariant(parts.length > 0 && parts.every((part) => typeOf(part) === typeOf(parts[0])), `array ${name}: one or more parts of one type`);
    return { name, type: typeOf(parts[0]), length: parts.reduce((sum, part) => sum + part.length, 0) };
  });
}

/**
 * An artifact written an array at a time, in any order, with the all-or-nothing guarantee of writeFileAtomic:
 * its layout is fixed when it is created, so a stage can write the arrays it has while it computes the
 * others, and flush them to disk meanwhile (the shingle stage writes its features while the workers weigh
 * them). The file is the one writeArtifact writes: padding is the zeros of a file extended to its length.
 */
export class ArtifactWriter {
  /** Elements written of each array. */
  private readonly written = new Map<string, number>();
  private readonly flushes: BackgroundFlush;

  private constructor(
    private readonly handle: FileHandle,
    private readonly temporary: string,
    private readonly path: string,
    private readonly entries: ArrayEntry[],
    private readonly dataStart: number,
  ) {
    this.flushes = new BackgroundFlush(handle);
  }

  static async create(path: string, kind: string, meta: object, arrays: ArraySpec[]): Promise<ArtifactWriter> {
    const entries: ArrayEntry[] = [];
    let offset = 0;
    for (const { name, type, length } of arrays) {
      entries.push({ name, type, offset, length });
      offset = align8(offset + length * ARRAY_TYPES[type].BYTES_PER_ELEMENT);
    }
    const header = Buffer.from(JSON.stringify({ kind, meta: packMeta(meta), arrays: entries }), 'utf8');
    const dataStart = align8(MAGIC.length + 4 + header.length);
    const prefix = Buffer.alloc(dataStart);
    prefix.write(MAGIC, 0, 'latin1');
    prefix.writeUInt32LE(header.length, MAGIC.length);
    header.copy(prefix, MAGIC.length + 4);
    const { handle, temporary } = await openTemporary(path);
    try {
      await handle.truncate(dataStart + offset);
      await writeAll(handle, prefix, undefined, 0);
    } catch (error) {
      await discardTemporary(handle, temporary);
      throw error;
    }
    return new ArtifactWriter(handle, temporary, path, entries, dataStart);
  }

  /** Writes array `name` in its place. */
  async write(name: string, array: StoredArray): Promise<void> {
    invariant(this.entryOf(name).length === array.length, `array ${name} as the artifact was laid out`);
    await this.writeRange(name, 0, array);
  }

  /**
   * Writes `part` as elements from .. from + part.length - 1 of array `name`: a stage that makes an array a
   * piece at a time writes each piece as it comes, and need not hold the whole. Pieces must not overlap.
   */
  async writeRange(name: string, from: number, part: StoredArray): Promise<void> {
    const entry = this.entryOf(name);
    const type = ARRAY_TYPES[entry.type];
    invariant(part instanceof type && Number.isInteger(from) && from >= 0 && from + part.length <= entry.length, `elements ${from}..${from + part.length} of ${name}`);
    await writeAll(this.handle, new Uint8Array(part.buffer, part.byteOffset, part.byteLength), undefined, this.dataStart + entry.offset + from * type.BYTES_PER_ELEMENT);
    this.written.set(name, (this.written.get(name) ?? 0) + part.length);
    this.flushes.wrote(part.byteLength);
  }

  /** Sends what has been written to disk, so that commit waits only for what comes after. */
  async flush(): Promise<void> {
    await this.flushes.flush();
  }

  /** Once every array is written: the file, flushed to disk, replaces `path`. */
  async commit(): Promise<void> {
    for (const entry of this.entries) invariant(this.written.get(entry.name) === entry.length, `every element of ${entry.name} written`);
    await this.flushes.settled();
    await commitTemporary(this.handle, this.temporary, this.path);
  }

  /** Removes the temporary file; `path` is left as it was. */
  async abort(): Promise<void> {
    await this.flushes.stopped();
    await discardTemporary(this.handle, this.temporary);
  }

  private entryOf(name: string): ArrayEntry {
    const entry = this.entries.find((e) => e.name === name);
    invariant(entry !== undefined, `the artifact has an array ${name}`);
    return entry;
  }
}

/** Bytes per read call (a single read is limited to 2 GiB). */
const READ_CHUNK = 1 << 26;

/**
 * Reads an artifact written by `writeArtifact`; says which stage to run when it is missing or foreign. Each
 * array is read straight into a buffer of its own (aligned, and with `shared` a SharedArrayBuffer that worker
 * threads read without a copy): no second copy of a file that holds gigabytes at a million articles, and no
 * single buffer over the 4 GiB a typed array can view. `only`: the names of the arrays to read (default all).
 */
export async function readArtifact<Meta>(path: string, kind: string, producedBy: string, shared = false, only?: readonly string[]): Promise<Artifact<Meta>> {
  const artifact = await openArtifact<Meta>(path, kind, producedBy);
  try {
    const arrays: Record<string, StoredArray> = {};
    for (const name of artifact.names) {
      if (only === undefined || only.includes(name)) arrays[name] = await artifact.read(name, shared);
    }
    return { meta: artifact.meta, arrays };
  } finally {
    await artifact.close();
  }
}

/** An artifact file opened for reading its arrays whole or in part (see openArtifact). */
export interface OpenArtifact<Meta> {
  meta: Meta;
  /** The names of its arrays, in file order. */
  names: string[];
  /** The whole array `name`, in a buffer of its own (a SharedArrayBuffer with `shared`). */
  read(name: string, shared?: boolean): Promise<StoredArray>;
  /**
   * Elements [from, to) of array `name`, into a new array: for a reader that needs a few articles of a file
   * of gigabytes (each fresh gigabyte of memory costs about a second of page faults on a shared machine).
   */
  readRange(name: string, from: number, to: number, shared?: boolean): Promise<StoredArray>;
  /** Elements [from, from + into.length) of array `name`, into `into` (of the array's type): for a reader that reuses a buffer. */
  readRangeInto(name: string, from: number, into: StoredArray): Promise<void>;
  /** The number of elements of array `name`. */
  length(name: string): number;
  close(): Promise<void>;
}

/** A missing stage file is a mistake in the command (exit code 1 and a message), not a crash. */
const missingArtifact = (path: string, producedBy: string) =>
  new InputError(path, undefined, `does not exist: run \`neardup ${producedBy}\` (or \`neardup run\`) with the same --out first`);

/**
 * Throws what openArtifact throws for a missing file, without reading the file's header: for a stage that
 * reads the file later but names its producer first, as the earliest stage to run. (The header of
 * work/shingles.bin holds every article's id: half a second to parse at a million articles.)
 */
export async function requireArtifact(path: string, producedBy: string): Promise<void> {
  await access(path).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? missingArtifact(path, producedBy) : error;
  });
}

/** Opens an artifact written by `writeArtifact` and reads its header; says which stage to run when it is missing or foreign. */
export async function openArtifact<Meta>(path: string, kind: string, producedBy: string): Promise<OpenArtifact<Meta>> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missingArtifact(path, producedBy);
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
    const entryOf = (name: string): ArrayEntry => {
      const entry = header.arrays.find((e) => e.name === name);
      if (entry === undefined) throw new Error(`${path} has no array "${name}"; run \`neardup ${producedBy}\` again`);
      return entry;
    };
    const readInto = async (name: string, from: number, into: StoredArray): Promise<void> => {
      const entry = entryOf(name);
      const to = from + into.length;
      invariant(Number.isInteger(from) && 0 <= from && to <= entry.length, `elements ${from}..${to} of ${name}`);
      const type = ARRAY_TYPES[entry.type];
      invariant(into instanceof type, `${name} holds ${type.name} elements`);
      await readExactly(file, new Uint8Array(into.buffer, into.byteOffset, into.byteLength), dataStart + entry.offset + from * type.BYTES_PER_ELEMENT, path, producedBy);
    };
    const readElements = async (name: string, from: number, to: number, shared: boolean): Promise<StoredArray> => {
      invariant(Number.isInteger(to) && from <= to, `elements ${from}..${to} of ${name}`);
      const type = ARRAY_TYPES[entryOf(name).type];
      const bytes = (to - from) * type.BYTES_PER_ELEMENT;
      const array = new type((shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes)) as ArrayBuffer);
      await readInto(name, from, array);
      return array;
    };
    return {
      meta: unpackMeta(header.meta),
      names: header.arrays.map((e) => e.name),
      read: async (name, shared = false) => readElements(name, 0, entryOf(name).length, shared),
      readRange: async (name, from, to, shared = false) => readElements(name, from, to, shared),
      readRangeInto: readInto,
      length: (name) => entryOf(name).length,
      close: () => file.close(),
    };
  } catch (error) {
    await file.close();
    throw error;
  }
}

/** Read calls in flight at once for one large array (see readExactly). */
const READS_IN_FLIGHT = 4;

/**
 * Fills `into` from the file at `position`, in calls of at most READ_CHUNK bytes, several at once: each
 * call copies from the page cache on a thread of its own, so a file of gigabytes is read by both cores.
 */
async function readExactly(file: FileHandle, into: Uint8Array, position: number, path: string, producedBy: string): Promise<void> {
  let next = 0;
  const readPieces = async (): Promise<void> => {
    while (next < into.length) {
      const from = next;
      const to = Math.min(into.length, from + READ_CHUNK);
      next = to;
      for (let at = from; at < to; ) {
        const { bytesRead } = await file.read(into, at, to - at, position + at);
        if (bytesRead === 0) throw new Error(`${path} ends early: it is truncated or changed while being read; run \`neardup ${producedBy}\` again`);
        at += bytesRead;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, Math.ceil(into.length / READ_CHUNK)) }, readPieces));
}
