/**
 * The lines of a large file as bytes, for a pass that looks at most lines without decoding them (the report
 * stage copies a million stored articles into deduplicated.jsonl, and parses a few). Decoded, the file's
 * 1.3 GB at a million articles cost its UTF-8 decoding, the splitting of the text into line strings, and a
 * gigabyte or two of new memory for the strings and the pieces read.
 */
import { open } from 'node:fs/promises';
import { doubled } from './typed-arrays.js';

/** A chunk of lines: line q is bytes[starts[q] .. ends[q]), without its "\n". */
export interface ByteLines {
  bytes: Buffer;
  starts: Uint32Array;
  ends: Uint32Array;
  count: number;
}

const LF = 0x0a;

/** Bytes read at a time: enough lines that a read and its promise cost little per line. */
const PIECE_BYTES = 1 << 20;

/**
 * The non-empty lines of `path`, split at "\n", a chunk at a time. One buffer serves every read, so a chunk's
 * bytes are valid only until the next chunk is asked for. `read.bytes`, when given, follows how many bytes of
 * the file were read (progress). Errors opening or reading the file are thrown as they come.
 */
export async function* readByteLines(path: string, read?: { bytes: number }, pieceBytes = PIECE_BYTES): AsyncGenerator<ByteLines> {
  const handle = await open(path);
  try {
    let bytes = Buffer.allocUnsafeSlow(pieceBytes);
    let starts = new Uint32Array(1024);
    let ends = new Uint32Array(1024);
    /** Bytes at the start of the buffer: a line whose end has not been read yet. */
    let kept = 0;
    let total = 0;
    for (;;) {
      // A line longer than the buffer is read on into one twice as large.
      if (kept === bytes.length) {
        const grown = Buffer.allocUnsafeSlow(2 * bytes.length);
        bytes.copy(grown, 0, 0, kept);
        bytes = grown;
      }
      const { bytesRead } = await handle.read(bytes, kept, bytes.length - kept, null);
      total += bytesRead;
      if (read !== undefined) read.bytes = total;
      const end = kept + bytesRead;
      const view = bytes.subarray(0, end);
      // At the end of the file, what is left is the last line, which may lack its "\n".
      const atEnd = bytesRead === 0;
      let count = 0;
      let start = 0;
      while (start < end) {
        let lineEnd = view.indexOf(LF, start);
        if (lineEnd < 0) {
          if (!atEnd) break;
          lineEnd = end;
        }
        if (lineEnd > start) {
          if (count === starts.length) {
            starts = doubled(starts);
            ends = doubled(ends);
          }
          starts[count] = start;
          ends[count++] = lineEnd;
        }
        start = lineEnd + 1;
      }
      if (count > 0) yield { bytes, starts, ends, count };
      if (atEnd) return;
      // The unfinished line moves to the front, for the next read to complete.
      bytes.copyWithin(0, start, end);
      kept = end - start;
    }
  } finally {
    await handle.close();
  }
}
