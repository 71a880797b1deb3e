/**
 * Reads articles from .txt files, JSONL files and RSS 2.0 / Atom feeds, in a deterministic order:
 * files in path order, articles in file order.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, normalize } from 'node:path';
import { decodeHTML, decodeXML } from 'entities';
import { XMLParser, XMLValidator, type XMLMetaData } from 'fast-xml-parser';
import pLimit from 'p-limit';
import type { Article } from './article.js';
import { InputError } from './errors.js';

const EXTENSIONS = new Set(['.txt', '.jsonl', '.xml', '.rss', '.atom']);
const EXPECTED_FILES = '.txt, .jsonl, .xml, .rss or .atom';
const DEFAULT_CONCURRENCY = 16;

const formatOf = (path: string): string => extname(path).toLowerCase();

// ---------------------------------------------------------------------------------------------------------
// Finding the input files

export async function listInputFiles(inputs: string[]): Promise<string[]> {
  // A set, so that naming a directory and a file inside it does not read the file twice.
  const found = new Set<string>();
  for (const input of inputs) {
    const path = normalize(input);
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw new InputError(input, undefined, fsProblem(err));
    });
    if (info.isDirectory()) await walk(path, found);
    else if (EXTENSIONS.has(formatOf(path))) found.add(path);
    else throw new InputError(input, undefined, `unsupported file type; expected a directory or a ${EXPECTED_FILES} file`);
  }
  return sortByBytes([...found]);
}

async function walk(dir: string, found: Set<string>): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(dir, undefined, fsProblem(err));
  });
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    // Symlinked directories are not followed (they could form a cycle); symlinked files are read.
    if (entry.isDirectory()) await walk(path, found);
    else if ((entry.isFile() || entry.isSymbolicLink()) && EXTENSIONS.has(formatOf(path))) found.add(path);
  }
}

/** UTF-8 byte order, which unlike JS string order does not depend on UTF-16 surrogates. */
function sortByBytes(paths: string[]): string[] {
  return paths
    .map((path) => ({ path, key: Buffer.from(path) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ path }) => path);
}

function fsProblem(err: NodeJS.ErrnoException): string {
  return err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'no such file or directory' : `cannot read: ${err.message}`;
}

// ---------------------------------------------------------------------------------------------------------
// Reading

/** An input, or a part of one, that was skipped or changed, and why. */
export interface Rejection {
  file: string;
  /** The line, for JSONL and feeds. */
  line?: number;
  /** The article's id, when it got that far. */
  id?: string;
  /**
   * 'skipped': left out of the run; 'truncated': read, but its text cut to MAX_ARTICLE_CHARS; 'kept alone':
   * read, but with nothing to compare (the shingle stage finds these), so it is a cluster of its own; 'kept
   * indexed version': a nightly run's index has the id with another text, and keeps its own (nightly.ts).
   */
  action: 'skipped' | 'truncated' | 'kept alone' | 'kept indexed version';
  reason: string;
}

/** The file and line (none for a whole-file article) of an article's `origin`, "FILE" or "FILE:LINE". */
export function originOf(origin: string): { file: string; line: number | undefined } {
  const [, file, line] = /^(.*?)(?::(\d+))?$/.exec(origin)!;
  return { file, line: line === undefined ? undefined : Number(line) };
}

export interface ReadOptions {
  concurrency?: number;
  /**
   * Called for each bad input, which is then skipped (or truncated) and the reading goes on. Without it the
   * first bad input throws its InputError (--strict). An input path that does not exist, or a file named
   * on the command line that is not of a readable type, always throws: that is a mistake in the command.
   */
  onReject?: (rejection: Rejection) => void;
  /** Bytes of a JSONL file read at a time (JSONL_PIECE_BYTES); tests make it small, to split lines and characters. */
  jsonlPieceBytes?: number;
}

/**
 * Bytes of a JSONL file read at a time: enough lines that a read and its promise cost little per line.
 * Larger pieces cost more: reading 100,000 generated articles took 15 to 25% more CPU in pieces of 2 or 4 MB
 * than of 256 KB to 1 MB (which were alike), and more memory, as a piece's articles live until the read
 * stage has written them all.
 */
const JSONL_PIECE_BYTES = 1 << 19;

/**
 * Longest text kept of one article, in characters: longer ones are cut (a 200 MB "article" is a broken feed,
 * and would cost gigabytes in every stage).
 */
export const MAX_ARTICLE_CHARS = 1_000_000;

/**
 * Control characters, a backslash, a leading slash or a ".." segment: an id must print on one line and must
 * not climb out of a folder if someone downstream makes a file name of it. Other slashes are fine: feed ids
 * are URLs.
 */
const UNSAFE_ID = /[\\\x00-\x1f\x7f]|^\/|(?:^|\/)\.\.(?:\/|$)/;

/**
 * The articles of `inputs`, one at a time. Reading goes by chunks (readArticleChunks); a consumer that takes
 * many articles, such as the read stage, does better to take the chunks.
 */
export async function* readArticles(inputs: string[], options: ReadOptions = {}): AsyncGenerator<Article> {
  for await (const articles of readArticleChunks(inputs, options)) yield* articles;
}

/**
 * The articles of `inputs`, a chunk at a time: a JSONL piece's worth (see readJsonl) or a whole file's, which
 * spares the read stage's thread a promise or two per article. Rejections are reported as the chunk is read,
 * before it is yielded; under --strict the first bad input throws after the chunk's articles before it.
 */
export async function* readArticleChunks(inputs: string[], options: ReadOptions = {}): AsyncGenerator<Article[]> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const pieceBytes = options.jsonlPieceBytes ?? JSONL_PIECE_BYTES;
  const limit = pLimit(concurrency);
  const files = await listInputFiles(inputs);
  const { onReject } = options;
  /** Skips what `error` describes when rejections are collected; throws it otherwise. */
  const reject = (error: InputError, id?: string): void => {
    if (!onReject) throw error;
    onReject({ file: error.file, line: error.line, id, action: 'skipped', reason: error.problem });
  };

  // Whole-file formats are read ahead through the limiter, but at most `concurrency` files past the one being
  // yielded, so memory is bounded by that window rather than by the corpus. JSONL files are streamed when their
  // turn comes (undefined placeholder), so a huge one never sits in memory.
  const window: Array<Promise<WholeFile> | undefined> = [];
  let scheduled = 0;
  const fillWindow = (): void => {
    while (scheduled < files.length && window.length < concurrency) {
      const file = files[scheduled++];
      const read = formatOf(file) === '.jsonl' ? undefined : limit(() => readWholeFile(file));
      // Its error is rethrown when its turn comes; until then it must not count as an unhandled rejection.
      read?.catch(() => {});
      window.push(read);
    }
  };

  const originOfId = new Map<string, string>();
  /** Whether `article` of `file` is kept (perhaps truncated); rejects it otherwise. */
  const accept = (file: string, article: Article): boolean => {
    const line = article.origin === file ? undefined : Number(article.origin.slice(file.length + 1));
    const problem = articleProblem(article, originOfId.get(article.id));
    if (problem !== undefined) {
      reject(new InputError(file, line, problem), article.id === '' ? undefined : article.id);
      return false;
    }
    originOfId.set(article.id, article.origin);
    if (article.text.length > MAX_ARTICLE_CHARS) {
      const reason = `text of ${article.text.length.toLocaleString('en-US')} characters cut to ${MAX_ARTICLE_CHARS.toLocaleString('en-US')}`;
      if (!onReject) throw new InputError(file, line, `${reason}: an article this long is a broken input`);
      onReject({ file, line, id: article.id, action: 'truncated', reason });
      article.text = article.text.slice(0, MAX_ARTICLE_CHARS);
    }
    return true;
  };

  for (const file of files) {
    fillWindow();
    const read = window.shift();
    let chunks: Iterable<JsonlItem[]> | AsyncIterable<JsonlItem[]>;
    try {
      if (read === undefined) chunks = readJsonl(file, pieceBytes);
      else {
        // Files are read ahead, out of order; their rejections are reported now, in input order.
        const whole = await read;
        for (const error of whole.rejected) reject(error);
        chunks = [whole.articles];
      }
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      reject(error);
      continue;
    }
    for await (const items of chunks) {
      const kept: Article[] = [];
      try {
        for (const item of items) {
          // A JSONL line that could not be read is rejected in its turn, among the articles' own rejections.
          if (item instanceof InputError) reject(item);
          else if (accept(file, item)) kept.push(item);
        }
      } catch (error) {
        // Under --strict: the articles before the bad input first, as a reader of one at a time gets them.
        if (kept.length > 0) yield kept;
        throw error;
      }
      if (kept.length > 0) yield kept;
    }
  }
}

/** Why `article` cannot be used, or undefined. `earlier`: where its id was first seen, if it was. */
function articleProblem(article: Article, earlier: string | undefined): string | undefined {
  if (article.id === '') return 'empty id';
  if (UNSAFE_ID.test(article.id)) return `id ${JSON.stringify(article.id)} has a control character, a backslash, a leading "/" or a ".." segment`;
  if (earlier !== undefined) return `id "${article.id}" was already used in ${earlier}`;
  if (article.title.trim() === '' && article.text.trim() === '') return 'no text: the article is empty or only whitespace';
  if (article.text.includes('\0') || article.title.includes('\0')) return 'binary data (NUL bytes), not text';
  return undefined;
}

/** A file read whole: its articles, and the items of it that could not be read. */
interface WholeFile {
  articles: Article[];
  rejected: InputError[];
}

async function readWholeFile(file: string): Promise<WholeFile> {
  const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(file, undefined, fsProblem(err));
  });
  const content = decodeUtf8(bytes, file, undefined);
  const rejected: InputError[] = [];
  const articles = formatOf(file) === '.txt' ? [readTxt(file, content)] : readFeed(file, content, rejected);
  return { articles, rejected };
}

// Not shared mutable state: decode() without {stream: true} starts afresh on every call. It strips a leading BOM.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array, file: string, line: number | undefined): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new InputError(file, line, 'not valid UTF-8; expected UTF-8 text');
  }
}

const crlfToLf = (s: string): string => s.replace(/\r\n/g, '\n');

// ---------------------------------------------------------------------------------------------------------
// .txt: one article per file

function readTxt(file: string, content: string): Article {
  const lines = crlfToLf(content).split('\n');
  const titleLine = lines.findIndex((line) => line.trim() !== '');
  return {
    id: basename(file, extname(file)),
    title: titleLine === -1 ? '' : lines[titleLine].trim(),
    text: titleLine === -1 ? '' : lines.slice(titleLine + 1).join('\n'),
    origin: file,
  };
}

// ---------------------------------------------------------------------------------------------------------
// .jsonl: one article per line

/** An article of a JSONL file, or why its line could not be read. */
type JsonlItem = Article | InputError;

const LF = 0x0a;
const CR = 0x0d;

/**
 * The articles (and unreadable lines) of a JSONL file, in line order, a piece of about `pieceBytes` at a
 * time. Lines are split as readline splits them (crlfDelay Infinity): at "\r\n", "\n" and a lone "\r";
 * blank ones are counted but skipped, and the last one may lack a line break.
 */
async function* readJsonl(file: string, pieceBytes: number): AsyncGenerator<JsonlItem[]> {
  const handle = await open(file).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(file, undefined, fsProblem(err));
  });
  try {
    let nextLine = 1;
    // One buffer for every piece of the file, as the lines are decoded before the next piece is read: a new
    // buffer per piece cost a page fault per 4 KB of the file (a gigabyte and a second at a million articles).
    let buffer = Buffer.allocUnsafeSlow(0);
    /** Bytes at the start of `buffer`: a line whose end has not been read yet. */
    let kept = 0;
    let afterCr = false;
    for (;;) {
      // A line longer than a piece is read on in pieces as long as what is kept of it, so that copying it
      // along stays linear in its length.
      const size = Math.max(pieceBytes, kept);
      if (buffer.length < kept + size) {
        const grown = Buffer.allocUnsafeSlow(kept + size);
        buffer.copy(grown, 0, 0, kept);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, kept, size, null);
      if (bytesRead === 0) break;
      // A "\r\n" split between two pieces is one line break, not a lone "\r" and then an empty line.
      const start = afterCr && buffer[0] === LF ? 1 : 0;
      const end = kept + bytesRead;
      afterCr = buffer[end - 1] === CR;
      const lastBreak = lastLineBreak(buffer, Math.max(start, kept), end);
      const items: JsonlItem[] = [];
      if (lastBreak !== -1) nextLine = readLines(file, buffer.subarray(start, lastBreak + 1), nextLine, items);
      // The unfinished line moves to the front, for the next piece to complete.
      const unfinished = lastBreak === -1 ? start : lastBreak + 1;
      buffer.copyWithin(0, unfinished, end);
      kept = end - unfinished;
      if (items.length > 0) yield items;
    }
    const items: JsonlItem[] = [];
    readLines(file, buffer.subarray(0, kept), nextLine, items);
    if (items.length > 0) yield items;
  } finally {
    await handle.close();
  }
}

/** Where the last "\n" or "\r" of `bytes` between `from` and `to` is, or -1. */
function lastLineBreak(bytes: Uint8Array, from: number, to: number): number {
  for (let at = to - 1; at >= from; at--) if (bytes[at] === LF || bytes[at] === CR) return at;
  return -1;
}

/**
 * Reads the lines of `bytes`, numbered from `first`, into `items`, and returns the number of the line after
 * them. Each line but perhaps the last ends in a line break. The bytes of a line break never occur inside a
 * UTF-8 character, so the lines split from the bytes are those of the text. Each line is decoded alone,
 * strictly, which also names the line that is not UTF-8: decoding a piece at once was slower, because V8
 * turns a piece with any non-ASCII character in it into a two-byte string, and does so slowly.
 */
function readLines(file: string, bytes: Buffer, first: number, items: JsonlItem[]): number {
  let lineNumber = first;
  // Where the next "\n" and the next "\r" are (bytes.length: none left), each looked for again only once
  // passed: a file without "\r" is searched for one once a piece.
  let lf = -1;
  let cr = -1;
  for (let start = 0; start < bytes.length; lineNumber++) {
    if (lf < start) lf = indexOrLength(bytes, LF, start);
    if (cr < start) cr = indexOrLength(bytes, CR, start);
    const end = Math.min(lf, cr);
    readLine(file, lineNumber, bytes.subarray(start, end), items);
    start = end === cr && bytes[end + 1] === LF ? end + 2 : end + 1;
  }
  return lineNumber;
}

function indexOrLength(bytes: Buffer, byte: number, from: number): number {
  const at = bytes.indexOf(byte, from);
  return at === -1 ? bytes.length : at;
}

/** Adds the article of a line to `items`, or why it cannot be read; a blank line has neither. */
function readLine(file: string, lineNumber: number, bytes: Uint8Array, items: JsonlItem[]): void {
  try {
    const line = decodeUtf8(bytes, file, lineNumber);
    if (line.trim() !== '') items.push(parseJsonlLine(file, lineNumber, line));
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    items.push(error);
  }
}

function parseJsonlLine(file: string, line: number, json: string): Article {
  const fail = (problem: string): InputError =>
    new InputError(file, line, `${problem}; expected a JSON object {"id", "text", "title"?, "published_at"?, "source"?, "url"?}`);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(`got ${kindOf(value)}, not an object`);
  const record = value as Record<string, unknown>;
  const { id, text } = record;
  if (!(typeof id === 'string' && id !== '') && typeof id !== 'number') throw fail(`"id" must be a non-empty string or a number, got ${kindOf(id)}`);
  if (typeof text !== 'string') throw fail(`"text" must be a string, got ${kindOf(text)}`);
  const optional = (field: string): string | undefined => {
    const v = record[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw fail(`"${field}" must be a string when present, got ${kindOf(v)}`);
    return v;
  };
  return {
    id: String(id),
    title: crlfToLf(optional('title') ?? ''),
    text: crlfToLf(text),
    publishedAt: toIsoWhenParsable(optional('published_at')),
    source: optional('source'),
    url: optional('url'),
    origin: `${file}:${line}`,
  };
}

function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value === '') return 'an empty string';
  return `a ${typeof value}`;
}

function toIsoWhenParsable(date: string | undefined): string | undefined {
  if (date === undefined || date.trim() === '') return undefined;
  const time = Date.parse(date);
  return Number.isNaN(time) ? date : new Date(time).toISOString();
}

// ---------------------------------------------------------------------------------------------------------
// .xml, .rss, .atom: one article per RSS 2.0 item or Atom entry

// Text elements are "stop nodes": the parser hands over their raw content, so HTML kept in CDATA or escaped
// (and Atom's inline xhtml, which the parser would otherwise break into objects and reorder) survives intact.
const TEXT_ELEMENTS = [
  'rss.channel.title',
  'rss.channel.item.title',
  'rss.channel.item.description',
  'rss.channel.item.content:encoded',
  'feed.title',
  'feed.entry.title',
  'feed.entry.content',
  'feed.entry.summary',
];

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false, // ids and titles such as "2024" stay strings
  captureMetaData: true, // node start offsets give each item's line
  stopNodes: TEXT_ELEMENTS,
});
const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

type XmlNode = Record<string | symbol, unknown>;
type TextKind = 'text' | 'html' | 'xhtml';

interface FeedItem {
  id: string;
  link: string;
  title: string;
  text: string;
  published: string;
}

function readFeed(file: string, content: string, rejected: InputError[]): Article[] {
  const invalid = XMLValidator.validate(content);
  if (invalid !== true) throw new InputError(file, invalid.err.line, `malformed XML: ${invalid.err.msg}`);

  const doc = asNode(xmlParser.parse(content));
  let groups: Array<{ source: string; items: unknown[]; read: (item: XmlNode) => FeedItem }>;
  if (asNode(doc.rss).channel !== undefined) {
    groups = toArray(asNode(doc.rss).channel).map(asNode).map((channel) => ({
      source: feedText(channel.title, 'html'),
      items: toArray(channel.item),
      read: rssItem,
    }));
  } else if (doc.feed !== undefined) {
    const feed = asNode(doc.feed);
    groups = [{ source: atomText(feed.title), items: toArray(feed.entry), read: atomEntry }];
  } else {
    throw new InputError(file, undefined, 'neither an RSS 2.0 feed (<rss><channel>) nor an Atom feed (<feed>)');
  }

  const lineOf = lineCounter(content);
  const articles: Article[] = [];
  for (const { source, items, read } of groups) {
    for (const value of items) {
      const node = asNode(value);
      const line = lineOf(node);
      const item = read(node);
      if (item.id === '') {
        rejected.push(new InputError(file, line, `item ${articles.length + rejected.length + 1} has no id (RSS <guid>, Atom <id>) and no link to use instead`));
        continue;
      }
      articles.push({
        id: item.id,
        title: item.title,
        text: item.text,
        publishedAt: toIsoWhenParsable(item.published),
        source: source || undefined,
        url: item.link || undefined,
        origin: line === undefined ? file : `${file}:${line}`,
      });
    }
  }
  return articles;
}

function rssItem(item: XmlNode): FeedItem {
  const link = textOf(item.link);
  return {
    id: textOf(item.guid) || link,
    link,
    title: feedText(item.title, 'html'),
    text: feedText(item['content:encoded'], 'html') || feedText(item.description, 'html'),
    published: textOf(item.pubDate),
  };
}

function atomEntry(entry: XmlNode): FeedItem {
  const link = atomLink(entry.link);
  return {
    id: textOf(entry.id) || link,
    link,
    title: atomText(entry.title),
    text: atomText(entry.content) || atomText(entry.summary),
    published: textOf(entry.published) || textOf(entry.updated),
  };
}

/** The alternate (or rel-less) link is the article itself; rel="self" and others point elsewhere. */
function atomLink(value: unknown): string {
  const links = toArray(value).map(asNode);
  const best = links.find((l) => l['@_rel'] === undefined || l['@_rel'] === 'alternate') ?? links[0];
  return best === undefined ? '' : String(best['@_href'] ?? '').trim();
}

function atomText(value: unknown): string {
  const type = String(asNode(first(value))['@_type'] ?? 'text').toLowerCase();
  const kind: TextKind = type === 'xhtml' ? 'xhtml' : type.includes('html') ? 'html' : 'text';
  return feedText(value, kind);
}

/** The plain text of a stop node, whose content arrives raw (still XML-escaped, CDATA sections literal). */
function feedText(value: unknown, kind: TextKind): string {
  const raw = textOf(value);
  // Inline xhtml is markup already, and its XML entities are HTML entities too.
  if (kind === 'xhtml') return stripHtml(raw);
  const unescaped = raw
    .split(/<!\[CDATA\[([\s\S]*?)\]\]>/)
    .map((part, i) => (i % 2 === 1 ? part : decodeXML(part)))
    .join('');
  return kind === 'html' ? stripHtml(unescaped) : unescaped;
}

const BLOCK_TAGS = /<\/?(?:p|br|div|li|ul|ol|h[1-6]|blockquote|pre|tr|table|hr)\b[^>]*>/gi;

function stripHtml(html: string): string {
  return decodeHTML(
    html
      .replace(/<!--[\s\S]*?-->/g, '')
      .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
      .replace(/\s+/g, ' ') // source line breaks are just spaces in HTML; blocks make the real ones
      .replace(BLOCK_TAGS, '\n')
      .replace(/<[^>]*>/g, ''),
  )
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Maps a node's start offset to its line; nodes are visited in document order, so it only counts forward. */
function lineCounter(content: string): (node: XmlNode) => number | undefined {
  let offset = 0;
  let line = 1;
  return (node) => {
    const start = (node[META] as XMLMetaData | undefined)?.startIndex;
    if (start === undefined || start < offset) return undefined;
    for (; offset < start; offset++) if (content.charCodeAt(offset) === 10) line++;
    return line;
  };
}

const first = (value: unknown): unknown => (Array.isArray(value) ? value[0] : value);

function asNode(value: unknown): XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as XmlNode) : {};
}

function toArray(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** An element's text, whether the parser gave a plain string or an object with attributes and '#text'. */
function textOf(value: unknown): string {
  const node = first(value);
  const text = typeof node === 'string' ? node : asNode(node)['#text'];
  return typeof text === 'string' ? text.trim() : '';
}
