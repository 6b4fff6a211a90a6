package io.github.jsora.vae;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.WeightFormatException;

/**
 * The Open-Sora v1.2 video VAE decoder ({@code VideoAutoencoderPipeline.decode}): latents [B, 4, T, h, w] to frames
 * [B, 3, F, 8h, 8w] in ≈[−1, 1].
 *
 * <p>Per sample, the latent is cut into chunks of {@link VaeConfig#latentFramesPerChunk()} (5) latent frames; each
 * chunk is scaled ({@code z·scale + shift} per channel, with the {@code scale}/{@code shift} tensors of the
 * weights), decoded by the temporal VAE on its own (no state between chunks) into {@code min(17, frames left)}
 * spatial-latent frames, divided by 0.18215 and decoded by the SD-XL image decoder in micro-batches of
 * {@link #frameBatch()} frames. Frames go to a {@link FrameConsumer} as soon as they exist, so the activation
 * memory ({@link #meter()}) is bounded by one temporal chunk or one micro-batch of frames, whatever the video
 * length.
 *
 * <p>Not thread-safe: one decode at a time per instance.
 */
public final class VideoVae implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(VideoVae.class);

    private final VaeConfig config;
    private final BlockSource weights;
    private final boolean ownsWeights;
    private final int frameBatch;
    private final ActivationMeter meter = new ActivationMeter();
    private final TemporalDecoder temporal;
    private final SpatialDecoder spatial;

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
     * beside it). All decode-path weights are loaded and kept resident; encoder weights are ignored.
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
                return new VideoVae(cfg, src, frameBatch, true);
            } catch (RuntimeException e) {
                src.close();
                throw e;
            }
        }
    }

    /**
     * Opens a VAE over a block source built for its checkpoint and decoder layout by {@code sources} (a streaming
     * store, a staged source); the checkpoint stays open until {@link #close()}, which closes the source and the
     * checkpoint.
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
        decode(z, numFrames, consumer, DecodeObserver.NONE);
    }

    /** {@link #decode(Tensor, int, FrameConsumer)} with taps into the intermediate results. */
    public void decode(Tensor z, int numFrames, FrameConsumer consumer, DecodeObserver observer) {
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
        long t0 = System.nanoTime();
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
                    observer.scaledLatent(b, k, zt, zc.slice(0));
                    xz = temporal.decode(zc, nf);                  // [1, C', nf, h, w]
                } finally {
                    meter.free(zc);
                }
                try {
                    observer.temporalOutput(b, k, frameBase, xz.slice(0));
                    decodeFrames(xz, nf, h, w, b, frameBase, consumer);
                } finally {
                    meter.free(xz);
                }
                frameBase += nf;
                framesLeft -= nf;
            }
        }
        LOG.debug("decoded {}×{} frames of {}×{} in {} ms; {}", batch, numFrames, h * config.spatialFactor(),
                w * config.spatialFactor(), (System.nanoTime() - t0) / 1_000_000, meter);
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

    /** Frees the weights when this instance loaded them ({@link #open}); a caller-supplied source stays open. */
    @Override
    public void close() {
        try {
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
