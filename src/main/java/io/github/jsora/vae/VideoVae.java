package io.github.jsora.vae;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.Tap;
import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.WeightFormatException;

/**
 * The Open-Sora v1.2 video VAE ({@code VideoAutoencoderPipeline}): {@link #decode} turns latents [B, 4, T, h, w]
 * into frames [B, 3, F, 8h, 8w] in ≈[−1, 1]; {@link #encode} turns frames back into normalised latents.
 *
 * <p>Per sample, the latent is cut into chunks of {@link VaeConfig#latentFramesPerChunk()} (5) latent frames; each
 * chunk is scaled ({@code z·scale + shift} per channel, with the {@code scale}/{@code shift} tensors of the
 * weights), decoded by the temporal VAE on its own (no state between chunks) into {@code min(17, frames left)}
 * spatial-latent frames, divided by 0.18215 and decoded by the SD-XL image decoder in micro-batches of
 * {@link #frameBatch()} frames. Frames go to a {@link FrameConsumer} as soon as they exist, so the activation
 * memory ({@link #meter()}) is bounded by one temporal chunk or one micro-batch of frames, whatever the video
 * length.
 *
 * <p>Encoding mirrors {@code VideoAutoencoderPipeline.encode}: the SD-XL image encoder gives every frame a diagonal
 * Gaussian posterior, whose mean (mode path) or sample (sampled path) ×0.18215 is the spatial latent; it is cut
 * into chunks of 17 frames, each padded in front with zero frames to a multiple of 4 and encoded by the temporal
 * VAE on its own into a second posterior, whose mean or sample is normalised {@code (z − shift)/scale}. The encoder
 * weights are a separate {@link VaeLayout#encoder} layout: {@link #open} finds them in a full checkpoint and loads
 * them on the first encode (a decoder-only checkpoint decodes, and refuses to encode naming the missing tensors).
 *
 * <p>Not thread-safe: one decode or encode at a time per instance.
 */
public final class VideoVae implements AutoCloseable {

    /** Tap name: one temporal chunk's latent after {@code z·scale + shift} (decode). */
    public static final String SCALED_LATENT = "scaled_latent";
    /** Tap name: the temporal decoder's output of one chunk (decode). */
    public static final String TEMPORAL_OUTPUT = "temporal_output";
    /** Tap name: the image posterior's moments of one frame (encode). */
    public static final String SPATIAL_MOMENTS = "spatial_moments";
    /** Tap name: the spatial latent the temporal encoder receives (encode). */
    public static final String SPATIAL_LATENT = "spatial_latent";
    /** Tap name: the temporal posterior's moments of one chunk (encode). */
    public static final String TEMPORAL_MOMENTS = "temporal_moments";

    private static final Logger LOG = LoggerFactory.getLogger(VideoVae.class);

    /** The posteriors' log-variance clamp (diffusers' and Open-Sora's {@code DiagonalGaussianDistribution}). */
    private static final float LOGVAR_MIN = -30f;
    private static final float LOGVAR_MAX = 20f;

    private final VaeConfig config;
    private final BlockSource weights;
    private final boolean ownsWeights;
    private final int frameBatch;
    private final ActivationMeter meter = new ActivationMeter();
    private final TemporalDecoder temporal;
    private final SpatialDecoder spatial;

    // encoder: given by the caller, loaded from the checkpoint on first use, or impossible (encoderProblem says why)
    private BlockSource encoderWeights;
    private boolean ownsEncoder;
    private java.util.function.Supplier<BlockSource> encoderLoader;
    private String encoderProblem = "this VideoVae was built over decoder weights only (give the encoder weights "
            + "to VideoVae(config, decoderWeights, encoderWeights, frameBatch) or open a full checkpoint)";
    private SpatialEncoder spatialEncoder;
    private TemporalEncoder temporalEncoder;

    /**
     * A decoder over weights served by {@code weights}, whose layout must hold every block of
     * {@link VaeLayout#of}{@code (config)} with the same tensors. Frames are decoded one at a time.
     */
    public VideoVae(VaeConfig config, BlockSource weights) {
        this(config, weights, 1);
    }

    /**
     * @param frameBatch frames per spatial micro-batch (1 = frame by frame, the smallest memory; larger values trade
     *                   memory for fewer, larger convolution calls)
     */
    public VideoVae(VaeConfig config, BlockSource weights, int frameBatch) {
        this(config, weights, frameBatch, false);
    }

    /**
     * A VAE that decodes over {@code decoderWeights} (layout {@link VaeLayout#of}) and encodes over
     * {@code encoderWeights} (layout {@link VaeLayout#encoder}); both sources stay the caller's.
     */
    public VideoVae(VaeConfig config, BlockSource decoderWeights, BlockSource encoderWeights, int frameBatch) {
        this(config, decoderWeights, frameBatch, false);
        checkLayout(VaeLayout.encoder(config), encoderWeights.layout());
        useEncoder(encoderWeights, false);
    }

    private VideoVae(VaeConfig config, BlockSource weights, int frameBatch, boolean ownsWeights) {
        if (frameBatch < 1) {
            throw new IllegalArgumentException("frameBatch must be >= 1, found " + frameBatch);
        }
        checkLayout(VaeLayout.of(config), weights.layout());
        this.config = config;
        this.weights = weights;
        this.frameBatch = frameBatch;
        this.ownsWeights = ownsWeights;
        this.temporal = new TemporalDecoder(config.temporal(), weights, meter);
        this.spatial = new SpatialDecoder(config.spatial(), weights, meter);
    }

    /**
     * Opens a VAE from a directory with {@code config.json} and {@code model.safetensors} (the Hugging Face layout)
     * or from a {@code .safetensors} file whose metadata holds the config as "config" (else a {@code config.json}
     * beside it). All decode-path weights are loaded and kept resident; the encoder weights, when the checkpoint
     * has them, are loaded on the first {@link #encode} and kept until {@link #releaseEncoderWeights()} or
     * {@link #close()}.
     *
     * @throws WeightFormatException when the config is unusable or a weight is missing, mis-shaped or unexpected
     */
    public static VideoVae open(Path path) {
        return open(path, 1);
    }

    /** {@link #open(Path)} with a spatial micro-batch of {@code frameBatch} frames. */
    public static VideoVae open(Path path, int frameBatch) {
        try (Checkpoint ckpt = Checkpoint.open(path)) {
            VaeConfig cfg = VaeConfig.of(ckpt);
            BlockLayout layout = VaeLayout.of(cfg);
            layout.validate(ckpt, VaeLayout.IGNORED_PREFIXES);
            LOG.info("VAE {}: {} ({} MiB of decoder weights)", path, cfg, layout.float32Bytes() >> 20);
            ResidentBlockSource src = new ResidentBlockSource(ckpt, layout);
            try {
                VideoVae v = new VideoVae(cfg, src, frameBatch, true);
                v.encoderFrom(ckpt, () -> {
                    try (Checkpoint c = Checkpoint.open(path)) {
                        return loadEncoder(c, cfg);
                    }
                });
                return v;
            } catch (RuntimeException e) {
                src.close();
                throw e;
            }
        }
    }

    /**
     * Opens a VAE over a block source built for its checkpoint and decoder layout by {@code sources} (a streaming
     * store, a staged source); the checkpoint stays open until {@link #close()}, which closes the source and the
     * checkpoint. The encoder weights, when the checkpoint has them, are read from it into resident memory on the
     * first {@link #encode} (not through {@code sources}).
     *
     * @throws WeightFormatException when the config is unusable or a weight is missing, mis-shaped or unexpected
     */
    public static VideoVae open(Path path, java.util.function.BiFunction<Checkpoint, BlockLayout, ? extends BlockSource>
            sources) {
        return open(path, sources, Checkpoint::open);
    }

    /** {@link #open(Path, java.util.function.BiFunction)} reading the checkpoint through {@code weights}. */
    public static VideoVae open(Path path, java.util.function.BiFunction<Checkpoint, BlockLayout, ? extends BlockSource>
            sources, java.util.function.Function<Path, Checkpoint> weights) {
        Checkpoint ckpt = weights.apply(path);
        BlockSource src = null;
        try {
            VaeConfig cfg = VaeConfig.of(ckpt);
            BlockLayout layout = VaeLayout.of(cfg);
            layout.validate(ckpt, VaeLayout.IGNORED_PREFIXES);
            LOG.info("VAE {}: {} ({} MiB of decoder weights)", path, cfg, layout.float32Bytes() >> 20);
            src = sources.apply(ckpt, layout);
            VideoVae v = new VideoVae(cfg, src, 1, true);
            v.checkpoint = ckpt;
            v.encoderFrom(ckpt, () -> loadEncoder(ckpt, cfg));
            return v;
        } catch (RuntimeException e) {
            if (src != null) {
                src.close();
            }
            ckpt.close();
            throw e;
        }
    }

    private Checkpoint checkpoint; // closed with the VAE when it was opened over a source factory

    /** The latent shape [batch, C, T, ⌊height/f⌋, ⌊width/f⌋] this VAE decodes into {@code frames} frames of that size. */
    public int[] latentShape(int batch, int frames, int height, int width) {
        int f = config.spatialFactor();
        return new int[] {batch, config.latentChannels(), config.latentFrames(frames), Math.max(1, height / f),
            Math.max(1, width / f)};
    }

    /** The weight source. */
    public BlockSource weights() {
        return weights;
    }

    private static void checkLayout(BlockLayout expected, BlockLayout actual) {
        for (BlockLayout.BlockSpec spec : expected.blocks()) {
            BlockLayout.BlockSpec got;
            try {
                got = actual.block(spec.name());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("the weight source has no block \"" + spec.name()
                        + "\" of the VAE layout", e);
            }
            for (Map.Entry<String, int[]> t : spec.tensors().entrySet()) {
                int[] s = got.tensors().get(t.getKey());
                if (s == null || !Arrays.equals(s, t.getValue())) {
                    throw new IllegalArgumentException("weight source block \"" + spec.name() + "\": tensor \""
                            + t.getKey() + "\" expected " + Arrays.toString(t.getValue()) + ", found "
                            + (s == null ? "none" : Arrays.toString(s)));
                }
            }
        }
    }

    public VaeConfig config() {
        return config;
    }

    /** Frames per spatial micro-batch. */
    public int frameBatch() {
        return frameBatch;
    }

    /** The activation byte counter of this decoder (current and peak; weights are not counted). */
    public ActivationMeter meter() {
        return meter;
    }

    /**
     * Upper bound of the native bytes {@link #decode(Tensor, int, FrameConsumer)} allocates besides the weights for
     * a latent of {@code latentShape} [B, C, T, h, w] (one chunk is decoded at a time, so B and T matter only through
     * the chunk): per ResNet block the largest of its three live activations ({@code 2·in + out} or
     * {@code in + 2·out} channels at the block's resolution), the temporal decoder's output for a chunk, the
     * spatial micro-batch in and out, the mid-block attention, and the largest column matrix of a convolution.
     */
    public long activationBytes(int[] latentShape, int numFrames) {
        checkLatent(latentShape, numFrames);
        long h = latentShape[3];
        long w = latentShape[4];
        long nf = Math.min(config.microFrameSize(), numFrames);
        long tz = Math.min(config.latentFramesPerChunk(), latentShape[2]);
        long f = config.spatialFactor();
        long nb = frameBatch;
        long spatial = 0;
        long temporal = 0;
        long maxTemporalCh = 0;
        long maxSpatialCh = 0;
        for (BlockLayout.BlockSpec b : weights.layout().blocks()) {
            for (Map.Entry<String, int[]> e : b.tensors().entrySet()) {
                String n = e.getKey();
                int[] sh = e.getValue();
                if (sh.length < 4) {
                    continue;
                }
                long out = sh[0];
                long in = sh[1];
                long live = Math.max(2 * in + out, in + 2 * out);
                if (n.startsWith(VaeLayout.SD)) {
                    maxSpatialCh = Math.max(maxSpatialCh, Math.max(in, out));
                    long scale = 1;
                    int up = n.indexOf("up_blocks.");
                    if (up >= 0) {
                        int i = Integer.parseInt(n.substring(up + 10, n.indexOf('.', up + 10)));
                        scale = 1L << i;
                        if (n.contains("upsamplers")) {
                            scale <<= 1;  // nearest 2× then conv: input and output at the doubled size
                        }
                    }
                    spatial = Math.max(spatial, live * nb * h * scale * w * scale);
                } else if (n.startsWith(VaeLayout.T)) {
                    maxTemporalCh = Math.max(maxTemporalCh, Math.max(in, out));
                    temporal = Math.max(temporal, live * (nf + 2L * 2) * h * w);
                }
            }
        }
        long chunkIo = tz * latentShape[1] * h * w + maxTemporalCh * nf * h * w       // scaled latent, temporal out
                + nb * maxTemporalCh * h * w + nb * config.spatial().outChannels() * h * f * w * f;
        long attention = 5 * nb * h * w * maxSpatialCh + 2 * (h * w) * (h * w);   // q, kᵀ, v, o, x; scores
        long im2col = 16L << 20;
        return (Math.max(spatial + attention, temporal) + chunkIo + im2col) * Float.BYTES;
    }

    /** Output shape for a latent shape [B, C, T, h, w] and a frame count: [B, 3, numFrames, h·8, w·8]. */
    public int[] outputShape(int[] latentShape, int numFrames) {
        checkLatent(latentShape, numFrames);
        int f = config.spatialFactor();
        return new int[] {latentShape[0], config.spatial().outChannels(), numFrames, latentShape[3] * f,
            latentShape[4] * f};
    }

    private void checkLatent(int[] s, int numFrames) {
        if (s.length != 5) {
            throw new IllegalArgumentException("latent must be [B, C, T, H, W], found " + Arrays.toString(s));
        }
        if (s[1] != config.latentChannels()) {
            throw new IllegalArgumentException("latent " + Arrays.toString(s) + " has " + s[1]
                    + " channels, the VAE decodes " + config.latentChannels());
        }
        if (numFrames < 1) {
            throw new IllegalArgumentException("number of frames must be >= 1, found " + numFrames);
        }
        if (s[3] < 1 || s[4] < 1) {
            throw new IllegalArgumentException("latent " + Arrays.toString(s) + " has an empty frame");
        }
        int need = config.latentFrames(numFrames);
        if (s[2] != need) {
            throw new IllegalArgumentException("latent " + Arrays.toString(s) + " has " + s[2] + " latent frames, but "
                    + numFrames + " frames need " + need + " (" + config.latentFramesPerChunk() + " per "
                    + config.microFrameSize() + " frames, ⌈r/" + config.temporal().timeDownsample()
                    + "⌉ for a remainder of r frames)");
        }
    }

    /**
     * Decodes a whole batch into one tensor.
     *
     * @param z         [B, 4, T, h, w] with T = {@link VaeConfig#latentFrames}(numFrames)
     * @param numFrames frames per video
     * @return [B, 3, numFrames, 8h, 8w], owned by the caller
     */
    public Tensor decode(Tensor z, int numFrames) {
        int[] os = outputShape(z.shape(), numFrames);
        Tensor out = Tensor.zeros(os);
        try {
            long plane = (long) os[3] * os[4];
            decode(z, numFrames, (b, f, frame) -> {
                for (int c = 0; c < os[1]; c++) {
                    long dst = (((long) b * os[1] + c) * numFrames + f) * plane;
                    VaeKernels.copy(frame, c * plane, out, dst, plane);
                }
            });
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /**
     * Decodes a batch, streaming each frame to {@code consumer} as soon as it is decoded.
     *
     * @param z         [B, 4, T, h, w] with T = {@link VaeConfig#latentFrames}(numFrames); not modified
     * @param numFrames frames per video
     */
    public void decode(Tensor z, int numFrames, FrameConsumer consumer) {
        decode(z, numFrames, consumer, Tap.NONE);
    }

    /**
     * {@link #decode(Tensor, int, FrameConsumer)} with a tap into the intermediate results (tensors valid only
     * during the call): {@value #SCALED_LATENT} [C, tz, h, w], one temporal chunk's latent after
     * {@code z·scale + shift}, index (sample, chunk, first latent frame); {@value #TEMPORAL_OUTPUT} [C, f, h, w],
     * the temporal decoder's output for one chunk after the crop of its padding frames (the spatial latent before the
     * division by 0.18215), index (sample, chunk, first frame).
     */
    public void decode(Tensor z, int numFrames, FrameConsumer consumer, Tap observer) {
        int[] s = z.shape();
        checkLatent(s, numFrames);
        int batch = s[0];
        int c = s[1];
        int t = s[2];
        int h = s[3];
        int w = s[4];
        long plane = (long) h * w;
        float[] scale;
        float[] shift;
        Block norm = weights.acquire(VaeLayout.LATENT_NORM);
        try {
            scale = norm.get("scale").toArray();
            shift = norm.get("shift").toArray();
        } finally {
            weights.release(norm);
        }
        warnIfConfigDiffers(scale, shift);
        int zChunk = config.latentFramesPerChunk();
        int micro = config.microFrameSize();
        StageTimer.Scope decoding = StageTimer.start("decode");
        for (int b = 0; b < batch; b++) {
            int framesLeft = numFrames;
            int frameBase = 0;
            for (int k = 0, zt = 0; zt < t; k++, zt += zChunk) {
                int tz = Math.min(zChunk, t - zt);
                int nf = Math.min(micro, framesLeft);
                // z·scale + shift for latent frames [zt, zt + tz) of sample b → [1, C, tz, h, w]
                Tensor zc = meter.alloc(1, c, tz, h, w);
                for (int ch = 0; ch < c; ch++) {
                    VaeKernels.copyScaleShift(z, (((long) b * c + ch) * t + zt) * plane, zc, ch * tz * plane,
                            tz * plane, scale[ch], shift[ch]);
                }
                Tensor xz;
                try {
                    observer.capture(SCALED_LATENT, zc.slice(0), b, k, zt);
                    xz = temporal.decode(zc, nf);                  // [1, C', nf, h, w]
                } finally {
                    meter.free(zc);
                }
                try {
                    observer.capture(TEMPORAL_OUTPUT, xz.slice(0), b, k, frameBase);
                    decodeFrames(xz, nf, h, w, b, frameBase, consumer);
                } finally {
                    meter.free(xz);
                }
                frameBase += nf;
                framesLeft -= nf;
            }
        }
        LOG.debug("decoded {}×{} frames of {}×{} in {} ms; {}", batch, numFrames, h * config.spatialFactor(),
                w * config.spatialFactor(), decoding.millis(), meter);
    }

    /** Spatial decoder over the frames of one temporal chunk xz [1, C, nf, h, w], in micro-batches. */
    private void decodeFrames(Tensor xz, int nf, int h, int w, int sample, int frameBase, FrameConsumer consumer) {
        int cz = xz.dim(1);
        long plane = (long) h * w;
        float div = (float) VaeConfig.SPATIAL_LATENT_SCALE;
        for (int f0 = 0; f0 < nf; f0 += frameBatch) {
            int nb = Math.min(frameBatch, nf - f0);
            Tensor rgb;
            Tensor frames = meter.alloc(nb, cz, h, w);              // frames f0.. of the chunk, ÷ 0.18215
            try {
                for (int j = 0; j < nb; j++) {
                    for (int ch = 0; ch < cz; ch++) {
                        VaeKernels.copyDivide(xz, ((long) ch * nf + f0 + j) * plane, frames,
                                ((long) j * cz + ch) * plane, plane, div);
                    }
                }
                rgb = spatial.decode(frames);                       // [nb, 3, 8h, 8w]
            } finally {
                meter.free(frames);
            }
            try {
                for (int j = 0; j < nb; j++) {
                    consumer.accept(sample, frameBase + f0 + j, rgb.slice(j));
                }
            } finally {
                meter.free(rgb);
            }
        }
    }

    // ------------------------------------------------------------------ encode

    /** Why the checkpoint cannot encode (missing or mis-shaped encoder tensors), or null when it can. */
    private static String encoderProblem(Checkpoint ckpt, BlockLayout enc) {
        java.util.List<String> missing = new java.util.ArrayList<>();
        int total = 0;
        for (BlockLayout.BlockSpec spec : enc.blocks()) {
            for (Map.Entry<String, int[]> t : spec.tensors().entrySet()) {
                total++;
                if (!ckpt.contains(t.getKey())) {
                    missing.add(t.getKey() + " " + Arrays.toString(t.getValue()));
                }
            }
        }
        if (!missing.isEmpty()) {
            int shown = Math.min(missing.size(), 6);
            int normTensors = enc.block(VaeLayout.LATENT_NORM).tensors().size();
            return ckpt.source() + (missing.size() >= total - normTensors
                    ? " holds no VAE encoder (a decoder-only checkpoint): " : " has an incomplete VAE encoder: ")
                    + missing.size() + " of its " + total + " tensors are missing: "
                    + String.join(", ", missing.subList(0, shown))
                    + (missing.size() > shown ? " and " + (missing.size() - shown) + " more" : "");
        }
        try {
            enc.validate(ckpt, VaeLayout.DECODER_PREFIXES);
            return null;
        } catch (WeightFormatException e) {
            return e.getMessage();
        }
    }

    private void encoderFrom(Checkpoint ckpt, java.util.function.Supplier<BlockSource> loader) {
        encoderProblem = encoderProblem(ckpt, VaeLayout.encoder(config));
        encoderLoader = encoderProblem == null ? loader : null;
    }

    private static BlockSource loadEncoder(Checkpoint ckpt, VaeConfig cfg) {
        BlockLayout layout = VaeLayout.encoder(cfg);
        layout.validate(ckpt, VaeLayout.DECODER_PREFIXES);
        LOG.info("VAE {}: loading the encoder ({} MiB of weights)", ckpt.source(), layout.float32Bytes() >> 20);
        return new ResidentBlockSource(ckpt, layout);
    }

    private void useEncoder(BlockSource src, boolean owned) {
        encoderWeights = src;
        ownsEncoder = owned;
        spatialEncoder = new SpatialEncoder(config.spatial(), src, meter);
        temporalEncoder = new TemporalEncoder(config.temporal(), src, meter);
    }

    /** Whether {@link #encode} can run: the encoder weights were given, or the checkpoint holds all of them. */
    public boolean canEncode() {
        return spatialEncoder != null || encoderLoader != null;
    }

    /**
     * Frees the encoder weights this instance loaded from its checkpoint (the next {@link #encode} loads them
     * again); caller-supplied encoder weights stay as they are.
     */
    public void releaseEncoderWeights() {
        if (ownsEncoder && encoderWeights != null) {
            BlockSource w = encoderWeights;
            encoderWeights = null;
            spatialEncoder = null;
            temporalEncoder = null;
            ownsEncoder = false;
            w.close();
        }
    }

    private void requireEncoder() {
        if (spatialEncoder != null) {
            return;
        }
        if (encoderLoader == null) {
            throw new WeightFormatException("cannot encode: " + encoderProblem);
        }
        useEncoder(encoderLoader.get(), true);
    }

    /**
     * The latent shape {@link #encode} returns for a video [batch, 3, frames, height, width]:
     * [batch, C, {@link VaeConfig#latentFrames}(frames), ⌊height/8⌋, ⌊width/8⌋] (8 = {@link VaeConfig#spatialFactor}).
     *
     * <p>Sizes that are not multiples of 8 are accepted, as the reference accepts them: each stride-2 downsampler of
     * the image encoder adds one zero row at the bottom and one zero column at the right, so a side of n becomes
     * ⌊n/2⌋ (426 → 213 → 106 → 53); the last n mod 8 pixels still reach the last latent row / column. Decoding such
     * a latent gives 8·⌊n/8⌋ pixels (42 → 40). Sides below 8 are refused (the reference fails on them too: a
     * 3×3 convolution over fewer than 3 padded pixels).
     *
     * @throws IllegalArgumentException when batch or frames &lt; 1 or height or width &lt; 8
     */
    public int[] encodedShape(int batch, int frames, int height, int width) {
        int f = config.spatialFactor();
        if (batch < 1 || frames < 1) {
            throw new IllegalArgumentException("video needs batch >= 1 and frames >= 1, found batch " + batch
                    + ", frames " + frames);
        }
        if (height < f || width < f) {
            throw new IllegalArgumentException("video frames of " + height + "×" + width + " px are smaller than the "
                    + f + "×" + f + " px the image encoder needs (any size from " + f + " on works; the latent is "
                    + "⌊H/" + f + "⌋×⌊W/" + f + "⌋)");
        }
        return new int[] {batch, config.latentChannels(), config.latentFrames(frames), height / f, width / f};
    }

    private int[] checkVideo(int[] s) {
        if (s.length != 5) {
            throw new IllegalArgumentException("video must be [B, 3, F, H, W], found " + Arrays.toString(s));
        }
        int rgb = config.spatial().outChannels();
        if (s[1] != rgb) {
            throw new IllegalArgumentException("video " + Arrays.toString(s) + " has " + s[1]
                    + " channels, the VAE encodes " + rgb + " (RGB in [-1, 1])");
        }
        return encodedShape(s[0], s[2], s[3], s[4]);
    }

    /**
     * Upper bound of the native bytes {@link #encode} allocates besides the weights for a video of
     * {@code videoShape} [B, 3, F, H, W], the returned latent included: the spatial latent of the whole batch
     * [B, 4, F, h, w] and the result, plus the larger of the image encoder's peak on one micro-batch of
     * {@link #frameBatch()} frames (with the frames themselves) and the temporal encoder's peak on one chunk
     * (each counting its largest convolution column matrix).
     */
    public long encodeActivationBytes(int[] videoShape) {
        int[] zs = checkVideo(videoShape);
        long frames = (long) videoShape[0] * videoShape[2];
        long hw = (long) zs[3] * zs[4];
        long persistent = frames * config.spatial().latentChannels() * hw + (long) zs[0] * zs[1] * zs[2] * hw;
        long nb = Math.min(frameBatch, frames);
        long spatialPeak = nb * videoShape[1] * videoShape[3] * videoShape[4]
                + SpatialEncoder.peakFloats(config.spatial(), nb, videoShape[3], videoShape[4]);
        long temporalPeak = TemporalEncoder.peakFloats(config.temporal(),
                Math.min(config.microFrameSize(), videoShape[2]), zs[3], zs[4]);
        return (persistent + Math.max(spatialPeak, temporalPeak)) * Float.BYTES;
    }

    /**
     * Encodes a batch of videos on the mode path: the posterior means of both encoders, as
     * {@code VideoAutoencoderPipeline.encode} with both {@code DiagonalGaussianDistribution.sample} returning the mean.
     *
     * @param video [B, 3, F, H, W] with values in [−1, 1]; not modified
     * @return [B, C, T, ⌊H/8⌋, ⌊W/8⌋] normalised {@code (z − shift)/scale} (see {@link #encodedShape}), owned by
     *         the caller
     * @throws IllegalArgumentException on a bad shape (see {@link #encodedShape})
     * @throws WeightFormatException    when the weights have no encoder (naming the missing tensors)
     */
    public Tensor encode(Tensor video) {
        return encode(video, null, Tap.NONE);
    }

    /**
     * Encodes a batch of videos on the sampled path, exactly as {@code VideoAutoencoderPipeline.encode}: each
     * posterior is sampled {@code mean + exp(0.5·logvar)·draw} with the log-variance clamped to [−30, 20]; the
     * draws come from {@code noise} in the reference's call order (all spatial draws, then the temporal ones; see
     * {@link StandardNormal}). With {@code TorchCpuRandom} seeded as {@code torch.manual_seed} was before the
     * reference's encode, the result is the reference's.
     *
     * @param video [B, 3, F, H, W] with values in [−1, 1]; not modified
     * @return [B, C, T, ⌊H/8⌋, ⌊W/8⌋] normalised {@code (z − shift)/scale}, owned by the caller
     */
    public Tensor encode(Tensor video, StandardNormal noise) {
        java.util.Objects.requireNonNull(noise, "noise (use encode(video) for the mode path)");
        return encode(video, noise, Tap.NONE);
    }

    /**
     * {@link #encode(Tensor, StandardNormal)} with a tap into the intermediate results (tensors valid only during
     * the call, not to be modified); {@code noise} null is the mode path ({@link #encode(Tensor)}). Captures:
     * {@value #SPATIAL_MOMENTS} [2·C, h, w], the image posterior of one frame before the ×0.18215 (mean rows, then
     * the log-variance rows clamped to [−30, 20]), index (sample, frame); {@value #SPATIAL_LATENT} [C, F, h, w], what
     * the temporal encoder receives for one sample (0.18215 × the posterior mean on the mode path, its sample on the
     * sampled path), index (sample); {@value #TEMPORAL_MOMENTS} [2·C, tz, h, w], one chunk's temporal posterior
     * before the normalisation, index (sample, chunk, first latent frame).
     */
    public Tensor encode(Tensor video, StandardNormal noise, Tap observer) {
        int[] s = video.shape();
        int[] zs = checkVideo(s);
        requireEncoder();
        float[] scale;
        float[] shift;
        Block norm = encoderWeights.acquire(VaeLayout.LATENT_NORM);
        try {
            scale = norm.get("scale").toArray();
            shift = norm.get("shift").toArray();
        } finally {
            encoderWeights.release(norm);
        }
        warnIfConfigDiffers(scale, shift);
        int batch = s[0];
        int frames = s[2];
        int lat = config.spatial().latentChannels();
        StageTimer.Scope encoding = StageTimer.start("encode");
        Tensor z = Tensor.zeros(zs);
        Tensor xz = null;
        try {
            xz = meter.alloc(batch, lat, frames, zs[3], zs[4]);
            encodeFrames(video, noise, observer, xz);
            for (int b = 0; b < batch; b++) {
                observer.capture(SPATIAL_LATENT, xz.slice(b), b);
            }
            encodeChunks(xz, noise, observer, scale, shift, z);
        } catch (RuntimeException e) {
            z.close();
            throw e;
        } finally {
            meter.free(xz);
        }
        LOG.debug("encoded {}×{} frames of {}×{} in {} ms ({}); {}", batch, frames, s[3], s[4],
                encoding.millis(), noise == null ? "mode" : "sampled", meter);
        return z;
    }

    /**
     * The image encoder over every frame in (sample, frame) order, {@link #frameBatch()} frames at a time, into the
     * spatial latent xz [B, C, F, h, w] = 0.18215 × (mean, or mean + std·draw with one draw call per reference
     * micro-batch of {@link VaeConfig#microBatchSize()} frames).
     */
    private void encodeFrames(Tensor video, StandardNormal noise, Tap observer, Tensor xz) {
        int frames = video.dim(2);
        int rgb = video.dim(1);
        long pixels = (long) video.dim(3) * video.dim(4);
        int lat = xz.dim(1);
        long plane = (long) xz.dim(3) * xz.dim(4);
        int total = video.dim(0) * frames;
        int micro = config.microBatchSize();
        float mul = (float) VaeConfig.SPATIAL_LATENT_SCALE;
        float[] draw = null;
        int drawStart = 0;
        for (int g0 = 0; g0 < total; g0 += frameBatch) {
            int nb = Math.min(frameBatch, total - g0);
            Tensor moments;
            Tensor x = meter.alloc(nb, rgb, video.dim(3), video.dim(4));  // frames g0.. of the (B F) order
            try {
                for (int j = 0; j < nb; j++) {
                    int b = (g0 + j) / frames;
                    int f = (g0 + j) % frames;
                    for (int c = 0; c < rgb; c++) {
                        VaeKernels.copy(video, (((long) b * rgb + c) * frames + f) * pixels, x,
                                ((long) j * rgb + c) * pixels, pixels);
                    }
                }
                moments = spatialEncoder.encode(x);                          // [nb, 2·lat, h, w]
            } finally {
                meter.free(x);
            }
            try {
                for (int j = 0; j < nb; j++) {
                    int g = g0 + j;
                    int b = g / frames;
                    int f = g % frames;
                    if (noise != null && g % micro == 0) {
                        draw = new float[Math.toIntExact(Math.min(micro, total - g) * lat * plane)];
                        noise.fill(draw);                                    // [frames, lat, h, w]
                        drawStart = g;
                    }
                    long m = (long) j * 2 * lat * plane;
                    VaeKernels.clamp(moments, m + lat * plane, lat * plane, LOGVAR_MIN, LOGVAR_MAX);
                    Tensor mj = moments.slice(j);
                    observer.capture(SPATIAL_MOMENTS, mj.slice(0, 2 * lat), b, f);
                    for (int c = 0; c < lat; c++) {
                        VaeKernels.posteriorLatent(moments, m + c * plane, m + (lat + c) * plane, plane, draw,
                                (int) (((g - drawStart) * lat + c) * plane), mul, 0f, 1f, xz,
                                (((long) b * lat + c) * frames + f) * plane);
                    }
                }
            } finally {
                meter.free(moments);
            }
        }
    }

    /**
     * The temporal encoder over chunks of {@link VaeConfig#microFrameSize()} frames of xz, each sample on its own,
     * into z [B, C, T, h, w] = ((mean, or mean + std·draw with one draw call per chunk for the whole batch) − shift)
     * / scale.
     */
    private void encodeChunks(Tensor xz, StandardNormal noise, Tap observer, float[] scale,
            float[] shift, Tensor z) {
        int batch = xz.dim(0);
        int frames = xz.dim(2);
        int c = z.dim(1);
        int t = z.dim(2);
        long plane = (long) z.dim(3) * z.dim(4);
        int micro = config.microFrameSize();
        for (int k = 0, f0 = 0, zt = 0; f0 < frames; k++, f0 += micro) {
            int nf = Math.min(micro, frames - f0);
            int tz = temporalEncoder.latentFrames(nf);
            float[] draw = null;
            if (noise != null) {
                draw = new float[Math.toIntExact(batch * c * tz * plane)];
                noise.fill(draw);                                            // [B, C, tz, h, w]
            }
            for (int b = 0; b < batch; b++) {
                Tensor m = temporalEncoder.encode(xz.slice(b), f0, nf);      // [1, 2C, tz, h, w]
                try {
                    if (m.dim(1) != 2 * c || m.dim(2) != tz) {
                        throw new IllegalStateException("temporal encoder gave " + m.shapeString() + " for " + nf
                                + " frames, expected [1, " + 2 * c + ", " + tz + ", ...]");
                    }
                    long n = c * tz * plane;
                    VaeKernels.clamp(m, n, n, LOGVAR_MIN, LOGVAR_MAX);
                    Tensor mb = m.slice(0);
                    observer.capture(TEMPORAL_MOMENTS, mb.slice(0, 2 * c), b, k, zt);
                    for (int ch = 0; ch < c; ch++) {
                        VaeKernels.posteriorLatent(m, ch * tz * plane, n + ch * tz * plane, tz * plane, draw,
                                (int) ((b * c + ch) * tz * plane), 1f, shift[ch], scale[ch], z,
                                (((long) b * c + ch) * t + zt) * plane);
                    }
                } finally {
                    meter.free(m);
                }
            }
            zt += tz;
        }
    }

    private boolean warned;

    private void warnIfConfigDiffers(float[] scale, float[] shift) {
        double[] cs = config.scale();
        double[] ch = config.shift();
        if (warned || cs == null || ch == null) {
            return;
        }
        for (int i = 0; i < scale.length; i++) {
            if (Math.abs(cs[i] - scale[i]) > 1e-6 * Math.max(1, Math.abs(cs[i]))
                    || Math.abs(ch[i] - shift[i]) > 1e-6 * Math.max(1, Math.abs(ch[i]))) {
                warned = true;
                LOG.warn("config scale/shift {} / {} differ from the weights' tensors {} / {}; using the tensors",
                        Arrays.toString(cs), Arrays.toString(ch), Arrays.toString(scale), Arrays.toString(shift));
                return;
            }
        }
    }

    /**
     * Frees the weights when this instance loaded them ({@link #open}, encoder weights included); caller-supplied
     * sources stay open.
     */
    @Override
    public void close() {
        try {
            releaseEncoderWeights();
            if (ownsWeights) {
                weights.close();
            }
        } finally {
            if (checkpoint != null) {
                checkpoint.close();
            }
        }
    }
}
