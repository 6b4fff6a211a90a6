package io.github.jsora.vae;

import io.github.jsora.tensor.Conv;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockSource;

/**
 * Open-Sora's {@code VAE_Temporal.encode} for one chunk of one sample: zero frames in front up to a multiple of the
 * time downsampling ({@link #timePadding}), conv_in (causal, no bias), per level its ResBlocks and, where
 * {@code temporal_downsample} says so, a causal 3×3×3 conv with time stride 2 (1 zero frame in front; T → ⌊T/2⌋),
 * the top ResBlocks, GroupNorm, SiLU, the 1×1×1 conv2 and quant_conv. The result is the posterior's moments: mean
 * channels first, then the (unclamped) log-variance. Chunks are independent (no causal context across them).
 * Not thread-safe.
 */
final class TemporalEncoder extends TemporalNet {

    TemporalEncoder(VaeConfig.Temporal cfg, BlockSource weights, ActivationMeter meter) {
        super(cfg, weights, meter);
    }

    /** Latent frames of a chunk of {@code numFrames} frames: ⌈n / timeDownsample⌉. */
    int latentFrames(int numFrames) {
        return VaeConfig.ceilDiv(numFrames, cfg.timeDownsample());
    }

    /**
     * Encodes frames [f0, f0 + numFrames) of one sample's spatial latent.
     *
     * @param xz [inOutChannels, F, h, w] (the spatial latent, ×0.18215); not modified, not freed
     * @return moments [1, 2·embedDim, ⌈numFrames / timeDownsample⌉, h, w], allocated through the meter
     */
    Tensor encode(Tensor xz, int f0, int numFrames) {
        int c = xz.dim(0);
        int frames = xz.dim(1);
        int h = xz.dim(2);
        int w = xz.dim(3);
        long plane = (long) h * w;
        // [1, C, front + numFrames, h, w]: the chunk's zero padding and conv_in's causal padding, then the frames
        int front = timePadding(numFrames) + TIME_PAD;
        Tensor x;
        Tensor in = meter.alloc(1, c, front + numFrames, h, w);
        try {
            for (int ch = 0; ch < c; ch++) {
                VaeKernels.copy(xz, ((long) ch * frames + f0) * plane, in,
                        ((long) ch * (front + numFrames) + front) * plane, numFrames * plane);
            }
            Block b = weights.acquire(VaeLayout.temporalEncIn());
            try {
                Tensor wIn = b.get(VaeLayout.TE + "conv_in.conv.weight");
                x = meter.alloc(1, wIn.dim(0), front + numFrames - TIME_PAD, h, w);
                Conv.conv3d(in, wIn, null, STRIDE1, PAD_HW, x);
            } finally {
                weights.release(b);
            }
        } finally {
            meter.free(in);
        }
        for (int level = 0; level < cfg.levels(); level++) {
            for (int j = 0; j < cfg.numResBlocks(); j++) {
                x = resBlock(x, VaeLayout.temporalEncLevelRes(level, j),
                        VaeLayout.TE + "block_res_blocks." + level + "." + j + ".");
            }
            if (cfg.downsamplesTime(level)) {
                x = downsampleTime(x, level);
            }
        }
        for (int j = 0; j < cfg.numResBlocks(); j++) {
            x = resBlock(x, VaeLayout.temporalEncRes(j), VaeLayout.TE + "res_blocks." + j + ".");
        }
        Block ob = weights.acquire(VaeLayout.temporalEncOut());
        try {
            Tensor a = normSilu(x, ob.get(VaeLayout.TE + "norm1.weight"), ob.get(VaeLayout.TE + "norm1.bias"), 0);
            meter.free(x);
            Tensor w2 = ob.get(VaeLayout.TE + "conv2.conv.weight");
            Tensor e = meter.alloc(1, w2.dim(0), a.dim(2), h, w);               // [1, 2·latentEmbed, tz, h, w]
            Conv.conv3d(a, w2, ob.get(VaeLayout.TE + "conv2.conv.bias"), STRIDE1, new int[3], e);
            meter.free(a);
            Tensor wq = ob.get(VaeLayout.T + "quant_conv.conv.weight");
            Tensor m = meter.alloc(1, wq.dim(0), e.dim(2), h, w);               // [1, 2·embed, tz, h, w]
            Conv.conv3d(e, wq, ob.get(VaeLayout.T + "quant_conv.conv.bias"), STRIDE1, new int[3], m);
            meter.free(e);
            return m;
        } finally {
            weights.release(ob);
        }
    }

    /** conv_blocks[level]: causal 3×3×3 conv with time stride 2 (bias). Frees x. */
    private Tensor downsampleTime(Tensor x, int level) {
        Block b = weights.acquire(VaeLayout.temporalEncDown(level));
        try {
            String p = VaeLayout.TE + "conv_blocks." + level + ".conv.";
            Tensor y = causalConv(x, b.get(p + "weight"), b.get(p + "bias"), 2);
            meter.free(x);
            return y;
        } finally {
            weights.release(b);
        }
    }

    /**
     * Most floats {@link #encode} holds at once besides its input for a chunk of {@code numFrames} frames of h×w
     * (the column matrix of an im2col convolution included): the padded input and conv_in's output, per ResBlock
     * its input, output and the time-padded normalised copy, per time downsampling its input, padded copy and
     * output, the final norm / conv2 / quant_conv pairs.
     */
    static long peakFloats(VaeConfig.Temporal cfg, int numFrames, int h, int w) {
        long plane = (long) h * w;
        int ts = cfg.timeDownsample();
        long t = (long) VaeConfig.ceilDiv(numFrames, ts) * ts;
        int prev = cfg.filters();
        long peak = (cfg.inOutChannels() * (t + TIME_PAD) + prev * t) * plane;
        long cols = im2col(cfg.inOutChannels(), t * plane);
        for (int level = 0; level <= cfg.levels(); level++) {
            boolean top = level == cfg.levels();
            int ch = top ? prev : cfg.channels(level);
            for (int j = 0; j < cfg.numResBlocks(); j++) {
                peak = Math.max(peak, plane * Math.max(prev * (2 * t + TIME_PAD) + ch * t,
                        prev * t + ch * (2 * t + TIME_PAD)));
                cols = Math.max(cols, im2col(Math.max(prev, ch), t * plane));
                prev = ch;
            }
            if (!top && cfg.downsamplesTime(level)) {
                long t2 = Conv.outputSize((int) t + 1, 3, 2, 0);
                peak = Math.max(peak, plane * prev * (t + (t + 1) + t2));
                t = t2;
                cols = Math.max(cols, im2col(prev, t * plane));
            }
        }
        long e = 2L * cfg.latentEmbedDim();
        long m = 2L * cfg.embedDim();
        peak = Math.max(peak, plane * t * Math.max(2L * prev, Math.max(prev + e, e + m)));
        return peak + cols;
    }

    /** Column matrix floats of a 3×3×3 im2col convolution over {@code in} channels with {@code outputs} positions. */
    private static long im2col(long in, long outputs) {
        return Math.min(27 * in * outputs, 16L << 20);
    }
}
