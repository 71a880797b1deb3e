import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Article } from '../pipeline/article.js';
import { InputError } from '../pipeline/errors.js';
import { MAX_ARTICLE_CHARS, type Rejection, listInputFiles, readArticles } from '../pipeline/read-articles.js';

const SEEDS = fileURLToPath(new URL('../../seeds', import.meta.url));

async function collect(inputs: string[], concurrency?: number): Promise<Article[]> {
  const out: Article[] = [];
  for await (const article of readArticles(inputs, { concurrency })) out.push(article);
  return out;
}

/** Writes `files` (relative path → content) into a fresh temporary directory, runs `body`, cleans up. */
async function withFiles(files: Record<string, string | Uint8Array>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-read-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Asserts that reading rejects with an InputError whose message matches every pattern. */
async function rejectsInput(inputs: string[], ...patterns: RegExp[]): Promise<InputError> {
  let caught: unknown;
  try {
    await collect(inputs);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InputError, `expected an InputError, got ${String(caught)}`);
  for (const pattern of patterns) assert.match(caught.message, pattern);
  return caught;
}

test('txt: first non-empty line is the title, the rest is the body; BOM and CRLF handled', async () => {
  await withFiles({ 'story.txt': '\uFEFF\r\n  \r\nThe Title  \r\nLine one.\r\n\r\nLine two.\r\n' }, async (dir) => {
    const [article, ...rest] = await collect([dir]);
    assert.equal(rest.length, 0);
    assert.equal(article.id, 'story');
    assert.equal(article.title, 'The Title');
    assert.equal(article.text, 'Line one.\n\nLine two.\n');
    assert.equal(article.origin, join(dir, 'story.txt'));
  });
});

test('jsonl: fields, numeric ids, blank lines skipped, origin path:line', async () => {
  const lines = [
    JSON.stringify({ id: 'a', text: 'Body A\r\nmore', title: 'Title A', published_at: '2024-03-01T10:00:00+02:00', source: 'Wire', url: 'https://x/a' }),
    '',
    JSON.stringify({ id: 42, text: 'Body 42' }),
    '   ',
    JSON.stringify({ id: 'c', title: 'Title only', text: '', published_at: 'sometime last week' }),
  ];
  await withFiles({ 'feed.jsonl': lines.join('\n') + '\n' }, async (dir) => {
    const file = join(dir, 'feed.jsonl');
    const articles = await collect([file]);
    assert.deepEqual(articles.map((a) => a.id), ['a', '42', 'c']);
    const [a, b, c] = articles;
    assert.equal(a.title, 'Title A');
    assert.equal(a.text, 'Body A\nmore');
    assert.equal(a.publishedAt, '2024-03-01T08:00:00.000Z');
    assert.equal(a.source, 'Wire');
    assert.equal(a.url, 'https://x/a');
    assert.equal(a.origin, `${file}:1`);
    assert.equal(b.title, '');
    assert.equal(b.publishedAt, undefined);
    assert.equal(b.origin, `${file}:3`);
    assert.equal(c.publishedAt, 'sometime last week', 'unparsable dates are kept as given');
  });
});

test('jsonl: bad lines are InputErrors with the line number and what is expected', async () => {
  const good = JSON.stringify({ id: 'ok', text: 't' });
  const cases: Array<[string, RegExp]> = [
    ['{"id": "x", "text": ', /not valid JSON/],
    ['[1, 2]', /got an array, not an object/],
    ['"just a string"', /got a string, not an object/],
    ['{"text": "t"}', /"id" must be a non-empty string or a number, got nothing/],
    ['{"id": "", "text": "t"}', /"id" must be a non-empty string or a number, got an empty string/],
    ['{"id": true, "text": "t"}', /"id" must be .*got a boolean/],
    ['{"id": "x"}', /"text" must be a string, got nothing/],
    ['{"id": "x", "text": "t", "title": 5}', /"title" must be a string when present/],
  ];
  for (const [badLine, problem] of cases) {
    await withFiles({ 'in.jsonl': `${good}\n\n${badLine}\n` }, async (dir) => {
      const err = await rejectsInput([dir], /in\.jsonl:3: /, problem, /expected a JSON object/);
      assert.equal(err.line, 3);
      assert.equal(err.file, join(dir, 'in.jsonl'));
    });
  }
});

const RSS = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>The Daily &amp; Co</title>
    <item>
      <title>Caf&#233; &amp;amp; more</title>
      <link>https://example.com/1</link>
      <guid isPermaLink="false">item-1</guid>
      <pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>
      <description>ignored because content:encoded is present</description>
      <content:encoded><![CDATA[<p>First&nbsp;paragraph with <b>bold</b> &amp; an &quot;entity&quot;.</p>
<script>var x = "<p>not text</p>";</script><style>p { color: red }</style>
<p>Second<br/>line  two</p>]]></content:encoded>
    </item>
    <item>
      <title>Second</title>
      <link>https://example.com/2</link>
      <description>&lt;div&gt;Escaped &amp;lt;HTML&amp;gt; body&lt;/div&gt;</description>
      <pubDate>not a date</pubDate>
    </item>
  </channel>
</rss>
`;

test('RSS 2.0: CDATA HTML content stripped, entities decoded, guid else link, dates to ISO', async () => {
  await withFiles({ 'news.rss': RSS }, async (dir) => {
    const file = join(dir, 'news.rss');
    const [one, two, ...rest] = await collect([dir]);
    assert.equal(rest.length, 0);
    assert.equal(one.id, 'item-1');
    assert.equal(one.title, 'Café & more');
    assert.equal(one.text, 'First paragraph with bold & an "entity".\n\nSecond\nline two');
    assert.equal(one.publishedAt, '2003-06-10T04:00:00.000Z');
    assert.equal(one.source, 'The Daily & Co');
    assert.equal(one.url, 'https://example.com/1');
    assert.equal(one.origin, `${file}:5`);
    assert.equal(two.id, 'https://example.com/2');
    assert.equal(two.text, 'Escaped <HTML> body');
    assert.equal(two.publishedAt, 'not a date');
    assert.equal(two.origin, `${file}:15`);
  });
});

test('RSS 2.0: a single item, and an item with neither guid nor link', async () => {
  const single = '<rss version="2.0"><channel><title>S</title><item><guid>only</guid><title>T</title><description>D</description></item></channel></rss>';
  await withFiles({ 'one.xml': single }, async (dir) => {
    const articles = await collect([dir]);
    assert.deepEqual(articles.map((a) => [a.id, a.title, a.text, a.source, a.url]), [['only', 'T', 'D', 'S', undefined]]);
  });
  const noId = '<rss version="2.0"><channel>\n<item><guid>a</guid></item>\n<item><title>No id</title></item>\n</channel></rss>';
  await withFiles({ 'bad.xml': noId }, async (dir) => {
    const err = await rejectsInput([dir], /bad\.xml:3: item 2 has no id/);
    assert.equal(err.line, 3);
  });
});

const ATOM = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">Example &lt;i&gt;Feed&lt;/i&gt;</title>
  <entry>
    <title>Atom-Powered Robots Run Amok</title>
    <link rel="self" href="http://example.org/self/1"/>
    <link rel="alternate" href="http://example.org/2003/12/13/atom03"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <updated>2003-12-13T18:30:02+01:00</updated>
    <summary>Some text.</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>One &amp; only</p><p>Two <b>bold</b> end</p></div></content>
  </entry>
  <entry>
    <title type="text">Plain &lt;title&gt;</title>
    <link href="http://example.org/2"/>
    <published>2004-01-01T00:00:00Z</published>
    <updated>2005-01-01T00:00:00Z</updated>
    <summary type="html"><![CDATA[<p>Summary &amp; <em>more</em></p>]]></summary>
  </entry>
</feed>
`;

test('Atom: link href, id else link, updated when no published, xhtml and html content', async () => {
  await withFiles({ 'feed.atom': ATOM }, async (dir) => {
    const [one, two] = await collect([dir]);
    assert.equal(one.id, 'urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a');
    assert.equal(one.url, 'http://example.org/2003/12/13/atom03');
    assert.equal(one.publishedAt, '2003-12-13T17:30:02.000Z');
    assert.equal(one.text, 'One & only\n\nTwo bold end');
    assert.equal(one.source, 'Example Feed');
    assert.equal(two.id, 'http://example.org/2');
    assert.equal(two.title, 'Plain <title>', 'type="text" has no markup to strip');
    assert.equal(two.publishedAt, '2004-01-01T00:00:00.000Z');
    assert.equal(two.text, 'Summary & more');
  });
});

test('feeds: malformed XML (with its line) and other XML documents are InputErrors', async () => {
  await withFiles({ 'broken.xml': '<rss>\n<channel>\n<item>\n</channel>\n</rss>' }, async (dir) => {
    const err = await rejectsInput([dir], /broken\.xml:\d+: malformed XML/);
    assert.equal(typeof err.line, 'number');
  });
  await withFiles({ 'other.xml': '<html><body/></html>' }, async (dir) => {
    await rejectsInput([dir], /other\.xml: neither an RSS 2\.0 feed/);
  });
});

test('listInputFiles: recursive, sorted by bytes, ignores other and hidden files', async () => {
  const files = {
    'b/z.txt': 'Z\n', 'b/a.jsonl': '', 'a.xml': '<rss><channel/></rss>', 'c.atom': '<feed/>', 'd.rss': '<rss><channel/></rss>',
    'notes.md': '#', '.hidden.txt': 'H\n', '.git/x.txt': 'X\n', 'B.txt': 'upper\n', 'sub/deeper/é.txt': 'e\n', 'sub/deeper/f.txt': 'f\n',
  };
  await withFiles(files, async (dir) => {
    const listed = await listInputFiles([dir, join(dir, 'b', 'z.txt')]);
    const expected = ['B.txt', 'a.xml', 'b/a.jsonl', 'b/z.txt', 'c.atom', 'd.rss', 'sub/deeper/f.txt', 'sub/deeper/é.txt'];
    assert.deepEqual(listed, expected.map((name) => join(dir, name)));
    // An explicitly named hidden file is read; an explicitly named file of another type is an error.
    assert.deepEqual(await listInputFiles([join(dir, '.hidden.txt')]), [join(dir, '.hidden.txt')]);
    await assert.rejects(listInputFiles([join(dir, 'notes.md')]), (err) => err instanceof InputError && /notes\.md: unsupported file type/.test(err.message));
    await assert.rejects(listInputFiles([join(dir, 'missing')]), (err) => err instanceof InputError && /missing: no such file or directory/.test(err.message));
  });
});

test('order is deterministic and the same for every concurrency', async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 60; i++) {
    const name = `d${i % 4}/${String((i * 37) % 60).padStart(2, '0')}`;
    if (i % 10 === 3) files[`${name}.jsonl`] = `{"id":"${name}-1","text":"x"}\n{"id":"${name}-2","text":"y"}\n`;
    else if (i % 10 === 7) files[`${name}.xml`] = `<rss><channel><item><guid>${name}-rss</guid><title>T</title></item></channel></rss>`;
    else files[`${name}.txt`] = `Title ${i}\n${'body '.repeat(i * 100)}`;
  }
  await withFiles(files, async (dir) => {
    const ids = (articles: Article[]) => articles.map((a) => a.id);
    const reference = ids(await collect([dir], 1));
    assert.equal(reference.length, 66);
    const listed = await listInputFiles([dir]);
    assert.deepEqual([...new Set((await collect([dir], 1)).map((a) => a.origin.replace(/:\d+$/, '')))], listed);
    for (const concurrency of [2, 5, 16, 100]) assert.deepEqual(ids(await collect([dir], concurrency)), reference, `concurrency ${concurrency}`);
  });
});

test('stopping early leaves no unhandled errors behind', async () => {
  await withFiles({ 'a.txt': 'A\n', 'b.txt': Buffer.from([0xff, 0xfe]), 'c.txt': 'C\n' }, async (dir) => {
    for await (const article of readArticles([dir], { concurrency: 4 })) {
      assert.equal(article.id, 'a');
      break;
    }
  });
});

test('duplicate ids across inputs name both origins; empty ids are rejected', async () => {
  await withFiles({ 'a/x.txt': 'One\n', 'b.jsonl': '{"id":"y","text":"t"}\n{"id":"x","text":"t"}\n' }, async (dir) => {
    const err = await rejectsInput([dir], /b\.jsonl:2: id "x" was already used in .*a\/x\.txt$/);
    assert.equal(err.line, 2);
  });
  await withFiles({ 'e.xml': '<feed><entry><id>   </id><link href=" "/></entry></feed>' }, async (dir) => {
    await rejectsInput([dir], /item 1 has no id/);
  });
});

test('invalid UTF-8 is an InputError; Urdu text passes through unchanged', async () => {
  const bad = Buffer.concat([Buffer.from('Title\nbody '), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]);
  await withFiles({ 'bad.txt': bad }, async (dir) => {
    await rejectsInput([dir], /bad\.txt: not valid UTF-8/);
  });
  const jsonl = Buffer.concat([Buffer.from('{"id":"1","text":"ok"}\n{"id":"2","text":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}\n')]);
  await withFiles({ 'bad.jsonl': jsonl }, async (dir) => {
    const err = await rejectsInput([dir], /bad\.jsonl:2: not valid UTF-8/);
    assert.equal(err.line, 2);
  });

  const urduTitle = 'پاکستان میں بارش';
  const urduBody = 'لاہور: محکمہ موسمیات نے آئندہ ۲۴ گھنٹوں میں مزید بارش کی پیش گوئی کی ہے۔\nشہریوں کو احتیاط کی ہدایت۔';
  await withFiles(
    { 'ur.txt': `${urduTitle}\n${urduBody}`, 'ur.jsonl': JSON.stringify({ id: 'ur-2', title: urduTitle, text: urduBody }) + '\n' },
    async (dir) => {
      const articles = await collect([dir]);
      assert.deepEqual(articles.map((a) => [a.id, a.title, a.text]), [['ur-2', urduTitle, urduBody], ['ur', urduTitle, urduBody]]);
    },
  );
});

test('the seeds: five articles in path order', async () => {
  const articles = await collect([SEEDS]);
  assert.deepEqual(articles.map((a) => a.id), [
    '000_d098e9b3e80ee6a1',
    '001_c8a70565b6b9b109',
    '002_16f8f6d2619b393a',
    '003_3e3c24ed9e3aa55c',
    '004_cdb26cd54641f659',
  ]);
  assert.equal(
    articles[2].title,
    'Kaluga Oblast Anti-Aircraft Systems Destroy 40 UAVs in Incident with No Casualties, Officials Note Effective Defense',
  );
  assert.ok(articles.every((a) => a.text.length > 0 && !a.text.startsWith(a.title)));
});

test('without --strict every kind of bad input is skipped and reported, in input order, and reading goes on', async () => {
  const long = 'word '.repeat(MAX_ARTICLE_CHARS / 5 + 10);
  const files: Record<string, string | Uint8Array> = {
    'a-good.txt': 'Title\nA body.\n',
    'b-utf8.txt': Buffer.concat([Buffer.from('T\nbody '), Buffer.from([0xc3, 0x28])]),
    'c-binary.txt': 'T\nbin\u0000ary\n',
    'd-blank.txt': '  \n\t\n',
    'e.jsonl': [
      '{"id":"e1","text":"fine"}',
      'not json',
      '{"id":"e2"}',
      '{"id":"e1","text":"again"}',
      '{"id":"c\\u0001","text":"x"}',
      '{"id":"..\\/up","text":"x"}',
      '{"id":"\\/abs","text":"x"}',
      '{"id":"back\\\\slash","text":"x"}',
      '{"id":"https://example.com/ok","text":"a URL id is fine"}',
      JSON.stringify({ id: 'long', text: long }),
    ].join('\n'),
    'f.rss': '<rss><channel><item><title>no id</title></item><item><guid>g</guid><title>ok</title></item></channel></rss>',
    'g.xml': '<rss><channel>',
  };
  await withFiles(files, async (dir) => {
    await symlink(join(dir, 'missing-target.txt'), join(dir, 'h-dangling.txt'));
    for (const concurrency of [1, 8]) {
      const rejections: Rejection[] = [];
      const ids: string[] = [];
      let longText = 0;
      for await (const article of readArticles([dir], { concurrency, onReject: (r) => rejections.push(r) })) {
        ids.push(article.id);
        if (article.id === 'long') longText = article.text.length;
      }
      assert.deepEqual(ids, ['a-good', 'e1', 'https://example.com/ok', 'long', 'g']);
      assert.equal(longText, MAX_ARTICLE_CHARS);
      const seen = rejections.map((r) => `${basename(r.file)}:${r.line ?? ''} ${r.action} ${r.reason.split(/[;(:]/)[0].trim()}`);
      assert.deepEqual(seen, [
        'b-utf8.txt: skipped not valid UTF-8',
        'c-binary.txt: skipped binary data',
        'd-blank.txt: skipped no text',
        'e.jsonl:2 skipped not valid JSON',
        'e.jsonl:3 skipped "text" must be a string, got nothing',
        'e.jsonl:4 skipped id "e1" was already used in ' + join(dir, 'e.jsonl'),
        'e.jsonl:5 skipped id "c\\u0001" has a control character, a backslash, a leading "/" or a ".." segment',
        'e.jsonl:6 skipped id "../up" has a control character, a backslash, a leading "/" or a ".." segment',
        'e.jsonl:7 skipped id "/abs" has a control character, a backslash, a leading "/" or a ".." segment',
        'e.jsonl:8 skipped id "back\\\\slash" has a control character, a backslash, a leading "/" or a ".." segment',
        'e.jsonl:10 truncated text of 1,000,050 characters cut to 1,000,000',
        'f.rss:1 skipped item 1 has no id',
        'g.xml:1 skipped malformed XML',
        'h-dangling.txt: skipped no such file or directory',
      ], `concurrency ${concurrency}`);
    }
    // --strict: the first of them stops the reading.
    await rejectsInput([dir], /b-utf8\.txt: not valid UTF-8/);
  });
});

/** Piece sizes that put line breaks, "\r\n" pairs and UTF-8 characters across pieces; undefined: the default. */
const PIECE_SIZES = [1, 2, 3, 5, 8, 64, undefined];

/**
 * What reading `file` a piece of `jsonlPieceBytes` at a time gives: `line id` per article, `line reason` per
 * rejection (its reason's start: JSON.parse's own message differs between Node versions).
 */
async function readJsonlPieces(file: string, jsonlPieceBytes?: number): Promise<{ articles: string[]; rejected: string[] }> {
  const articles: string[] = [];
  const rejected: string[] = [];
  const onReject = (r: Rejection) => rejected.push(`${r.line} ${r.reason.split(/[;(]/)[0].trim()}`);
  for await (const article of readArticles([file], { onReject, jsonlPieceBytes })) articles.push(`${article.origin.slice(file.length + 1)} ${article.id}`);
  return { articles, rejected };
}

/** Asserts that every piece size reads `content` as `expected`. */
async function assertJsonlPieces(content: Uint8Array, expected: { articles: string[]; rejected: string[] }): Promise<void> {
  await withFiles({ 'in.jsonl': content }, async (dir) => {
    for (const size of PIECE_SIZES) assert.deepEqual(await readJsonlPieces(join(dir, 'in.jsonl'), size), expected, `pieces of ${size ?? 'default'} bytes`);
  });
}

const line = (id: string, text = 't') => JSON.stringify({ id, text });

test('jsonl: lines end at "\\r\\n", "\\n" and a lone "\\r", as readline splits them, and are numbered so', async () => {
  // The blank lines first: with nothing of a line kept, a piece of 1 or 3 bytes ends between "\r" and "\n".
  const content = `\r\n\r\n${line('a')}\r${line('b')}\r\n\r${line('c')}\n\r\n${line('d')}\r\r{bad\r${line('e')}`;
  await assertJsonlPieces(Buffer.from(content), { articles: ['3 a', '4 b', '6 c', '8 d', '11 e'], rejected: ['10 not valid JSON'] });
});

test('jsonl: a BOM is stripped from the start of every line, as when each line is decoded alone', async () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const content = Buffer.concat([bom, Buffer.from(`${line('a')}\n`), bom, Buffer.from(`${line('b')}\r\n`), bom, Buffer.from('\n'), bom, bom, Buffer.from(`${line('c')}\n`)]);
  // Only the first BOM of a line goes; a second is a character, which JSON does not take before a value.
  await assertJsonlPieces(content, { articles: ['1 a', '2 b'], rejected: ['4 not valid JSON'] });
});

test('jsonl: an invalid UTF-8 line is rejected with its own line number, the lines around it read', async () => {
  const content = Buffer.concat([
    Buffer.from(`${line('a')}\r\n\r`),
    Buffer.from('{"id":"b","text":"'),
    Buffer.from([0xe2, 0x82]),
    Buffer.from(`"}\r${line('c')}\n`),
    Buffer.from([0xf0, 0x9f, 0x98]),
  ]);
  await assertJsonlPieces(content, { articles: ['1 a', '4 c'], rejected: ['3 not valid UTF-8', '5 not valid UTF-8'] });
});

test('jsonl: UTF-8 characters split between pieces, and lines longer than a piece, read whole', async () => {
  const text = 'é漢😀 '.repeat(200);
  const content = `${line('short', 'é')}\n${line('long', text)}\r\n${line('last', text)}`;
  await assertJsonlPieces(Buffer.from(content), { articles: ['1 short', '2 long', '3 last'], rejected: [] });
  await withFiles({ 'in.jsonl': content }, async (dir) => {
    const articles = await collect([dir]);
    assert.deepEqual(articles.map((a) => a.text), ['é', text, text]);
    for await (const article of readArticles([dir], { jsonlPieceBytes: 3 })) assert.equal(article.text, article.id === 'short' ? 'é' : text);
  });
});

test('jsonl under --strict: the articles before the first bad line, then its error', async () => {
  await withFiles({ 'in.jsonl': `${line('a')}\n${line('b')}\n${line('a')}\n${line('c')}\n` }, async (dir) => {
    const ids: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const article of readArticles([dir])) ids.push(article.id);
      })(),
      (err) => err instanceof InputError && err.line === 3 && /id "a" was already used/.test(err.message),
    );
    assert.deepEqual(ids, ['a', 'b']);
  });
});
