package io.github.jsora.vae;

import io.github.jsora.tensor.Conv;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockSource;

/**
 * Open-Sora's {@code VAE_Temporal} decode path for one chunk of one sample: post_quant_conv, conv1, the ResBlocks of
 * every level from the widest down, causal 3×3×3 convolutions that double the channels followed by depth-to-time
 * (T → 2T), GroupNorm, SiLU, conv_out, and the crop of the leading padding frames.
 *
 * <p>Every convolution is causal in time: the input gets 2 zero frames in front (none behind) and 1 zero row /
 * column on each side in H and W. GroupNorm uses eps 1e-5 with statistics over (C/groups, T, H, W). Weights come
 * from the {@link BlockSource} one block at a time; all activations are allocated through the
 * {@link ActivationMeter} and freed as soon as they are consumed. Not thread-safe.
 */
final class TemporalDecoder {

    private static final int[] STRIDE1 = {1, 1, 1};
    /** Time padding is done by building a front-padded input; H and W are padded by the convolution. */
    private static final int[] PAD_HW = {0, 1, 1};
    private static final int TIME_PAD = 2;

    private final VaeConfig.Temporal cfg;
    private final BlockSource weights;
    private final ActivationMeter meter;

    TemporalDecoder(VaeConfig.Temporal cfg, BlockSource weights, ActivationMeter meter) {
        this.cfg = cfg;
        this.weights = weights;
        this.meter = meter;
    }

    /** Frames dropped at the front of a chunk decoded for {@code numFrames} frames: (ts − n mod ts) mod ts. */
    int timePadding(int numFrames) {
        int ts = cfg.timeDownsample();
        return (ts - numFrames % ts) % ts;
    }

    /**
     * Decodes one chunk.
     *
     * @param z         [1, embedDim, tz, h, w] latent (already scaled and shifted); not modified, not freed
     * @param numFrames frames this chunk stands for; tz·timeDownsample − timePadding(numFrames) frames come out
     * @return [1, inOutChannels, tz·timeDownsample − timePadding(numFrames), h, w], allocated through the meter
     */
    Tensor decode(Tensor z, int numFrames) {
        int tz = z.dim(2);
        int h = z.dim(3);
        int w = z.dim(4);
        int crop = timePadding(numFrames);
        if (tz * cfg.timeDownsample() - crop != numFrames) {
            throw new IllegalArgumentException("temporal chunk of " + tz + " latent frames cannot give " + numFrames
                    + " frames");
        }
        Tensor x;
        Block in = weights.acquire(VaeLayout.temporalIn());
        try {
            Tensor pq = meter.alloc(1, cfg.latentEmbedDim(), tz, h, w);
            Conv.conv3d(z, in.get(VaeLayout.T + "post_quant_conv.conv.weight"),
                    in.get(VaeLayout.T + "post_quant_conv.conv.bias"), STRIDE1, new int[3], pq);
            x = causalConv(pq, in.get(VaeLayout.TD + "conv1.conv.weight"), in.get(VaeLayout.TD + "conv1.conv.bias"));
            meter.free(pq);
        } finally {
            weights.release(in);
        }
        for (int i = 0; i < cfg.numResBlocks(); i++) {
            x = resBlock(x, VaeLayout.temporalRes(i), VaeLayout.TD + "res_blocks." + i + ".");
        }
        for (int level = cfg.levels() - 1; level >= 0; level--) {
            for (int j = 0; j < cfg.numResBlocks(); j++) {
                x = resBlock(x, VaeLayout.temporalLevelRes(level, j),
                        VaeLayout.TD + "block_res_blocks." + level + "." + j + ".");
            }
            if (level > 0 && cfg.upsamplesTime(level)) {
                x = upsampleTime(x, level - 1);
            }
        }
        Tensor out;
        Block ob = weights.acquire(VaeLayout.temporalOut());
        try {
            Tensor padded = normSiluPadded(x, ob.get(VaeLayout.TD + "norm1.weight"),
                    ob.get(VaeLayout.TD + "norm1.bias"));
            meter.free(x);
            int t = padded.dim(2) - TIME_PAD;
            out = meter.alloc(1, cfg.inOutChannels(), t, h, w);
            Conv.conv3d(padded, ob.get(VaeLayout.TD + "conv_out.conv.weight"),
                    ob.get(VaeLayout.TD + "conv_out.conv.bias"), STRIDE1, PAD_HW, out);
            meter.free(padded);
        } finally {
            weights.release(ob);
        }
        if (crop == 0) {
            return out;
        }
        // [1, C, T, h, w] → [1, C, T − crop, h, w]: drop the first `crop` frames of every channel
        int t = out.dim(2);
        long plane = (long) h * w;
        Tensor cropped = meter.alloc(1, cfg.inOutChannels(), t - crop, h, w);
        for (int c = 0; c < cfg.inOutChannels(); c++) {
            VaeKernels.copy(out, (c * (long) t + crop) * plane, cropped, c * (long) (t - crop) * plane,
                    (t - crop) * plane);
        }
        meter.free(out);
        return cropped;
    }

    /** CausalConv3d (k = 3, stride 1): front-pad time by 2 zero frames, convolve with H/W padding 1. Keeps x. */
    private Tensor causalConv(Tensor x, Tensor weight, Tensor bias) {
        int[] s = x.shape();
        s[2] += TIME_PAD;
        Tensor padded = meter.alloc(s);
        Conv.padFront(x, TIME_PAD, padded);
        Tensor out = meter.alloc(1, weight.dim(0), x.dim(2), x.dim(3), x.dim(4));
        Conv.conv3d(padded, weight, bias, STRIDE1, PAD_HW, out);
        meter.free(padded);
        return out;
    }

    /** GroupNorm (eps 1e-5) + SiLU of x [1, C, T, h, w] into a new buffer [1, C, 2 + T, h, w] with 2 zero frames in front. */
    private Tensor normSiluPadded(Tensor x, Tensor weight, Tensor bias) {
        int c = x.dim(1);
        int t = x.dim(2);
        long plane = (long) x.dim(3) * x.dim(4);
        Tensor padded = meter.alloc(1, c, t + TIME_PAD, x.dim(3), x.dim(4));
        VaeKernels.groupNorm(x, 1, c, t * plane, cfg.numGroups(), VaeConfig.Temporal.NORM_EPS, weight.toArray(),
                bias.toArray(), true, padded, padded.size(), (t + TIME_PAD) * plane, TIME_PAD * plane);
        return padded;
    }

    /**
     * ResBlock: GN → SiLU → causal conv1 (no bias) → GN → SiLU → causal conv2 (no bias), plus x (or conv3(x),
     * 1×1×1, when the width changes). Frees x and returns the result.
     */
    private Tensor resBlock(Tensor x, String blockName, String p) {
        Block b = weights.acquire(blockName);
        try {
            Tensor w1 = b.get(p + "conv1.conv.weight");
            int out = w1.dim(0);
            int t = x.dim(2);
            int h = x.dim(3);
            int w = x.dim(4);
            Tensor padded = normSiluPadded(x, b.get(p + "norm1.weight"), b.get(p + "norm1.bias"));
            Tensor h1 = meter.alloc(1, out, t, h, w);
            Conv.conv3d(padded, w1, null, STRIDE1, PAD_HW, h1);
            meter.free(padded);
            padded = normSiluPadded(h1, b.get(p + "norm2.weight"), b.get(p + "norm2.bias"));
            meter.free(h1);
            Tensor h2 = meter.alloc(1, out, t, h, w);
            Conv.conv3d(padded, b.get(p + "conv2.conv.weight"), null, STRIDE1, PAD_HW, h2);
            meter.free(padded);
            if (x.dim(1) != out) {
                Tensor r = meter.alloc(1, out, t, h, w);
                Conv.conv3d(x, b.get(p + "conv3.conv.weight"), null, STRIDE1, new int[3], r);
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

    /** conv_blocks[k]: causal conv C → 2C, then depth-to-time [2C, T] → [C, 2T]. Frees x. */
    private Tensor upsampleTime(Tensor x, int k) {
        Block b = weights.acquire(VaeLayout.temporalUp(k));
        Tensor y;
        try {
            String p = VaeLayout.TD + "conv_blocks." + k + ".conv.";
            y = causalConv(x, b.get(p + "weight"), b.get(p + "bias"));
        } finally {
            weights.release(b);
        }
        meter.free(x);
        int c2 = y.dim(1);
        int t = y.dim(2);
        Tensor out = meter.alloc(1, c2 / 2, 2 * t, y.dim(3), y.dim(4));
        VaeKernels.depthToTime(y, c2 / 2, 2, t, (long) y.dim(3) * y.dim(4), out);
        meter.free(y);
        return out;
    }
}
