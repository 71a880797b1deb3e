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
