/** bench/nightly-quality.ts: pair counts across and within nights, first-night ids followed through merges. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { describePairs, nightlyQuality } from '../bench/nightly-quality.js';

const scratch = await mkdtemp(join(tmpdir(), 'neardup-nightly-quality-'));
after(() => rm(scratch, { recursive: true, force: true }));

async function out(name: string, documents: [string, string][], merges: [string, string][] = []): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir);
  await writeFile(join(dir, 'documents.csv'), ['doc_id,cluster_id,cluster_size', ...documents.map(([id, c]) => `${id},${c},0`)].join('\n') + '\n');
  await writeFile(join(dir, 'merges.csv'), ['old_cluster_id,new_cluster_id,run_id', ...merges.map(([o, n]) => `${o},${n},run-000002`)].join('\n') + '\n');
  return dir;
}

test('cross-night pairs follow the merges; pairs within the second night are counted apart', async () => {
  // Stories: s1 = a, b (first night), c (second); s2 = d (first), e, f (second); s3 = g (first).
  const labels = new Map(Object.entries({ a: 's1', b: 's1', c: 's1', d: 's2', e: 's2', f: 's2', g: 's3' }));
  const first = await out('first', [
    ['a', 'c1'],
    ['b', 'c2'],
    ['d', 'c3'],
    ['g', 'c3'],
  ]);
  // c2 merged into c1: a and b are one cluster now. e joins c3 (with d, and wrongly g); f stays alone.
  const second = await out(
    'second',
    [
      ['c', 'c1'],
      ['e', 'c3'],
      ['f', 'c9'],
    ],
    [['c2', 'c1']],
  );
  const quality = nightlyQuality(labels, first, second);
  // True cross pairs: c-a, c-b, e-d, f-d = 4. Predicted: c-a, c-b, e-d, e-g = 4. Correct: c-a, c-b, e-d = 3.
  assert.deepEqual(quality.crossNight, { truePairs: 4, predictedPairs: 4, correctPairs: 3 });
  // Within the second night: e-f is a true pair, never predicted.
  assert.deepEqual(quality.secondNight, { truePairs: 1, predictedPairs: 0, correctPairs: 0 });
  assert.equal(describePairs(quality.crossNight), 'recall 0.750, precision 0.750, F1 0.750 (3 of 4 pairs found, 4 predicted)');
});
