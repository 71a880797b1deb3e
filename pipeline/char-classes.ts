/**
 * One lookup table of Unicode character classes for the tokenizers (shingle.ts, facts.ts), built once:
 * a regular expression per character would dominate the cost of tokenizing.
 */

/** Letters, marks and numbers, in every script: what tokens are made of. */
export const TOKEN = 1;
export const DIGIT = 2;
/** Upper-case (or title-case) letters, and lower-case ones: facts.ts reads names from capitals. */
export const UPPER = 4;
export const LOWER = 8;

export const CHAR_CLASS = (() => {
  const table = new Uint8Array(65536);
  const letterOrMark = /[\p{L}\p{M}]/u;
  const number = /\p{N}/u;
  const upper = /\p{Lu}|\p{Lt}/u;
  const lower = /\p{Ll}/u;
  for (let c = 0; c < 65536; c++) {
    if (c >= 0xd800 && c <= 0xdfff) {
      table[c] = TOKEN; // halves of astral characters (CJK extensions, historic scripts): keep them whole
      continue;
    }
    const ch = String.fromCharCode(c);
    if (number.test(ch)) table[c] = TOKEN | DIGIT;
    else if (letterOrMark.test(ch)) table[c] = TOKEN | (upper.test(ch) ? UPPER : 0) | (lower.test(ch) ? LOWER : 0);
  }
  return table;
})();

/** Whether a Uint16Array reads the bytes Buffer's 'utf16le' encoding writes as the code units they encode. */
const LITTLE_ENDIAN = new Uint16Array(Uint8Array.of(1, 0).buffer)[0] === 1;

/**
 * A string's UTF-16 code units in a Uint16Array that is reused from one string to the next, for the
 * tokenizers' loops: one native copy of the string, after which each read is a typed array load, where
 * charCodeAt on the concatenated strings they are given (title and body) costs a check of the string's shape
 * at every character. shingle() took 56 µs an article of the generated corpus before, 50 with both tokenizers
 * reading code units (a script shingling 60,000 of its articles, three times over).
 */
export class CodeUnits {
  private bytes = Buffer.allocUnsafeSlow(8192);
  private units = new Uint16Array(this.bytes.buffer, this.bytes.byteOffset, 4096);

  /** The code units of `text` in the first text.length slots of the array returned, valid until the next call. */
  of(text: string): Uint16Array {
    if (this.units.length < text.length) {
      this.bytes = Buffer.allocUnsafeSlow(4 * text.length);
      this.units = new Uint16Array(this.bytes.buffer, this.bytes.byteOffset, 2 * text.length);
    }
    if (LITTLE_ENDIAN) this.bytes.write(text, 0, 'utf16le');
    else for (let i = 0; i < text.length; i++) this.units[i] = text.charCodeAt(i);
    return this.units;
  }
}
