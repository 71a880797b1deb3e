/**
 * The passages two articles share, as character spans of one of them, for the HTML report: an editor sees at
 * a glance which words made the pipeline group two articles.
 *
 * It follows the similarity model loosely (shingle.ts): content words only (stopwords and one-letter words
 * skipped, numbers kept), compared after case folding. A content word of the article that the other one also
 * has is a shared word; two or more content words in a row that the other article also has in that order
 * (stopwords between them allowed) are a shared passage, the phrase-level evidence a rewrite keeps.
 */
import { hashString } from './hash.js';
import type { HashSet32 } from './hash-set.js';

/** A span of the text, `start` inclusive, `end` exclusive, in UTF-16 code units. */
export interface SharedSpan {
  start: number;
  end: number;
  /** `passage`: two or more content words in the same order in both; `word`: a lone shared word. */
  kind: 'passage' | 'word';
}

/** What sharedSpans needs of the other article(s): their content words and adjacent content-word pairs. */
export interface WordIndex {
  words: Set<string>;
  pairs: Set<string>;
}

interface Token {
  word: string;
  start: number;
  end: number;
}

const WORD = /[\p{L}\p{M}\p{N}]+/gu;
const NUMBER = /^\p{N}+$/u;

/** The content words of `text` with their places. */
export function contentTokens(text: string, stopwords: HashSet32, minWordLength: number): Token[] {
  const tokens: Token[] = [];
  for (const match of text.matchAll(WORD)) {
    const word = match[0].normalize('NFKC').toLowerCase();
    if (!NUMBER.test(word) && (word.length < minWordLength || stopwords.has(hashString(word)))) continue;
    tokens.push({ word, start: match.index, end: match.index + match[0].length });
  }
  return tokens;
}

/** Adds the content words of `text` and their adjacent pairs to `into` (several texts may share one index). */
export function indexWords(text: string, stopwords: HashSet32, minWordLength: number, into: WordIndex = { words: new Set(), pairs: new Set() }): WordIndex {
  const tokens = contentTokens(text, stopwords, minWordLength);
  for (let i = 0; i < tokens.length; i++) {
    into.words.add(tokens[i].word);
    if (i > 0) into.pairs.add(`${tokens[i - 1].word} ${tokens[i].word}`);
  }
  return into;
}

/** The spans of `text` whose content words `other` shares, in text order, not overlapping. */
export function sharedSpans(text: string, other: WordIndex, stopwords: HashSet32, minWordLength: number): SharedSpan[] {
  const tokens = contentTokens(text, stopwords, minWordLength);
  const spans: SharedSpan[] = [];
  let i = 0;
  while (i < tokens.length) {
    if (!other.words.has(tokens[i].word)) {
      i++;
      continue;
    }
    // Extend while each next content word follows this one in the other article as well.
    let j = i;
    while (j + 1 < tokens.length && other.pairs.has(`${tokens[j].word} ${tokens[j + 1].word}`)) j++;
    spans.push({ start: tokens[i].start, end: tokens[j].end, kind: j > i ? 'passage' : 'word' });
    i = j + 1;
  }
  return spans;
}
