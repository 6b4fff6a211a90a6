package io.github.jsora.vae;

import io.github.jsora.tensor.Conv;
import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockSource;

/**
 * The pieces the diffusers {@code AutoencoderKL} encoder and decoder share: GroupNorm (eps 1e-6) with SiLU,
 * {@code ResnetBlock2D} and the mid block's single-head self-attention, each reading its weights from one block of
 * the {@link BlockSource} under a key prefix and allocating through the {@link ActivationMeter}. Not thread-safe.
 */
abstract class SpatialNet {

    /** Largest attention score block in floats (64 MiB): queries are processed in row blocks below it. */
    static final long MAX_SCORE_FLOATS = 16L * 1024 * 1024;

    final VaeConfig.Spatial cfg;
    final BlockSource weights;
    final ActivationMeter meter;

    SpatialNet(VaeConfig.Spatial cfg, BlockSource weights, ActivationMeter meter) {
        this.cfg = cfg;
        this.weights = weights;
        this.meter = meter;
    }

    /** Query rows per attention score block over {@code s} positions. */
    static int attentionRows(int s) {
        return (int) Math.max(1, Math.min(s, MAX_SCORE_FLOATS / s));
    }

    final void normSilu(Tensor x, Tensor weight, Tensor bias, boolean silu, Tensor out) {
        int n = x.dim(0);
        int c = x.dim(1);
        long plane = (long) x.dim(2) * x.dim(3);
        VaeKernels.groupNorm(x, n, c, plane, cfg.normGroups(), VaeConfig.Spatial.NORM_EPS, weight.toArray(),
                bias.toArray(), silu, out, c * plane, plane, 0);
    }

    final void normSiluInPlace(Tensor x, Tensor weight, Tensor bias) {
        normSilu(x, weight, bias, true, x);
    }

    /**
     * ResnetBlock2D: GN → SiLU → conv1 → GN → SiLU → conv2 (3×3, bias), plus x (or conv_shortcut(x), 1×1 with
     * bias, when the width changes). Frees x and returns the result.
     */
    final Tensor resnet(Tensor x, String blockName, String p) {
        Block b = weights.acquire(blockName);
        try {
            int n = x.dim(0);
            int h = x.dim(2);
            int w = x.dim(3);
            Tensor w1 = b.get(p + "conv1.weight");
            int out = w1.dim(0);
            Tensor a = meter.alloc(x.shape());
            normSilu(x, b.get(p + "norm1.weight"), b.get(p + "norm1.bias"), true, a);
            Tensor h1 = meter.alloc(n, out, h, w);
            Conv.conv2d(a, w1, b.get(p + "conv1.bias"), 1, 1, h1);
            meter.free(a);
            normSiluInPlace(h1, b.get(p + "norm2.weight"), b.get(p + "norm2.bias"));
            Tensor h2 = meter.alloc(n, out, h, w);
            Conv.conv2d(h1, b.get(p + "conv2.weight"), b.get(p + "conv2.bias"), 1, 1, h2);
            meter.free(h1);
            if (x.dim(1) != out) {
                Tensor r = meter.alloc(n, out, h, w);
                Conv.conv2d(x, b.get(p + "conv_shortcut.weight"), b.get(p + "conv_shortcut.bias"), 1, 0, r);
                Ops.addInPlace(h2, r);
                meter.free(r);
            } else {
                Ops.addInPlace(h2, x);
            }
            meter.free(x);
            return h2;
        } finally {
            weights.release(b);
        }
    }

    /**
     * Single-head self-attention over the H·W positions of each frame, with residual:
     * {@code x + to_out(softmax(q·kᵀ/√C)·v)}, q/k/v = linear maps of GroupNorm(x). Frees x and returns the result.
     */
    final Tensor attention(Tensor x, String blockName, String p) {
        Block b = weights.acquire(blockName);
        try {
            int n = x.dim(0);
            int c = x.dim(1);
            int s = x.dim(2) * x.dim(3);
            float scale = (float) (1.0 / Math.sqrt(c));
            Tensor hn = meter.alloc(x.shape());
            normSilu(x, b.get(p + "group_norm.weight"), b.get(p + "group_norm.bias"), false, hn);
            Tensor q = meter.alloc(s, c);   // [S, C] queries (rows contiguous)
            Tensor kT = meter.alloc(c, s);  // [C, S] keys, transposed
            Tensor v = meter.alloc(s, c);   // [S, C] values
            Tensor o = meter.alloc(s, c);   // [S, C] attention output
            int rowsPerBlock = attentionRows(s);
            Tensor scores = meter.alloc(rowsPerBlock, s);
            float[] bk = b.get(p + "to_k.bias").toArray();
            float[] bo = b.get(p + "to_out.0.bias").toArray();
            for (int i = 0; i < n; i++) {
                Tensor hi = hn.slice(i).reshape(c, s);      // [C, S]
                Gemm.matmul(hi, true, b.get(p + "to_q.weight"), true, q, 1f, 0f);   // hᵀ·Wqᵀ → [S, C]
                Ops.addRowVectorInPlace(q, b.get(p + "to_q.bias"));
                Gemm.matmul(b.get(p + "to_k.weight"), false, hi, false, kT, 1f, 0f); // Wk·h → [C, S]
                VaeKernels.addPerRow(kT, bk, c, s);
                Gemm.matmul(hi, true, b.get(p + "to_v.weight"), true, v, 1f, 0f);   // [S, C]
                Ops.addRowVectorInPlace(v, b.get(p + "to_v.bias"));
                for (int r0 = 0; r0 < s; r0 += rowsPerBlock) {
                    int rows = Math.min(rowsPerBlock, s - r0);
                    Tensor sc = scores.slice(0, rows);                               // [rows, S]
                    Gemm.matmul(q.slice(r0, r0 + rows), false, kT, false, sc, 1f, 0f);
                    Ops.softmaxInPlace(sc, scale, null);
                    Gemm.matmul(sc, false, v, false, o.slice(r0, r0 + rows), 1f, 0f); // [rows, C]
                }
                // to_out: Wo·oᵀ → [C, S], + bias, + residual, written over the normalised copy
                Gemm.matmul(b.get(p + "to_out.0.weight"), false, o, true, hi, 1f, 0f);
                VaeKernels.addPerRow(hi, bo, c, s);
            }
            Ops.addInPlace(hn, x);
            meter.free(scores);
            meter.free(o);
            meter.free(v);
            meter.free(kT);
            meter.free(q);
            meter.free(x);
            return hn;
        } finally {
            weights.release(b);
        }
    }

    /**
     * A resampling layer, frees x and returns the result: Upsample2D when {@code up} (nearest 2×, then a 3×3 conv
     * with padding 1), else Downsample2D (one zero row at the bottom and one zero column at the right, then a 3×3
     * conv with stride 2: a side of n becomes ⌊n/2⌋). The conv's tensors are {@code p + "weight"} and
     * {@code p + "bias"}.
     */
    final Tensor resample(Tensor x, String blockName, String p, boolean up) {
        Block b = weights.acquire(blockName);
        try {
            int n = x.dim(0);
            int c = x.dim(1);
            int h = x.dim(2);
            int w = x.dim(3);
            Tensor r = up ? meter.alloc(n, c, 2 * h, 2 * w) : meter.alloc(n, c, h + 1, w + 1);
            if (up) {
                VaeKernels.upsampleNearest2x(x, n * c, h, w, r);
            } else {
                VaeKernels.padBottomRight(x, n * c, h, w, r);
            }
            meter.free(x);
            int stride = up ? 1 : 2;
            int pad = up ? 1 : 0;
            Tensor wt = b.get(p + "weight");
            Tensor out = meter.alloc(n, wt.dim(0), Conv.outputSize(r.dim(2), 3, stride, pad),
                    Conv.outputSize(r.dim(3), 3, stride, pad));
            Conv.conv2d(r, wt, b.get(p + "bias"), stride, pad, out);
            meter.free(r);
            return out;
        } finally {
            weights.release(b);
        }
    }
}
