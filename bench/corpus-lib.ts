/**
 * The pure core of `npm run corpus` (bench/generate-corpus.ts): a deterministic, labelled corpus of any size
 * built from the real Reuters-21578 newswire, for benchmarks and quality checks.
 *
 * The scheme, and why:
 * - STORIES. A story grows from a base article of 300+ characters, its "primary" (the shorter notices would
 *   pull the mean below 1 KB), until it is as long as its primary (450..4,000 characters). At a million
 *   articles each of the 14,732 primaries founds 53 stories on average, and every paragraph would recur in
 *   dozens of them if stories were made of its paragraphs: that is how this generator first worked, and its
 *   different stories then shared runs of 17 words at the median (41% of its wrongly verified pairs at
 *   100,000 shared 20 or more), which distinct real stories do not (ECB+'s wrong pairs: none of 10+ words at
 *   the 90th percentile). So a prose story's paragraphs are written afresh: a walk on a word chain of its
 *   TOPIC's prose (each word followed by a word that follows it somewhere in the topic, as often as it
 *   does), which keeps real Reuters vocabulary, phrasing and topical overlap but copies only short runs.
 *   Its headline is the primary's with the common words re-drawn from the topic. Tables (earnings,
 *   dividends, metal volumes) keep their primary's lines whole and in order, figures re-drawn, then
 *   same-topic table lines: they are formulaic in real feeds too; their notes are written afresh.
 * - TOPICS. An article's topic is its most distinctive common word (top tf-idf among lowercase words found in
 *   15..N/8 articles: "div", "cocoa", "yen"); articles whose word leads fewer than 8 articles take their
 *   next-best word that leads more. One pass, and the groups come out as earnings tables, dividend notices,
 *   commodity reports, eurobond issues...
 * - FACTS. Then every name (a capitalised or all-caps token the corpus writes mostly capitalised and not only
 *   at sentence starts, so "The" and table labels like "Shr" stay; and the capitalised common words inside
 *   rarer names, "Storage" of Storage Dimensions Inc), ticker, month, weekday and number (78.91p too) of the
 *   story is re-drawn from the story's own random stream: names from the corpus's names of the same shape
 *   (Xxxx, XXXX, X.X.), numbers digit by digit keeping format, magnitude and round zeros, a day after a month
 *   as 1-28. A map per story keeps a repeated fact the same in headline and body ("35 cts vs 35 cts"). Years
 *   and names found in 1%+ of the articles (U.S., Japan, Corp) stay: they are topic, not story. So no two
 *   stories share the names and figures that make a story, whatever their primary.
 * - REWRITES. Members 1.. of a cluster of 2..10 (member 0 is the story as built) each apply a random mix of
 *   an editor's edits: 15-35% of the content words swapped for a synonym or a same-topic word of the same
 *   suffix class (real topic vocabulary, common words more often; never a stopword or a word the text already
 *   has, so each swap changes a feature), adjacent words exchanged, paragraphs dropped, reordered and the end
 *   cut (the lead and half the rest always stay), a figure rounded or restated (21.9 -> 22, 2,136,000 ->
 *   2.14 mln), boilerplate lines ("(Reporting by ...; Editing by ...)", "Related: <another headline>"), the
 *   headline re-cased, shortened, given a synonym or marked UPDATE. Names are never touched, so it is the same
 *   story, but not a near-exact copy: similarity within a cluster median 0.59, 99th percentile 0.87.
 * - NO EXACT DUPLICATES across stories: identical texts need the same primary and the same draws of every
 *   re-drawn fact, and each story draws paragraphs (while its topic has any) until its facts carry at least
 *   MIN_FACT_BITS = 48 bits, so the chance of any coincidence is below stories^2 / 2 / 2^48 / 15,000
 *   primaries, 1e-7 at a million articles (a million-article run had none; the tests hash every text of a
 *   small corpus). Streams are not mulberry32: see rngFor.
 * - ORDER AND MEMORY. Ids follow output positions (g0000001...); position p holds slot feistel(p), a keyed
 *   Feistel bijection on [0, n) (cycle walking), and slots are singleton stories then clusters whose sizes
 *   repeat a seeded pattern. Any article is computed from its position alone, so memory does not grow with n
 *   beyond the base corpus and its compiled paragraphs, there is no shuffle buffer, and the rewrites of a
 *   story land far apart. A story is rebuilt for each of its members: cheaper than keeping it.
 * - TIME. Stories start at random seconds over max(7, n / 20,000) days from 1987-03-02; member 0 is the
 *   original, each rewrite follows it by 2 minutes to 12 hours (log-uniform).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AtomicLineWriter } from '../pipeline/atomic-write.js';
import { combine32, mix32 } from '../pipeline/hash.js';

const MIN_STORY_CHARS = 450;
const MAX_STORY_CHARS = 4000;
const MIN_FACT_BITS = 48;
/** Stories grow from articles of at least this much text: the shorter notices would pull the mean below 1 KB. */
const MIN_PRIMARY_CHARS = 300;
const MAX_UNITS = 60;

/** Uniform in [0, 1). */
type Rng = () => number;

/**
 * The random stream of one (seed, purpose, story, member): draw i is mix32(key ^ mix32(i * golden)). Not
 * mulberry32 (hash.ts randomStream): its streams are all shifts of one 2^32 cycle, so among a million
 * stories many pairs would replay each other's draws a few steps apart. Here the key is a bijection of the
 * story (combine32 is one in its second argument) and two keys only agree on sparse, unrelated draws.
 */
function rngFor(...parts: number[]): Rng {
  let key = 0x2545f491;
  for (const p of parts) key = combine32(key, p >>> 0);
  let i = 0;
  return () => mix32(key ^ mix32(Math.imul(++i, 0x9e3779b9))) / 4294967296;
}

const below = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[below(rng, xs.length)];

// ---------------------------------------------------------------------------------------------------------
// Base corpus: paragraphs, topics, name pools

type NameKind = 'cap' | 'caps' | 'dotted' | 'month' | 'mon' | 'weekday';

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const MONS = ['Jan', 'Feb', 'Mar', 'Apr', 'Jun', 'Jul', 'Aug', 'Sept', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/**
 * Dotted acronyms (U.S.), fractions (3/8, and seasons: 1986/87), words (hyphenated and & joined: Brown-Forman,
 * AT&T), numbers with their suffix (4th).
 */
const TOKEN = /(?:[A-Z]\.){2,}|\d+\/\d+|[A-Za-z]+(?:[-&][A-Za-z]+)*|\d+(?:[.,]\d+)*[A-Za-z]*/g;

export interface BaseCorpus {
  titles: string[];
  /** Paragraphs of each article, whitespace collapsed, the REUTER sign-off removed. */
  units: string[][];
  /** Articles that can found a story (MIN_PRIMARY_CHARS of text). */
  primaries: Int32Array;
  /** Same-topic articles of each article (one shared array per topic). */
  topicOf: Int32Array[];
  /** Body tokens whose value is re-drawn per story, with the pool they are drawn from. */
  names: Map<string, NameKind>;
  /**
   * Capitalised common words inside names ("Storage" of Storage Dimensions Inc, "Mountain" of Green Mountain
   * Power): re-drawn like names where they stand mid-sentence, else every story of one primary would share
   * its company's name. Those found capitalised in 1% or more of the articles (Treasury, President) stay.
   */
  nameWords: Set<string>;
  /** The name words that bodies rarely write in lowercase (Biscayne): re-drawn at a sentence start too. */
  nameWordsAnywhere: Set<string>;
  /** Words the bodies write in lowercase three times or more: a headline's words that are not names. */
  commonWords: Set<string>;
  /** Lowercased headline words to re-draw (names, or words only headlines use, e.g. company names). */
  titleNames: Map<string, NameKind>;
  pools: Record<NameKind, string[]>;
  /** Per paragraph: 1 if it is prose (see isProse); per article: 1 if most paragraphs are, and its length. */
  prose: Uint8Array[];
  proseArticle: Uint8Array;
  chars: Int32Array;
  /** Paragraphs and headlines compiled on first use (see Template). */
  compiled: Template[][];
  compiledTitles: Template[];
  /** Topic vocabularies for word swaps, built on first use (see topicVocabulary). */
  vocabulary: Map<Int32Array, string[][]>;
  chains: Map<Int32Array, WordChain>;
  interned: Map<string, string>;
}

function shapeOf(token: string): NameKind {
  if (/^(?:[A-Z]\.)+$/.test(token)) return 'dotted';
  if (token.length >= 2 && token === token.toUpperCase()) return 'caps';
  return 'cap';
}

/** Whether the token at `index` of `text` starts a sentence (or a quote, bracket or clause): what comes before it. */
function startsSentence(text: string, index: number): boolean {
  let before = index - 1;
  if (text.charCodeAt(before) === 32) before--;
  return before < 0 || '.!?:;"(-'.includes(text[before]);
}

/** One string per distinct word across the topics' vocabularies and chains: they hold millions of copies. */
function intern(base: BaseCorpus, word: string): string {
  let interned = base.interned.get(word);
  if (interned === undefined) base.interned.set(word, (interned = word));
  return interned;
}

function paragraphs(text: string): string[] {
  return text
    .replace(/\^M|&#\d+;/g, '') // SGML and carriage-return debris of the Reuters distribution
    .trimEnd()
    .replace(/\b(?:REUTERS?|[Rr]euter)\W{0,5}$/, '')
    .split(/\n[ \t]+/)
    .map((p) => p.replace(/\s*[\n\r\t]\s*|\s{2,}/g, ' ').trim())
    .filter((p) => p.length > 0);
}

/** Parses the base JSONL ({"title","text"} a line) and derives topics and name pools from it. */
export function loadBase(jsonl: string, file = 'base corpus'): BaseCorpus {
  const titles: string[] = [];
  const units: string[][] = [];
  for (const [i, line] of jsonl.split('\n').entries()) {
    if (line.trim() === '') continue;
    let record: { title?: unknown; text?: unknown };
    try {
      record = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: not a JSON object`);
    }
    if (typeof record.text !== 'string') throw new Error(`${file}:${i + 1}: no "text" string`);
    const article = paragraphs(record.text);
    if (article.length === 0) continue;
    titles.push(typeof record.title === 'string' ? record.title.replace(/\s+/g, ' ').trim() : '');
    units.push(article);
  }
  const n = units.length;
  if (n < 2) throw new Error(`${file}: needs at least two articles with text, found ${n}`);

  // One pass of counts: lowercase word document frequencies (topics); capitalised token usage (names).
  const wordDf = new Map<string, number>();
  const lowerCount = new Map<string, number>();
  const cap = new Map<string, { total: number; mid: number; df: number }>();
  const wordTf: Map<string, number>[] = [];
  for (const article of units) {
    const tf = new Map<string, number>();
    const seenCaps = new Set<string>();
    for (const unit of article) {
      TOKEN.lastIndex = 0;
      for (let m = TOKEN.exec(unit); m !== null; m = TOKEN.exec(unit)) {
        const token = m[0];
        const c = token.charCodeAt(0);
        if (c >= 97 && c <= 122) tf.set(token, (tf.get(token) ?? 0) + 1);
        if (c < 65 || c > 90) continue;
        const initial = startsSentence(unit, m.index);
        let s = cap.get(token);
        if (!s) cap.set(token, (s = { total: 0, mid: 0, df: 0 }));
        s.total++;
        if (!initial) s.mid++;
        if (!seenCaps.has(token)) {
          seenCaps.add(token);
          s.df++;
        }
      }
    }
    for (const [w, count] of tf) {
      wordDf.set(w, (wordDf.get(w) ?? 0) + 1);
      lowerCount.set(w, (lowerCount.get(w) ?? 0) + count);
    }
    wordTf.push(tf);
  }

  const names = new Map<string, NameKind>();
  const pools: Record<NameKind, string[]> = { cap: [], caps: [], dotted: [], month: MONTHS, mon: MONS, weekday: WEEKDAYS };
  const kept = new Set<string>();
  const keepDf = Math.max(3, n / 100);
  for (const [token, s] of cap) {
    const lower = token.toLowerCase();
    if (MONTHS.includes(token)) names.set(token, 'month');
    else if (MONS.includes(token)) names.set(token, 'mon');
    else if (WEEKDAYS.includes(token)) names.set(token, 'weekday');
    else if ((lowerCount.get(lower) ?? 0) <= 0.25 * s.total && s.mid >= 0.15 * s.total) {
      if (s.df >= keepDf) {
        kept.add(lower);
        continue;
      }
      const kind = shapeOf(token);
      names.set(token, kind);
      // Drawn values: plain shapes seen twice or more, not the odd "April-June" or typo.
      if (s.df >= 2 && /^(?:[A-Z][a-z]+|[A-Z]{2,6}|(?:[A-Z]\.)+)$/.test(token)) pools[kind].push(token);
    }
  }
  const nameWords = new Set<string>();
  const nameWordsAnywhere = new Set<string>();
  for (const [token, s] of cap) {
    if (s.df >= keepDf || names.has(token) || !/^[A-Z][a-z]{2,}$/.test(token)) continue;
    nameWords.add(token);
    if ((lowerCount.get(token.toLowerCase()) ?? 0) <= 0.25 * s.total && !STOPWORDS.has(token.toLowerCase())) nameWordsAnywhere.add(token);
  }
  for (const kind of ['cap', 'caps', 'dotted'] as const) if (pools[kind].length === 0) pools[kind].push(kind === 'cap' ? 'Acme' : kind === 'caps' ? 'ACME' : 'A.C.');

  // Headlines are all caps, so their names are found through the body's names (by lowercase form), plus the
  // words no body writes in lowercase and few headlines use: the company names of earnings headlines.
  const titleDf = new Map<string, number>();
  for (const title of titles) for (const w of new Set(title.toLowerCase().match(/[a-z]+/g) ?? [])) titleDf.set(w, (titleDf.get(w) ?? 0) + 1);
  const titleNames = new Map<string, NameKind>();
  for (const [token, kind] of names) if (!titleNames.has(token.toLowerCase())) titleNames.set(token.toLowerCase(), kind);
  for (const token of nameWords) if (cap.get(token)!.mid > 0 && !titleNames.has(token.toLowerCase())) titleNames.set(token.toLowerCase(), 'cap');
  titleNames.delete('may'); // the verb, far more often than the month, in headlines
  for (const [w, df] of titleDf) {
    if (titleNames.has(w) || kept.has(w) || df >= 20 || (lowerCount.get(w) ?? 0) >= 3) continue;
    if (w.length >= 2) titleNames.set(w, 'cap');
  }

  // Topics: most distinctive common word; articles whose topic is small move to their best big topic.
  const minDf = 15; // lowercase words of three letters or more only: "div", "cocoa"; not "oil-seed"
  const topical = (w: string) => w.length >= 3 && /^[a-z]+$/.test(w);
  const maxDf = n / 8;
  const idf = (w: string) => Math.log(n / wordDf.get(w)!);
  const ranked = wordTf.map((tf) =>
    [...tf]
      .filter(([w]) => wordDf.get(w)! >= minDf && wordDf.get(w)! <= maxDf && topical(w))
      .map(([w, c]) => [w, (1 + Math.log(c)) * idf(w)] as const)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 12)
      .map(([w]) => w),
  );
  const firstChoice = new Map<string, number>();
  for (const r of ranked) if (r.length > 0) firstChoice.set(r[0], (firstChoice.get(r[0]) ?? 0) + 1);
  const members = new Map<string, number[]>();
  ranked.forEach((r, i) => {
    const topic = r.find((w) => (firstChoice.get(w) ?? 0) >= 8) ?? '';
    let list = members.get(topic);
    if (!list) members.set(topic, (list = []));
    list.push(i);
  });
  const topicOf: Int32Array[] = new Array(n);
  for (const list of members.values()) {
    const shared = Int32Array.from(list);
    for (const i of list) topicOf[i] = shared;
  }

  let primaries = Int32Array.from(units.flatMap((u, i) => (u.join(' ').length >= MIN_PRIMARY_CHARS ? [i] : [])));
  if (primaries.length === 0) primaries = Int32Array.from(units.keys());
  const prose = units.map((u) => Uint8Array.from(u, (p) => (isProse(p) ? 1 : 0)));
  const proseArticle = Uint8Array.from(prose, (p) => (p.reduce((a, b) => a + b, 0) * 2 >= p.length ? 1 : 0));
  const chars = Int32Array.from(units, (u) => u.reduce((sum, p) => sum + p.length + 1, 0));
  const commonWords = new Set<string>();
  for (const [w, count] of lowerCount) if (count >= 3) commonWords.add(w);
  return { titles, units, primaries, topicOf, names, nameWords, nameWordsAnywhere, commonWords, titleNames, pools, prose, proseArticle, chars, compiled: new Array(n), compiledTitles: new Array(n), vocabulary: new Map(), chains: new Map(), interned: new Map() };
}

// ---------------------------------------------------------------------------------------------------------
// Facts: the per-story re-drawing of names and figures

const YEAR = /^(?:19[5-9]\d|20[0-2]\d)$/;
const KINDS: NameKind[] = ['cap', 'caps', 'dotted', 'month', 'mon', 'weekday'];
const NUMBER = 16;
const DAY = 17;
const TICKER = 18;
const FRACTION = 19;
/** Flag on a name slot of a headline: the drawn value is written in capitals. */
const UPPER = 32;

/**
 * A paragraph or headline split once into literal text and fact slots, so that building a story is string
 * concatenation and map look-ups, not a regular expression replace per story (which was its main cost).
 * Slot i sits between lits[i] and lits[i + 1]; keys are lowercase (names, so a headline's capitals find the
 * body's name), or the token marked by kind: "#155,221", "day:22", "<EMH>".
 */
interface Template {
  lits: string[];
  keys: string[];
  kinds: number[];
  /** A body paragraph that isProse, not a table line or a headline. */
  prose: boolean;
}

function compile(base: BaseCorpus, text: string, headline: boolean): Template {
  const prose = !headline && isProse(text);
  const t: Template = { lits: [], keys: [], kinds: [], prose };
  const table = !headline && !prose;
  let last = 0;
  let afterMonth = false;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m !== null; m = TOKEN.exec(text)) {
    const token = m[0];
    let kind = -1;
    let key = token;
    if (token.charCodeAt(0) <= 57) {
      const slash = token.indexOf('/');
      if (slash > 0) {
        if (!YEAR.test(token.slice(0, slash))) kind = FRACTION;
      } else if (!/(?:st|nd|rd|th)$/i.test(token) && !YEAR.test(token)) {
        // Figures with a unit glued on are figures too ("78.91p"); ordinals ("2ND qtr") are not story facts.
        kind = afterMonth && token.length <= 2 ? DAY : NUMBER;
      }
      if (kind >= 0) key = (kind === DAY ? 'day:' : '#') + token;
      afterMonth = false;
    } else if (token.length <= 5 && text[m.index - 1] === '<' && text[m.index + token.length] === '>' && /^[A-Z]+$/.test(token)) {
      kind = TICKER;
      key = `<${token}>`;
    } else {
      key = token.toLowerCase();
      let name = headline ? base.titleNames.get(key) : base.names.get(token);
      if (name === undefined && !headline && base.nameWords.has(token)) {
        if (table || base.nameWordsAnywhere.has(token) || !startsSentence(text, m.index)) name = 'cap';
      }
      afterMonth = name === 'month' || name === 'mon';
      if (name !== undefined) kind = KINDS.indexOf(name) | (headline && token === token.toUpperCase() ? UPPER : 0);
    }
    if (kind < 0) continue;
    t.lits.push(text.slice(last, m.index));
    t.keys.push(key);
    t.kinds.push(kind);
    last = m.index + token.length;
  }
  t.lits.push(text.slice(last));
  return t;
}

class Facts {
  private readonly map = new Map<string, string>();
  /** Randomness drawn so far, in bits: what keeps two stories' texts apart. */
  bits = 0;

  constructor(
    private readonly base: BaseCorpus,
    private readonly rng: Rng,
  ) {}

  render(t: Template): string {
    let out = t.lits[0];
    for (let i = 0; i < t.keys.length; i++) out += this.value(t.keys[i], t.kinds[i]) + t.lits[i + 1];
    return out;
  }

  private value(key: string, kind: number): string {
    let value = this.map.get(key);
    if (value === undefined) {
      if (kind === NUMBER) value = this.number(key.slice(1));
      else if (kind === DAY) value = this.draw(28, (i) => String(i + 1));
      else if (kind === TICKER) value = this.letters(key.length - 2);
      else if (kind === FRACTION) value = this.fraction();
      else {
        const pool = this.base.pools[KINDS[kind & ~UPPER]];
        value = this.draw(pool.length, (i) => pool[i]);
      }
      this.map.set(key, value);
    }
    return kind & UPPER ? value.toUpperCase() : value;
  }

  private draw(choices: number, valueOf: (i: number) => string): string {
    this.bits += Math.log2(choices);
    return valueOf(below(this.rng, choices));
  }

  private letters(length: number): string {
    let value = '';
    for (let i = 0; i < length; i++) value += this.draw(26, (c) => String.fromCharCode(65 + c));
    return value;
  }

  /** Market fractions: 1/2, 3/4, 5/8, 11/16, 7/32. */
  private fraction(): string {
    const denominator = 2 ** (1 + below(this.rng, 5));
    const numerator = 1 + 2 * below(this.rng, denominator / 2);
    this.bits += Math.log2(denominator);
    return `${numerator}/${denominator}`;
  }

  /** Same format, magnitude and round zeros: 155,221 -> 382,907; 1,500,000 -> 7,200,000; 0.5 -> 0.8. */
  private number(token: string): string {
    const lastNonZero = token.search(/[1-9][^1-9]*$/);
    let value = '';
    let leading = true;
    for (let i = 0; i < token.length; i++) {
      const ch = token[i];
      if (ch < '0' || ch > '9' || i > lastNonZero || (leading && ch === '0')) value += ch;
      else value += leading ? this.draw(9, (d) => String(d + 1)) : this.draw(10, String);
      if (ch >= '1' && ch <= '9') leading = false;
    }
    return value;
  }
}

function templateOf(base: BaseCorpus, article: number, unit: number): Template {
  const compiled = (base.compiled[article] ??= new Array(base.units[article].length));
  return (compiled[unit] ??= compile(base, base.units[article][unit], false));
}

function headlineOf(base: BaseCorpus, article: number): Template {
  return (base.compiledTitles[article] ??= compile(base, base.titles[article], true));
}

// ---------------------------------------------------------------------------------------------------------
// Stories

export interface Story {
  /** The base article the story grew from. */
  primary: number;
  title: string;
  units: string[];
  /** Same-topic base articles, the source of replacement words for rewrites. */
  topic: Int32Array;
  publishedMs: number;
}

const START_MS = Date.UTC(1987, 2, 2);

export function spanDays(n: number): number {
  return Math.max(7, Math.ceil(n / 20000));
}

/** A sentence rather than a table line ("Revs 21.9 mln vs 12.9 mln") or a heading. */
function isProse(unit: string): boolean {
  return unit.length >= 60 && /[.!?"')]$/.test(unit);
}

export function makeStory(base: BaseCorpus, seed: number, story: number, n: number): Story {
  const rng = rngFor(seed, 1, story);
  const publishedMs = START_MS + below(rng, spanDays(n) * 86400) * 1000;
  const primary = base.primaries[below(rng, base.primaries.length)];
  const own = base.units[primary];
  const topic = base.topicOf[primary];
  const facts = new Facts(base, rng);
  const prose = base.proseArticle[primary] === 1;
  const target = Math.min(MAX_STORY_CHARS, Math.max(MIN_STORY_CHARS, base.chars[primary]));
  const units: string[] = [];
  let length = 0;
  const add = (source: Template) => {
    const unit = facts.render(source);
    units.push(unit);
    length += unit.length + 1;
  };
  const more = () => (length < target || facts.bits < MIN_FACT_BITS) && units.length < MAX_UNITS;
  const chain = topicChain(base, topic);
  if (prose) {
    const title = facts.render(freshHeadline(base, topic, rng, headlineOf(base, primary)));
    while (more()) add(compile(base, chain.paragraph(rng), false));
    return { primary, title, units, topic, publishedMs };
  }
  // A table (earnings, dividends) keeps its primary's lines whole and in order, figures re-drawn: they are
  // formulaic. Its notes are written afresh, as prose stories are; past its end come same-topic table lines.
  const title = facts.render(headlineOf(base, primary));
  const fresh = (source: Template) => (source.prose ? compile(base, chain.paragraph(rng), false) : source);
  const used: string[] = [];
  for (let next = 0; next < own.length && more(); next++) add(fresh(templateOf(base, primary, next)));
  for (let attempt = 0; attempt < 4 * MAX_UNITS && more() && topic.length > 1; attempt++) {
    const mate = topic[below(rng, topic.length)];
    const index = below(rng, base.units[mate].length);
    const text = base.units[mate][index];
    if (mate === primary || used.includes(text) || base.prose[mate][index] === 1) continue;
    used.push(text);
    add(templateOf(base, mate, index));
  }
  while (more() && !chain.empty) add(compile(base, chain.paragraph(rng), false));
  return { primary, title, units, topic, publishedMs };
}

/**
 * A topic's prose as a word chain: each word of the topic's prose paragraphs followed by the words that follow
 * it there, as often as they do. A walk from a paragraph's first word writes a new paragraph.
 */
class WordChain {
  private readonly next = new Map<string, string[]>();
  private readonly firsts: string[] = [];

  /** A topic of tables only has no prose to walk. */
  get empty(): boolean {
    return this.firsts.length === 0;
  }

  add(words: string[]): void {
    if (words.length === 0) return;
    this.firsts.push(words[0]);
    for (let i = 0; i < words.length; i++) {
      let list = this.next.get(words[i]);
      if (list === undefined) this.next.set(words[i], (list = []));
      list.push(i + 1 < words.length ? words[i + 1] : '');
    }
  }

  paragraph(rng: Rng): string {
    let word = pick(rng, this.firsts);
    let text = word;
    for (let count = 1; count < 120; count++) {
      const list = this.next.get(word);
      if (list === undefined) break;
      word = pick(rng, list);
      if (word === '') break;
      text += ` ${word}`;
    }
    return text;
  }
}

function topicChain(base: BaseCorpus, topic: Int32Array): WordChain {
  let chain = base.chains.get(topic);
  if (chain === undefined) {
    chain = new WordChain();
    for (const article of topic) {
      base.units[article].forEach((unit, i) => {
        if (base.prose[article][i] === 1) chain!.add(unit.split(' ').map((w) => intern(base, w)));
      });
    }
    base.chains.set(topic, chain);
  }
  return chain;
}

/**
 * The primary's headline with its common words (the ones bodies write in lowercase) drawn afresh from the
 * topic, as the story's body is: names stay slots, re-drawn by the story's facts.
 */
function freshHeadline(base: BaseCorpus, topic: Int32Array, rng: Rng, headline: Template): Template {
  const present = new Set<string>();
  const lits = headline.lits.map((lit) =>
    lit.replace(/\b[A-Z]{4,}\b/g, (word) => {
      const lower = word.toLowerCase();
      if (STOPWORDS.has(lower) || !base.commonWords.has(lower)) return word;
      const replacement = replacementFor(base, topic, rng, lower, present);
      present.add(replacement);
      return replacement.toUpperCase();
    }),
  );
  return { lits, keys: headline.keys, kinds: headline.kinds, prose: false };
}

// ---------------------------------------------------------------------------------------------------------
// Rewrites

/** Words an editor swaps for each other. */
const SYNONYM_GROUPS = [
  ['rose', 'increased', 'climbed', 'gained'],
  ['fell', 'dropped', 'declined', 'slipped'],
  ['rise', 'increase', 'gain'],
  ['drop', 'decline', 'fall'],
  ['company', 'firm', 'group'],
  ['shares', 'stock'],
  ['profit', 'earnings'],
  ['plans', 'intends', 'expects'],
  ['acquire', 'purchase', 'buy'],
  ['agreed', 'accepted'],
  ['announced', 'disclosed', 'reported'],
  ['total', 'overall'],
  ['estimated', 'forecast', 'projected'],
  ['officials', 'authorities'],
  ['government', 'administration'],
  ['meeting', 'talks'],
  ['higher', 'greater'],
  ['lower', 'reduced'],
  ['sharply', 'steeply'],
  ['current', 'present'],
  ['expected', 'anticipated'],
  ['spokesman', 'official', 'representative'],
  ['agreement', 'accord', 'deal'],
  ['offer', 'bid', 'proposal'],
  ['production', 'output'],
  ['about', 'around', 'roughly'],
  ['markets', 'exchanges'],
];
const SYNONYMS = new Map(SYNONYM_GROUPS.flatMap((g) => g.map((w) => [w, g.filter((x) => x !== w)] as const)));

/** English stopwords as the pipeline sees them (stopwords-iso): swapping one would change no feature. */
const STOPWORDS = new Set((createRequire(import.meta.url)('stopwords-iso') as Record<string, string[]>).en);

/** A crude part of speech, so a swapped word fits its slot: -ing, -ed, -ly, -tion, plural -s, other. */
function wordClass(w: string): number {
  if (w.endsWith('ing')) return 1;
  if (w.endsWith('ed')) return 2;
  if (w.endsWith('ly')) return 3;
  if (w.endsWith('tion') || w.endsWith('sion')) return 4;
  if (w.endsWith('s')) return 5;
  return 0;
}

const CONTENT_WORD = /\b[a-z]{4,}\b/g;
/** Length of the lowercase content word a space-separated `w` is, before one trailing , . ; or :; else 0. */
function swappableLength(w: string): number {
  let n = w.length;
  const last = w.charCodeAt(n - 1);
  if (last === 44 || last === 46 || last === 59 || last === 58) n--;
  if (n < 4) return 0;
  for (let i = 0; i < n; i++) {
    const c = w.charCodeAt(i);
    if (c < 97 || c > 122) return 0;
  }
  return n;
}

/**
 * The content words of a topic's paragraphs by wordClass, with repeats so that common words come up more
 * often (as an editor's choices would); built on first use, one entry per word of the base corpus at most.
 */
function topicVocabulary(base: BaseCorpus, topic: Int32Array): string[][] {
  let vocabulary = base.vocabulary.get(topic);
  if (vocabulary === undefined) {
    vocabulary = [[], [], [], [], [], []];
    for (const article of topic) {
      for (const unit of base.units[article]) {
        for (const w of unit.match(CONTENT_WORD) ?? []) {
          if (STOPWORDS.has(w)) continue;
          vocabulary[wordClass(w)].push(intern(base, w));
        }
      }
    }
    base.vocabulary.set(topic, vocabulary);
  }
  return vocabulary;
}

/**
 * A synonym, else a word of the same class from the topic's vocabulary (any class if a small topic has none
 * left); never one the text already has (`present`), which would change nothing a bag of words sees.
 */
function replacementFor(base: BaseCorpus, topic: Int32Array, rng: Rng, word: string, present: Set<string>): string {
  const synonyms = SYNONYMS.get(word)?.filter((w) => !present.has(w));
  if (synonyms && synonyms.length > 0) return pick(rng, synonyms);
  const vocabulary = topicVocabulary(base, topic);
  const cls = wordClass(word);
  for (let attempt = 0; attempt < 12; attempt++) {
    const candidates = vocabulary[attempt < 8 ? cls : attempt % vocabulary.length];
    if (candidates.length === 0) continue;
    const w = pick(rng, candidates);
    if (!present.has(w)) return w;
  }
  return word;
}

/**
 * Swaps `rate` of the content words of `units` (at least `atLeast`) for synonyms or same-topic words. Names,
 * figures and stopwords are never swapped: the facts stay, and every swap changes a feature.
 */
function swapWords(base: BaseCorpus, topic: Int32Array, rng: Rng, units: string[][], rate: number, atLeast: number): void {
  const slots: number[] = [];
  const present = new Set(units.map((words) => words.join(' ')).join(' ').match(CONTENT_WORD));
  for (let u = 0; u < units.length; u++) {
    const words = units[u];
    for (let i = 0; i < words.length; i++) {
      const length = swappableLength(words[i]);
      if (length > 0 && !STOPWORDS.has(length === words[i].length ? words[i] : words[i].slice(0, length))) slots.push(u * 65536 + i);
    }
  }
  for (let k = Math.min(slots.length, Math.max(atLeast, Math.round(rate * slots.length))); k > 0; k--) {
    const j = below(rng, slots.length);
    const slot = slots[j];
    slots[j] = slots[slots.length - 1];
    slots.pop();
    const words = units[slot >>> 16];
    const i = slot & 65535;
    const length = swappableLength(words[i]);
    const replacement = replacementFor(base, topic, rng, words[i].slice(0, length), present);
    words[i] = replacement + words[i].slice(length);
    present.add(replacement);
  }
}

const SIGN_OFFS = [
  (name: () => string) => `(Reporting by ${name()}; Editing by ${name()})`,
  (name: () => string) => `Reporting by ${name()}`,
  (name: () => string) => `(Editing by ${name()})`,
  (name: () => string) => `Additional reporting by ${name()}`,
  () => 'Copyright Reuters Limited. All rights reserved.',
  () => 'For more market news, see the business pages.',
];

/** "LOCKE <EXD> RAISES DIVIDEND" -> "Locke <EXD> Raises Dividend". */
function titleCase(s: string): string {
  return s.replace(/[A-Za-z][A-Za-z']*/g, (w, offset: number) => (s[offset - 1] === '<' && s[offset + w.length] === '>' ? w : w[0] + w.slice(1).toLowerCase()));
}

export interface GeneratedText {
  title: string;
  text: string;
}

/** Member 0 is the story itself; members 1.. are rewrites, each a different random mix of edits. */
export function rewrite(base: BaseCorpus, story: Story, seed: number, storyIndex: number, member: number): GeneratedText {
  const original = story.units.join('\n');
  if (member === 0) return { title: story.title, text: original };
  const rng = rngFor(seed, 2, storyIndex, member);
  let body = story.units.slice(1);
  const keepAtLeast = Math.ceil(body.length / 2);

  if (rng() < 0.8) {
    const dropRate = 0.15 + 0.3 * rng();
    const kept = body.filter(() => rng() >= dropRate);
    if (kept.length >= keepAtLeast) body = kept;
  }
  if (rng() < 0.4 && body.length >= 2) {
    for (let swaps = 1 + below(rng, 2); swaps > 0; swaps--) {
      const i = below(rng, body.length - 1);
      [body[i], body[i + 1]] = [body[i + 1], body[i]];
    }
  }
  if (rng() < 0.3 && body.length >= 3) body = body.slice(0, Math.max(keepAtLeast, Math.ceil(body.length * (0.5 + 0.4 * rng()))));

  const units = [story.units[0], ...body].map((u) => u.split(' '));
  swapWords(base, story.topic, rng, units, 0.15 + 0.2 * rng(), 3);
  for (const words of units) {
    // Figures are kept, but an editor may round or restate one: 21.9 -> 22, 2,136,000 -> 2.14 mln.
    for (let i = 0; i < words.length; i++) {
      const c = words[i].charCodeAt(0);
      const m = c >= 48 && c <= 57 ? /^(\d+\.\d+|\d{1,3}(?:,\d{3}){2})([,;:]?)$/.exec(words[i]) : null;
      if (!m || rng() >= 0.3) continue;
      const value = Number(m[1].replace(/,/g, ''));
      words[i] = (m[1].includes(',') ? `${(value / 1e6).toFixed(2)} mln` : String(Math.round(value))) + m[2];
    }
  }
  for (let swaps = below(rng, 2 + units.flat().length / 60); swaps > 0; swaps--) {
    const words = units[below(rng, units.length)];
    const i = below(rng, words.length);
    if (i + 1 < words.length && /^[a-z]+$/.test(words[i]) && /^[a-z]+$/.test(words[i + 1])) [words[i], words[i + 1]] = [words[i + 1], words[i]];
  }
  const lines = units.map((words) => words.join(' '));

  const name = () => `${pick(rng, base.pools.cap)} ${pick(rng, base.pools.cap)}`;
  if (rng() < 0.2 && lines.length >= 2) {
    const other = base.primaries[below(rng, base.primaries.length)];
    lines.splice(1 + below(rng, lines.length - 1), 0, `Related: ${titleCase(new Facts(base, rng).render(headlineOf(base, other)))}`);
  }
  if (rng() < 0.5) lines.push(pick(rng, SIGN_OFFS)(name));

  let title = story.title;
  const t = rng();
  if (t < 0.25) title = titleCase(title);
  else if (t < 0.35) title = `UPDATE ${1 + below(rng, 3)}-${title}`;
  else if (t < 0.45) title = title.replace(/\s+\S+$/, '');
  else if (t < 0.6) title = title.replace(/\b[A-Z]{4,}\b/g, (w) => (SYNONYMS.has(w.toLowerCase()) ? pick(rng, SYNONYMS.get(w.toLowerCase())!).toUpperCase() : w));

  let text = lines.join('\n');
  if (text === original) text += `\n${SIGN_OFFS[0](name)}`;
  return { title, text };
}

// ---------------------------------------------------------------------------------------------------------
// Layout: output position -> (story, member), in constant memory

/**
 * Cluster sizes 2..10, about 1,000 of them in exact proportion to k^-1.5 (pairs and triples common, big
 * clusters rare), shuffled; the layout repeats this pattern, so any cluster is found by one binary search.
 */
function sizePattern(rng: Rng): Int32Array {
  const weights = [2, 3, 4, 5, 6, 7, 8, 9, 10].map((k) => [k, k ** -1.5] as const);
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  const sizes = weights.flatMap(([k, w]) => new Array<number>(Math.round((1000 * w) / total)).fill(k));
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = below(rng, i + 1);
    [sizes[i], sizes[j]] = [sizes[j], sizes[i]];
  }
  return Int32Array.from(sizes);
}

export interface Slot {
  story: number;
  member: number;
  size: number;
}

export class Layout {
  /** Slots [0, singles) are singleton stories; the rest are clusters following `pattern`, repeated. */
  readonly singles: number;
  private readonly pattern: Int32Array;
  private readonly starts: Int32Array;
  private readonly period: number;
  private readonly half: number;
  private readonly keys: number[];
  readonly stories: number;

  constructor(
    readonly n: number,
    rewriteRate: number,
    seed: number,
  ) {
    const rng = rngFor(seed, 3);
    this.pattern = sizePattern(rng);
    this.starts = new Int32Array(this.pattern.length + 1);
    for (let j = 0; j < this.pattern.length; j++) this.starts[j + 1] = this.starts[j] + this.pattern[j];
    this.period = this.starts[this.pattern.length];
    let clustered = Math.round(rewriteRate * n);
    // A last cluster of one would be a singleton labelled as a cluster: give that slot to the singletons.
    if (this.locate(clustered).member === 1) clustered--;
    this.singles = n - clustered;
    const last = this.locate(clustered);
    this.stories = this.singles + last.story + (last.member > 0 ? 1 : 0);
    this.half = Math.max(1, Math.ceil(Math.log2(Math.max(2, n)) / 2));
    this.keys = [0, 1, 2, 3].map(() => Math.floor(rng() * 4294967296));
  }

  /** Cluster-relative slot q -> cluster index among clusters, member within it. */
  private locate(q: number): { story: number; member: number; start: number } {
    const cycles = Math.floor(q / this.period);
    const r = q - cycles * this.period;
    let lo = 0;
    let hi = this.pattern.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= r) lo = mid;
      else hi = mid - 1;
    }
    return { story: cycles * this.pattern.length + lo, member: r - this.starts[lo], start: cycles * this.period + this.starts[lo] };
  }

  /** A keyed Feistel bijection on [0, 4^half), cycle-walked into [0, n). */
  private shuffle(position: number): number {
    const mask = (1 << this.half) - 1;
    const scale = 2 ** this.half;
    let x = position;
    do {
      let left = Math.floor(x / scale);
      let right = x % scale;
      for (const key of this.keys) {
        const t = left ^ (mix32(right ^ key) & mask);
        left = right;
        right = t;
      }
      x = left * scale + right;
    } while (x >= this.n);
    return x;
  }

  at(position: number): Slot {
    const slot = this.shuffle(position);
    if (slot < this.singles) return { story: slot, member: 0, size: 1 };
    const q = slot - this.singles;
    const { story, member, start } = this.locate(q);
    const clustered = this.n - this.singles;
    return { story: this.singles + story, member, size: Math.min(this.pattern[story % this.pattern.length], clustered - start) };
  }
}

// ---------------------------------------------------------------------------------------------------------
// The whole corpus

export interface CorpusOptions {
  n: number;
  /** The articles file; labels.csv goes beside it. */
  out: string;
  seed: number;
  rewriteRate: number;
  basePath: string;
}

export interface CorpusSummary {
  articles: number;
  stories: number;
  clustered: number;
  labels: string;
}

const pad = (i: number, width: number) => String(i).padStart(width, '0');

/** Rewrites follow their original by 2 minutes to 12 hours. */
function publishedAt(rng: Rng, story: Story, member: number): string {
  const delay = member === 0 ? 0 : Math.round(Math.exp(Math.log(120) + rng() * Math.log((12 * 3600) / 120)));
  return new Date(story.publishedMs + delay * 1000).toISOString().replace('.000Z', 'Z');
}

export function articleAt(base: BaseCorpus, layout: Layout, seed: number, position: number): { title: string; text: string; publishedAt: string; slot: Slot } {
  const slot = layout.at(position);
  const story = makeStory(base, seed, slot.story, layout.n);
  const { title, text } = rewrite(base, story, seed, slot.story, slot.member);
  return { title, text, publishedAt: publishedAt(rngFor(seed, 4, slot.story, slot.member), story, slot.member), slot };
}

export async function generateCorpus(options: CorpusOptions, base = loadBase(readFileSync(options.basePath, 'utf8'), options.basePath)): Promise<CorpusSummary> {
  const { n, seed } = options;
  const layout = new Layout(n, options.rewriteRate, seed);
  const idWidth = Math.max(7, String(n).length);
  const storyWidth = Math.max(7, String(layout.stories).length);
  const labelsPath = join(dirname(options.out), 'labels.csv');
  const articles = await AtomicLineWriter.create(options.out);
  const labels = await AtomicLineWriter.create(labelsPath);
  try {
    await labels.write('id,cluster\n');
    let articleChunk = '';
    let labelChunk = '';
    for (let p = 0; p < n; p++) {
      const a = articleAt(base, layout, seed, p);
      const id = `g${pad(p + 1, idWidth)}`;
      articleChunk += `${JSON.stringify({ id, title: a.title, text: a.text, published_at: a.publishedAt })}\n`;
      labelChunk += `${id},s${pad(a.slot.story, storyWidth)}\n`;
      if ((p & 511) === 511 || p === n - 1) {
        await articles.write(articleChunk);
        await labels.write(labelChunk);
        articleChunk = labelChunk = '';
      }
    }
    await articles.commit();
    await labels.commit();
  } catch (error) {
    await articles.abort();
    await labels.abort();
    throw error;
  }
  return { articles: n, stories: layout.stories, clustered: n - layout.singles, labels: labelsPath };
}
