package io.github.jsora.vae;

import io.github.jsora.tensor.Conv;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockSource;

/**
 * The pieces Open-Sora's {@code VAE_Temporal} encoder and decoder share, on one chunk of one sample [1, C, T, h, w]:
 * causal 3×3×3 convolutions ({@code CausalConv3d}: {@code k − 1 + (1 − stride)} zero frames in front of time, none
 * behind, 1 zero row / column on each side of H and W), GroupNorm (eps 1e-5, statistics over (C/groups, T, H, W))
 * with SiLU, and the ResBlock. Weights come from the {@link BlockSource} one block at a time; activations are
 * allocated through the {@link ActivationMeter} and freed as soon as they are consumed. Not thread-safe.
 */
abstract class TemporalNet {

    static final int[] STRIDE1 = {1, 1, 1};
    /** Time padding is done by building a front-padded input; H and W are padded by the convolution. */
    static final int[] PAD_HW = {0, 1, 1};
    /** Front time padding of a stride-1 causal convolution with a time kernel of 3. */
    static final int TIME_PAD = 2;

    final VaeConfig.Temporal cfg;
    final BlockSource weights;
    final ActivationMeter meter;

    TemporalNet(VaeConfig.Temporal cfg, BlockSource weights, ActivationMeter meter) {
        this.cfg = cfg;
        this.weights = weights;
        this.meter = meter;
    }

    /**
     * Zero frames in front of a chunk of {@code numFrames} frames to make it a multiple of the time downsampling
     * (ts − n mod ts) mod ts: added before encoding, dropped after decoding.
     */
    final int timePadding(int numFrames) {
        int ts = cfg.timeDownsample();
        return (ts - numFrames % ts) % ts;
    }

    /**
     * CausalConv3d with a time kernel of 3 and time stride {@code timeStride} (H/W stride 1): front-pad time by
     * {@code 3 − timeStride} zero frames, convolve with H/W padding 1. Keeps x.
     */
    final Tensor causalConv(Tensor x, Tensor weight, Tensor bias, int timeStride) {
        int pad = weight.dim(2) - 1 + (1 - timeStride);
        int[] s = x.shape();
        s[2] += pad;
        Tensor padded = meter.alloc(s);
        Conv.padFront(x, pad, padded);
        int t = Conv.outputSize(s[2], weight.dim(2), timeStride, 0);
        Tensor out = meter.alloc(1, weight.dim(0), t, x.dim(3), x.dim(4));
        Conv.conv3d(padded, weight, bias, new int[] {timeStride, 1, 1}, PAD_HW, out);
        meter.free(padded);
        return out;
    }

    /**
     * GroupNorm (eps 1e-5) + SiLU of x [1, C, T, h, w] into a new buffer [1, C, front + T, h, w] behind
     * {@code front} zero frames.
     */
    final Tensor normSilu(Tensor x, Tensor weight, Tensor bias, int front) {
        int c = x.dim(1);
        int t = x.dim(2);
        long plane = (long) x.dim(3) * x.dim(4);
        Tensor padded = meter.alloc(1, c, t + front, x.dim(3), x.dim(4));
        VaeKernels.groupNorm(x, 1, c, t * plane, cfg.numGroups(), VaeConfig.Temporal.NORM_EPS, weight.toArray(),
                bias.toArray(), true, padded, padded.size(), (t + front) * plane, front * plane);
        return padded;
    }

    /** {@link #normSilu} with the 2 front zero frames a following stride-1 causal convolution needs. */
    final Tensor normSiluPadded(Tensor x, Tensor weight, Tensor bias) {
        return normSilu(x, weight, bias, TIME_PAD);
    }

    /**
     * ResBlock: GN → SiLU → causal conv1 (no bias) → GN → SiLU → causal conv2 (no bias), plus x (or conv3(x),
     * 1×1×1, when the width changes). Frees x and returns the result.
     */
    final Tensor resBlock(Tensor x, String blockName, String p) {
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
}
