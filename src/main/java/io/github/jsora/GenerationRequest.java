package io.github.jsora;

import io.github.jsora.sampling.GuidanceInterval;
import io.github.jsora.sampling.LeapStrategy;
import io.github.jsora.sampling.SamplerOptions;
import io.github.jsora.sampling.StepCaching;
import io.github.jsora.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What to generate: an immutable request built with {@link #builder(String)}. Validated when built; every error
 * names the option and its allowed range.
 *
 * <p>Defaults are Open-Sora v1.2's: 30 steps, cfg 7.0, 51 frames, 240p at 9:16 (240×426), fps 24, no leap, no token
 * merging, prompt preparation on. {@link VideoGenerator#requestBuilder(String)} starts from the opened model's own
 * defaults instead (for the embedded demo model: 64×64, 17 frames, prompt preparation off).
 *
 * <p>Reference frames (image-to-video, video-to-video, continuation, editing): {@link Builder#referenceImage},
 * {@link Builder#referenceVideo}, {@link Builder#extend} and {@link Builder#editRatio}; files, frame ranges and the
 * overlap are checked when the request is built, the latent size of a continuation when it is generated.
 *
 * <p>The sampler settings (steps, guidance scale, leap, TDTM, step caching, guidance interval, inference-script
 * emulation, reference batch, and the video geometry the timestep shift uses) are held by one
 * {@link SamplerOptions}, {@link #sampler()}: the builder's setters for them delegate to its builder, which
 * validates them, and the accessors read them from it.
 */
public final class GenerationRequest {

    /** Linear Proportional Leap: off, at a fixed step, or chosen at run time from velocity similarity. */
    public enum LeapMode {
        /** No leap: every step runs. */
        OFF,
        /** Leap at a fixed step. */
        FIXED,
        /** Leap when the similarity of successive velocities stops improving. */
        DYNAMIC
    }

    /** Largest frame count accepted (16 × 51, Open-Sora's longest setting). */
    public static final int MAX_FRAMES = 816;
    /** Largest reference batch accepted by {@link Builder#referenceBatch}. */
    public static final int MAX_REFERENCE_BATCH = SamplerOptions.MAX_BATCH;
    /** Largest height or width in pixels accepted. */
    public static final int MAX_SIDE = 2048;
    /** {@link Builder#referenceImage(Path, int)}: the last latent frame. */
    public static final int LAST_FRAME = -1;

    private final String prompt;
    private final String negativePrompt;
    private final Long seed;
    private final SamplerOptions sampler;    // steps, guidance, geometry, techniques, inference-script emulation
    private final double fps;
    private final long memoryBudgetBytes;
    private final int threads;
    private final boolean preparePrompt;
    // --- conditioning (image-to-video, continuation, editing)
    private final Path referenceImage;
    private final Path referenceVideo;
    private final int referenceFrame;
    private final double editRatio;
    private final float[] previous;          // [1, C, Tp, H, W] of the continued latent, or null
    private final int[] previousShape;
    private final int overlap;

    private GenerationRequest(Builder b, SamplerOptions sampler) {
        this.prompt = b.prompt;
        this.negativePrompt = b.negativePrompt;
        this.seed = b.seed;
        this.sampler = sampler;
        this.fps = b.fps;
        this.memoryBudgetBytes = b.memoryBudgetBytes;
        this.threads = b.threads;
        this.preparePrompt = b.preparePrompt;
        this.referenceImage = b.referenceImage;
        this.referenceVideo = b.referenceVideo;
        this.referenceFrame = b.referenceFrame;
        this.editRatio = b.editRatio;
        this.previous = b.previous;
        this.previousShape = b.previousShape;
        this.overlap = b.overlap;
    }

    /**
     * A builder with Open-Sora's defaults.
     *
     * @param prompt the text prompt
     * @return a builder with Open-Sora's defaults
     */
    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    /**
     * A builder holding this request's values.
     *
     * @return a new builder with this request's values
     */
    public Builder toBuilder() {
        Builder b = new Builder(prompt);
        b.negativePrompt = negativePrompt;
        b.seed = seed;
        b.sampler = sampler.toBuilder();
        b.fps = fps;
        b.memoryBudgetBytes = memoryBudgetBytes;
        b.threads = threads;
        b.preparePrompt = preparePrompt;
        b.referenceImage = referenceImage;
        b.referenceVideo = referenceVideo;
        b.referenceFrame = referenceFrame;
        b.editRatio = editRatio;
        b.previous = previous;
        b.previousShape = previousShape;
        b.overlap = overlap;
        return b;
    }

        /**
         * The prompt as given (before any preparation).
         *
         * @return the prompt
         */
    public String prompt() {
        return prompt;
    }

    /**
     * Negative prompt, or null for the model's null caption.
     *
     * @return the negative prompt
     */
    public String negativePrompt() {
        return negativePrompt;
    }

    /**
     * The seed, empty when a random one is to be drawn (the result reports the one used).
     *
     * @return the seed, empty when a random one is to be drawn (the result reports the one used)
     */
    public OptionalLong seed() {
        return seed == null ? OptionalLong.empty() : OptionalLong.of(seed);
    }

        /**
         * Denoising steps.
         *
         * @return the number of steps
         */
    public int steps() {
        return sampler.steps();
    }

    /**
     * Classifier-free guidance scale, as the sampler uses it (float32).
     *
     * @return the scale
     */
    public double cfgScale() {
        return sampler.cfgScale();
    }

    /**
     * Pixel frames of the video.
     *
     * @return the frames
     */
    public int frames() {
        return sampler.numFrames();
    }

        /**
         * Pixel height.
         *
         * @return height in pixels
         */
    public int height() {
        return sampler.height();
    }

        /**
         * Pixel width.
         *
         * @return width in pixels
         */
    public int width() {
        return sampler.width();
    }

    /**
     * Frame rate, used both to condition the model and to time the output file.
     *
     * @return frame rate, used both to condition the model and to time the output file
     */
    public double fps() {
        return fps;
    }

        /**
         * How Linear Proportional Leap is used.
         *
         * @return the leap mode
         */
    public LeapMode leapMode() {
        LeapStrategy leap = sampler.leap();
        return leap instanceof LeapStrategy.Fixed ? LeapMode.FIXED
                : leap instanceof LeapStrategy.Dynamic ? LeapMode.DYNAMIC : LeapMode.OFF;
    }

    /**
     * The sampler's leap strategy for this request (the dynamic rule with its parameters when dynamic).
     *
     * @return the sampler's leap strategy for this request (the dynamic rule with its parameters when dynamic)
     */
    public LeapStrategy leapStrategy() {
        return sampler.leap();
    }

    /**
     * For {@link LeapMode#FIXED}: the 0-based step index at which the leap is taken.
     *
     * @return the leap step, −1 for no leap or a dynamic one
     */
    public int leapStep() {
        return sampler.fixedLeapStep();
    }

    /**
     * Number of first denoising steps run with temporal token merging (0 = off).
     *
     * @return number of first denoising steps run with temporal token merging (0 = off)
     */
    public int tdtmSteps() {
        return sampler.tdtmSteps();
    }

    /**
     * Step caching ({@link StepCaching#off()} unless asked).
     *
     * @return the step caching policy
     */
    public StepCaching stepCaching() {
        return sampler.stepCaching();
    }

    /**
     * The timesteps where classifier-free guidance applies ({@link GuidanceInterval#always()} unless asked).
     *
     * @return the guidance interval
     */
    public GuidanceInterval cfgInterval() {
        return sampler.cfgInterval();
    }

    /**
     * The sampler settings of this request, validated in one place: steps, guidance scale, the video geometry of
     * the timestep shift (this request's height, width and frames), leap, TDTM, step caching, guidance interval,
     * the inference-script emulation and the reference batch position. The accessors above read them from here.
     *
     * @return the sampler options
     */
    public SamplerOptions sampler() {
        return sampler;
    }

    /**
     * Byte budget for resident model blocks (0 = unlimited: every block stays resident).
     *
     * @return the memory budget bytes
     */
    public long memoryBudgetBytes() {
        return memoryBudgetBytes;
    }

    /**
     * Compute threads (0 = all available processors).
     *
     * @return the threads
     */
    public int threads() {
        return threads;
    }

    /**
     * Whether the prompt gets Open-Sora's aesthetic-score suffix and caption cleaning.
     *
     * @return whether the prompt gets Open-Sora's aesthetic-score suffix and caption cleaning
     */
    public boolean preparePrompt() {
        return preparePrompt;
    }

    /**
     * The seed of the inference-script emulation, empty (the default) for the plain sampler; see
     * {@link Builder#inferenceScriptMask(long)}.
     *
     * @return the seed of the inference-script emulation, empty (the default) for the plain sampler; see {@link Builder#inferenceScriptMask(long)}
     */
    public OptionalLong inferenceScriptMask() {
        return sampler.inferenceScriptMask();
    }

    /**
     * This video's index in the reference batch its noise is taken from (default 0); see {@link Builder#referenceBatch}.
     *
     * @return this video's index in the reference batch its noise is taken from (default 0); see {@link Builder#referenceBatch}
     */
    public int batchIndex() {
        return sampler.batchIndex();
    }

    /**
     * Size of the reference batch its noise is taken from (default 1).
     *
     * @return the batch size
     */
    public int batchSize() {
        return sampler.batchSize();
    }

    // ---------------------------------------------------------------- conditioning (image-to-video, continuation)

    /** The reference image (PNG or JPEG) conditioning latent frame {@link #referenceFrame()}, if any. */
    public Optional<Path> referenceImage() {
        return Optional.ofNullable(referenceImage);
    }

    /** The reference video (a folder of PNG/JPEG frames, or a GIF) conditioning the first latent frames, if any. */
    public Optional<Path> referenceVideo() {
        return Optional.ofNullable(referenceVideo);
    }

    /** The latent frame the reference image conditions: an index, or negative from the end (−1 = the last). */
    public int referenceFrame() {
        return referenceFrame;
    }

    /**
     * The mask value of the conditioned frames: 0 keeps them as given; {@code e > 0} re-noises them at the first
     * step with {@code t ≤ 1000·e} and denoises them from there (Open-Sora's edit ratio, {@code condition_frame_edit}
     * for a continuation).
     */
    public double editRatio() {
        return editRatio;
    }

    /** Latent frames of the continued latent that condition the start of this one (0 = no continuation). */
    public int overlap() {
        return overlap;
    }

    /** True when the request has reference frames (image, video or continuation). */
    public boolean hasConditioning() {
        return referenceImage != null || referenceVideo != null || previous != null;
    }

    /** The continued latent's shape {@code [1, C, T, H, W]}, empty without a continuation. */
    public Optional<int[]> previousLatentShape() {
        return Optional.ofNullable(previousShape == null ? null : previousShape.clone());
    }

    /** A new tensor of the continued latent (the caller closes it), or null without a continuation. */
    Tensor previousLatent() {
        return previous == null ? null : Tensor.of(previous, previousShape);
    }

    /**
     * Latent frames of a v1.2 video of {@code frames} pixel frames: 5 per full chunk of 17, plus ⌈r/4⌉ for a
     * remainder of r (1 → 1, 17 → 5, 51 → 15).
     */
    public static int latentFrames(int frames) {
        return frames / 17 * 5 + (frames % 17 + 3) / 4;
    }

    /**
     * Pixel frames of a clip that {@code latentFrames} latent frames stand for, as Open-Sora's {@code --loop} drops
     * them from each later clip ({@code dframe_to_frame}: 17 per 5, the reference's only case); for a remainder of
     * r latent frames, 4r − 3 more (the frames those latents encode: 1 for the first, 4 for each next).
     */
    public static int overlapPixelFrames(int latentFrames) {
        int r = latentFrames % 5;
        return latentFrames / 5 * 17 + (r == 0 ? 0 : 4 * r - 3);
    }

    @Override
    public String toString() {
        int steps = steps();
        int frames = frames();
        LeapMode leapMode = leapMode();
        LeapStrategy leap = sampler.leap();
        StepCaching stepCaching = stepCaching();
        GuidanceInterval cfgInterval = cfgInterval();
        int batchSize = batchSize();
        return String.format(Locale.ROOT, "prompt=\"%s\"%s seed=%s steps=%d cfg=%.2f frames=%d size=%dx%d fps=%s "
                + "lpl=%s tdtm=%d budget=%s threads=%s preparePrompt=%b%s", prompt,
                negativePrompt == null ? "" : " negative=\"" + negativePrompt + "\"",
                seed == null ? "random" : seed.toString(), steps, cfgScale(), frames, width(), height(), fps,
                leap instanceof LeapStrategy.Fixed f ? "fixed@" + f.step() : leap instanceof LeapStrategy.Dynamic d
                        && !d.equals(LeapStrategy.dynamic()) ? "dynamic(minStep " + d.minStep()
                        + ", tolerance " + d.tolerance() + ", patience " + d.patience() + ")"
                        : leapMode.name().toLowerCase(Locale.ROOT),
                tdtmSteps(), memoryBudgetBytes == 0 ? "default" : memoryBudgetBytes + "B",
                threads == 0 ? "auto" : Integer.toString(threads), preparePrompt,
                inferenceScriptMask().isEmpty() ? "" : " inferenceScriptMask=" + inferenceScriptMask().getAsLong())
                + (batchSize == 1 ? "" : " referenceBatch=" + batchIndex() + "/" + batchSize)
                + (referenceImage == null ? "" : " image=" + referenceImage + "@" + (referenceFrame == LAST_FRAME
                        ? "last" : Integer.toString(referenceFrame)))
                + (referenceVideo == null ? "" : " video=" + referenceVideo)
                + (previous == null ? "" : " extend=" + Arrays.toString(previousShape) + " overlap=" + overlap)
                + (hasConditioning() && editRatio != 0 ? " editRatio=" + editRatio : "")
                + (stepCaching.enabled() ? " stepCache=" + stepCaching : "")
                + (cfgInterval.isAlways() ? "" : " cfgInterval=" + cfgInterval);
    }

    /**
     * Rounds a frame count to one the pipeline serves, as Open-Sora requires: 1 (a still image) or at least 17
     * (one full VAE chunk). Counts 2–16 become 17. Values outside [1, {@link #MAX_FRAMES}] are not rounded.
     *
     * @param frames number of frames
     * @return the frame count the model will make
     */
    public static int roundFrames(int frames) {
        return frames >= 2 && frames < 17 ? 17 : frames;
    }

    /** Builder; all setters validate their argument, {@link #build()} validates the combination. */
    public static final class Builder {
        private String prompt;
        private String negativePrompt;
        private Long seed;
        /** The sampler settings (validated by SamplerOptions), with the request's default geometry. */
        private SamplerOptions.Builder sampler = SamplerOptions.builder().videoSize(240, 426).numFrames(51);
        private double fps = 24;
        private long memoryBudgetBytes = 0;
        private int threads = 0;
        private boolean preparePrompt = true;
        private boolean framesRounded;
        private Path referenceImage;
        private Path referenceVideo;
        private int referenceFrame = 0;
        private double editRatio = 0;
        private float[] previous;
        private int[] previousShape;
        private int overlap;

        private Builder(String prompt) {
            prompt(prompt);
        }

        /**
         * The prompt.
         *
         * @param p the text prompt
         * @return this builder
         */
        public Builder prompt(String p) {
            Objects.requireNonNull(p, "prompt");
            if (p.codePoints().allMatch(c -> Character.isWhitespace(c) || Character.isSpaceChar(c)
                    || Character.getType(c) == Character.CONTROL || Character.getType(c) == Character.FORMAT)) {
                throw new IllegalArgumentException("prompt is empty (only whitespace, control or invisible "
                        + "format characters such as NUL or a zero-width space)");
            }
            this.prompt = p;
            return this;
        }

        /**
         * Negative prompt (null or blank: none).
         *
         * @param p the value
         * @return this builder
         */
        public Builder negativePrompt(String p) {
            this.negativePrompt = p == null || p.isBlank() ? null : p;
            return this;
        }

        /**
         * The seed of the initial noise (as PyTorch's {@code manual_seed}; only the low 32 bits count).
         *
         * @param s the seed
         * @return this builder
         */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /**
         * Draw a random seed at generation time.
         *
         * @return this builder
         */
        public Builder randomSeed() {
            this.seed = null;
            return this;
        }

        /**
         * Denoising steps (default 30); see {@link SamplerOptions.Builder#steps(int)}.
         *
         * @param n the number of steps, in [1, {@link SamplerOptions#MAX_STEPS}]
         * @return this builder
         */
        public Builder steps(int n) {
            sampler.steps(n);
            return this;
        }

        /**
         * Classifier-free guidance scale (default 7.0); see {@link SamplerOptions.Builder#cfgScale(double)}.
         *
         * @param s the scale, finite and ≥ 0
         * @return this builder
         */
        public Builder cfgScale(double s) {
            sampler.cfgScale(s);
            return this;
        }

        /**
         * Pixel frames; 2–16 are rounded up to 17 (logged when the request is built).
         *
         * @param n the count
         * @return this builder
         */
        public Builder frames(int n) {
            if (n < 1 || n > MAX_FRAMES) {
                throw new IllegalArgumentException("frames must be in [1, " + MAX_FRAMES + "], found " + n);
            }
            int rounded = roundFrames(n);
            sampler.numFrames(rounded);
            this.framesRounded = rounded != n;
            return this;
        }

        /**
         * All sampler settings at once, replacing those set so far: steps, guidance, size, frames, leap (fixed, or
         * dynamic with its own parameters and slice), TDTM, step caching, guidance interval, schedule, inference-script
         * emulation and reference batch. The request's own limits on size and frame count apply to the options' values
         * as they do to {@link #size} and {@link #frames} (a frame count of 2–16 is rounded up to 17).
         *
         * @param options the sampler settings
         * @return this builder
         */
        public Builder sampler(SamplerOptions options) {
            Objects.requireNonNull(options, "sampler options");
            SamplerOptions.Builder previous = sampler;
            sampler = options.toBuilder();
            try {
                size(options.width(), options.height());
                frames(options.numFrames());
            } catch (IllegalArgumentException e) {
                sampler = previous;
                throw e;
            }
            return this;
        }

        /**
         * Explicit pixel size.
         *
         * @param width width in pixels
         * @param height height in pixels
         * @return this builder
         */
        public Builder size(int width, int height) {
            if (width < 8 || height < 8 || width > MAX_SIDE || height > MAX_SIDE) {
                throw new IllegalArgumentException("size must be between 8 and " + MAX_SIDE + " pixels per side, found "
                        + width + "x" + height);
            }
            sampler.videoSize(height, width);
            return this;
        }

        /**
         * A named resolution (144p … 720p) at an aspect ratio height:width (e.g. "9:16"); see {@link Resolution}.
         *
         * @param name the name
         * @param aspectRatio height:width, e.g. "9:16"
         * @return this builder
         */
        public Builder resolution(String name, String aspectRatio) {
            int[] hw = Resolution.size(name, aspectRatio);
            return size(hw[1], hw[0]);
        }

        /**
         * Frame rate: conditions the model and times the output file (default 24).
         *
         * @param f frames per second, finite and &gt; 0
         * @return this builder
         */
        public Builder fps(double f) {
            if (!Double.isFinite(f) || f <= 0 || f > 240) {
                throw new IllegalArgumentException("fps must be in (0, 240], found " + f);
            }
            this.fps = f;
            return this;
        }

        /**
         * Samples as Open-Sora's {@code scripts/inference.py} does (a frame mask of ones), with the sampler's own
         * random draws from a PyTorch-compatible generator seeded with {@code globalSeed}, the value of
         * {@code torch.manual_seed} before the reference's {@code RFLOW.sample}. This changes the result only when
         * the first timestep rounds above 1000 (the embedded demo model's 64×64, 17 frames): there the reference
         * throws the first step away and re-noises the latent at the second, and so does jsora with this option.
         * Use it to reproduce a reference video; the default (off) is the sampler with {@code mask=None}. The
         * thrown-away step counts as a step: {@link #tdtmSteps} includes it and a fixed leap may not be placed on
         * it. See
         * {@link io.github.jsora.sampling.SamplerOptions.Builder#inferenceScriptMask(long)}.
         *
         * @param globalSeed the global seed
         * @return this builder
         */
        public Builder inferenceScriptMask(long globalSeed) {
            sampler.inferenceScriptMask(globalSeed);
            return this;
        }

        /**
         * Takes this video's noise as sample {@code index} of a batch of {@code size} videos drawn at once, as a
         * PyTorch run that sampled several prompts together drew it: the initial noise is that slice of
         * {@code torch.randn(size, C, T, H, W)} from the seed, and with {@link #inferenceScriptMask(long)} the
         * sampler's draws are sliced the same way. Default {@code (0, 1)}: one video alone. Only the noise
         * changes; the video is generated alone.
         *
         * @param index 0-based index
         * @param size the size
         * @return this builder
         */
        public Builder referenceBatch(int index, int size) {
            sampler.referenceBatch(index, size);
            return this;
        }

        /**
         * The plain sampler (the default).
         *
         * @return this builder
         */
        public Builder noInferenceScriptMask() {
            sampler.noInferenceScriptMask();
            return this;
        }

        /**
         * No leap: all steps run.
         *
         * @return this builder
         */
        public Builder noLeap() {
            sampler.leap(LeapStrategy.off());
            return this;
        }

        /**
         * Fixed LPL: leap at the 0-based step index {@code step} (step + 1 model evaluations).
         *
         * @param step 0-based step index
         * @return this builder
         */
        public Builder leapAt(int step) {
            sampler.leap(LeapStrategy.fixed(step));
            return this;
        }

        /**
         * Dynamic LPL with the authors' defaults (minimum step 14, tolerance 1e-3, patience 3).
         *
         * @return this builder
         */
        public Builder dynamicLeap() {
            return dynamicLeap(LeapStrategy.Dynamic.DEFAULT_MIN_STEP, LeapStrategy.Dynamic.DEFAULT_TOLERANCE,
                    LeapStrategy.Dynamic.DEFAULT_PATIENCE);
        }

        /**
         * Dynamic LPL: from step {@code minStep} on, leap once the similarity of successive velocities has not
         * improved by more than {@code tolerance} for {@code patience} steps (see {@link LeapStrategy.Dynamic}).
         *
         * @throws IllegalArgumentException for a negative step, a negative or non-finite tolerance, or patience &lt; 1
         * @param minStep first step at which a leap may happen
         * @param tolerance smallest improvement of the similarity that counts
         * @param patience steps without improvement before leaping
         * @return this builder
         */
        public Builder dynamicLeap(int minStep, double tolerance, int patience) {
            sampler.leap(new LeapStrategy.Dynamic(minStep, tolerance, patience, 0, 0, 0));
            return this;
        }

        /**
         * Temporal token merging for the first {@code k} steps (0 = off).
         *
         * @param k number of steps
         * @return this builder
         */
        public Builder tdtmSteps(int k) {
            sampler.tdtmSteps(k);
            return this;
        }

        /**
         * Step caching, the fourth technique: reuse the transformer's block-stack work between neighbouring steps
         * when the step changed little ({@link StepCaching}; off by default). It composes with LPL (the leap's
         * velocity is always computed) and TDTM (the first step after merging ends is always computed); a dynamic
         * leap is refused with it, because the leap would be decided on a reused velocity.
         */
        public Builder stepCaching(StepCaching caching) {
            sampler.stepCaching(caching);
            return this;
        }

        /**
         * Classifier-free guidance only at timesteps in [{@code tLow}, {@code tHigh}] (of [0, 1000], 1000 = pure
         * noise): outside it the transformer runs on the prompt half alone, at half the batch, and the velocity is
         * the prompt's (guidance scale 1 there).
         *
         * @throws IllegalArgumentException unless 0 &lt;= tLow &lt;= tHigh
         */
        public Builder cfgInterval(double tLow, double tHigh) {
            sampler.cfgInterval(new GuidanceInterval(tLow, tHigh));
            return this;
        }

        /** Guidance at every step (the default). */
        public Builder cfgEverywhere() {
            sampler.cfgInterval(GuidanceInterval.always());
            return this;
        }

        /**
         * Byte budget for everything jsora allocates during the request: the blocks of the three models, activations,
         * workspaces and caches (0 = the generator's default, chosen from the memory available when it was opened;
         * see {@link VideoGenerator#defaultBudget()}). Models stay resident as far as the budget allows and are
         * streamed block by block beyond that; a budget below {@link VideoGenerator#minimumBudget} fails before any
         * work with a {@link MemoryBudgetException}. The JVM itself (code, heap) is outside the budget.
         *
         * @param bytes the number of bytes
         * @return this builder
         */
        public Builder memoryBudget(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("memory budget must be >= 0 bytes, found " + bytes);
            }
            this.memoryBudgetBytes = bytes;
            return this;
        }

        /**
         * Compute threads (0 = all processors).
         *
         * @param n the count
         * @return this builder
         */
        public Builder threads(int n) {
            if (n < 0 || n > 1024) {
                throw new IllegalArgumentException("threads must be in [0, 1024], found " + n);
            }
            this.threads = n;
            return this;
        }

        /**
         * Open-Sora's prompt preparation (aesthetic-score suffix and caption cleaning); on by default.
         *
         * @param on true to prepare the prompt
         * @return this builder
         */
        public Builder preparePrompt(boolean on) {
            this.preparePrompt = on;
            return this;
        }

        /** Image-to-video: {@code image} (PNG or JPEG) conditions the first latent frame. */
        public Builder referenceImage(Path image) {
            return referenceImage(image, 0);
        }

        /**
         * Image-to-video: {@code image} (PNG or JPEG; resized to cover the video size and centre-cropped, as
         * Open-Sora's inference script does) is encoded by the VAE into one latent frame, which conditions latent
         * frame {@code latentFrame} ({@link #LAST_FRAME} or any negative index counts from the end). The range is
         * checked when the request is built: [−T, T−1] for the T latent frames of the request's frame count.
         *
         * @throws IllegalArgumentException when the file does not exist or cannot be read
         */
        public Builder referenceImage(Path image, int latentFrame) {
            this.referenceImage = readable("reference image", image);
            this.referenceFrame = latentFrame;
            return this;
        }

        /**
         * Video-to-video: the frames of {@code video} (a folder of PNG/JPEG frames in name order, or a GIF) are
         * encoded by the VAE and condition the first latent frames (as many as it encodes to, at most all).
         */
        public Builder referenceVideo(Path video) {
            Objects.requireNonNull(video, "reference video");
            if (!Files.isDirectory(video)) {
                readable("reference video", video);
            }
            this.referenceVideo = video;
            return this;
        }

        /** No reference image nor video. */
        public Builder noReference() {
            this.referenceImage = null;
            this.referenceVideo = null;
            this.referenceFrame = 0;
            return this;
        }

        /** The conditioned frames' edit ratio in [0, 1] (default 0: kept as given); see {@link #editRatio()}. */
        public Builder editRatio(double ratio) {
            if (!(ratio >= 0 && ratio <= 1)) {
                throw new IllegalArgumentException("edit ratio must be in [0, 1], found " + ratio);
            }
            this.editRatio = ratio;
            return this;
        }

        /**
         * Continues {@code previous}: its last {@code overlap} latent frames condition the first {@code overlap}
         * latent frames of this video (Open-Sora's loop step, {@code condition_frame_length}), with
         * {@link #editRatio}. The latent's values are copied into the request. Its channels and spatial size must
         * match the video's latent (checked at generation).
         *
         * @throws IllegalArgumentException for an overlap outside [1, the previous latent's frames]
         */
        public Builder extend(Latent previous, int overlap) {
            Objects.requireNonNull(previous, "previous latent");
            Tensor z = previous.tensor();
            int[] shape = z.shape();
            if (shape.length != 5 || shape[0] != 1) {
                throw new IllegalArgumentException("the continued latent must be [1, C, T, H, W], found "
                        + z.shapeString());
            }
            if (overlap < 1 || overlap > shape[2]) {
                throw new IllegalArgumentException("overlap must be in [1, " + shape[2] + "] latent frames (the "
                        + "continued latent's), found " + overlap);
            }
            this.previous = z.toArray();
            this.previousShape = shape;
            this.overlap = overlap;
            return this;
        }

        /** No continuation. */
        public Builder noExtend() {
            this.previous = null;
            this.previousShape = null;
            this.overlap = 0;
            return this;
        }

        private static Path readable(String what, Path file) {
            Objects.requireNonNull(file, what);
            if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
                throw new IllegalArgumentException(what + " " + file + ": not a readable file");
            }
            return file;
        }

        /**
         * The request, validated.
         *
         * @return the request
         * @throws IllegalArgumentException for an invalid combination of values, naming it
         */
        public GenerationRequest build() {
            SamplerOptions options = sampler.build();   // the sampler settings: validated there, and only there
            int frames = options.numFrames();
            int latentFrames = latentFrames(frames);
            if (referenceImage != null && referenceVideo != null) {
                throw new IllegalArgumentException("give a reference image or a reference video, not both");
            }
            if (referenceImage != null && (referenceFrame < -latentFrames || referenceFrame >= latentFrames)) {
                throw new IllegalArgumentException("reference image " + referenceImage + ": latent frame "
                        + referenceFrame + " is outside the " + latentFrames + " latent frames of " + frames
                        + " frames (allowed 0.." + (latentFrames - 1) + ", or -" + latentFrames + "..-1 from the end)");
            }
            if (previous != null && overlap > latentFrames) {
                throw new IllegalArgumentException("overlap " + overlap + " is more than the " + latentFrames
                        + " latent frames of " + frames + " frames");
            }
            if (editRatio != 0 && referenceImage == null && referenceVideo == null && previous == null) {
                throw new IllegalArgumentException("edit ratio " + editRatio + " needs a reference image, a reference "
                        + "video or a continuation");
            }
            if (framesRounded) {
                org.slf4j.LoggerFactory.getLogger(GenerationRequest.class).warn(
                        "frame count rounded up to {}: the video VAE decodes 1 frame or at least one chunk of 17",
                        frames);
                framesRounded = false;
            }
            return new GenerationRequest(this, options);
        }
    }
}
