import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CodeUnits } from '../pipeline/char-classes.js';
import { asFact, asWording, factHashes, isFact } from '../pipeline/facts.js';
import { hashString, randomStream } from '../pipeline/hash.js';
import { cleanArticle, normalizeText } from '../pipeline/normalize.js';
import { Shingler } from '../pipeline/shingle.js';
import { FeatureSetsBuilder } from '../pipeline/feature-sets.js';
import { FeatureTable, SIMILARITY_SLOTS, articleTotals, rangeSimilarity, setSimilarity } from '../pipeline/similarity.js';

const words = (options: Partial<ConstructorParameters<typeof Shingler>[0]> = {}) =>
  new Shingler({ wordNgrams: [1], charNgram: 0, stopwords: 'none', minWordLength: 1, facts: false, ...options });

const hashes = (...tokens: string[]) => Uint32Array.from(new Set(tokens.map((t) => asWording(hashString(t))))).sort();

test('normalization folds width, case, quotes and dashes the same way in every script', () => {
  assert.equal(normalizeText('ＫＡＬＵＧＡ “Straße” – 40'), 'kaluga "strasse" - 40');
  assert.equal(normalizeText('Governor’s'), "governor's");
  assert.equal(normalizeText('МОСКВА Москва'), 'москва москва');
  // Urdu has no case; NFKC folds presentation forms (U+FEFB, lam-alef ligature) to the letters.
  assert.equal(normalizeText('\ufefb'), '\u0644\u0627');
});

test('normalization collapses whitespace: line breaks without spaces beside them, single spaces, nothing else changed', () => {
  const random = randomStream(11);
  const alphabet = [' ', '\t', '\n', '\r', '\f', '\v', 'a', 'b'];
  for (let trial = 0; trial < 20000; trial++) {
    let text = '';
    for (let i = random() % 12; i > 0; i--) text += alphabet[random() % alphabet.length];
    const normalized = normalizeText(text);
    assert.doesNotMatch(normalized, /[\t\f\v\r]| {2}| \n|\n /, JSON.stringify(text));
    // Only whitespace changes, and a line break stays a line break.
    assert.equal(normalized.replace(/[ \n]/g, ''), text.replace(/[\s]/g, ''), JSON.stringify(text));
    assert.equal(normalized.includes('\n'), /[\r\n]/.test(text), JSON.stringify(text));
    assert.equal(normalizeText(normalized), normalized);
  }
});

test('cleaning drops repeated titles, bare URLs, blank lines and trailing headlines, and nothing else', () => {
  const body = [
    'Title Here',
    '',
    'http : / / www . example . com / story - 1',
    'First sentence of the story.',
    'Second sentence, with more detail.',
    'Third sentence ends here.',
    'Fourth: still the story.',
    '',
    'Unrelated Headline About Something Else',
    '',
    '',
  ].join('\n');
  const cleaned = cleanArticle('Title Here', body);
  assert.equal(cleaned.title, 'title here');
  assert.deepEqual(cleaned.body.split('\n'), [
    'first sentence of the story.',
    'second sentence, with more detail.',
    'third sentence ends here.',
    'fourth: still the story.',
  ]);
  assert.equal(cleaned.droppedLines, 3);
  // A short article keeps its lines even without final punctuation.
  assert.equal(cleanArticle('', 'one line\ntwo line').body, 'one line\ntwo line');
});

test('tokens are runs of letters, marks and digits in any script; numbers keep their separators', () => {
  const s = words();
  assert.deepEqual(s.shingle(normalizeText('Kaluga: 40 UAVs, 1,000.5 km!')), hashes('kaluga', '40', 'uavs', '1,000.5', 'km'));
  assert.deepEqual(s.shingle('москва, шапша'), hashes('москва', 'шапша'));
  // Urdu with a combining mark (U+0650 kasra) stays one token; the Urdu full stop separates.
  assert.deepEqual(s.shingle('پاکستان\u0650 ۔ لاہور'), hashes('پاکستان\u0650', 'لاہور'));
  // Astral-plane letters are kept whole.
  assert.deepEqual(s.shingle('𠀀𠀁 x'), hashes('𠀀𠀁', 'x'));
});

test('stopwords of every language are skipped before n-grams, numbers and names are kept', () => {
  const s = words({ stopwords: 'all', minWordLength: 2 });
  assert.deepEqual(s.shingle('the drone was shot down over kaluga on 27 august'), s.shingle('drone shot kaluga 27 august'));
  // "کو" and "بعد" are in the Persian and Arabic lists, which also cover Urdu; the place names are not.
  // (stopwords-iso's own Urdu list is unusable, so the IDF weighting is what discounts "میں", "کے".)
  assert.deepEqual(s.shingle('کراچی کو لاہور بعد'), hashes('کراچی', 'لاہور'));
});

test('word n-grams span content words and never collide with unigrams; shingles are sorted and distinct', () => {
  const s = words({ wordNgrams: [1, 2] });
  const features = s.shingle('a b a b');
  assert.equal(features.length, 4); // a, b, "a b", "b a"
  for (let i = 1; i < features.length; i++) assert.ok(features[i - 1] < features[i]);
  const unigrams = words().shingle('a b');
  assert.equal(setSimilarity(features, unigrams).shared, 2);
});

test('long texts come out sorted and distinct too, also when many hashes share their top bits', () => {
  // Enough words for the bucket sort (256 features or more); each word alone is sorted by the built-in sort,
  // so the union of the words' own shingles is what the long text must give.
  const s = words();
  const next = randomStream(7);
  const vocabulary = Array.from({ length: 3000 }, () => next().toString(36));
  // 40 words whose hashes share their top 8 bits: one bucket of 40, more than insertion sort is given.
  const top = (w: string) => s.shingle(w)[0] >>> 24;
  const colliding = vocabulary.filter((w) => top(w) === top(vocabulary[0]));
  for (let i = 0; colliding.length < 40; i++) if (top(`c${i}`) === top(vocabulary[0])) colliding.push(`c${i}`);
  for (const text of [[...vocabulary.slice(0, 300), ...colliding], vocabulary, [...vocabulary, ...vocabulary.slice(0, 500)]]) {
    const expected = hashes(...text);
    assert.deepEqual(s.shingle(text.join(' ')), expected);
  }
});

test('the tokenizers read a text\'s code units from a reused buffer, whatever was read into it before', () => {
  const units = new CodeUnits();
  const random = randomStream(5);
  // Longer and shorter texts in turn, in every plane (surrogate halves included), past the first buffer's size.
  for (let trial = 0; trial < 200; trial++) {
    const length = trial % 2 === 0 ? random() % 12000 : random() % 40;
    const text = String.fromCharCode(...Array.from({ length }, () => random() & 0xffff));
    assert.deepEqual(Array.from(units.of(text).subarray(0, length)), Array.from({ length }, (_, i) => text.charCodeAt(i)));
  }
  // A shingler, and the fact reader, that have read a long text give a short one what fresh ones give.
  const options = { wordNgrams: [1], charNgram: 5, stopwords: 'all', minWordLength: 2, facts: true };
  const long = 'Kaluga Governor said 1,250 drones '.repeat(500);
  const short = 'The Bank of Kaluga paid 27 rubles';
  const used = new Shingler(options);
  used.shingle(long.toLowerCase(), long);
  const before = factHashes(short);
  factHashes(long);
  assert.deepEqual(factHashes(short), before);
  assert.deepEqual(used.shingle(short.toLowerCase(), short), new Shingler(options).shingle(short.toLowerCase(), short));
});

test('character n-grams run across word boundaries and cover a text shorter than n', () => {
  const s = words({ wordNgrams: [], charNgram: 3 });
  assert.equal(s.shingle('abcd').length, 2); // abc, bcd
  assert.equal(s.shingle('ab cd').length, 3); // "ab ", "b c", " cd"
  assert.equal(s.shingle('ab').length, 1);
  assert.equal(s.shingle('').length, 0);
  assert.deepEqual(s.shingle('ab cd'), s.shingle('ab, cd!'));
});

test('exact Jaccard and containment of sorted sets; facts (odd hashes) are compared apart from the wording', () => {
  const a = Uint32Array.of(1, 2, 3, 4, 6, 8);
  const b = Uint32Array.of(3, 5, 6, 8, 10);
  assert.deepEqual(setSimilarity(a, b), { jaccard: 2 / 5, containment: 2 / 3, shared: 2, factJaccard: 1 / 3, factsA: 2, factsB: 2 });
  assert.deepEqual(setSimilarity(a, new Uint32Array(0)), { jaccard: 0, containment: 0, shared: 0, factJaccard: 0, factsA: 2, factsB: 0 });
});

test('facts are the numbers and capitalised names of the raw text, in a hash space of their own', () => {
  const facts = factHashes('The Bank of Kaluga paid 1,250.5 rubles on 27 August; a bank said so.');
  const expected = ['the', 'bank', 'kaluga', '1,250.5', '27', 'august'];
  // "a", "bank" (lower case), "said", "so" are not facts. A fact is its lower-case form's hash, in any script.
  assert.deepEqual(facts, expected.map((w) => asFact(hashString(w))));
  assert.deepEqual(factHashes('In Zürich, İzmir and ÅLAND met'), ['in', 'zürich', 'İzmir'.toLowerCase(), 'åland'].map((w) => asFact(hashString(w))));
  assert.ok(facts.every(isFact));
  // Case does not matter once a word is a fact; a one-letter capital ("A") is not one.
  assert.deepEqual(factHashes('they saw KALUGA and A'), factHashes('they saw Kaluga and'));
  // In a line without a word in lower case (a headline in capitals or in title case) only numbers are facts.
  assert.deepEqual(factHashes('OWENS AND MINOR RAISES DIVIDEND TO 35 CTS'), factHashes('35'));
  assert.deepEqual(factHashes('Owens And Minor Raises Dividend\nOwens and Minor said 35'), factHashes('Owens met Minor at 35'));
  // Urdu has no letter case: only its numbers are facts, and NFKC folds full-width digits.
  assert.deepEqual(factHashes('کراچی میں ４０ ڈرون'), factHashes('40'));
  // A number fused to a word, before or after it, is a fact of its own; so is a name fused after a number.
  assert.deepEqual(factHashes('it was page12 of the 3rd report, in 2014ء'), factHashes('12 3 2014'));
  assert.deepEqual(factHashes('the bank paid 2014Kaluga'), factHashes('the bank paid 2014 Kaluga'));
  // The shingler adds them to the wording features only when asked, and never mixes the two spaces.
  const text = 'Kaluga drones 40';
  const withFacts = words({ facts: true }).shingle(text.toLowerCase(), text);
  const wording = words().shingle(text.toLowerCase(), text);
  assert.equal(withFacts.length, wording.length + 2);
  assert.ok(wording.every((f) => !isFact(f)));
});

test('the one-against-many feature table gives exactly the merge of two sorted lists', () => {
  const random = randomStream(41);
  // Ten articles of 0..300 features drawn from a small pool (so they overlap), wording and facts mixed,
  // feature 0 among them; weights vary per feature and per article (min of the two counts as shared).
  const builder = new FeatureSetsBuilder();
  for (let i = 0; i < 10; i++) {
    const size = random() % 301;
    builder.add(Uint32Array.from(new Set(Array.from({ length: size }, () => random() % 700))).sort());
  }
  const sets = builder.build((s) => Float32Array.from(s.values, (v) => 0.5 + ((v * 7 + (random() % 3)) % 11)));
  const totals = articleTotals(sets);
  const table = new FeatureTable();
  const merged = new Float64Array(SIMILARITY_SLOTS);
  const probed = new Float64Array(SIMILARITY_SLOTS);
  for (let i = 0; i < 10; i++) {
    table.load(i, sets);
    for (let j = 0; j < 10; j++) {
      rangeSimilarity(sets, i, sets, j, merged);
      table.compare(j, sets, totals, probed);
      assert.deepEqual([...probed], [...merged], `articles ${i} and ${j}`);
    }
  }
});

test('feature sets come out as the articles went in, whatever the reserved capacity', () => {
  const random = randomStream(5);
  const articles = Array.from({ length: 30 }, () => Uint32Array.from({ length: random() % 12 }, () => random()));
  for (const capacity of [1, 5, 7, 64, 1 << 24]) {
    const builder = new FeatureSetsBuilder(capacity, capacity === 5);
    for (const a of articles) builder.add(a);
    const sets = builder.build((s) => new Float32Array(s.values.length));
    assert.deepEqual(
      Array.from({ length: articles.length }, (_, i) => [...sets.values.subarray(sets.offsets[i], sets.offsets[i + 1])]),
      articles.map((a) => [...a]),
      `capacity ${capacity}`,
    );
  }
});
