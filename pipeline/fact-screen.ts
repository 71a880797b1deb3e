/**
 * The fact check before the fact check: which indexed articles a nightly run need not bring back.
 *
 * An indexed article comes back as a guest when its band keys say its wording is about as close to one of
 * tonight's new articles as the threshold (nightly.ts). Bringing it back costs a fetch, a second shingling and
 * signing, and a place in every later stage. On templated wire copy most such guests then fail the cluster
 * stage's fact check (facts.ts): a dividend notice of another company has the wording of tonight's but not
 * its names and figures. The index keeps each article's facts beside its band keys, and a nightly run's weights
 * do not depend on the guests (IDF is counted over the index and tonight's new articles: weights.ts,
 * IdfPopulation), so the cluster stage's check runs here first, exactly, against the tonight's articles that
 * brought the guest back. A guest that fails it with every one of them stays in the index.
 */
import { type FeatureSets } from './feature-sets.js';
import { isFact } from './facts.js';
import { mix32 } from './hash.js';

export class FactScreen {
  private readonly offsets: Float64Array;
  private readonly facts: Uint32Array;
  private readonly weights: Float32Array;
  /** Tonight's weight of each fact, in an open-addressing table (facts are odd, so 0 marks an empty slot). */
  private readonly tableKeys: Uint32Array;
  private readonly tableWeights: Float32Array;
  private readonly tableMask: number;
  /** The weights of the guest being screened: scratch, grown as needed. */
  private guestWeights = new Float64Array(64);

  /**
   * `sets`: tonight's feature sets with their weights (only the first `articles` are read); `minFacts` and
   * `agreement`: the cluster stage's fact check (a pair is checked when both have minFacts facts or more);
   * `weightOf`: the weight of a fact none of tonight's articles has, as the cluster stage will weigh it.
   */
  constructor(
    sets: FeatureSets,
    articles: number,
    private readonly minFacts: number,
    private readonly agreement: number,
    private readonly weightOf: (fact: number) => number,
  ) {
    let total = 0;
    for (let p = 0; p < sets.offsets[articles]; p++) if (isFact(sets.values[p])) total++;
    this.offsets = new Float64Array(articles + 1);
    this.facts = new Uint32Array(total);
    this.weights = new Float32Array(total);
    let at = 0;
    for (let i = 0; i < articles; i++) {
      for (let p = sets.offsets[i]; p < sets.offsets[i + 1]; p++) {
        if (!isFact(sets.values[p])) continue;
        this.facts[at] = sets.values[p];
        this.weights[at++] = sets.weightOfCode[sets.weightCodes[p]];
      }
      this.offsets[i + 1] = at;
    }
    let capacity = 16;
    while (capacity < 2 * total) capacity *= 2;
    this.tableKeys = new Uint32Array(capacity);
    this.tableWeights = new Float32Array(capacity);
    this.tableMask = capacity - 1;
    for (let p = 0; p < total; p++) {
      let slot = mix32(this.facts[p]) & this.tableMask;
      while (this.tableKeys[slot] !== 0 && this.tableKeys[slot] !== this.facts[p]) slot = (slot + 1) & this.tableMask;
      this.tableKeys[slot] = this.facts[p];
      this.tableWeights[slot] = this.weights[p];
    }
  }

  /** Whether a guest with `guestFacts` (sorted, distinct: facts.ts, factsOf) may pass the check with one of `partners`. */
  passes(guestFacts: Uint32Array, partners: ArrayLike<number>): boolean {
    if (this.agreement <= 0 || guestFacts.length < this.minFacts) return true;
    if (this.guestWeights.length < guestFacts.length) this.guestWeights = new Float64Array(2 * guestFacts.length);
    const guestWeights = this.guestWeights;
    let guestTotal = 0;
    for (let g = 0; g < guestFacts.length; g++) guestTotal += guestWeights[g] = this.guestWeightOf(guestFacts[g]);
    for (let q = 0; q < partners.length; q++) {
      const i = partners[q];
      const start = this.offsets[i];
      const end = this.offsets[i + 1];
      if (end - start < this.minFacts) return true;
      // One merge of two sorted lists: the shared weight. A fact weighs the same in both articles.
      let shared = 0;
      let partnerTotal = 0;
      let g = 0;
      for (let p = start; p < end; p++) {
        const fact = this.facts[p];
        partnerTotal += this.weights[p];
        while (g < guestFacts.length && guestFacts[g] < fact) g++;
        if (g < guestFacts.length && guestFacts[g] === fact) shared += guestWeights[g++];
      }
      const union = partnerTotal + guestTotal - shared;
      // As the cluster stage decides (cluster.ts, factsDisagree): a pair whose facts agree this much is kept.
      // (Summed in another order than there: a hair of tolerance keeps a pair the cluster stage would keep.)
      if (union > 0 && shared / union >= this.agreement - 1e-9) return true;
    }
    return false;
  }

  /** As tonight weighs the fact, or by `weightOf` if none of tonight's articles has it. */
  private guestWeightOf(fact: number): number {
    const { tableKeys, tableMask } = this;
    let slot = mix32(fact) & tableMask;
    for (;;) {
      const key = tableKeys[slot];
      if (key === fact) return this.tableWeights[slot];
      if (key === 0) return this.weightOf(fact);
      slot = (slot + 1) & tableMask;
    }
  }
}
