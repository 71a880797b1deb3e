import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Readers of `path` see either the previous complete file or the new complete file, never a partial one:
 * the data goes to a temporary file beside it, is flushed to disk, and is renamed over it (atomic on POSIX).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | Iterable<Uint8Array>): Promise<void> {
  const { handle, temporary } = await openTemporary(path);
  try {
    if (typeof data === 'string') await handle.writeFile(data, 'utf8');
    else if (data instanceof Uint8Array) await writeAll(handle, data);
    else for (const chunk of data) await writeAll(handle, chunk);
    await commitTemporary(handle, temporary, path);
  } catch (error) {
    await discardTemporary(handle, temporary);
    throw error;
  }
}

/** A new temporary file beside `path` (its folder made if need be), open for writing; never an existing file. */
export async function openTemporary(path: string): Promise<{ handle: FileHandle; temporary: string }> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = temporaryPathFor(path);
  return { handle: await open(temporary, 'wx'), temporary };
}

/** Flushes the temporary file to disk, closes it and renames it over `path`. */
export async function commitTemporary(handle: FileHandle, temporary: string, path: string): Promise<void> {
  await handle.sync();
  await handle.close();
  await rename(temporary, path);
}

/** Closes (if still open) and removes the temporary file. */
export async function discardTemporary(handle: FileHandle, temporary: string): Promise<void> {
  await handle.close().catch(() => undefined);
  await rm(temporary, { force: true });
}

/** Bytes per write call: one call takes at most 2 GiB, and a million articles' features are more. */
const WRITE_CHUNK = 1 << 30;

/**
 * Writes all of `data`, in pieces of at most `chunk` bytes, however few bytes each call takes: at the file's
 * current position, or from `position` on.
 */
export async function writeAll(handle: FileHandle, data: Uint8Array, chunk = WRITE_CHUNK, position?: number): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const { bytesWritten } = await handle.write(data, at, Math.min(data.length - at, chunk), position === undefined ? null : position + at);
    at += bytesWritten;
  }
}

/** A temporary name in the same directory (same file system, so rename is atomic); ignored by git. */
export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** What a writer writes between flushes to disk: about 256 MB. */
const FLUSH_EVERY = 1 << 28;

/**
 * Sends what a writer has written to disk every `every` bytes
 * while writing goes on, so that its commit waits for the rest alone. A flush's failure is kept for the
 * commit, which then fails: a flush started along the way has no one else to tell.
 */
export class BackgroundFlush {
  private unflushed = 0;
  private flushing: Promise<void> | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly handle: FileHandle,
    private readonly every = FLUSH_EVERY,
  ) {}

  /** Counts `amount` more written, and starts a flush once `every` have been since the last. */
  wrote(amount: number): void {
    this.unflushed += amount;
    // Its failure is kept for settled().
    if (this.unflushed >= this.every && this.flushing === undefined) this.flush().catch(() => undefined);
  }

  /** Starts a flush of everything written so far; resolves once it is on disk, or throws its failure. */
  async flush(): Promise<void> {
    this.unflushed = 0;
    const flushing = this.handle.datasync().catch((error: Error) => {
      this.failure ??= error;
    });
    this.flushing = flushing.finally(() => (this.flushing = undefined));
    await flushing;
    this.check();
  }

  /** Waits for the flush in flight, if any, and throws a failure of any flush. */
  async settled(): Promise<void> {
    await this.flushing;
    this.check();
  }

  /** Waits for the flush in flight, if any, whatever became of it (before the file is discarded). */
  async stopped(): Promise<void> {
    await this.flushing;
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }
}

/**
 * Characters of text a line writer's caller gathers before passing them on in one `write`: a call per line
 * would cost more than the line's JSON. Above V8's 128 KB a string gets pages of its own (its large-object
 * space), and encoding a text concatenated of many pieces first copies it into one flat string: chunks of a
 * megabyte took a page fault per 4 KB of the file, chunks this size reuse the memory of the last ones.
 */
export const LINE_CHUNK_CHARS = 1 << 16;

/** Bytes a line writer gathers before each write call; it holds two such buffers (see AtomicLineWriter). */
const LINE_WRITE_BUFFER = 1 << 20;

/**
 * A line-by-line writer for large outputs, with the same all-or-nothing guarantee: nothing appears at `path`
 * until `commit()`; `abort()` removes the temporary file.
 *
 * Text is encoded into one of two buffers that are used over and over: while one is being written, the other
 * fills. A stream would take a new buffer for every chunk of text, and a new buffer costs the operating
 * system a page fault for every 4 KB of it: about a second a gigabyte on this project's machines (a script
 * filling 4 GiB of new memory against the same memory reused).
 */
export class AtomicLineWriter {
  private readonly encoder = new TextEncoder();
  /** The buffer being filled, and how far. */
  private buffer: Buffer;
  private filled = 0;
  /** The other buffer, free once `writing` has settled. */
  private spare: Buffer;
  /** The write of the spare buffer in flight; its failure surfaces at the next write or at the commit. */
  private writing: Promise<void> = Promise.resolve();
  private readonly flushes: BackgroundFlush;

  private constructor(
    readonly path: string,
    private readonly temporary: string,
    private readonly handle: FileHandle,
    flushEvery: number,
    bufferBytes: number,
  ) {
    this.buffer = Buffer.allocUnsafeSlow(bufferBytes);
    this.spare = Buffer.allocUnsafeSlow(bufferBytes);
    this.flushes = new BackgroundFlush(handle, flushEvery);
  }

  /**
   * `flushEvery`: bytes written between flushes to disk; `bufferBytes`: the size of each of the two buffers
   * (at least 4, a character's UTF-8 bytes). Tests make both small.
   */
  static async create(path: string, flushEvery = FLUSH_EVERY, bufferBytes = LINE_WRITE_BUFFER): Promise<AtomicLineWriter> {
    const { handle, temporary } = await openTemporary(path);
    return new AtomicLineWriter(path, temporary, handle, flushEvery, Math.max(4, bufferBytes));
  }

  /** Writes `text` (UTF-8), waiting only when both buffers are full, so memory stays bounded. */
  async write(text: string): Promise<void> {
    let rest = text;
    for (;;) {
      const { read, written } = this.encoder.encodeInto(rest, this.buffer.subarray(this.filled));
      this.filled += written;
      if (read === rest.length) return;
      // The buffer is full (or its last bytes cannot hold the next character): send it, and go on.
      rest = rest.slice(read);
      await this.send();
    }
  }

  /** Writes bytes[from .. to) as they are (a line read as bytes, say); the caller may reuse `bytes` at once. */
  async writeBytes(bytes: Uint8Array, from = 0, to = bytes.length): Promise<void> {
    while (from < to) {
      const taken = Math.min(to - from, this.buffer.length - this.filled);
      this.buffer.set(bytes.subarray(from, from + taken), this.filled);
      this.filled += taken;
      from += taken;
      if (this.filled === this.buffer.length) await this.send();
    }
  }

  /**
   * Writes `text` if it fits in the buffer being filled, and says whether it did; nothing of it is written when
   * it does not. A caller with many short pieces awaits `write` only for those that do not fit, instead of a
   * promise per piece.
   */
  tryWrite(text: string): boolean {
    // When the text does not fit, the bytes encodeInto put past `filled` are not counted, and are written over.
    const { read, written } = this.encoder.encodeInto(text, this.buffer.subarray(this.filled));
    if (read !== text.length) return false;
    this.filled += written;
    return true;
  }

  /** As tryWrite, for bytes[from .. to) (see writeBytes). */
  tryWriteBytes(bytes: Uint8Array, from: number, to: number): boolean {
    if (to - from > this.buffer.length - this.filled) return false;
    this.buffer.set(bytes.subarray(from, to), this.filled);
    this.filled += to - from;
    return true;
  }

  /** Starts writing the filled buffer, once the other one is free again, and fills the other one next. */
  private async send(): Promise<void> {
    await this.writing;
    const full = this.buffer.subarray(0, this.filled);
    [this.buffer, this.spare] = [this.spare, this.buffer];
    this.filled = 0;
    this.writing = writeAll(this.handle, full).then(() => this.flushes.wrote(full.length));
    // Surfaces at the next send or at the commit; until then it must not count as unhandled.
    this.writing.catch(() => undefined);
  }

  async commit(): Promise<void> {
    if (this.filled > 0) await this.send();
    await this.writing;
    await this.flushes.settled();
    await commitTemporary(this.handle, this.temporary, this.path);
  }

  async abort(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.flushes.stopped();
    await discardTemporary(this.handle, this.temporary);
  }
}
