/**
 * Fuzzing the readers: random bytes, mangled JSONL and feeds, giant lines. Without --strict reading never
 * throws; with it, the only error is an InputError naming the file. A fixed seed and a few hundred inputs in
 * `npm test`; `npm run fuzz` draws many more (NEARDUP_FUZZ_RUNS, NEARDUP_FUZZ_SEED).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { InputError } from '../pipeline/errors.js';
import { MAX_ARTICLE_CHARS, type Rejection, readArticles } from '../pipeline/read-articles.js';

const RUNS = Number(process.env.NEARDUP_FUZZ_RUNS ?? 150);
const SEED = Number(process.env.NEARDUP_FUZZ_SEED ?? 424242);

const GOOD_JSONL = [
  '{"id":"a","title":"Drones over Kaluga","text":"Forty drones were shot down overnight, the governor said."}',
  '{"id":2,"text":"Airports closed \\u2014 flights sent to Kazan.","published_at":"2024-05-01T10:00:00Z","source":"Wire"}',
  '{"id":"https://example.com/3","text":"Urdu: \\u06a9\\u0631\\u0627\\u0686\\u06cc","url":"https://example.com/3"}',
].join('\n');
const GOOD_RSS =
  '<?xml version="1.0"?><rss version="2.0"><channel><title>Feed &amp; Co</title><item><guid>g1</guid><title>One</title>' +
  '<description><![CDATA[<p>Body <b>one</b></p>]]></description><pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate></item>' +
  '<item><link>https://example.com/2</link><title>Two</title><description>Body &lt;i&gt;two&lt;/i&gt;</description></item></channel></rss>';
const GOOD_ATOM =
  '<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><id>urn:1</id><title type="html">&lt;b&gt;T&lt;/b&gt;</title>' +
  '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hi</p></div></content></entry></feed>';

/** A valid file cut short, with a stretch of random bytes spliced in somewhere. */
const mangled = (good: string) =>
  fc.tuple(fc.nat({ max: good.length }), fc.nat({ max: good.length }), fc.uint8Array({ maxLength: 40 })).map(([cut, at, noise]) => {
    const bytes = Buffer.from(good.slice(0, Math.max(cut, at)));
    return Buffer.concat([bytes.subarray(0, Math.min(at, bytes.length)), Buffer.from(noise), bytes.subarray(Math.min(at, bytes.length))]);
  });

const file = fc.oneof(
  fc.record({ ext: fc.constantFrom('.txt', '.jsonl', '.xml', '.rss', '.atom'), bytes: fc.uint8Array({ maxLength: 2000 }) }),
  fc.record({ ext: fc.constant('.txt'), bytes: fc.string({ unit: 'binary', maxLength: 500 }).map((s) => Buffer.from(s)) }),
  fc.record({ ext: fc.constant('.jsonl'), bytes: mangled(GOOD_JSONL) }),
  fc.record({ ext: fc.constant('.jsonl'), bytes: fc.array(fc.jsonValue(), { maxLength: 6 }).map((values) => Buffer.from(values.map((v) => JSON.stringify(v)).join('\n'))) }),
  fc.record({ ext: fc.constantFrom('.rss', '.xml'), bytes: mangled(GOOD_RSS) }),
  fc.record({ ext: fc.constant('.atom'), bytes: mangled(GOOD_ATOM) }),
);

async function readAll(dir: string, strict: boolean): Promise<{ ids: string[]; rejections: Rejection[] }> {
  const ids: string[] = [];
  const rejections: Rejection[] = [];
  const onReject = strict ? undefined : (r: Rejection) => void rejections.push(r);
  for await (const article of readArticles([dir], { concurrency: 4, onReject })) {
    assert.ok(article.id !== '' && !/[\\\x00-\x1f]/.test(article.id), `usable id ${JSON.stringify(article.id)}`);
    assert.ok(article.title.trim() !== '' || article.text.trim() !== '', 'some text');
    assert.ok(article.text.length <= MAX_ARTICLE_CHARS);
    ids.push(article.id);
  }
  return { ids, rejections };
}

test('readers: random and mangled files are skipped with a reason, never a crash; --strict stops with an InputError', async (t) => {
  let inputs = 0;
  let rejected = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(file, { minLength: 1, maxLength: 4 }), async (files) => {
      const dir = await mkdtemp(join(tmpdir(), 'neardup-fuzz-'));
      try {
        await Promise.all(files.map((f, i) => writeFile(join(dir, `f${i}${f.ext}`), f.bytes)));
        inputs += files.length;
        const lenient = await readAll(dir, false);
        rejected += lenient.rejections.length;
        assert.equal(new Set(lenient.ids).size, lenient.ids.length, 'ids unique');
        for (const r of lenient.rejections) assert.ok(r.reason.length > 0 && r.file.startsWith(dir));
        try {
          const strict = await readAll(dir, true);
          // Strict reading that gets through found nothing to reject, and read the same articles.
          assert.equal(lenient.rejections.filter((r) => r.action === 'skipped').length, 0);
          assert.deepEqual(strict.ids, lenient.ids);
        } catch (error) {
          assert.ok(error instanceof InputError, `strict: ${String(error)}`);
          assert.ok(error.file.startsWith(dir));
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
  assert.ok(inputs > RUNS && rejected > 0, `${inputs} files tried, ${rejected} rejections`);
  t.diagnostic(`${RUNS} runs (seed ${SEED}): ${inputs} files tried, ${rejected} inputs rejected, no crash`);
});

test('readers: a giant JSONL line and a giant text file are cut, not a crash', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-fuzz-'));
  try {
    const giant = 'x'.repeat(3 * MAX_ARTICLE_CHARS);
    await writeFile(join(dir, 'a.jsonl'), `${JSON.stringify({ id: 'big', text: giant })}\n{"id":"small","text":"ok"}\n`);
    await writeFile(join(dir, 'b.txt'), `Title\n${giant}`);
    const { ids, rejections } = await readAll(dir, false);
    assert.deepEqual(ids, ['big', 'small', 'b']);
    assert.deepEqual(rejections.map((r) => r.action), ['truncated', 'truncated']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
