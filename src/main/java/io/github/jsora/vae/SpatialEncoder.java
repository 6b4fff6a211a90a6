package io.github.jsora.vae;

import io.github.jsora.tensor.Conv;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockSource;

/**
 * The diffusers {@code AutoencoderKL} encoder (SD-XL VAE layout) with its {@code quant_conv}, on a micro-batch of
 * independent frames: conv_in (3×3) → down blocks ({@code layersPerBlock} ResNets; on all but the last a
 * {@code Downsample2D}: one zero row at the bottom and one zero column at the right, then a 3×3 stride-2 conv, so a
 * side of n gives ⌊n/2⌋ and H, W need not be multiples of 8) → mid block (ResNet, single-head self-attention over
 * H·W, ResNet) → GroupNorm → SiLU → conv_out (3×3) → quant_conv (1×1). GroupNorms use eps 1e-6. The result is the
 * posterior's moments: mean channels first, then the (unclamped) log-variance. Not thread-safe.
 */
final class SpatialEncoder extends SpatialNet {

    SpatialEncoder(VaeConfig.Spatial cfg, BlockSource weights, ActivationMeter meter) {
        super(cfg, weights, meter);
    }

    /**
     * @param x [n, 3, H, W] frames in [−1, 1] with H, W ≥ 2^(blocks − 1); not modified, not freed
     * @return moments [n, 2·latentChannels, ⌊H/f⌋, ⌊W/f⌋] (f = 2^(blocks − 1)), allocated through the meter
     */
    Tensor encode(Tensor x) {
        int n = x.dim(0);
        Tensor y;
        Block in = weights.acquire(VaeLayout.spatialEncIn());
        try {
            Tensor wIn = in.get(VaeLayout.SE + "conv_in.weight");
            y = meter.alloc(n, wIn.dim(0), x.dim(2), x.dim(3));               // [n, C0, H, W]
            Conv.conv2d(x, wIn, in.get(VaeLayout.SE + "conv_in.bias"), 1, 1, y);
        } finally {
            weights.release(in);
        }
        for (int i = 0; i < cfg.blocks(); i++) {
            for (int j = 0; j < cfg.layersPerBlock(); j++) {
                y = resnet(y, VaeLayout.spatialEncRes(i, j),
                        VaeLayout.SE + "down_blocks." + i + ".resnets." + j + ".");
            }
            if (i < cfg.blocks() - 1) {
                // [n, Ci, h, w] → [n, Ci, ⌊h/2⌋, ⌊w/2⌋]
                y = resample(y, VaeLayout.spatialEncDownsampler(i),
                        VaeLayout.SE + "down_blocks." + i + ".downsamplers.0.conv.", false);
            }
        }
        y = resnet(y, VaeLayout.spatialEncMidRes(0), VaeLayout.SE + "mid_block.resnets.0.");
        if (cfg.midAttention()) {
            y = attention(y, VaeLayout.spatialEncMidAttn(), VaeLayout.SE + "mid_block.attentions.0.");
        }
        y = resnet(y, VaeLayout.spatialEncMidRes(1), VaeLayout.SE + "mid_block.resnets.1.");
        Block ob = weights.acquire(VaeLayout.spatialEncOut());
        try {
            normSiluInPlace(y, ob.get(VaeLayout.SE + "conv_norm_out.weight"),
                    ob.get(VaeLayout.SE + "conv_norm_out.bias"));
            Tensor wOut = ob.get(VaeLayout.SE + "conv_out.weight");
            Tensor e = meter.alloc(n, wOut.dim(0), y.dim(2), y.dim(3));      // [n, 2·lat, h, w]
            Conv.conv2d(y, wOut, ob.get(VaeLayout.SE + "conv_out.bias"), 1, 1, e);
            meter.free(y);
            Tensor m = meter.alloc(e.shape());
            Conv.conv2d(e, ob.get(VaeLayout.S + "quant_conv.weight"), ob.get(VaeLayout.S + "quant_conv.bias"), 1, 0,
                    m);
            meter.free(e);
            return m;
        } finally {
            weights.release(ob);
        }
    }

    /**
     * Most floats {@link #encode} holds at once besides its input for {@code n} frames of h×w (the column matrix of
     * an im2col convolution included): per ResNet the larger of {@code 2·in + out} and {@code in + 2·out} channels,
     * per downsampler its input and padded copy, the attention's normalised copy, q, kᵀ, v, output and score block,
     * the conv_out / quant_conv pair.
     */
    static long peakFloats(VaeConfig.Spatial cfg, long n, int h, int w) {
        int prev = cfg.downChannels(0);
        long hw = (long) h * w;
        long peak = n * prev * hw;
        long cols = im2col(cfg.outChannels(), hw);
        for (int i = 0; i < cfg.blocks(); i++) {
            int ch = cfg.downChannels(i);
            for (int j = 0; j < cfg.layersPerBlock(); j++) {
                peak = Math.max(peak, n * hw * Math.max(2L * prev + ch, prev + 2L * ch));
                cols = Math.max(cols, im2col(Math.max(prev, ch), hw));
                prev = ch;
            }
            if (i < cfg.blocks() - 1) {
                peak = Math.max(peak, n * ch * (hw + (h + 1L) * (w + 1L)));   // x and its padded copy
                h = Conv.outputSize(h + 1, 3, 2, 0);
                w = Conv.outputSize(w + 1, 3, 2, 0);
                hw = (long) h * w;
                cols = Math.max(cols, im2col(ch, hw));
            }
        }
        peak = Math.max(peak, n * hw * 3L * prev);
        cols = Math.max(cols, im2col(prev, hw));
        if (cfg.midAttention()) {
            int s = Math.toIntExact(hw);
            peak = Math.max(peak, 2 * n * prev * hw + 4L * prev * hw + (long) attentionRows(s) * s);
        }
        long moments = 2L * cfg.latentChannels();
        peak = Math.max(peak, n * hw * Math.max(prev + moments, 2 * moments));
        return peak + cols;
    }

    /** Column matrix floats of a 3×3 im2col convolution over {@code in} channels with {@code outputs} positions. */
    private static long im2col(long in, long outputs) {
        return Math.min(9 * in * outputs, 16L << 20);
    }
}
