import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { evaluateDataset } from '../pipeline/evaluate-dataset.js';
import { DEFAULT_OPTIONS } from '../pipeline/options.js';

// The labelled dev corpora live beside the repository (../shared/data), never inside it.
const DATA = fileURLToPath(new URL('../../../shared/data', import.meta.url));
const missing = existsSync(DATA) ? false : `labelled data not found at ${DATA}`;

async function scratch(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-eval-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// Floors: the similarity issue's targets (ECB+ F1 0.85, COUNTER MCC 0.60 and F1 0.88) minus 0.03.
test('ECB+ dev: the default model clusters stories with pairwise F1 >= 0.82, no cluster over 60', { skip: missing }, async (t) => {
  const scores = await evaluateDataset(join(DATA, 'ecbplus-dev'), await scratch(t), DEFAULT_OPTIONS);
  assert.equal(scores.clustering.articles, 462);
  assert.ok(scores.clustering.f1 >= 0.82, `F1 ${scores.clustering.f1.toFixed(3)}`);
  assert.ok(scores.clustering.largestPredictedCluster <= 60, `largest cluster ${scores.clustering.largestPredictedCluster}`);
});

test('COUNTER dev: the default model tells Urdu rewrites from same-topic articles: pairs MCC >= 0.57, F1 >= 0.85', { skip: missing }, async (t) => {
  const scores = await evaluateDataset(join(DATA, 'counter-dev'), await scratch(t), DEFAULT_OPTIONS);
  assert.ok(scores.pairs, 'counter-dev has pairs.csv');
  assert.equal(scores.pairs.pairs, 300);
  assert.ok(scores.pairs.mcc >= 0.57, `MCC ${scores.pairs.mcc.toFixed(3)}`);
  assert.ok(scores.pairs.f1 >= 0.85, `F1 ${scores.pairs.f1.toFixed(3)}`);
});
