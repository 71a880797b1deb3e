import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BaseCorpus, generateCorpus, loadBase, makeStory, type Story } from '../bench/corpus-lib.js';

// The Reuters base corpus lives beside the repository (../shared/data), never inside it.
const BASE = fileURLToPath(new URL('../../../shared/data/reuters21578/articles.jsonl', import.meta.url));
const missing = existsSync(BASE) ? false : `Reuters-21578 base corpus not found at ${BASE}`;
const CLI = fileURLToPath(new URL('../bench/generate-corpus.js', import.meta.url));
const N = 2000;
const scratch = await mkdtemp(join(tmpdir(), 'neardup-corpus-'));
after(() => rm(scratch, { recursive: true, force: true }));

let base: BaseCorpus | undefined;
const baseCorpus = () => (base ??= loadBase(readFileSync(BASE, 'utf8'), BASE));

interface Article {
  id: string;
  title: string;
  text: string;
  published_at: string;
}

async function generate(seed: number, rewriteRate = 0.3, n = N) {
  const dir = await mkdtemp(join(scratch, 'corpus-'));
  const out = join(dir, 'articles.jsonl');
  await generateCorpus({ n, out, seed, rewriteRate, basePath: BASE }, baseCorpus());
  const articlesText = await readFile(out, 'utf8');
  const labelsText = await readFile(join(dir, 'labels.csv'), 'utf8');
  const articles = articlesText.trimEnd().split('\n').map((line) => JSON.parse(line) as Article);
  const labelLines = labelsText.trimEnd().split('\n');
  const labels = new Map(labelLines.slice(1).map((line) => line.split(',') as [string, string]));
  const clusters = new Map<string, Article[]>();
  for (const a of articles) {
    const cluster = labels.get(a.id)!;
    clusters.set(cluster, [...(clusters.get(cluster) ?? []), a]);
  }
  return { articlesText, labelsText, articles, labelLines, labels, clusters };
}

let first: Awaited<ReturnType<typeof generate>> | undefined;
const corpus = async () => (first ??= await generate(1));

test('same arguments give byte-identical files; another seed gives others', { skip: missing }, async () => {
  const a = await corpus();
  const again = await generate(1);
  assert.equal(again.articlesText, a.articlesText);
  assert.equal(again.labelsText, a.labelsText);
  const other = await generate(2);
  assert.notEqual(other.articlesText, a.articlesText);
});

test('every article has the four fields, ids g0000001.. in order, and exactly one label', { skip: missing }, async () => {
  const { articles, labelLines, labels } = await corpus();
  assert.equal(articles.length, N);
  articles.forEach((a, i) => {
    assert.deepEqual(Object.keys(a), ['id', 'title', 'text', 'published_at']);
    assert.equal(a.id, `g${String(i + 1).padStart(7, '0')}`);
    assert.ok(a.title.length > 0 && a.text.length > 0, a.id);
    assert.match(a.published_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
  assert.equal(labelLines[0], 'id,cluster');
  assert.equal(labelLines.length - 1, N, 'one label row per article');
  assert.equal(labels.size, N, 'no id labelled twice');
  for (const a of articles) assert.match(labels.get(a.id) ?? '', /^s\d+$/, `label of ${a.id}`);
});

test('the rewrite rate is as asked and clusters hold 2 to 10 articles', { skip: missing }, async () => {
  for (const [rate, result] of [
    [0.3, await corpus()],
    [0.6, await generate(3, 0.6)],
    [0, await generate(4, 0, 300)],
  ] as const) {
    const sizes = [...result.clusters.values()].map((c) => c.length);
    assert.ok(sizes.every((s) => s <= 10), `largest cluster ${Math.max(...sizes)}`);
    const clustered = sizes.filter((s) => s >= 2).reduce((sum, s) => sum + s, 0);
    assert.ok(Math.abs(clustered / result.articles.length - rate) <= 0.01, `rate ${rate}: ${clustered} of ${result.articles.length} in clusters`);
  }
});

test('no two stories share a text; a story is original first, rewrites 2 min to 12 h later', { skip: missing }, async () => {
  const { articles, clusters, labels } = await corpus();
  const storyOfText = new Map<string, string>();
  for (const a of articles) {
    const hash = createHash('sha256').update(a.text).digest('hex');
    const story = storyOfText.get(hash);
    assert.ok(story === undefined || story === labels.get(a.id), `${a.id} repeats a text of story ${story}`);
    storyOfText.set(hash, labels.get(a.id)!);
  }
  for (const members of clusters.values()) {
    if (members.length < 2) continue;
    const times = members.map((a) => Date.parse(a.published_at)).sort((x, y) => x - y);
    assert.ok(times[1] - times[0] >= 120_000, 'every rewrite at least 2 minutes after the original');
    assert.ok(times[times.length - 1] - times[0] <= 12 * 3600_000, 'rewrites within 12 hours');
  }
});

test('rewrites are scattered, not adjacent; texts average about 1 KB', { skip: missing }, async () => {
  const { articles, labels } = await corpus();
  let adjacent = 0;
  for (let i = 1; i < articles.length; i++) if (labels.get(articles[i].id) === labels.get(articles[i - 1].id)) adjacent++;
  assert.ok(adjacent <= N / 200, `${adjacent} neighbours from one story`);
  const mean = articles.reduce((sum, a) => sum + a.text.length, 0) / articles.length;
  assert.ok(mean >= 600 && mean <= 1600, `mean text ${mean.toFixed(0)} chars`);
});

test('CLI: --help, and bad arguments exit 2 with a message', { skip: missing }, async () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  const help = run('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: npm run corpus -- --n N --out FILE\.jsonl/);
  const out = join(await mkdtemp(join(scratch, 'cli-')), 'articles.jsonl');
  for (const [args, message] of [
    [['--out', out], /--n is required/],
    [['--n', '10'], /--out is required/],
    [['--n', 'ten', '--out', out], /--n must be a whole number/],
    [['--n', '10', '--out', out, '--rewrite-rate', '1.5'], /--rewrite-rate must be a number from 0 to 1/],
    [['--n', '10', '--out', out, '--frobnicate'], /Unknown option '--frobnicate'/],
    [['--n', '10', '--out', out, '--base', join(tmpdir(), 'no-such-base.jsonl')], /base corpus not found/],
  ] as const) {
    const result = run(...args);
    assert.equal(result.status, 2, args.join(' '));
    assert.match(result.stderr, message);
  }
  assert.equal(existsSync(out), false, 'nothing written on a usage error');
  const ok = run('--n', '20', '--out', out, '--base', BASE);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(readFileSync(out, 'utf8').trimEnd().split('\n').length, 20);
});

test('company names in angle brackets are names to re-draw, not sentence starts', () => {
  // Reuters marks companies as "<Caribou Energy Inc> said ...": treating "<" as a sentence start left every
  // such name unchanged from story to story, so different stories shared their company.
  const line = (text: string) => JSON.stringify({ title: 'T', text });
  const jsonl = [
    line('<Caribou Energy Inc> said shareholders approved a reverse split.'),
    line('Analysts said <Caribou Energy Inc> would change its name.'),
    line('Nothing here names a company at all.'),
  ].join('\n');
  const names = loadBase(jsonl).names;
  assert.equal(names.get('Caribou'), 'cap');
});

/** Lowercase word 6-grams: the wording a story has of its own, with its re-drawn names and figures left out. */
function wordingRuns(story: Story): Set<string> {
  const words = story.units.join(' ').match(/\b[a-z]+\b/g) ?? [];
  const runs = new Set<string>();
  for (let i = 0; i + 6 <= words.length; i++) runs.add(words.slice(i, i + 6).join(' '));
  return runs;
}

test('different prose stories of one primary share almost none of their wording', { skip: missing }, () => {
  // At a million articles each primary founds dozens of stories. Made of its paragraphs, they shared 8% of
  // their 6-word runs on average (52% at most): template copies, not different stories. Written afresh
  // from the topic's word chain they share a few common phrases.
  const base = baseCorpus();
  const byPrimary = new Map<number, Story[]>();
  for (let i = 0; i < 4000; i++) {
    const story = makeStory(base, 1, i, 1_000_000);
    if (base.proseArticle[story.primary] !== 1) continue;
    byPrimary.set(story.primary, [...(byPrimary.get(story.primary) ?? []), story]);
  }
  const shares: number[] = [];
  for (const stories of byPrimary.values()) {
    for (let a = 0; a < stories.length; a++) {
      for (let b = a + 1; b < stories.length; b++) {
        const x = wordingRuns(stories[a]);
        const y = wordingRuns(stories[b]);
        let shared = 0;
        for (const run of x) if (y.has(run)) shared++;
        shares.push(shared / Math.max(1, x.size + y.size - shared));
      }
    }
  }
  assert.ok(shares.length >= 100, `only ${shares.length} pairs of stories from one primary`);
  const mean = shares.reduce((sum, s) => sum + s, 0) / shares.length;
  assert.ok(mean < 0.01, `mean share of 6-word runs ${mean.toFixed(4)}`);
  assert.ok(Math.max(...shares) < 0.1, `largest share of 6-word runs ${Math.max(...shares).toFixed(3)}`);
});

test('capitalised common words inside rarer names and figures with a unit are re-drawn', { skip: missing }, () => {
  // "Storage Dimensions Inc" of one primary's stories, and "78.91p" of a British earnings table, stayed the
  // same in every story of that primary.
  const line = (text: string) => JSON.stringify({ title: 'T', text });
  const rows = [line('Wilcox Storage Dimensions Inc said it bought a rival. Shr 78.91p vs 83.05p.')];
  for (let i = 0; i < 30; i++) rows.push(line(`Grain storage costs rose ${i} pct at the depot, the company said in its report today.`));
  const base = loadBase(rows.join('\n'));
  assert.ok(base.nameWords.has('Storage'), 'a common word capitalised inside a name');
  const texts = new Set<string>();
  for (let story = 0; story < 20; story++) {
    const text = makeStory(base, 7, story, 100).units.join('\n');
    if (text.includes('rival')) texts.add(text);
  }
  assert.ok(texts.size >= 5, 'stories of the first article found');
  for (const text of texts) {
    assert.ok(!/Storage Dimensions/.test(text), text);
    assert.ok(!/78\.91p/.test(text), text);
  }
});
