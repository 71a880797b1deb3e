import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
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
 * Sends what a writer has written to disk every `every` units (bytes, or characters of mostly ASCII text)
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
 * A line-by-line writer for large outputs, with the same all-or-nothing guarantee: nothing appears at `path`
 * until `commit()`; `abort()` removes the temporary file.
 */
export class AtomicLineWriter {
  private readonly stream: ReturnType<typeof createWriteStream>;
  private failure: Error | undefined;
  private readonly flushes: BackgroundFlush;

  private constructor(
    readonly path: string,
    private readonly temporary: string,
    private readonly handle: FileHandle,
    flushEvery: number,
  ) {
    // The stream writes through the handle's descriptor and leaves it open: the handle flushes and closes it.
    this.stream = createWriteStream('', { fd: handle.fd, autoClose: false });
    this.stream.on('error', (error) => (this.failure = error));
    this.flushes = new BackgroundFlush(handle, flushEvery);
  }

  /** `flushEvery`: characters written between flushes to disk (tests make it small). */
  static async create(path: string, flushEvery = FLUSH_EVERY): Promise<AtomicLineWriter> {
    const { handle, temporary } = await openTemporary(path);
    return new AtomicLineWriter(path, temporary, handle, flushEvery);
  }

  /** Writes one chunk, waiting when the stream's buffer is full so memory stays bounded. */
  async write(chunk: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.stream.write(chunk)) await new Promise<void>((resolve) => this.stream.once('drain', resolve));
    this.flushes.wrote(chunk.length);
  }

  async commit(): Promise<void> {
    await this.flushes.settled();
    await new Promise<void>((resolve, reject) => this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
    if (this.failure) throw this.failure;
    await commitTemporary(this.handle, this.temporary, this.path);
  }

  async abort(): Promise<void> {
    await this.flushes.stopped();
    this.stream.destroy();
    await discardTemporary(this.handle, this.temporary);
  }
}
