package io.github.jsora.vae;

import io.github.jsora.tensor.Conv;
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
final class SpatialDecoder extends SpatialNet {

    SpatialDecoder(VaeConfig.Spatial cfg, BlockSource weights, ActivationMeter meter) {
        super(cfg, weights, meter);
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
            x = attention(x, VaeLayout.spatialMidAttn(), VaeLayout.SD + "mid_block.attentions.0.");
        }
        x = resnet(x, VaeLayout.spatialMidRes(1), VaeLayout.SD + "mid_block.resnets.1.");
        for (int i = 0; i < cfg.blocks(); i++) {
            for (int j = 0; j <= cfg.layersPerBlock(); j++) {
                x = resnet(x, VaeLayout.spatialUpRes(i, j), VaeLayout.SD + "up_blocks." + i + ".resnets." + j + ".");
            }
            if (i < cfg.blocks() - 1) {
                x = resample(x, VaeLayout.spatialUpsampler(i),
                        VaeLayout.SD + "up_blocks." + i + ".upsamplers.0.conv.", true);   // [n, C, 2h, 2w]
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
}
