/**
 * Stage 1b: normalize an article's text so that typographic variants of one word become one token, and strip
 * the scraping noise that would otherwise look like content (or make two unrelated pages look alike).
 */

// Curly and angle quotes, primes and the many Unicode dashes all mean the same to a reader; invisible
// characters (zero-width spaces, soft hyphens, BOM) mean nothing; exotic spaces are spaces. One pass maps them.
const UNICODE_PUNCTUATION: Record<string, string> = {};
for (const c of '\u2018\u2019\u201a\u201b\u2032\u02bc\u0060\u00b4') UNICODE_PUNCTUATION[c] = "'";
for (const c of '\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\u300c\u300d') UNICODE_PUNCTUATION[c] = '"';
for (const c of '\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d') UNICODE_PUNCTUATION[c] = '-';
for (const c of '\u200b\u200c\u200d\u2060\ufeff\u00ad') UNICODE_PUNCTUATION[c] = '';
for (const c of '\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000') UNICODE_PUNCTUATION[c] = ' ';
const UNICODE_PUNCTUATION_PATTERN = new RegExp(`[${Object.keys(UNICODE_PUNCTUATION).join('')}]`, 'g');
const NON_ASCII = /[^\x00-\x7f]/;
/** Line breaks with the spaces around them, runs of spaces, and lone tabs and the like. */
const WHITESPACE = /[ \t\f\v]*(?:\r\n?|\n)[ \t\f\v]*|[ \t\f\v]{2,}|[\t\f\v]/g;
/**
 * Whether WHITESPACE's replacement changes `text`: a carriage return, tab, form feed or vertical tab, two
 * spaces in a row, or a space beside a line break. Most text has none, and one test that finds none costs
 * less than the replacement's scan with its callback (4.8 -> 3.1 µs an article of the generated corpus).
 */
const LOOSE_WHITESPACE = /[ \t\f\v][ \t\f\v\r\n]|[\r\n][ \t\f\v]|[\t\f\v\r]/;

/**
 * Unicode NFKC, full-width and compatibility forms folded, case folded, quotes and dashes unified, runs of
 * spaces collapsed. Line breaks are kept: later steps use lines to find noise. Plain ASCII text (most of
 * English news) skips the Unicode steps, which would not change it.
 */
export function normalizeText(text: string): string {
  if (NON_ASCII.test(text)) {
    // toUpperCase first turns ß into SS and final sigma into Σ, so the lower-casing below matches
    // Unicode full case folding for the scripts news comes in.
    text = text
      .normalize('NFKC')
      .toUpperCase()
      .toLowerCase()
      .replace(UNICODE_PUNCTUATION_PATTERN, (c) => UNICODE_PUNCTUATION[c]);
  } else {
    text = text.toLowerCase();
  }
  if (!LOOSE_WHITESPACE.test(text)) return text;
  return text.replace(WHITESPACE, (run) => (run.includes('\n') || run.includes('\r') ? '\n' : ' '));
}

// Sentence-final punctuation in Latin, Arabic/Urdu (U+06D4, U+061F), Devanagari, CJK; a closing quote
// or bracket may follow it.
const SENTENCE_END = /[.!?\u06d4\u061f\u0964\u3002\uff01\uff1f…:;]["')\]]*$/;
const URL_LINE = /^(https?|www)\S*$/;
/** Also catches URLs that a tokenizer spaced out ("http : / / www . site . com / ..."). */
const isUrlLine = (line: string) => (line.startsWith('http') || line.startsWith('www')) && URL_LINE.test(line.replace(/ /g, ''));
/** A trailing line this short without final punctuation reads as a link to another story, not a sentence. */
const MAX_TRAILING_HEADLINE_WORDS = 20;
/** Scraped pages end with at most a few "related stories" headlines; stop there so real text is never eaten. */
const MAX_TRAILING_HEADLINES = 3;

export interface CleanedArticle {
  /** Normalized title. */
  title: string;
  /** Normalized body, without the noise lines below. */
  body: string;
  /** How many lines were dropped as noise, for the run report. */
  droppedLines: number;
}

/**
 * Normalizes title and body and drops lines that are scraping noise rather than the story:
 * - blank lines (and so trailing blank lines);
 * - lines that repeat the title (scrapers often emit the headline two or three times);
 * - lines that are a bare URL (some scrapers put the source address first; left in, the domain and slug
 *   words make every article from one site look alike);
 * - up to three trailing short lines without sentence-final punctuation after a body of several lines:
 *   "related stories" headlines appended by the page template, which name other stories.
 */
export function cleanArticle(title: string, body: string): CleanedArticle {
  const normalizedTitle = normalizeText(title).replace(/\n/g, ' ').trim();
  const lines = normalizeText(body).split('\n');
  const kept: string[] = [];
  let droppedLines = 0;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    if ((normalizedTitle !== '' && line === normalizedTitle) || isUrlLine(line)) {
      droppedLines++;
      continue;
    }
    kept.push(line);
  }
  let trailing = 0;
  while (
    trailing < MAX_TRAILING_HEADLINES &&
    kept.length > 3 &&
    !SENTENCE_END.test(kept[kept.length - 1]) &&
    kept[kept.length - 1].split(' ').length <= MAX_TRAILING_HEADLINE_WORDS
  ) {
    kept.pop();
    trailing++;
  }
  return { title: normalizedTitle, body: kept.join('\n'), droppedLines: droppedLines + trailing };
}
