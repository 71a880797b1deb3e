/**
 * Facts: the numbers and capitalised names of an article, kept beside its wording features.
 *
 * Two articles can share most of their wording and still tell different stories: templated wire items
 * ("... raises quarterly dividend to 35 cts, payable April 10, record March 20"), or an agency's stock
 * paragraphs around other names and figures. A rewrite keeps the facts of its story; a different story of
 * the same template does not. So each article also carries its facts as features of their own hash space,
 * and verification compares them separately (see similarity.ts and cluster.ts).
 *
 * Facts are read from the text before case folding: a number (a run of digits), or a word of two letters or
 * more that starts with an upper-case letter in a line written in sentence case. Scripts without letter
 * case (Urdu, Chinese) only have numbers as facts. A sentence-initial "The" counts as a name too; IDF weighs
 * it to almost nothing.
 */
import { CHAR_CLASS, CodeUnits, DIGIT, LOWER, TOKEN, UPPER } from './char-classes.js';
import { FNV_OFFSET, hashString, hashUnit, mix32 } from './hash.js';

/** Fact hashes have their lowest bit set, wording features (shingle.ts) have it clear. */
export const isFact = (feature: number): boolean => (feature & 1) === 1;
export const asFact = (hash: number): number => (mix32(hash ^ 0x2545f491) | 1) >>> 0;
export const asWording = (hash: number): number => (hash & ~1) >>> 0;

const NON_ASCII = /[^\x00-\x7f]/;

/** The facts among an article's features, in their order (sorted features give sorted facts). */
export function factsOf(features: Uint32Array): Uint32Array {
  let count = 0;
  for (let p = 0; p < features.length; p++) if (isFact(features[p])) count++;
  const facts = new Uint32Array(count);
  let at = 0;
  for (let p = 0; p < features.length; p++) if (isFact(features[p])) facts[at++] = features[p];
  return facts;
}

/** The fact hashes of `text` (raw, not case folded), in order of appearance, repeats included. */
export function factHashes(text: string): number[] {
  if (NON_ASCII.test(text)) text = text.normalize('NFKC');
  const facts: number[] = [];
  const units = codeUnits.of(text);
  let lineStart = 0;
  while (lineStart < text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    addLineFacts(text, units, lineStart, lineEnd, facts);
    lineStart = lineEnd + 1;
  }
  return facts;
}

/** factHashes' code units: one buffer per thread (each worker loads its own copy of this module). */
const codeUnits = new CodeUnits();

/**
 * Capitals mark names only in a line written in sentence case. A headline in capitals ("RAISES QTLY
 * DIVIDEND") or in title case ("Owens And Minor Raises Dividend") capitalises every word, so in a line
 * without a single word that starts in lower case only the numbers are facts.
 */
function addLineFacts(text: string, units: Uint16Array, from: number, to: number, facts: number[]): void {
  let sentenceCase = false;
  for (let i = from; i < to && !sentenceCase; i++) {
    sentenceCase = (CHAR_CLASS[units[i]] & LOWER) !== 0 && (i === from || (CHAR_CLASS[units[i - 1]] & TOKEN) === 0);
  }
  let i = from;
  while (i < to) {
    const first = CHAR_CLASS[units[i]];
    if ((first & TOKEN) === 0) {
      i++;
      continue;
    }
    // A fact is a run of digits (a number) or of letters and marks (a word), never a mix: "2014ء" and
    // "16ستمبر" (a number fused to an Urdu suffix or word) give the numbers 2014 and 16.
    const start = i;
    const digits = (first & DIGIT) !== 0;
    // Only a number, or a capitalised word in a sentence-case line, can be a fact. Most words are neither, and
    // are skipped by a loop of their own: one loop for all three kinds, testing at each letter which kind it
    // was in, took factHashes 11.8-13.5 µs an article of the generated corpus instead of 9.0-9.7 (best of ten
    // passes over 30,000 of them, five runs, the same hashes).
    if (!digits && !(sentenceCase && (first & UPPER) !== 0)) {
      i++;
      while (i < to && (CHAR_CLASS[units[i]] & (TOKEN | DIGIT)) === TOKEN) i++;
      continue;
    }
    // hashString of the run lower-cased, as it is read. Outside ASCII, lower case can change a word's length
    // ("İ"), so a run with such a code unit is hashed through the string's own toLowerCase.
    let h = FNV_OFFSET;
    let ascii = true;
    if (digits) {
      while (i < to) {
        const c = units[i];
        if ((CHAR_CLASS[c] & DIGIT) !== 0) {
          if (c > 127) ascii = false;
          h = hashUnit(h, c);
          i++;
          continue;
        }
        // "1,000" and "3.5" are one number, as in the shingler.
        if ((c !== 44 && c !== 46) || i + 1 === to || (CHAR_CLASS[units[i + 1]] & DIGIT) === 0) break;
        h = hashUnit(h, c);
        i++;
      }
    } else {
      while (i < to) {
        const c = units[i];
        if ((CHAR_CLASS[c] & (TOKEN | DIGIT)) !== TOKEN) break;
        if (c > 127) ascii = false;
        h = hashUnit(h, c >= 65 && c <= 90 ? c + 32 : c);
        i++;
      }
    }
    if (digits || i - start >= 2) facts.push(asFact(ascii ? mix32(h) : hashString(text.slice(start, i).toLowerCase())));
  }
}
