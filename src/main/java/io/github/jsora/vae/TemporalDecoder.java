package io.github.jsora.vae;

import io.github.jsora.tensor.Conv;
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
final class TemporalDecoder extends TemporalNet {

    TemporalDecoder(VaeConfig.Temporal cfg, BlockSource weights, ActivationMeter meter) {
        super(cfg, weights, meter);
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
            x = causalConv(pq, in.get(VaeLayout.TD + "conv1.conv.weight"), in.get(VaeLayout.TD + "conv1.conv.bias"),
                    1);
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

    /** conv_blocks[k]: causal conv C → 2C, then depth-to-time [2C, T] → [C, 2T]. Frees x. */
    private Tensor upsampleTime(Tensor x, int k) {
        Block b = weights.acquire(VaeLayout.temporalUp(k));
        Tensor y;
        try {
            String p = VaeLayout.TD + "conv_blocks." + k + ".conv.";
            y = causalConv(x, b.get(p + "weight"), b.get(p + "bias"), 1);
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
