/** The HTML report's pure parts: shared passages, what is embedded under the caps, escaping, the histogram. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_OPTIONS } from '../pipeline/options.js';
import { type ReportSource, buildReportPage, capNotes, embedJson, histogramSvg, renderReportHtml, selectForReport, withSimilarities } from '../pipeline/report-html.js';
import { indexWords, sharedSpans } from '../pipeline/shared-passages.js';
import { stopwordSet } from '../pipeline/shingle.js';

const stopwords = stopwordSet('all');
const spansOf = (text: string, other: string) => sharedSpans(text, indexWords(other, stopwords, 2), stopwords, 2).map((s) => `${s.kind}:${text.slice(s.start, s.end)}`);

test('shared passages: content words in the same order are one passage across stopwords; a lone shared word is a word', () => {
  const a = 'Forces in the Kaluga region destroyed 40 drones overnight, the governor said.';
  const b = 'The governor of the KALUGA Region said forces had destroyed 40 drones.';
  // "Kaluga region" is a content-word pair in both, whatever the case: a passage.
  assert.deepEqual(spansOf(a, b), ['word:Forces', 'passage:Kaluga region', 'passage:destroyed 40 drones', 'word:governor']);
  // Order matters: "region Kaluga" is two shared words, not a passage.
  assert.deepEqual(spansOf('the region of Kaluga', b), ['word:region', 'word:Kaluga']);
  assert.deepEqual(spansOf('nothing alike here', b), []);
  // Stopwords alone are never marked, however many the texts share.
  assert.deepEqual(spansOf('and the of to in', 'the and of to in'), []);
});

test('shared passages: scripts without letter case (Urdu) and compatibility forms', () => {
  const urdu = 'کراچی میں شدید بارش کے بعد سڑکیں زیر آب آ گئیں';
  const rewrite = 'شدید بارش کے بعد کراچی کی سڑکیں زیر آب';
  const spans = spansOf(urdu, rewrite);
  assert.deepEqual(spans, ['word:کراچی', 'word:بارش', 'passage:سڑکیں زیر آب']);
  // Full-width letters fold to their plain forms, as the shingle stage folds them.
  assert.deepEqual(spansOf('ＫＡＬＵＧＡ drones', 'kaluga drones'), ['passage:ＫＡＬＵＧＡ drones']);
});

/** A clustering of `sizes.length` clusters of the given sizes, articles numbered cluster by cluster. */
function fakeSource(sizes: number[]): ReportSource {
  const n = sizes.reduce((a, b) => a + b, 0);
  const clusterOf = new Uint32Array(n);
  const founders = new Uint32Array(sizes.length);
  let at = 0;
  sizes.forEach((size, c) => {
    founders[c] = at;
    for (let m = 0; m < size; m++) clusterOf[at++] = c;
  });
  return {
    ids: Array.from({ length: n }, (_, i) => `a${i}`),
    clusterIds: sizes.map((_, c) => `c${c}`),
    clusterOf,
    founders,
    size: Uint32Array.from(sizes),
    minSimilarity: Float64Array.from(sizes, (s) => (s > 1 ? 0.2 : NaN)),
    maxSimilarity: Float64Array.from(sizes, (s) => (s > 1 ? 0.5 : NaN)),
    meanSimilarity: Float64Array.from(sizes, (s) => (s > 1 ? 0.3 : NaN)),
    reported: n,
    options: { threshold: 0.08, measure: 'jaccard', factAgreement: 0.13, linkage: 'every-member', groupSimilarity: 0.5 },
    stopwords: DEFAULT_OPTIONS.shingles.stopwords,
    minWordLength: 2,
  };
}

test('caps: the list keeps the largest stories, texts stay within the budget, and the page says what it left out', () => {
  const caps = { listedStories: 4, textBudget: 1_000, textPerArticle: 100, membersPerStory: 5, collectedArticles: 100 };
  const source = fakeSource([8, 3, 2, 1, 1, 1]);
  const selection = selectForReport(source, caps);
  assert.equal(selection.stories, 6);
  assert.deepEqual(Array.from(selection.listed), [0, 1, 2, 3]);
  assert.deepEqual(selection.members.map((m) => m.length), [5, 3, 2, 1], 'the story of 8 capped at 5');
  assert.deepEqual(selection.members[0], [0, 1, 2, 3, 4]);
  assert.equal(selection.wanted.filter((w) => w === 2).length, 11, 'texts collected for every listed story');
  // Texts of 150, 40 and 100 characters: the budget is spent on what is shown, each text cut to 100.
  const length = (i: number) => (i < 8 ? 150 : i < 11 ? 40 : 100);
  const articles = new Map(Array.from({ length: 16 }, (_, i) => [i, { title: `title ${i}`, text: 'x'.repeat(length(i)) }]));
  const page = buildReportPage(source, selection, articles, { ...caps, textBudget: 720 });
  // 5 x 100 = 500, then 3 x 40 = 120 (620), then 2 x 100 does not fit, then 1 x 100 does (720).
  assert.deepEqual(page.stories.map((s) => s.view), [true, true, false, true], 'a story that does not fit is listed without texts; a smaller one after it may fit');
  assert.deepEqual(page.stories[3], { id: 'c3', size: 1, title: 'title 13', min: null, max: null, mean: null, view: true });
  const view = page.views.c0;
  assert.equal(view.members.length, 5);
  assert.equal(view.notShown, 3);
  assert.equal(view.members[0].similarity, null, 'the representative');
  assert.ok(view.members.every((m) => m.text.length === 100 && m.cut), 'texts cut to the per-article cap');
  assert.ok(page.views.c1.members.every((m) => m.text.length === 40 && !m.cut));
  const notes = capNotes(selection, page, caps);
  assert.equal(notes.length, 3);
  assert.match(notes[0], /the 4 largest of 6 stories/);
  assert.match(notes[1], /texts are embedded for 3 of the listed stories/);
  assert.match(notes[2], /1 embedded story has more than 5 articles/);

  // Texts are collected for at most collectedArticles articles, whole stories at a time.
  const few = selectForReport(source, { ...caps, collectedArticles: 6 });
  assert.deepEqual([0, 1, 2, 3].map((at) => few.members[at].every((i) => few.wanted[i] === 2)), [true, false, false, true]);
  // Similarities to the representative for the collected stories only, the representative itself 1.
  const scored = withSimilarities(few, source.founders, (i, j) => (i === j ? 1 : j / 100));
  assert.deepEqual(scored.similarities, [[1, 0.01, 0.02, 0.03, 0.04], [], [], [1]]);
});

test('nightly runs: an indexed article that joined none of tonight\'s is not listed; one that did is marked as indexed', () => {
  // Clusters: [tonight 0, guest 4], [tonight 1, tonight 2], [tonight 3], [guest 5 alone].
  const source = fakeSource([2, 2, 1, 1]);
  source.clusterOf = Uint32Array.from([0, 1, 1, 2, 0, 3]);
  source.founders = Uint32Array.from([4, 1, 3, 5]);
  source.reported = 4;
  const selection = selectForReport(source);
  assert.equal(selection.stories, 3);
  assert.deepEqual(Array.from(selection.listed), [0, 1, 2]);
  const articles = new Map(Array.from({ length: 6 }, (_, i) => [i, { title: `t${i}`, text: `text ${i}` }]));
  const page = buildReportPage(source, selection, articles);
  assert.deepEqual(page.views.c0.members.map((m) => [m.id, m.indexed]), [['a4', true], ['a0', false]], 'the indexed founder leads its story');
});

test('escaping: embedded data cannot close its script element, and the page runs one script, allowed by hash', () => {
  const hostile = { title: '</script><script>alert(1)</script>', text: '<!-- \u2028 -->' };
  const json = embedJson(hostile);
  assert.ok(!json.includes('<') && !json.includes('>'));
  assert.deepEqual(JSON.parse(json), hostile);
  const source = fakeSource([2]);
  const selection = selectForReport(source);
  const articles = new Map([[0, hostile], [1, { title: 'b', text: 'c' }]]);
  const html = renderReportHtml(
    buildReportPage(source, selection, articles),
    { articles: 2, rejected: 0, stories: 1, clusters: 1, clusteredArticles: 2, duplicatesRemoved: 1, verifiedPairs: 1, threshold: 0.08, measure: 'jaccard', seconds: 1 },
    undefined,
    [],
  );
  assert.equal(html.match(/<script>/g)?.length, 1, 'one executable script: the page\'s own');
  assert.ok(!html.includes('alert(1)</script>'));
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'/);
  assert.ok(!/https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(html), 'no address to fetch anything from');
});

test('histogram: one bar per non-empty bin, verified bins coloured apart, the threshold marked where it is', () => {
  const bins = new Array(100).fill(0);
  bins[3] = 500;
  bins[12] = 20;
  bins[99] = 1;
  const svg = histogramSvg({ threshold: 0.08, measure: 'jaccard', binWidth: 0.01, bins, rejectedByFacts: 7, rejectedByScreens: 0 });
  assert.equal(svg.match(/<rect /g)?.length, 3);
  assert.equal(svg.match(/class="bar verified"/g)?.length, 2, 'the bins at 0.12 and 0.99');
  assert.match(svg, /<title>0\.03–0\.04: 500 pairs<\/title>/);
  // The plot runs from x = 44 over 706 units: the threshold line at 44 + 0.08 x 706.
  assert.match(svg, /<line x1="100\.5" y1="20" x2="100\.5"/);
  assert.match(svg, /threshold 0\.08/);
});
