package io.github.jsora.vae;

import io.github.jsora.weights.BlockLayout;

/**
 * The tensors of a {@code VideoAutoencoderPipeline} checkpoint, grouped into blocks in the order the VAE uses them,
 * with the exact {@code state_dict} names of the real file ({@code scale}, {@code shift}, {@code temporal_vae.*},
 * {@code spatial_vae.module.*}), as two layouts: the decode path ({@link #of}; the encoder tensors, listed by
 * {@link #IGNORED_PREFIXES}, are not part of it) and the encode path ({@link #encoder}: {@code scale}/{@code shift},
 * the spatial encoder with its quant_conv, the temporal encoder with its quant_conv).
 *
 * <p>Access pattern: {@link #LATENT_NORM} once per decode or encode; the temporal blocks once per chunk (of latent
 * frames when decoding, of frames when encoding), in order; the spatial blocks once per spatial micro-batch of
 * frames, in order.
 */
public final class VaeLayout {

    /** Block holding {@code scale} and {@code shift} [1, C, 1, 1, 1]. */
    public static final String LATENT_NORM = "latent_norm";

    static final String T = "temporal_vae.";
    static final String TD = "temporal_vae.decoder.";
    static final String S = "spatial_vae.module.";
    static final String SD = "spatial_vae.module.decoder.";

    static final String TE = "temporal_vae.encoder.";
    static final String SE = "spatial_vae.module.encoder.";

    /** Tensors of the real file that decoding does not use (encoders and quant_convs). */
    public static final String[] IGNORED_PREFIXES = {TE, "temporal_vae.quant_conv.", SE,
        "spatial_vae.module.quant_conv."};

    /** Tensors of the real file that encoding does not use (decoders and post_quant_convs). */
    public static final String[] DECODER_PREFIXES = {TD, "temporal_vae.post_quant_conv.", SD,
        "spatial_vae.module.post_quant_conv."};

    private VaeLayout() {
    }

    /** The layout for a configuration. */
    public static BlockLayout of(VaeConfig cfg) {
        BlockLayout.Builder b = BlockLayout.builder();
        int c = cfg.latentChannels();
        b.block(LATENT_NORM).tensor("scale", 1, c, 1, 1, 1).tensor("shift", 1, c, 1, 1, 1);
        temporal(b, cfg.temporal());
        spatial(b, cfg.spatial());
        return b.build();
    }

    /**
     * The encode-path layout for a configuration: {@link #LATENT_NORM}, the diffusers {@code AutoencoderKL} encoder
     * (conv_in; per entry of {@code blockOutChannels} {@code layersPerBlock} ResNets and, on all but the last, a
     * stride-2 downsampler; mid block; GroupNorm; conv_out to 2·latent channels) with its {@code quant_conv}, then
     * the temporal encoder (conv_in without bias; per level {@code numResBlocks} ResBlocks and, where
     * {@code temporalDownsample} says so, a stride-2 causal conv; the top ResBlocks; GroupNorm; 1×1×1 conv2 to
     * 2·latent_embed_dim) with its {@code quant_conv}.
     */
    public static BlockLayout encoder(VaeConfig cfg) {
        BlockLayout.Builder b = BlockLayout.builder();
        int c = cfg.latentChannels();
        b.block(LATENT_NORM).tensor("scale", 1, c, 1, 1, 1).tensor("shift", 1, c, 1, 1, 1);
        spatialEncoder(b, cfg.spatial());
        temporalEncoder(b, cfg.temporal());
        return b.build();
    }

    // ------------------------------------------------------------------ temporal

    static String temporalIn() {
        return "temporal.in";
    }

    static String temporalRes(int i) {
        return "temporal.res_blocks." + i;
    }

    static String temporalLevelRes(int level, int j) {
        return "temporal.block_res_blocks." + level + "." + j;
    }

    static String temporalUp(int k) {
        return "temporal.conv_blocks." + k;
    }

    static String temporalOut() {
        return "temporal.out";
    }

    private static void temporal(BlockLayout.Builder b, VaeConfig.Temporal t) {
        int top = t.channels(t.levels() - 1);
        b.block(temporalIn())
                .tensor(T + "post_quant_conv.conv.weight", t.latentEmbedDim(), t.embedDim(), 1, 1, 1)
                .tensor(T + "post_quant_conv.conv.bias", t.latentEmbedDim())
                .tensor(TD + "conv1.conv.weight", top, t.latentEmbedDim(), 3, 3, 3)
                .tensor(TD + "conv1.conv.bias", top);
        for (int i = 0; i < t.numResBlocks(); i++) {
            b.block(temporalRes(i));
            resBlock3d(b, TD + "res_blocks." + i + ".", top, top);
        }
        int prev = top;
        for (int level = t.levels() - 1; level >= 0; level--) {
            int ch = t.channels(level);
            for (int j = 0; j < t.numResBlocks(); j++) {
                b.block(temporalLevelRes(level, j));
                resBlock3d(b, TD + "block_res_blocks." + level + "." + j + ".", prev, ch);
                prev = ch;
            }
            if (level > 0 && t.upsamplesTime(level)) {
                b.block(temporalUp(level - 1))
                        .tensor(TD + "conv_blocks." + (level - 1) + ".conv.weight", 2 * prev, prev, 3, 3, 3)
                        .tensor(TD + "conv_blocks." + (level - 1) + ".conv.bias", 2 * prev);
            }
        }
        b.block(temporalOut())
                .tensor(TD + "norm1.weight", prev)
                .tensor(TD + "norm1.bias", prev)
                .tensor(TD + "conv_out.conv.weight", t.inOutChannels(), prev, 3, 3, 3)
                .tensor(TD + "conv_out.conv.bias", t.inOutChannels());
    }

    private static void resBlock3d(BlockLayout.Builder b, String p, int in, int out) {
        b.tensor(p + "norm1.weight", in).tensor(p + "norm1.bias", in)
                .tensor(p + "conv1.conv.weight", out, in, 3, 3, 3)
                .tensor(p + "norm2.weight", out).tensor(p + "norm2.bias", out)
                .tensor(p + "conv2.conv.weight", out, out, 3, 3, 3);
        if (in != out) {
            b.tensor(p + "conv3.conv.weight", out, in, 1, 1, 1);
        }
    }

    // ------------------------------------------------------------------ spatial

    static String spatialIn() {
        return "spatial.in";
    }

    static String spatialMidRes(int i) {
        return "spatial.mid_block.resnets." + i;
    }

    static String spatialMidAttn() {
        return "spatial.mid_block.attentions.0";
    }

    static String spatialUpRes(int block, int j) {
        return "spatial.up_blocks." + block + ".resnets." + j;
    }

    static String spatialUpsampler(int block) {
        return "spatial.up_blocks." + block + ".upsamplers.0";
    }

    static String spatialOut() {
        return "spatial.out";
    }

    private static void spatial(BlockLayout.Builder b, VaeConfig.Spatial s) {
        int lat = s.latentChannels();
        int top = s.upChannels(0);
        b.block(spatialIn())
                .tensor(S + "post_quant_conv.weight", lat, lat, 1, 1)
                .tensor(S + "post_quant_conv.bias", lat)
                .tensor(SD + "conv_in.weight", top, lat, 3, 3)
                .tensor(SD + "conv_in.bias", top);
        b.block(spatialMidRes(0));
        resnet2d(b, SD + "mid_block.resnets.0.", top, top);
        if (s.midAttention()) {
            b.block(spatialMidAttn());
            attention(b, SD + "mid_block.attentions.0.", top);
        }
        b.block(spatialMidRes(1));
        resnet2d(b, SD + "mid_block.resnets.1.", top, top);
        int prev = top;
        for (int i = 0; i < s.blocks(); i++) {
            int ch = s.upChannels(i);
            for (int j = 0; j <= s.layersPerBlock(); j++) {
                b.block(spatialUpRes(i, j));
                resnet2d(b, SD + "up_blocks." + i + ".resnets." + j + ".", prev, ch);
                prev = ch;
            }
            if (i < s.blocks() - 1) {
                String p = SD + "up_blocks." + i + ".upsamplers.0.conv.";
                b.block(spatialUpsampler(i)).tensor(p + "weight", ch, ch, 3, 3).tensor(p + "bias", ch);
            }
        }
        b.block(spatialOut())
                .tensor(SD + "conv_norm_out.weight", prev)
                .tensor(SD + "conv_norm_out.bias", prev)
                .tensor(SD + "conv_out.weight", s.outChannels(), prev, 3, 3)
                .tensor(SD + "conv_out.bias", s.outChannels());
    }

    // ------------------------------------------------------------------ encoders

    static String spatialEncIn() {
        return "spatial_encoder.in";
    }

    static String spatialEncRes(int block, int j) {
        return "spatial_encoder.down_blocks." + block + ".resnets." + j;
    }

    static String spatialEncDownsampler(int block) {
        return "spatial_encoder.down_blocks." + block + ".downsamplers.0";
    }

    static String spatialEncMidRes(int i) {
        return "spatial_encoder.mid_block.resnets." + i;
    }

    static String spatialEncMidAttn() {
        return "spatial_encoder.mid_block.attentions.0";
    }

    static String spatialEncOut() {
        return "spatial_encoder.out";
    }

    static String temporalEncIn() {
        return "temporal_encoder.in";
    }

    static String temporalEncLevelRes(int level, int j) {
        return "temporal_encoder.block_res_blocks." + level + "." + j;
    }

    static String temporalEncDown(int level) {
        return "temporal_encoder.conv_blocks." + level;
    }

    static String temporalEncRes(int j) {
        return "temporal_encoder.res_blocks." + j;
    }

    static String temporalEncOut() {
        return "temporal_encoder.out";
    }

    private static void spatialEncoder(BlockLayout.Builder b, VaeConfig.Spatial s) {
        int first = s.downChannels(0);
        b.block(spatialEncIn())
                .tensor(SE + "conv_in.weight", first, s.outChannels(), 3, 3)
                .tensor(SE + "conv_in.bias", first);
        int prev = first;
        for (int i = 0; i < s.blocks(); i++) {
            int ch = s.downChannels(i);
            for (int j = 0; j < s.layersPerBlock(); j++) {
                b.block(spatialEncRes(i, j));
                resnet2d(b, SE + "down_blocks." + i + ".resnets." + j + ".", prev, ch);
                prev = ch;
            }
            if (i < s.blocks() - 1) {
                String p = SE + "down_blocks." + i + ".downsamplers.0.conv.";
                b.block(spatialEncDownsampler(i)).tensor(p + "weight", ch, ch, 3, 3).tensor(p + "bias", ch);
            }
        }
        b.block(spatialEncMidRes(0));
        resnet2d(b, SE + "mid_block.resnets.0.", prev, prev);
        if (s.midAttention()) {
            b.block(spatialEncMidAttn());
            attention(b, SE + "mid_block.attentions.0.", prev);
        }
        b.block(spatialEncMidRes(1));
        resnet2d(b, SE + "mid_block.resnets.1.", prev, prev);
        int moments = 2 * s.latentChannels();
        b.block(spatialEncOut())
                .tensor(SE + "conv_norm_out.weight", prev)
                .tensor(SE + "conv_norm_out.bias", prev)
                .tensor(SE + "conv_out.weight", moments, prev, 3, 3)
                .tensor(SE + "conv_out.bias", moments)
                .tensor(S + "quant_conv.weight", moments, moments, 1, 1)
                .tensor(S + "quant_conv.bias", moments);
    }

    private static void temporalEncoder(BlockLayout.Builder b, VaeConfig.Temporal t) {
        b.block(temporalEncIn()).tensor(TE + "conv_in.conv.weight", t.filters(), t.inOutChannels(), 3, 3, 3);
        int prev = t.filters();
        for (int level = 0; level < t.levels(); level++) {
            int ch = t.channels(level);
            for (int j = 0; j < t.numResBlocks(); j++) {
                b.block(temporalEncLevelRes(level, j));
                resBlock3d(b, TE + "block_res_blocks." + level + "." + j + ".", prev, ch);
                prev = ch;
            }
            if (t.downsamplesTime(level)) {
                String p = TE + "conv_blocks." + level + ".conv.";
                b.block(temporalEncDown(level)).tensor(p + "weight", prev, prev, 3, 3, 3).tensor(p + "bias", prev);
            }
        }
        for (int j = 0; j < t.numResBlocks(); j++) {
            b.block(temporalEncRes(j));
            resBlock3d(b, TE + "res_blocks." + j + ".", prev, prev);
        }
        int moments = 2 * t.latentEmbedDim();
        b.block(temporalEncOut())
                .tensor(TE + "norm1.weight", prev)
                .tensor(TE + "norm1.bias", prev)
                .tensor(TE + "conv2.conv.weight", moments, prev, 1, 1, 1)
                .tensor(TE + "conv2.conv.bias", moments)
                .tensor(T + "quant_conv.conv.weight", 2 * t.embedDim(), moments, 1, 1, 1)
                .tensor(T + "quant_conv.conv.bias", 2 * t.embedDim());
    }

    // ------------------------------------------------------------------ shared pieces

    private static void attention(BlockLayout.Builder b, String p, int ch) {
        b.tensor(p + "group_norm.weight", ch).tensor(p + "group_norm.bias", ch);
        for (String lin : new String[] {"to_q", "to_k", "to_v", "to_out.0"}) {
            b.tensor(p + lin + ".weight", ch, ch).tensor(p + lin + ".bias", ch);
        }
    }

    private static void resnet2d(BlockLayout.Builder b, String p, int in, int out) {
        b.tensor(p + "norm1.weight", in).tensor(p + "norm1.bias", in)
                .tensor(p + "conv1.weight", out, in, 3, 3).tensor(p + "conv1.bias", out)
                .tensor(p + "norm2.weight", out).tensor(p + "norm2.bias", out)
                .tensor(p + "conv2.weight", out, out, 3, 3).tensor(p + "conv2.bias", out);
        if (in != out) {
            b.tensor(p + "conv_shortcut.weight", out, in, 1, 1).tensor(p + "conv_shortcut.bias", out);
        }
    }
}
