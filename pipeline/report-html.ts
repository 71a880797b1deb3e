/**
 * report.html: one self-contained page for the editor who checks a run. A summary, a histogram of how the
 * candidate pairs scored against the threshold, a sortable and filterable list of stories, and a view of a
 * story's articles side by side with the passages they share marked.
 *
 * The page needs no server and fetches nothing: styles, script (report-client.ts) and data are inline, the
 * histogram is inline SVG. A run of any size gives a page that opens in about a second, because what is
 * embedded is capped (REPORT_CAPS) and the page says when a cap was hit.
 */
import { createHash } from 'node:crypto';
import { type ClusterOptions } from './cluster.js';
import { stopwordSet } from './shingle.js';
import { type WordIndex, indexWords, sharedSpans } from './shared-passages.js';
import type { SimilarityHistogram, StoredArticle } from './stages.js';
import { type MemberView, type ReportPage, type StoryRow, type StoryView, reportClient } from './report-client.js';

export const REPORT_CAPS = {
  /** Stories in the list: stories of two or more articles first, largest first, then single articles. */
  listedStories: 10_000,
  /** Characters of article text embedded in all, and per article. */
  textBudget: 6_000_000,
  textPerArticle: 5_000,
  /** Articles embedded per story (the representative and the first others in input order). */
  membersPerStory: 30,
  /**
   * Articles whose texts are collected for the views before their lengths are known: the texts budget is
   * then spent on the actual (cut) lengths, largest story first. Bounds the memory the views take.
   */
  collectedArticles: 12_000,
};
export type ReportCaps = typeof REPORT_CAPS;

/** What the report is built from: the clustering as the report stage loaded it. */
export interface ReportSource {
  ids: string[];
  clusterIds: string[];
  clusterOf: Uint32Array;
  founders: Uint32Array;
  /** Per cluster, over its clustered verified pairs; NaN for a cluster without one. */
  minSimilarity: Float64Array;
  maxSimilarity: Float64Array;
  meanSimilarity: Float64Array;
  /** Cluster sizes; clusters are numbered in report order (largest first, then earliest founder). */
  size: Uint32Array;
  /** Articles after the first `reported` came from the index (nightly runs). */
  reported: number;
  options: ClusterOptions;
  /** The shingle options' stopword languages and minimum word length, for the shared passages. */
  stopwords: string;
  minWordLength: number;
}

/**
 * Which articles the page needs, chosen before the one pass over work/articles.jsonl: 1 = the title (a
 * listed story's representative), 2 = title and text (an article a story view may show).
 */
export interface ReportSelection {
  /** The clusters with one of tonight's articles at least (all of them but for nightly runs' lone guests). */
  stories: number;
  /** The listed clusters, in report order. */
  listed: Uint32Array;
  /** Per listed story: the articles its view would show, the representative first, then input order. */
  members: number[][];
  /** Parallel to `members` for the stories whose texts are collected: each one's similarity to the representative. */
  similarities: number[][];
  wanted: Uint8Array;
}

/**
 * Chooses what the page embeds: the listed stories, their members, and the articles whose texts are
 * collected (`wanted`). The similarities to the representatives come after (withSimilarities), from the
 * features of the collected articles alone: at a million articles the features of all take gigabytes.
 */
export function selectForReport(source: ReportSource, caps: ReportCaps = REPORT_CAPS): ReportSelection {
  const { size, clusterOf, founders } = source;
  // An indexed article that came as a guest and joined nothing is no story of tonight's.
  const tonight = new Uint8Array(size.length);
  for (let i = 0; i < source.reported; i++) tonight[clusterOf[i]] = 1;
  const stories = tonight.reduce((sum, x) => sum + x, 0);
  const listed = new Uint32Array(Math.min(stories, caps.listedStories));
  for (let c = 0, at = 0; at < listed.length; c++) if (tonight[c]) listed[at++] = c;
  const listedIndex = new Int32Array(size.length).fill(-1);
  listed.forEach((cluster, at) => (listedIndex[cluster] = at));
  const members: number[][] = Array.from(listed, (cluster) => [founders[cluster]]);
  for (let i = 0; i < clusterOf.length; i++) {
    const at = listedIndex[clusterOf[i]];
    if (at >= 0 && i !== founders[clusterOf[i]] && members[at].length < caps.membersPerStory) members[at].push(i);
  }
  const wanted = new Uint8Array(source.ids.length);
  let collected = 0;
  for (let at = 0; at < listed.length; at++) {
    wanted[founders[listed[at]]] = 1;
    if (collected + members[at].length > caps.collectedArticles) continue;
    collected += members[at].length;
    for (const i of members[at]) wanted[i] = 2;
  }
  return { stories, listed, members, similarities: members.map(() => []), wanted };
}

/**
 * The selection with each collected story's similarities to its representative, by `score` (pairScorer
 * over at least the collected articles: those `wanted` marks 2).
 */
export function withSimilarities(selection: ReportSelection, founders: Uint32Array, score: (i: number, j: number) => number): ReportSelection {
  const similarities = selection.members.map((members, at) => {
    const founder = founders[selection.listed[at]];
    if (!members.every((i) => selection.wanted[i] === 2)) return [];
    return members.map((i) => (i === founder ? 1 : Number(score(founder, i).toFixed(4))));
  });
  return { ...selection, similarities };
}

/** A sentence for each cap the page hit, shown above the list: the page never hides that it is partial. */
export function capNotes(selection: Pick<ReportSelection, 'stories'>, page: ReportPage, caps: ReportCaps = REPORT_CAPS): string[] {
  const notes: string[] = [];
  const { stories } = selection;
  if (page.stories.length < stories) {
    notes.push(
      `The list holds the ${count(page.stories.length)} largest of ${count(stories)} stories (report cap); clusters.csv has every cluster of two or more articles and documents.csv every article.`,
    );
  }
  const viewed = page.stories.filter((story) => story.view).length;
  if (viewed < page.stories.length) {
    notes.push(
      `Article texts are embedded for ${count(viewed)} of the listed stories, largest first (report cap: ${count(caps.textBudget)} characters in all, ${count(caps.textPerArticle)} per article, ${caps.membersPerStory} articles per story).`,
    );
  }
  const trimmed = Object.values(page.views).filter((view) => view.notShown > 0).length;
  if (trimmed > 0) notes.push(`${count(trimmed)} embedded ${trimmed === 1 ? 'story has' : 'stories have'} more than ${caps.membersPerStory} articles: their views show the first ${caps.membersPerStory}.`);
  return notes;
}

/** The page's data: the listed stories and the embedded views with their shared passages marked. */
export function buildReportPage(
  source: ReportSource,
  selection: ReportSelection,
  articles: Map<number, Pick<StoredArticle, 'title' | 'text' | 'source' | 'published_at' | 'url'>>,
  caps: ReportCaps = REPORT_CAPS,
): ReportPage {
  const stopwords = stopwordSet(source.stopwords);
  const stories: StoryRow[] = [];
  const views: Record<string, StoryView> = {};
  const figure = (x: number) => (Number.isNaN(x) ? null : Number(x.toFixed(4)));
  const shownLength = (i: number) => Math.min(caps.textPerArticle, articles.get(i)?.text.length ?? 0);
  let budget = caps.textBudget;
  for (let at = 0; at < selection.listed.length; at++) {
    const cluster = selection.listed[at];
    const founder = source.founders[cluster];
    const id = source.clusterIds[cluster];
    const members = selection.members[at];
    // A story is shown whole (up to membersPerStory) or not at all; a smaller one after it may still fit.
    const collected = members.every((i) => selection.wanted[i] === 2);
    const cost = collected ? members.reduce((sum, i) => sum + shownLength(i), 0) : Infinity;
    const view = cost <= budget;
    if (view) budget -= cost;
    stories.push({
      id,
      size: source.size[cluster],
      title: articles.get(founder)?.title ?? '',
      min: figure(source.minSimilarity[cluster]),
      max: figure(source.maxSimilarity[cluster]),
      mean: figure(source.meanSimilarity[cluster]),
      view,
    });
    if (!view) continue;
    const titles = members.map((i) => articles.get(i)?.title ?? '');
    const texts = members.map((i) => articles.get(i)?.text ?? '');
    // Titles are compared too, as the shingle stage does (a .txt article's first line is its title).
    const representativeWords = indexWords(titles[0], stopwords, source.minWordLength);
    indexWords(texts[0], stopwords, source.minWordLength, representativeWords);
    const othersWords: WordIndex = { words: new Set(), pairs: new Set() };
    for (let m = 1; m < members.length; m++) {
      indexWords(titles[m], stopwords, source.minWordLength, othersWords);
      indexWords(texts[m], stopwords, source.minWordLength, othersWords);
    }
    const marksOf = (text: string, m: number) => {
      const marks: number[] = [];
      for (const span of sharedSpans(text, m === 0 ? othersWords : representativeWords, stopwords, source.minWordLength)) {
        marks.push(span.start, span.end, span.kind === 'passage' ? 1 : 0);
      }
      return marks;
    };
    views[id] = {
      members: members.map((i, m): MemberView => {
        const article = articles.get(i);
        const cut = texts[m].length > caps.textPerArticle;
        const text = cut ? texts[m].slice(0, caps.textPerArticle) : texts[m];
        return {
          id: source.ids[i],
          title: titles[m],
          titleMarks: marksOf(titles[m], m),
          source: article?.source ?? '',
          published: article?.published_at ?? '',
          url: article?.url ?? '',
          similarity: m === 0 ? null : selection.similarities[at][m],
          indexed: i >= source.reported,
          text,
          cut,
          marks: marksOf(text, m),
        };
      }),
      notShown: source.size[cluster] - members.length,
    };
  }
  return { stories, views, measure: source.options.measure, membersPerPage: 3, rowsPerPage: 50 };
}

export interface ReportSummary {
  articles: number;
  rejected: number;
  stories: number;
  clusters: number;
  clusteredArticles: number;
  duplicatesRemoved: number;
  verifiedPairs: number;
  threshold: number;
  measure: string;
  /** Seconds the stages before the report took: the one figure that differs from run to run. */
  seconds: number;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const count = (x: number) => x.toLocaleString('en-US');

/**
 * JSON inside a <script> element: `<` is written as \u003c so that no text (an article's "</script>") can end
 * the element early, and U+2028/9 escaped for old parsers. JSON.parse reads it back unchanged.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The histogram of candidate pairs by similarity, log-scaled counts, the threshold marked. */
export function histogramSvg(histogram: SimilarityHistogram): string {
  const width = 760;
  const height = 170;
  const left = 44;
  const bottom = 28;
  const top = 24;
  const plotWidth = width - left - 10;
  const plotHeight = height - top - bottom;
  const bins = histogram.bins;
  const barWidth = plotWidth / bins.length;
  const peak = Math.max(1, ...bins);
  const scale = (n: number) => (n === 0 ? 0 : (Math.log10(n + 1) / Math.log10(peak + 1)) * plotHeight);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="histogram-caption" class="histogram">`);
  bins.forEach((n, b) => {
    if (n === 0) return;
    const h = scale(n);
    const from = b * histogram.binWidth;
    // A bin that straddles the threshold is drawn as below it: the line marks the cut exactly.
    const verified = from + 1e-9 >= histogram.threshold;
    parts.push(
      `<rect x="${(left + b * barWidth).toFixed(1)}" y="${(top + plotHeight - h).toFixed(1)}" width="${Math.max(1, barWidth - 1).toFixed(1)}" height="${h.toFixed(1)}" class="${verified ? 'bar verified' : 'bar'}">` +
        `<title>${from.toFixed(2)}–${(from + histogram.binWidth).toFixed(2)}: ${count(n)} pairs</title></rect>`,
    );
  });
  // Axes: similarity 0..1 below, counts (log scale) at the left.
  parts.push(`<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" class="axis"/>`);
  for (let tick = 0; tick <= 10; tick++) {
    const x = left + (tick / 10) * plotWidth;
    parts.push(`<text x="${x.toFixed(1)}" y="${height - 8}" class="tick">${(tick / 10).toFixed(1)}</text>`);
  }
  for (const n of [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]) {
    if (n > peak) break;
    const y = top + plotHeight - scale(n);
    parts.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" class="tick count">${n >= 1000 ? `${n / 1000}k` : n}</text>`);
  }
  const x = left + histogram.threshold * plotWidth;
  parts.push(`<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${top + plotHeight}" class="threshold"/>`);
  parts.push(`<text x="${(x + 4).toFixed(1)}" y="${top - 10}" class="threshold-label">threshold ${histogram.threshold}</text>`);
  parts.push(`<text x="${left - 6}" y="${top - 10}" class="tick count">pairs</text>`);
  parts.push('</svg>');
  return parts.join('');
}

const STYLE = `
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --accent: #2458c6; --passage: #ffd65c; --word: #fff0b3; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f6f7f9; }
header, main { max-width: 1400px; margin: 0 auto; padding: 0 20px; }
header h1 { font-size: 22px; margin: 18px 0 4px; }
.note, .meta { color: var(--muted); font-size: 13px; }
dl.summary { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
dl.summary div { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px; }
dl.summary dt { color: var(--muted); font-size: 12px; }
dl.summary dd { margin: 0; font-size: 20px; font-weight: 600; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 14px 0; }
h2 { font-size: 17px; margin: 4px 0 8px; }
.histogram { width: 100%; max-width: 760px; height: auto; }
.histogram .bar { fill: #aab1bf; } .histogram .bar.verified { fill: var(--accent); }
.histogram .axis { stroke: var(--muted); } .histogram .tick { font-size: 10px; fill: var(--muted); text-anchor: middle; }
.histogram .tick.count { text-anchor: end; }
.histogram .threshold { stroke: #d1352b; stroke-width: 2; stroke-dasharray: 4 3; } .histogram .threshold-label { font-size: 11px; fill: #d1352b; }
.controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
.controls input { font: inherit; padding: 4px 8px; width: 320px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th[data-key] { cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " ▲"; } th[aria-sort="descending"]::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id, .doc-id { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; color: var(--muted); }
tbody tr { cursor: pointer; } tbody tr:hover { background: #eef3ff; }
.pager { margin: 8px 0; } .pager button { font: inherit; }
#view .close { float: right; }
.members { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(280px, 1fr); gap: 12px; overflow-x: auto; }
.member { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: #fff; min-width: 0; }
.member.representative { border-color: var(--accent); box-shadow: inset 3px 0 0 var(--accent); }
.member h3 { font-size: 15px; margin: 0 0 4px; }
.member .similarity { font-size: 13px; font-weight: 600; margin: 4px 0 8px; }
.member .text { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 14px; }
.badge { margin-left: 6px; padding: 0 6px; border-radius: 8px; background: #e7ebf3; font-size: 11px; }
mark.passage { background: var(--passage); } mark.word { background: var(--word); }
.legend mark { padding: 0 4px; }
`;

/** The whole page. `summary.seconds` is the only part that changes between two runs of the same input. */
export function renderReportHtml(page: ReportPage, summary: ReportSummary, histogram: SimilarityHistogram | undefined, capped: string[]): string {
  const script = `(${reportClient.toString()})();`;
  // The policy allows this one script by its hash, inline styles, and nothing from anywhere.
  const scriptHash = createHash('sha256').update(script).digest('base64');
  const policy = `default-src 'none'; script-src 'sha256-${scriptHash}'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;
  const cards: [string, string, string?][] = [
    ['Articles read', count(summary.articles)],
    ['Rejected inputs', count(summary.rejected)],
    ['Stories', count(summary.stories)],
    ['Clusters of 2+', count(summary.clusters)],
    ['Removed as duplicates', count(summary.duplicatesRemoved)],
    ['Verified pairs', count(summary.verifiedPairs)],
    ['Run time', `${summary.seconds.toFixed(2)} s`, 'run-time'],
  ];
  const histogramPart =
    histogram === undefined
      ? '<p class="note">No histogram: this run\'s cluster stage did not record one (re-run <code>neardup cluster</code>).</p>'
      : `${histogramSvg(histogram)}<p class="note" id="histogram-caption">Candidate pairs (found by LSH) by their ${escapeHtml(histogram.measure)} similarity, counts on a log scale; pairs at or above the threshold (blue) are verified.` +
        ` Not drawn: ${count(histogram.rejectedByFacts)} candidates rejected because their numbers and names disagree, ${count(histogram.rejectedByScreens)} by the size screen.</p>`;
  const capNotes = capped.map((line) => `<p class="note cap">${escapeHtml(line)}</p>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>neardup report</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>neardup report</h1>
<p class="note">Threshold ${summary.threshold} on ${escapeHtml(summary.measure)} similarity. A story is a cluster of articles; its representative is its earliest article.</p>
<dl class="summary">${cards.map(([label, value, id]) => `<div><dt>${label}</dt><dd${id ? ` id="${id}"` : ''}>${escapeHtml(value)}</dd></div>`).join('')}</dl>
</header>
<main>
<section id="similarities">
<h2>How clear was the cut?</h2>
${histogramPart}
</section>
<section id="list">
<h2>Stories</h2>
${capNotes}
<div class="controls">
<label>Filter <input id="filter" type="search" placeholder="title or story id" autocomplete="off"></label>
<label>Size <select id="min-size"><option value="2" selected>2 or more articles</option><option value="3">3 or more</option><option value="5">5 or more</option><option value="10">10 or more</option><option value="1">all, single articles too</option></select></label>
<span id="list-status" class="note" role="status"></span>
</div>
<table id="stories">
<thead><tr><th data-key="size" class="num">Size</th><th data-key="title">Representative title</th><th data-key="min" class="num">Similarity range</th><th data-key="mean" class="num">Mean</th><th data-key="id">Story id</th></tr></thead>
<tbody></tbody>
</table>
<div id="list-pager" class="pager"></div>
</section>
<section id="view" hidden></section>
<p class="note legend">In a story's view: <mark class="passage">shared passage</mark> two or more content words in the same order in both articles; <mark class="word">shared word</mark> a content word both have. The representative is marked against all the others shown, each other article against the representative.</p>
</main>
<script type="application/json" id="report-data">${embedJson(page)}</script>
<script>${script}</script>
</body>
</html>
`;
}
