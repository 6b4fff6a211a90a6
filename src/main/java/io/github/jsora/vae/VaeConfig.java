package io.github.jsora.vae;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.ModelConfig;
import io.github.jsora.weights.WeightFormatException;

/**
 * Configuration of the Open-Sora v1.2 video VAE ({@code VideoAutoencoderPipeline}): an SD-XL style image
 * autoencoder applied per frame ({@link Spatial}) behind a causal temporal autoencoder ({@link Temporal}) that maps
 * every {@link #microFrameSize()} frames to {@link #latentFramesPerChunk()} latent frames.
 *
 * <p>Read from the pipeline's {@code config.json} ({@link #read}, {@link #parse}) in any of the layouts in use:
 * the published {@code hpcai-tech/OpenSora-VAE-v1.2} file (spatial VAE named by {@code vae_2d.from_pretrained},
 * temporal VAE by {@code vae_temporal.type = "VAE_Temporal_SD"}: the architectures are the presets
 * {@link Spatial#sdxl()} and {@link Temporal#sd()}), a pipeline config with the diffusers {@code AutoencoderKL}
 * config inlined under {@code vae_2d.autoencoder_kl}, or the compact {@code {"sd": {...}, "temporal": {...}}} form
 * stored in test checkpoints' metadata. The {@code scale}/{@code shift} of the config are informative only: the
 * {@code scale}/{@code shift} tensors of the weights file are what decoding uses.
 *
 * @param spatial        the per-frame image decoder
 * @param temporal       the temporal decoder
 * @param microFrameSize pixel frames per temporal chunk (17)
 * @param microBatchSize frames per spatial micro-batch in the reference (4; no numeric effect)
 * @param scale          per-latent-channel scale from the config, or null when the config has none
 * @param shift          per-latent-channel shift from the config, or null
 */
public record VaeConfig(Spatial spatial, Temporal temporal, int microFrameSize, int microBatchSize, double[] scale,
        double[] shift) {

    private static final Logger LOG = LoggerFactory.getLogger(VaeConfig.class);

    /** Divisor applied to the temporal decoder's output before the spatial decoder (hard-coded in Open-Sora). */
    public static final double SPATIAL_LATENT_SCALE = 0.18215;

    /** Open-Sora v1.2's published scale constants (informative; the weights file carries the used ones). */
    private static final double[] V12_SCALE = {3.85, 2.32, 2.33, 3.06};
    private static final double[] V12_SHIFT = {-0.10, 0.34, 0.27, 0.98};

    public VaeConfig {
        if (spatial == null || temporal == null) {
            throw new IllegalArgumentException("VAE config needs a spatial and a temporal part");
        }
        if (microFrameSize < 1) {
            throw new IllegalArgumentException("micro_frame_size must be >= 1, found " + microFrameSize);
        }
        if (microBatchSize < 1) {
            throw new IllegalArgumentException("micro_batch_size must be >= 1, found " + microBatchSize);
        }
        if (temporal.inOutChannels() != spatial.latentChannels()) {
            throw new IllegalArgumentException("temporal VAE in_out_channels " + temporal.inOutChannels()
                    + " differs from the spatial VAE's latent_channels " + spatial.latentChannels());
        }
        scale = checkPerChannel("scale", scale, temporal.embedDim());
        shift = checkPerChannel("shift", shift, temporal.embedDim());
    }

    private static double[] checkPerChannel(String what, double[] v, int channels) {
        if (v == null) {
            return null;
        }
        if (v.length != channels) {
            throw new IllegalArgumentException(what + " has " + v.length + " entries, the latent has " + channels
                    + " channels");
        }
        return v.clone();
    }

    @Override
    public double[] scale() {
        return scale == null ? null : scale.clone();
    }

    @Override
    public double[] shift() {
        return shift == null ? null : shift.clone();
    }

    /** The published {@code hpcai-tech/OpenSora-VAE-v1.2}: SD-XL spatial VAE, {@code VAE_Temporal_SD}, 17 frames per chunk. */
    public static VaeConfig openSoraV12() {
        return new VaeConfig(Spatial.sdxl(), Temporal.sd(), 17, 4, V12_SCALE, V12_SHIFT);
    }

    // ------------------------------------------------------------------ derived sizes

    /** Channels of the latent the DiT produces (the temporal VAE's embed_dim, 4). */
    public int latentChannels() {
        return temporal.embedDim();
    }

    /** Latent frames per full chunk: ⌈microFrameSize / timeDownsample⌉ (5 for 17 frames). */
    public int latentFramesPerChunk() {
        return ceilDiv(microFrameSize, temporal.timeDownsample());
    }

    /**
     * Latent frames for {@code numFrames} pixel frames: full chunks of {@link #microFrameSize()} frames give
     * {@link #latentFramesPerChunk()} each, a remainder r gives ⌈r / timeDownsample⌉ (17 → 5, 34 → 10, 51 → 15,
     * 40 → 12).
     */
    public int latentFrames(int numFrames) {
        if (numFrames < 1) {
            throw new IllegalArgumentException("number of frames must be >= 1, found " + numFrames);
        }
        int full = numFrames / microFrameSize;
        int rest = numFrames % microFrameSize;
        return full * latentFramesPerChunk() + ceilDiv(rest, temporal.timeDownsample());
    }

    /** Pixels per latent pixel along H and W (8 for the SD-XL VAE). */
    public int spatialFactor() {
        return spatial.upsampleFactor();
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    @Override
    public String toString() {
        return "VaeConfig[" + spatial + ", " + temporal + ", microFrameSize=" + microFrameSize + ", microBatchSize="
                + microBatchSize + ", scale=" + Arrays.toString(scale) + ", shift=" + Arrays.toString(shift) + "]";
    }

    // ------------------------------------------------------------------ parts

    /**
     * The diffusers {@code AutoencoderKL} (SD-XL VAE layout). Decoder: post_quant_conv, conv_in, mid block (ResNet,
     * optional single-head attention, ResNet), one up block per entry of {@code blockOutChannels} (reversed) with
     * {@code layersPerBlock + 1} ResNets and a nearest-2× upsampler on all but the last, GroupNorm, SiLU, conv_out.
     * Encoder: conv_in, one down block per entry of {@code blockOutChannels} with {@code layersPerBlock} ResNets and
     * a stride-2 downsampler on all but the last, the same mid block, GroupNorm, SiLU, conv_out to mean and
     * log-variance, quant_conv. The encoder's input has {@code outChannels} channels (in_channels must equal it).
     *
     * @param latentChannels   4
     * @param outChannels      3 (RGB)
     * @param blockOutChannels e.g. [128, 256, 512, 512]
     * @param layersPerBlock   2 for SD-XL (each up block has one more ResNet)
     * @param normGroups       GroupNorm groups (32)
     * @param midAttention     whether the mid block has its attention layer
     */
    public record Spatial(int latentChannels, int outChannels, int[] blockOutChannels, int layersPerBlock,
            int normGroups, boolean midAttention) {

        /** GroupNorm epsilon of the diffusers VAE. */
        public static final float NORM_EPS = 1e-6f;

        public Spatial {
            if (latentChannels < 1 || outChannels < 1 || layersPerBlock < 0 || normGroups < 1) {
                throw new IllegalArgumentException("spatial VAE: latent_channels, out_channels and norm_num_groups "
                        + "must be >= 1 and layers_per_block >= 0, found " + latentChannels + ", " + outChannels
                        + ", " + normGroups + ", " + layersPerBlock);
            }
            if (blockOutChannels == null || blockOutChannels.length == 0) {
                throw new IllegalArgumentException("spatial VAE: block_out_channels is empty");
            }
            blockOutChannels = blockOutChannels.clone();
            for (int c : blockOutChannels) {
                if (c < 1 || c % normGroups != 0) {
                    throw new IllegalArgumentException("spatial VAE: block_out_channels "
                            + Arrays.toString(blockOutChannels) + " must be positive multiples of norm_num_groups "
                            + normGroups);
                }
            }
        }

        @Override
        public int[] blockOutChannels() {
            return blockOutChannels.clone();
        }

        /** The SD-XL VAE ({@code PixArt-alpha/pixart_sigma_sdxlvae_T5_diffusers}, subfolder vae). */
        public static Spatial sdxl() {
            return new Spatial(4, 3, new int[] {128, 256, 512, 512}, 2, 32, true);
        }

        /** Number of up blocks. */
        public int blocks() {
            return blockOutChannels.length;
        }

        /** Channel count of up block {@code i} (i = 0 is the first up block, i.e. the widest). */
        public int upChannels(int i) {
            return blockOutChannels[blockOutChannels.length - 1 - i];
        }

        /** Channel count of encoder down block {@code i} (i = 0 is the first, i.e. the narrowest). */
        public int downChannels(int i) {
            return blockOutChannels[i];
        }

        /** 2^(blocks − 1). */
        public int upsampleFactor() {
            return 1 << (blockOutChannels.length - 1);
        }

        @Override
        public String toString() {
            return "Spatial[latent=" + latentChannels + ", out=" + outChannels + ", blockOutChannels="
                    + Arrays.toString(blockOutChannels) + ", layersPerBlock=" + layersPerBlock + ", groups="
                    + normGroups + ", midAttention=" + midAttention + "]";
        }
    }

    /**
     * Open-Sora's {@code VAE_Temporal} decoder: causal 3-D convolutions, ResBlocks, depth-to-time upsampling.
     *
     * @param inOutChannels      channels of the frames it produces (the spatial latent, 4)
     * @param latentEmbedDim     channels after post_quant_conv (4)
     * @param embedDim           channels of the latent it decodes (4)
     * @param filters            base width (128)
     * @param numResBlocks       ResBlocks per level (4)
     * @param channelMultipliers width multipliers per level, e.g. [1, 2, 2, 4]
     * @param temporalDownsample per level transition (length = levels − 1), e.g. [false, true, true]
     * @param numGroups          GroupNorm groups (32)
     */
    public record Temporal(int inOutChannels, int latentEmbedDim, int embedDim, int filters, int numResBlocks,
            int[] channelMultipliers, boolean[] temporalDownsample, int numGroups) {

        /** GroupNorm epsilon of the temporal VAE (PyTorch's default). */
        public static final float NORM_EPS = 1e-5f;

        public Temporal {
            if (inOutChannels < 1 || latentEmbedDim < 1 || embedDim < 1 || filters < 1 || numResBlocks < 1
                    || numResBlocks > 64 || numGroups < 1) { // (bounded: a huge count must fail fast, not build)
                throw new IllegalArgumentException("temporal VAE: in_out_channels, latent_embed_dim, embed_dim, "
                        + "filters, num_res_blocks (at most 64) and num_groups must be >= 1, found " + inOutChannels + ", "
                        + latentEmbedDim + ", " + embedDim + ", " + filters + ", " + numResBlocks + ", " + numGroups);
            }
            if (channelMultipliers == null || channelMultipliers.length == 0) {
                throw new IllegalArgumentException("temporal VAE: channel_multipliers is empty");
            }
            if (temporalDownsample == null || temporalDownsample.length != channelMultipliers.length - 1) {
                throw new IllegalArgumentException("temporal VAE: temporal_downsample needs "
                        + (channelMultipliers.length - 1) + " entries (one per level transition), found "
                        + (temporalDownsample == null ? "none" : Arrays.toString(temporalDownsample)));
            }
            channelMultipliers = channelMultipliers.clone();
            temporalDownsample = temporalDownsample.clone();
            for (int m : channelMultipliers) {
                if (m < 1 || (filters * m) % numGroups != 0) {
                    throw new IllegalArgumentException("temporal VAE: filters " + filters + " × multipliers "
                            + Arrays.toString(channelMultipliers) + " must be positive multiples of num_groups "
                            + numGroups);
                }
            }
        }

        @Override
        public int[] channelMultipliers() {
            return channelMultipliers.clone();
        }

        @Override
        public boolean[] temporalDownsample() {
            return temporalDownsample.clone();
        }

        /** Open-Sora's {@code VAE_Temporal_SD}: filters 128, 4 ResBlocks, multipliers (1, 2, 2, 4), (F, T, T), 32 groups. */
        public static Temporal sd() {
            return new Temporal(4, 4, 4, 128, 4, new int[] {1, 2, 2, 4}, new boolean[] {false, true, true}, 32);
        }

        /** Levels (length of channel_multipliers). */
        public int levels() {
            return channelMultipliers.length;
        }

        /** Channels of level {@code i}: filters · multiplier[i]. */
        public int channels(int level) {
            return filters * channelMultipliers[level];
        }

        /** Whether the transition into level {@code level − 1} doubles time (temporal_downsample[level − 1]). */
        public boolean upsamplesTime(int level) {
            return temporalDownsample[level - 1];
        }

        /** Whether the encoder halves time after level {@code level} (temporal_downsample[level]; never after the last). */
        public boolean downsamplesTime(int level) {
            return level < temporalDownsample.length && temporalDownsample[level];
        }

        /** 2^(number of true entries of temporal_downsample): 4 for v1.2. */
        public int timeDownsample() {
            int f = 1;
            for (boolean b : temporalDownsample) {
                if (b) {
                    f *= 2;
                }
            }
            return f;
        }

        @Override
        public String toString() {
            return "Temporal[inOut=" + inOutChannels + ", latentEmbed=" + latentEmbedDim + ", embed=" + embedDim
                    + ", filters=" + filters + ", resBlocks=" + numResBlocks + ", multipliers="
                    + Arrays.toString(channelMultipliers) + ", temporalDownsample="
                    + Arrays.toString(temporalDownsample) + ", groups=" + numGroups + "]";
        }
    }

    // ------------------------------------------------------------------ reading

    /** Reads a {@code config.json}. */
    public static VaeConfig read(Path configJson) {
        return parse(ModelConfig.read(configJson));
    }

    /**
     * The config of a checkpoint: its {@code __metadata__} "config" JSON when present, else the {@code config.json}
     * beside the file (or in the directory).
     */
    public static VaeConfig of(Checkpoint ckpt) {
        String json = ckpt.metadata().get("config");
        if (json != null) {
            return parse(ModelConfig.parse(ckpt.source() + "#__metadata__.config", json));
        }
        Path src = ckpt.source();
        Path dir = java.nio.file.Files.isDirectory(src) ? src : src.toAbsolutePath().getParent();
        Path cfg = dir.resolve("config.json");
        if (!java.nio.file.Files.isRegularFile(cfg)) {
            throw new WeightFormatException(src, "no \"config\" in the metadata and no config.json beside it");
        }
        return read(cfg);
    }

    /** Builds the config from parsed JSON in any supported layout (see the class comment). */
    public static VaeConfig parse(ModelConfig c) {
        Spatial spatial;
        Temporal temporal;
        int microBatch = 4;
        if (c.has("sd") || c.has("temporal")) {
            // compact form: {"sd": <diffusers AutoencoderKL config>, "temporal": <VAE_Temporal kwargs>, ...}
            spatial = parseDiffusers(c.getObject("sd"));
            temporal = parseTemporal(c.getObject("temporal"));
            microBatch = c.getInt("micro_batch_size", 4);
        } else if (c.has("vae_2d") && c.has("vae_temporal")) {
            ModelConfig v2 = c.getObject("vae_2d");
            String type2 = v2.getString("type", "VideoAutoencoderKL");
            if (!type2.equals("VideoAutoencoderKL")) {
                throw new WeightFormatException(c.source() + ": vae_2d.type \"" + type2
                        + "\" is not supported (only VideoAutoencoderKL)");
            }
            if (v2.has("autoencoder_kl")) {
                spatial = parseDiffusers(v2.getObject("autoencoder_kl"));
            } else {
                String from = v2.getString("from_pretrained", "");
                if (!from.toLowerCase(Locale.ROOT).contains("sdxl")) {
                    LOG.warn("{}: vae_2d.from_pretrained \"{}\" carries no inline config; assuming the SD-XL VAE "
                            + "architecture (the weights are checked against it)", c.source(), from);
                }
                spatial = Spatial.sdxl();
            }
            microBatch = v2.getInt("micro_batch_size", 4);
            temporal = parseTemporal(c.getObject("vae_temporal"));
        } else {
            throw new WeightFormatException(c.source() + ": not a VideoAutoencoderPipeline config (needs "
                    + "\"vae_2d\" and \"vae_temporal\", or \"sd\" and \"temporal\")");
        }
        if (c.values().containsKey("micro_frame_size") && !c.has("micro_frame_size")) {
            throw new WeightFormatException(c.source() + ": micro_frame_size null (decoding the whole video in one "
                    + "temporal pass) is not supported; set it to 17");
        }
        int micro = c.getInt("micro_frame_size", 17);
        double[] scale = c.has("scale") ? c.getDoubleArray("scale") : null;
        double[] shift = c.has("shift") ? c.getDoubleArray("shift") : null;
        try {
            return new VaeConfig(spatial, temporal, micro, microBatch, scale, shift);
        } catch (IllegalArgumentException e) {
            throw new WeightFormatException(c.source() + ": " + e.getMessage(), e);
        }
    }

    private static Spatial parseDiffusers(ModelConfig sd) {
        String act = sd.getString("act_fn", "silu");
        if (!act.equals("silu")) {
            throw new WeightFormatException(sd.source() + ": act_fn \"" + act + "\" is not supported (only silu)");
        }
        if (sd.has("up_block_types")) {
            Object v = sd.values().get("up_block_types");
            if (v instanceof List<?> l) {
                for (Object t : l) {
                    if (!"UpDecoderBlock2D".equals(t)) {
                        throw new WeightFormatException(sd.source() + ": up block type " + t
                                + " is not supported (only UpDecoderBlock2D)");
                    }
                }
            }
        }
        String normType = sd.getString("norm_type", "group");
        if (!normType.equals("group")) {
            throw new WeightFormatException(sd.source() + ": norm_type \"" + normType + "\" is not supported");
        }
        if (!sd.getBoolean("use_post_quant_conv", true)) {
            throw new WeightFormatException(sd.source() + ": use_post_quant_conv=false is not supported");
        }
        if (sd.getInt("in_channels", 3) != sd.getInt("out_channels", 3)) {
            throw new WeightFormatException(sd.source() + ": in_channels " + sd.getInt("in_channels", 3)
                    + " differs from out_channels " + sd.getInt("out_channels", 3) + " (not supported)");
        }
        if (sd.has("down_block_types")) {
            Object v = sd.values().get("down_block_types");
            if (v instanceof List<?> l) {
                for (Object t : l) {
                    if (!"DownEncoderBlock2D".equals(t)) {
                        throw new WeightFormatException(sd.source() + ": down block type " + t
                                + " is not supported (only DownEncoderBlock2D)");
                    }
                }
            }
        }
        if (!sd.getBoolean("use_quant_conv", true)) {
            throw new WeightFormatException(sd.source() + ": use_quant_conv=false is not supported");
        }
        int[] boc = sd.has("block_out_channels") ? sd.getIntArray("block_out_channels") : new int[] {64};
        try {
            return new Spatial(sd.getInt("latent_channels", 4), sd.getInt("out_channels", 3), boc,
                    sd.getInt("layers_per_block", 1), sd.getInt("norm_num_groups", 32),
                    sd.getBoolean("mid_block_add_attention", true));
        } catch (IllegalArgumentException e) {
            throw new WeightFormatException(sd.source() + ": " + e.getMessage(), e);
        }
    }

    private static Temporal parseTemporal(ModelConfig t) {
        String type = t.getString("type", "VAE_Temporal");
        Temporal base;
        if (type.equals("VAE_Temporal_SD")) {
            base = Temporal.sd();
        } else if (type.equals("VAE_Temporal")) {
            // VAE_Temporal's own defaults (note temporal_downsample defaults to (True, True, False) there)
            base = new Temporal(4, 4, 4, 128, 4, new int[] {1, 2, 2, 4}, new boolean[] {true, true, false}, 32);
        } else {
            throw new WeightFormatException(t.source() + ": vae_temporal type \"" + type + "\" is not supported "
                    + "(VAE_Temporal or VAE_Temporal_SD)");
        }
        String act = t.getString("activation_fn", "swish");
        if (!act.equals("swish")) {
            throw new WeightFormatException(t.source() + ": activation_fn \"" + act + "\" is not supported (swish)");
        }
        boolean[] td = base.temporalDownsample();
        if (t.has("temporal_downsample")) {
            if (!(t.values().get("temporal_downsample") instanceof List<?> l)) {
                throw new WeightFormatException(t.source() + ": temporal_downsample must be an array of booleans");
            }
            td = new boolean[l.size()];
            for (int i = 0; i < td.length; i++) {
                if (!(l.get(i) instanceof Boolean b)) {
                    throw new WeightFormatException(t.source() + ": temporal_downsample must be an array of booleans, "
                            + "found " + l);
                }
                td[i] = b;
            }
        }
        try {
            return new Temporal(t.getInt("in_out_channels", base.inOutChannels()),
                    t.getInt("latent_embed_dim", base.latentEmbedDim()), t.getInt("embed_dim", base.embedDim()),
                    t.getInt("filters", base.filters()), t.getInt("num_res_blocks", base.numResBlocks()),
                    t.has("channel_multipliers") ? t.getIntArray("channel_multipliers") : base.channelMultipliers(),
                    td, t.getInt("num_groups", base.numGroups()));
        } catch (IllegalArgumentException e) {
            throw new WeightFormatException(t.source() + ": " + e.getMessage(), e);
        }
    }
}
