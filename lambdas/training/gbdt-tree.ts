/**
 * Grows one regression tree on gradient histograms, leaf-wise (best-first): the leaf whose best
 * split gains most is split next, until the tree has `numLeaves` leaves or no split gains.
 *
 * Per node and feature, a histogram holds the sums of gradient, hessian and row count in each bin.
 * Only the smaller child of a split is scanned; the larger child's histogram is the parent's minus
 * the smaller's (the subtraction trick), computed in the parent's buffer. Rows live in one index
 * array where each leaf owns a contiguous, ordered segment that a split partitions in place. Every
 * buffer is allocated once per training ({@link TreeLearner}) and reused by every tree: growing a
 * tree allocates only the tree itself.
 *
 * A split sends bins `<= t` left; missing values (the feature's last bin) go to whichever side
 * gains more, tried both ways. When a node saw no missing value, they go right (the side a NaN
 * takes in onnxruntime without missing-value tracking). Ties go to the lower feature, then the
 * lower bin: growth is deterministic.
 */
import type { BinnedRows, FeatureBins } from './gbdt-binning.js';

/** One tree: parallel arrays over its nodes; node 0 is the root. */
export interface GbdtTree {
  /** The split feature of a split node; -1 for a leaf. */
  readonly feature: Int32Array;
  /** A split node's threshold (a float32 value): `x <= threshold` goes left. */
  readonly threshold: Float64Array;
  /** A split node's last bin on the left (the threshold as a bin of the training binning). */
  readonly thresholdBin: Uint8Array;
  /** 1 when missing values go left. */
  readonly missingLeft: Uint8Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** A leaf's value (float32, learning rate applied); 0 for split nodes. */
  readonly value: Float64Array;
}

/** What shapes a tree. */
export interface TreeShape {
  readonly numLeaves: number;
  /** Deepest a leaf may be (the root is depth 0); Infinity for no limit. */
  readonly maxDepth: number;
  readonly minChildSamples: number;
  readonly minChildWeight: number;
  readonly lambda: number;
  readonly minSplitGain: number;
}

export class TreeLearner {
  private readonly F: number;
  /** First global bin of each feature (histogram cells 2b, 2b+1: gradient and hessian of bin b). */
  private readonly binBase: Int32Array;
  private readonly pool: Float64Array[];
  /** Column-major copy of the bins: partitioning reads one feature of scattered rows, which
   * row-major bins would serve one cache line per row. */
  private readonly columns: Uint8Array[];
  /** Row indices; leaf ℓ owns order[leafStart[ℓ] .. leafStart[ℓ] + leafCount[ℓ]). */
  readonly order: Uint32Array;
  private readonly scratch: Uint32Array;
  readonly leafStart: Int32Array;
  readonly leafCount: Int32Array;
  readonly leafNode: Int32Array;
  private readonly leafHist: Int32Array;
  private readonly leafDepth: Int32Array;
  private readonly leafG: Float64Array;
  private readonly leafH: Float64Array;
  private readonly bestGain: Float64Array;
  private readonly bestFeature: Int32Array;
  private readonly bestBin: Int32Array;
  private readonly bestMissingLeft: Uint8Array;
  private readonly bestLeftG: Float64Array;
  private readonly bestLeftH: Float64Array;
  /** Leaves of the tree grown last. */
  leaves = 0;

  constructor(
    private readonly data: BinnedRows,
    private readonly binning: FeatureBins,
    private readonly shape: TreeShape,
  ) {
    const F = data.features;
    this.F = F;
    this.binBase = data.binBase;
    const L = shape.numLeaves;
    const cells = (this.binBase[F] as number) * 2;
    this.pool = Array.from({ length: L }, () => new Float64Array(cells));
    this.columns = Array.from({ length: F }, (_, f) => {
      const column = new Uint8Array(data.rows);
      for (let r = 0; r < data.rows; r++) column[r] = data.bins[r * F + f] as number;
      return column;
    });
    this.order = new Uint32Array(data.rows);
    this.scratch = new Uint32Array(data.rows);
    this.leafStart = new Int32Array(L);
    this.leafCount = new Int32Array(L);
    this.leafNode = new Int32Array(L);
    this.leafHist = new Int32Array(L);
    this.leafDepth = new Int32Array(L);
    this.leafG = new Float64Array(L);
    this.leafH = new Float64Array(L);
    this.bestGain = new Float64Array(L);
    this.bestFeature = new Int32Array(L);
    this.bestBin = new Int32Array(L);
    this.bestMissingLeft = new Uint8Array(L);
    this.bestLeftG = new Float64Array(L);
    this.bestLeftH = new Float64Array(L);
  }

  /**
   * Grows a tree on the gradients and hessians `gh` (interleaved: `gh[2r]`, `gh[2r+1]`) of the rows
   * `bag[0 .. bagSize)` (ascending) over the features `features` (ascending), leaf values scaled by
   * `learningRate`. After it returns, `order`, `leafStart`,
   * `leafCount` and `leafNode` tell which rows fell in which leaf.
   */
  grow(
    gh: Float64Array,
    bag: Uint32Array,
    bagSize: number,
    features: Int32Array,
    learningRate: number,
  ): GbdtTree {
    const { shape } = this;
    const L = shape.numLeaves;
    const nodes = 2 * L - 1;
    const tree: GbdtTree = {
      feature: new Int32Array(nodes).fill(-1),
      threshold: new Float64Array(nodes),
      thresholdBin: new Uint8Array(nodes),
      missingLeft: new Uint8Array(nodes),
      left: new Int32Array(nodes).fill(-1),
      right: new Int32Array(nodes).fill(-1),
      value: new Float64Array(nodes),
    };
    this.order.set(bag.subarray(0, bagSize));
    let g = 0;
    let h = 0;
    for (let i = 0; i < bagSize; i++) {
      const r = bag[i] as number;
      g += gh[2 * r] as number;
      h += gh[2 * r + 1] as number;
    }
    this.leafStart[0] = 0;
    this.leafCount[0] = bagSize;
    this.leafNode[0] = 0;
    this.leafHist[0] = 0;
    this.leafDepth[0] = 0;
    this.leafG[0] = g;
    this.leafH[0] = h;
    let leaves = 1;
    let nodeCount = 1;
    if (this.splittable(0)) {
      this.buildHistogram(this.pool[0] as Float64Array, 0, bagSize, gh, features);
      this.findBestSplit(0, features);
    } else this.bestGain[0] = Number.NEGATIVE_INFINITY;

    while (leaves < L) {
      let best = -1;
      let bestGain = shape.minSplitGain;
      for (let l = 0; l < leaves; l++) {
        if ((this.bestGain[l] as number) > bestGain) {
          bestGain = this.bestGain[l] as number;
          best = l;
        }
      }
      if (best < 0) break;
      const node = this.leafNode[best] as number;
      const f = this.bestFeature[best] as number;
      const t = this.bestBin[best] as number;
      const missingLeft = this.bestMissingLeft[best] as number;
      tree.feature[node] = f;
      tree.thresholdBin[node] = t;
      tree.threshold[node] = (this.binning.upperBounds[f] as Float64Array)[t] as number;
      tree.missingLeft[node] = missingLeft;
      const leftNode = nodeCount++;
      const rightNode = nodeCount++;
      tree.left[node] = leftNode;
      tree.right[node] = rightNode;

      const start = this.leafStart[best] as number;
      const count = this.leafCount[best] as number;
      const leftCount = this.partition(start, count, f, t, missingLeft === 1);
      const right = leaves++;
      const depth = (this.leafDepth[best] as number) + 1;
      const parentG = this.leafG[best] as number;
      const parentH = this.leafH[best] as number;
      const parentHist = this.leafHist[best] as number;
      // Left child keeps the leaf index, right child takes a new one.
      this.leafStart[right] = start + leftCount;
      this.leafCount[right] = count - leftCount;
      this.leafCount[best] = leftCount;
      this.leafNode[best] = leftNode;
      this.leafNode[right] = rightNode;
      this.leafDepth[best] = depth;
      this.leafDepth[right] = depth;
      this.leafG[best] = this.bestLeftG[best] as number;
      this.leafH[best] = this.bestLeftH[best] as number;
      this.leafG[right] = parentG - (this.bestLeftG[best] as number);
      this.leafH[right] = parentH - (this.bestLeftH[best] as number);

      // The split that fills the tree needs no histograms for its children: nothing splits again.
      const full = leaves === L;
      const leftSplits = !full && this.splittable(best);
      const rightSplits = !full && this.splittable(right);
      // Scan the smaller child into the free pool slot `right`; the larger one is the parent minus
      // it, in the parent's slot. Slots owned by the leaves stay a permutation of 0 .. leaves-1.
      const small = leftCount <= count - leftCount ? best : right;
      const large = small === best ? right : best;
      this.leafHist[small] = right;
      this.leafHist[large] = parentHist;
      if (leftSplits || rightSplits) {
        const smallHist = this.pool[right] as Float64Array;
        this.buildHistogram(
          smallHist,
          this.leafStart[small] as number,
          this.leafCount[small] as number,
          gh,
          features,
        );
        if (large === best ? leftSplits : rightSplits) {
          const parent = this.pool[parentHist] as Float64Array;
          for (let i = 0; i < parent.length; i += 2) {
            const h = parent[i + 1] as number;
            const rest = h - (smallHist[i + 1] as number);
            // A bin whose rows all went to the smaller child is empty, not a rounding residue.
            if (rest > h * 1e-12) {
              parent[i] = (parent[i] as number) - (smallHist[i] as number);
              parent[i + 1] = rest;
            } else {
              parent[i] = 0;
              parent[i + 1] = 0;
            }
          }
        }
      }
      if (leftSplits) this.findBestSplit(best, features);
      else this.bestGain[best] = Number.NEGATIVE_INFINITY;
      if (rightSplits) this.findBestSplit(right, features);
      else this.bestGain[right] = Number.NEGATIVE_INFINITY;
    }

    for (let l = 0; l < leaves; l++) {
      const node = this.leafNode[l] as number;
      const denominator = (this.leafH[l] as number) + shape.lambda;
      const weight = denominator > 0 ? -(this.leafG[l] as number) / denominator : 0;
      tree.value[node] = Math.fround(weight * learningRate);
    }
    this.leaves = leaves;
    return trimTree(tree, nodeCount);
  }

  /** Whether leaf `l` may be split at all (enough rows, not at the depth limit). */
  private splittable(l: number): boolean {
    return (
      (this.leafCount[l] as number) >= 2 * this.shape.minChildSamples &&
      (this.leafDepth[l] as number) < this.shape.maxDepth &&
      (this.leafH[l] as number) >= 2 * this.shape.minChildWeight
    );
  }

  /** Sums gradient and hessian per bin of the rows order[start .. start+count) into `hist`. */
  private buildHistogram(
    hist: Float64Array,
    start: number,
    count: number,
    gh: Float64Array,
    features: Int32Array,
  ): void {
    hist.fill(0);
    const { order, F, binBase } = this;
    const bins = this.data.bins;
    const end = start + count;
    const nf = features.length;
    if (nf === F) {
      // Every feature: bins p … p+F−1 of the row, four at a time (the hot loop of training).
      const F4 = F - (F % 4);
      for (let i = start; i < end; i++) {
        const r = order[i] as number;
        const g = gh[2 * r] as number;
        const h = gh[2 * r + 1] as number;
        const p = r * F;
        let f = 0;
        for (; f < F4; f += 4) {
          const a = ((binBase[f] as number) + (bins[p + f] as number)) << 1;
          const b = ((binBase[f + 1] as number) + (bins[p + f + 1] as number)) << 1;
          const c = ((binBase[f + 2] as number) + (bins[p + f + 2] as number)) << 1;
          const d = ((binBase[f + 3] as number) + (bins[p + f + 3] as number)) << 1;
          hist[a] = (hist[a] as number) + g;
          hist[a + 1] = (hist[a + 1] as number) + h;
          hist[b] = (hist[b] as number) + g;
          hist[b + 1] = (hist[b + 1] as number) + h;
          hist[c] = (hist[c] as number) + g;
          hist[c + 1] = (hist[c + 1] as number) + h;
          hist[d] = (hist[d] as number) + g;
          hist[d + 1] = (hist[d + 1] as number) + h;
        }
        for (; f < F; f++) {
          const a = ((binBase[f] as number) + (bins[p + f] as number)) << 1;
          hist[a] = (hist[a] as number) + g;
          hist[a + 1] = (hist[a + 1] as number) + h;
        }
      }
    } else {
      for (let i = start; i < end; i++) {
        const r = order[i] as number;
        const g = gh[2 * r] as number;
        const h = gh[2 * r + 1] as number;
        const p = r * F;
        for (let j = 0; j < nf; j++) {
          const f = features[j] as number;
          const a = ((binBase[f] as number) + (bins[p + f] as number)) << 1;
          hist[a] = (hist[a] as number) + g;
          hist[a + 1] = (hist[a + 1] as number) + h;
        }
      }
    }
  }

  /**
   * Best split of leaf `l` over `features`, from its histogram, into the best* arrays. A side's row
   * count is estimated from its hessian sum, as LightGBM does (`rows × side hessian / leaf hessian`;
   * exact for regression, where every hessian is 1): histograms then need no count cells.
   */
  private findBestSplit(l: number, features: Int32Array): void {
    const { shape } = this;
    const hist = this.pool[this.leafHist[l] as number] as Float64Array;
    const G = this.leafG[l] as number;
    const H = this.leafH[l] as number;
    const C = this.leafCount[l] as number;
    const perHessian = C / H;
    const lambda = shape.lambda;
    const minC = shape.minChildSamples - 0.5; // counts are rounded: >= n − 0.5 is >= n
    const minH = shape.minChildWeight;
    const parentScore = (G * G) / (H + lambda);
    let bestGain = Number.NEGATIVE_INFINITY;
    let bestFeature = -1;
    let bestBin = 0;
    let bestMissingLeft = 0;
    let bestLG = 0;
    let bestLH = 0;
    for (let j = 0; j < features.length; j++) {
      const f = features[j] as number;
      const base = (this.binBase[f] as number) * 2;
      const nb = (this.binBase[f + 1] as number) - (this.binBase[f] as number) - 1;
      const m = base + nb * 2;
      const mg = hist[m] as number;
      const mh = hist[m + 1] as number;
      let lg = 0;
      let lh = 0;
      for (let t = 0; t < nb; t++) {
        lg += hist[base + 2 * t] as number;
        lh += hist[base + 2 * t + 1] as number;
        // Missing values right.
        const rh = H - lh;
        if (lh >= minH && rh >= minH && lh * perHessian >= minC && rh * perHessian >= minC) {
          const rg = G - lg;
          const gain = (lg * lg) / (lh + lambda) + (rg * rg) / (rh + lambda) - parentScore;
          if (gain > bestGain) {
            bestGain = gain;
            bestFeature = f;
            bestBin = t;
            bestMissingLeft = 0;
            bestLG = lg;
            bestLH = lh;
          }
        }
        // Missing values left, when this node has any.
        if (mh > 0) {
          const llh = lh + mh;
          const lrh = H - llh;
          if (llh >= minH && lrh >= minH && llh * perHessian >= minC && lrh * perHessian >= minC) {
            const llg = lg + mg;
            const rg = G - llg;
            const gain = (llg * llg) / (llh + lambda) + (rg * rg) / (lrh + lambda) - parentScore;
            if (gain > bestGain) {
              bestGain = gain;
              bestFeature = f;
              bestBin = t;
              bestMissingLeft = 1;
              bestLG = llg;
              bestLH = llh;
            }
          }
        }
      }
    }
    this.bestGain[l] = bestFeature < 0 ? Number.NEGATIVE_INFINITY : bestGain;
    this.bestFeature[l] = bestFeature;
    this.bestBin[l] = bestBin;
    this.bestMissingLeft[l] = bestMissingLeft;
    this.bestLeftG[l] = bestLG;
    this.bestLeftH[l] = bestLH;
  }

  /** Stable in-place partition of order[start .. start+count) by the split; returns the left count. */
  private partition(start: number, count: number, f: number, t: number, missingLeft: boolean): number {
    const { order, scratch } = this;
    const column = this.columns[f] as Uint8Array;
    const missing = (this.binBase[f + 1] as number) - (this.binBase[f] as number) - 1;
    let l = start;
    let r = 0;
    const end = start + count;
    for (let i = start; i < end; i++) {
      const row = order[i] as number;
      const b = column[row] as number;
      if (b === missing ? missingLeft : b <= t) order[l++] = row;
      else scratch[r++] = row;
    }
    order.set(scratch.subarray(0, r), l);
    return l - start;
  }
}

function trimTree(tree: GbdtTree, nodes: number): GbdtTree {
  return {
    feature: tree.feature.slice(0, nodes),
    threshold: tree.threshold.slice(0, nodes),
    thresholdBin: tree.thresholdBin.slice(0, nodes),
    missingLeft: tree.missingLeft.slice(0, nodes),
    left: tree.left.slice(0, nodes),
    right: tree.right.slice(0, nodes),
    value: tree.value.slice(0, nodes),
  };
}

/** The leaf that row `row` of `data` (binned as the tree's training data) reaches. */
export function leafOfBinned(tree: GbdtTree, data: BinnedRows, row: number): number {
  const { bins, binBase } = data;
  const base = row * data.features;
  let node = 0;
  while (tree.feature[node] !== -1) {
    const f = tree.feature[node] as number;
    const b = bins[base + f] as number;
    const missing = (binBase[f + 1] as number) - (binBase[f] as number) - 1;
    const goLeft = b === missing ? tree.missingLeft[node] === 1 : b <= (tree.thresholdBin[node] as number);
    node = (goLeft ? tree.left[node] : tree.right[node]) as number;
  }
  return node;
}
