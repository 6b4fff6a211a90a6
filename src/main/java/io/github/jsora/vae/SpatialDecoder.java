package io.github.jsora.vae;

import io.github.jsora.tensor.Conv;
import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockSource;

/**
 * The diffusers {@code AutoencoderKL} decoder (SD-XL VAE layout) on a micro-batch of independent frames:
 * post_quant_conv (1×1) → conv_in (3×3) → mid block (ResNet, single-head self-attention over H·W, ResNet) → up
 * blocks (ResNets, nearest-2× upsample + 3×3 conv on all but the last) → GroupNorm → SiLU → conv_out. GroupNorms
 * use eps 1e-6. Weights come from the {@link BlockSource} one block at a time; activations are allocated through
 * the {@link ActivationMeter} and freed as soon as they are consumed. Not thread-safe.
 */
final class SpatialDecoder {

    /** Largest attention score block in floats (64 MiB): queries are processed in row blocks below it. */
    private static final long MAX_SCORE_FLOATS = 16L * 1024 * 1024;

    private final VaeConfig.Spatial cfg;
    private final BlockSource weights;
    private final ActivationMeter meter;

    SpatialDecoder(VaeConfig.Spatial cfg, BlockSource weights, ActivationMeter meter) {
        this.cfg = cfg;
        this.weights = weights;
        this.meter = meter;
    }

    /**
     * @param z [n, latentChannels, h, w] spatial latents already divided by 0.18215; not modified, not freed
     * @return [n, outChannels, h·f, w·f] with f = 2^(blocks − 1), allocated through the meter
     */
    Tensor decode(Tensor z) {
        int n = z.dim(0);
        int h = z.dim(2);
        int w = z.dim(3);
        Tensor x;
        Block in = weights.acquire(VaeLayout.spatialIn());
        try {
            Tensor pq = meter.alloc(n, cfg.latentChannels(), h, w);
            Conv.conv2d(z, in.get(VaeLayout.S + "post_quant_conv.weight"), in.get(VaeLayout.S + "post_quant_conv.bias"),
                    1, 0, pq);
            Tensor wIn = in.get(VaeLayout.SD + "conv_in.weight");
            x = meter.alloc(n, wIn.dim(0), h, w);
            Conv.conv2d(pq, wIn, in.get(VaeLayout.SD + "conv_in.bias"), 1, 1, x);
            meter.free(pq);
        } finally {
            weights.release(in);
        }
        x = resnet(x, VaeLayout.spatialMidRes(0), VaeLayout.SD + "mid_block.resnets.0.");
        if (cfg.midAttention()) {
            x = attention(x);
        }
        x = resnet(x, VaeLayout.spatialMidRes(1), VaeLayout.SD + "mid_block.resnets.1.");
        for (int i = 0; i < cfg.blocks(); i++) {
            for (int j = 0; j <= cfg.layersPerBlock(); j++) {
                x = resnet(x, VaeLayout.spatialUpRes(i, j), VaeLayout.SD + "up_blocks." + i + ".resnets." + j + ".");
            }
            if (i < cfg.blocks() - 1) {
                x = upsample(x, i);
            }
        }
        Block ob = weights.acquire(VaeLayout.spatialOut());
        try {
            normSiluInPlace(x, ob.get(VaeLayout.SD + "conv_norm_out.weight"),
                    ob.get(VaeLayout.SD + "conv_norm_out.bias"));
            Tensor out = meter.alloc(n, cfg.outChannels(), x.dim(2), x.dim(3));
            Conv.conv2d(x, ob.get(VaeLayout.SD + "conv_out.weight"), ob.get(VaeLayout.SD + "conv_out.bias"), 1, 1,
                    out);
            meter.free(x);
            return out;
        } finally {
            weights.release(ob);
        }
    }

    private void normSilu(Tensor x, Tensor weight, Tensor bias, boolean silu, Tensor out) {
        int n = x.dim(0);
        int c = x.dim(1);
        long plane = (long) x.dim(2) * x.dim(3);
        VaeKernels.groupNorm(x, n, c, plane, cfg.normGroups(), VaeConfig.Spatial.NORM_EPS, weight.toArray(),
                bias.toArray(), silu, out, c * plane, plane, 0);
    }

    private void normSiluInPlace(Tensor x, Tensor weight, Tensor bias) {
        normSilu(x, weight, bias, true, x);
    }

    /**
     * ResnetBlock2D: GN → SiLU → conv1 → GN → SiLU → conv2 (3×3, bias), plus x (or conv_shortcut(x), 1×1 with
     * bias, when the width changes). Frees x and returns the result.
     */
    private Tensor resnet(Tensor x, String blockName, String p) {
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
    private Tensor attention(Tensor x) {
        Block b = weights.acquire(VaeLayout.spatialMidAttn());
        try {
            String p = VaeLayout.SD + "mid_block.attentions.0.";
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
            int rowsPerBlock = (int) Math.max(1, Math.min(s, MAX_SCORE_FLOATS / s));
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

    /** Upsample2D: nearest 2× then 3×3 conv (bias). Frees x and returns the result. */
    private Tensor upsample(Tensor x, int block) {
        Block b = weights.acquire(VaeLayout.spatialUpsampler(block));
        try {
            int n = x.dim(0);
            int c = x.dim(1);
            int h = x.dim(2);
            int w = x.dim(3);
            Tensor up = meter.alloc(n, c, 2 * h, 2 * w);
            VaeKernels.upsampleNearest2x(x, n * c, h, w, up);
            meter.free(x);
            String p = VaeLayout.SD + "up_blocks." + block + ".upsamplers.0.conv.";
            Tensor wt = b.get(p + "weight");
            Tensor out = meter.alloc(n, wt.dim(0), 2 * h, 2 * w);
            Conv.conv2d(up, wt, b.get(p + "bias"), 1, 1, out);
            meter.free(up);
            return out;
        } finally {
            weights.release(b);
        }
    }
}
