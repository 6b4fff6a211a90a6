package io.github.jsora.sampling;

import java.util.Locale;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * Immutable options of one rectified-flow sampling run: the timestep schedule, the guidance scale and the per-step
 * techniques (Linear Proportional Leap, temporal token merging, step caching, the guidance interval). Part of
 * jsora's API: a {@code GenerationRequest} holds one ({@code GenerationRequest.sampler()}) and its builder sets it.
 *
 * <p>This is the one place where these options are validated. Built with {@link #builder()}: every setter checks
 * its own argument and {@link Builder#build()} checks the combination (a fixed leap below the step count, TDTM
 * steps at most the step count, no step caching with a dynamic leap, a computable timestep schedule); each failure
 * is an {@link IllegalArgumentException} naming the option and its allowed range, so a bad option never reaches
 * the model.
 *
 * <p>The sampler ({@code RflowSampler}) applies the schedule, the guidance scale, the leap and the
 * inference-script emulation. TDTM, step caching and the guidance interval are applied by the denoising model,
 * which reads them from these options (jsora's STDiT3 glue does; a custom model may ignore them).
 *
 * <p>Defaults follow Open-Sora v1.2's inference config: 30 steps, guidance scale 7, N = 1000, timestep transform on,
 * continuous (not rounded) timesteps, no leap, no merging, no step caching, guidance at every step, reference batch
 * {@code 0/1}. The video geometry used by the timestep transform (pixel height, width and frame count) has no
 * default and must be set when the transform is on.
 */
public final class SamplerOptions {

    /** Largest step count accepted. */
    public static final int MAX_STEPS = 100_000;
    static final int MAX_NUM_TIMESTEPS = 1_000_000;
    static final int MAX_PIXELS = 1 << 16;
    static final int MAX_FRAMES = 1 << 20;
    /** Largest reference batch accepted by {@link Builder#referenceBatch(int, int)}. */
    public static final int MAX_BATCH = 4096;

    private final int steps;
    private final float cfgScale;
    private final int numTimesteps;
    private final boolean timestepTransform;
    private final boolean discreteTimesteps;
    private final int height;
    private final int width;
    private final int numFrames;
    private final LeapStrategy leap;
    private final int tdtmSteps;
    private final StepCaching stepCaching;
    private final GuidanceInterval cfgInterval;
    private final OptionalLong inferenceScriptMask;
    private final int batchIndex;
    private final int batchSize;

    private SamplerOptions(Builder b) {
        this.steps = b.steps;
        this.cfgScale = (float) b.cfgScale;
        this.numTimesteps = b.numTimesteps;
        this.timestepTransform = b.timestepTransform;
        this.discreteTimesteps = b.discreteTimesteps;
        this.height = b.height;
        this.width = b.width;
        this.numFrames = b.numFrames;
        this.leap = b.leap;
        this.tdtmSteps = b.tdtmSteps;
        this.stepCaching = b.stepCaching;
        this.cfgInterval = b.cfgInterval;
        this.inferenceScriptMask = b.inferenceScriptMask;
        this.batchIndex = b.batchIndex;
        this.batchSize = b.batchSize;
    }

    /**
     * A builder with Open-Sora v1.2's defaults and no video geometry.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder starting from these options.
     *
     * @return a new builder holding these options
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.steps = steps;
        b.cfgScale = cfgScale;
        b.numTimesteps = numTimesteps;
        b.timestepTransform = timestepTransform;
        b.discreteTimesteps = discreteTimesteps;
        b.height = height;
        b.width = width;
        b.numFrames = numFrames;
        b.leap = leap;
        b.tdtmSteps = tdtmSteps;
        b.stepCaching = stepCaching;
        b.cfgInterval = cfgInterval;
        b.inferenceScriptMask = inferenceScriptMask;
        b.batchIndex = batchIndex;
        b.batchSize = batchSize;
        return b;
    }

    /**
     * Number of sampling steps K.
     *
     * @return K, in [1, {@link #MAX_STEPS}]
     */
    public int steps() {
        return steps;
    }

    /**
     * Classifier-free guidance scale s: {@code v = v_uncond + s·(v_cond − v_uncond)}.
     *
     * @return s as the sampler uses it (float32, finite, ≥ 0)
     */
    public float cfgScale() {
        return cfgScale;
    }

    /**
     * Timestep scale N.
     *
     * @return N (1000 in Open-Sora)
     */
    public int numTimesteps() {
        return numTimesteps;
    }

    /**
     * Whether the resolution/length shift of the timesteps is applied.
     *
     * @return true when the timesteps are shifted
     */
    public boolean timestepTransform() {
        return timestepTransform;
    }

    /**
     * Whether the base grid is rounded to integers before the transform (On-device Sora's setting).
     *
     * @return true for rounded timesteps
     */
    public boolean discreteTimesteps() {
        return discreteTimesteps;
    }

    /**
     * Pixel height used by the timestep transform.
     *
     * @return the height, 0 when unset
     */
    public int height() {
        return height;
    }

    /**
     * Pixel width used by the timestep transform.
     *
     * @return the width, 0 when unset
     */
    public int width() {
        return width;
    }

    /**
     * Pixel frame count used by the timestep transform.
     *
     * @return the frame count, 0 when unset
     */
    public int numFrames() {
        return numFrames;
    }

    /**
     * The leap strategy.
     *
     * @return the strategy ({@link LeapStrategy#off()} unless set)
     */
    public LeapStrategy leap() {
        return leap;
    }

    /**
     * The step of a fixed leap.
     *
     * @return the 0-based step index of a {@link LeapStrategy.Fixed} leap, or −1 for no leap or a dynamic one
     */
    public int fixedLeapStep() {
        return leap instanceof LeapStrategy.Fixed f ? f.step() : -1;
    }

    /**
     * Number of first steps run with temporal token merging (applied by the model).
     *
     * @return the step count, 0 = off, at most {@link #steps()}
     */
    public int tdtmSteps() {
        return tdtmSteps;
    }

    /**
     * Step caching (applied by the model).
     *
     * @return the policy ({@link StepCaching#off()} unless set)
     */
    public StepCaching stepCaching() {
        return stepCaching;
    }

    /**
     * The timesteps where classifier-free guidance applies (applied by the model: outside, only the prompt half
     * runs).
     *
     * @return the interval ({@link GuidanceInterval#always()} unless set)
     */
    public GuidanceInterval cfgInterval() {
        return cfgInterval;
    }

    /**
     * The seed of the inference-script emulation; see {@link Builder#inferenceScriptMask(long)}.
     *
     * @return the seed, or empty (the default) for the plain sampler
     */
    public OptionalLong inferenceScriptMask() {
        return inferenceScriptMask;
    }

    /**
     * This run's sample index in the reference batch; see {@link Builder#referenceBatch(int, int)}.
     *
     * @return the index, default 0
     */
    public int batchIndex() {
        return batchIndex;
    }

    /**
     * The reference batch size; see {@link Builder#referenceBatch(int, int)}.
     *
     * @return the size, default 1
     */
    public int batchSize() {
        return batchSize;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "SamplerOptions[steps=%d, cfgScale=%s, numTimesteps=%d, timestepTransform=%b, discreteTimesteps=%b, "
                        + "height=%d, width=%d, numFrames=%d, leap=%s%s%s%s%s%s]",
                steps, cfgScale, numTimesteps, timestepTransform, discreteTimesteps, height, width, numFrames, leap,
                tdtmSteps == 0 ? "" : ", tdtmSteps=" + tdtmSteps,
                stepCaching.enabled() ? ", stepCaching=" + stepCaching : "",
                cfgInterval.isAlways() ? "" : ", cfgInterval=" + cfgInterval,
                inferenceScriptMask.isPresent() ? ", inferenceScriptMask=" + inferenceScriptMask.getAsLong() : "",
                batchSize > 1 ? ", referenceBatch=" + batchIndex + "/" + batchSize : "");
    }

    static void requireRange(String option, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(option + " must be in [" + min + ", " + max + "], found " + value);
        }
    }

    /** Mutable builder: each setter validates its argument, {@link #build()} the combination. */
    public static final class Builder {
        private int steps = 30;
        private double cfgScale = 7.0;
        private int numTimesteps = 1000;
        private boolean timestepTransform = true;
        private boolean discreteTimesteps = false;
        private int height;
        private int width;
        private int numFrames;
        private LeapStrategy leap = LeapStrategy.off();
        private int tdtmSteps = 0;
        private StepCaching stepCaching = StepCaching.off();
        private GuidanceInterval cfgInterval = GuidanceInterval.always();
        private OptionalLong inferenceScriptMask = OptionalLong.empty();
        private int batchIndex = 0;
        private int batchSize = 1;

        private Builder() {
        }

        /**
         * Number of sampling steps (default 30).
         *
         * @param v the step count, in [1, {@link #MAX_STEPS}]
         * @return this builder
         * @throws IllegalArgumentException for a count outside the range
         */
        public Builder steps(int v) {
            requireRange("steps", v, 1, MAX_STEPS);
            steps = v;
            return this;
        }

        /**
         * Guidance scale (default 7). 1 = conditional velocity only, 0 = unconditional only. Open-Sora's inference
         * script takes any float; jsora takes any finite float32 value ≥ 0.
         *
         * @param v the scale, finite, ≥ 0 and within float32
         * @return this builder
         * @throws IllegalArgumentException for a negative, non-finite or too large scale
         */
        public Builder cfgScale(double v) {
            if (!(Double.isFinite(v) && v >= 0 && v <= Float.MAX_VALUE)) {
                throw new IllegalArgumentException("cfgScale must be finite and >= 0, found " + v);
            }
            cfgScale = v;
            return this;
        }

        /**
         * Timestep scale N (default 1000).
         *
         * @param v N, in [1, 1000000]
         * @return this builder
         * @throws IllegalArgumentException for N outside the range
         */
        public Builder numTimesteps(int v) {
            requireRange("numTimesteps", v, 1, MAX_NUM_TIMESTEPS);
            numTimesteps = v;
            return this;
        }

        /**
         * Apply the resolution/length shift (default true).
         *
         * @param v true to shift the timesteps
         * @return this builder
         */
        public Builder timestepTransform(boolean v) {
            timestepTransform = v;
            return this;
        }

        /**
         * Round the base grid to integers before the transform (default false).
         *
         * @param v true for rounded timesteps
         * @return this builder
         */
        public Builder discreteTimesteps(boolean v) {
            discreteTimesteps = v;
            return this;
        }

        /**
         * Pixel size of the video (the sizes given to the model, e.g. 240×426), used by the timestep shift
         * (checked by {@link #build()} when the shift is on: each in [1, 65536]).
         *
         * @param pixelHeight the height in pixels
         * @param pixelWidth the width in pixels
         * @return this builder
         */
        public Builder videoSize(int pixelHeight, int pixelWidth) {
            height = pixelHeight;
            width = pixelWidth;
            return this;
        }

        /**
         * Pixel frame count of the video (e.g. 51), used by the timestep shift (checked by {@link #build()} when
         * the shift is on).
         *
         * @param v the frame count
         * @return this builder
         */
        public Builder numFrames(int v) {
            numFrames = v;
            return this;
        }

        /**
         * Leap strategy (default {@link LeapStrategy#off()}); a fixed step is checked against the step count by
         * {@link #build()}.
         *
         * @param v the strategy, not null
         * @return this builder
         * @throws IllegalArgumentException for null
         */
        public Builder leap(LeapStrategy v) {
            if (v == null) {
                throw new IllegalArgumentException("leap must not be null (use LeapStrategy.off())");
            }
            leap = v;
            return this;
        }

        /**
         * Temporal token merging for the first {@code k} steps (default 0 = off), applied by the model; at most
         * the step count (checked by {@link #build()}).
         *
         * @param k the number of steps, ≥ 0
         * @return this builder
         * @throws IllegalArgumentException for a negative count
         */
        public Builder tdtmSteps(int k) {
            if (k < 0) {
                throw new IllegalArgumentException("tdtm steps must be >= 0, found " + k);
            }
            tdtmSteps = k;
            return this;
        }

        /**
         * Step caching (default {@link StepCaching#off()}), applied by the model. It composes with a fixed leap
         * and with TDTM; with a dynamic leap it is refused by {@link #build()}.
         *
         * @param caching the policy, not null
         * @return this builder
         */
        public Builder stepCaching(StepCaching caching) {
            stepCaching = Objects.requireNonNull(caching, "step caching");
            return this;
        }

        /**
         * The timesteps where classifier-free guidance applies (default {@link GuidanceInterval#always()}),
         * applied by the model.
         *
         * @param interval the interval, not null
         * @return this builder
         */
        public Builder cfgInterval(GuidanceInterval interval) {
            cfgInterval = Objects.requireNonNull(interval, "guidance interval");
            return this;
        }

        /**
         * Samples the way Open-Sora's {@code scripts/inference.py} calls its sampler, with a frame mask of ones,
         * and with the sampler's own random draws taken from a PyTorch-compatible generator
         * ({@link TorchCpuRandom}) seeded with {@code globalSeed} (the reference's {@code torch.manual_seed} before
         * {@code RFLOW.sample}). Default: off, the reference sampler called with {@code mask=None}.
         *
         * <p>The two agree whenever the first transformed timestep is at most N, which is the case at Open-Sora's
         * real resolutions. When float32 rounding puts it above N (the demo model's 64×64, 17 frames:
         * {@code 1000.0001220703125}), the reference marks every frame as a conditioning frame in step 0 (the model
         * runs with the timestep-0 modulation and the update is thrown away) and, at step 1, replaces the latent
         * by {@code (1 − t₁/N)·z + (t₁/N)·ε} with a fresh draw ε. With this option jsora does the same, draw for
         * draw, so that such runs reproduce reference videos; the price is one wasted model evaluation. A thrown-away
         * step counts as a step: a fixed leap may not be placed on it (refused at build time), and temporal token
         * merging for the first k steps includes it.
         *
         * <p>The same generator serves a run with reference frames ({@link FrameConditioning}): its re-noise draws
         * are this generator's, one draw of the whole reference batch per step, as the reference's
         * {@code randn_like}. The mask of ones is then the conditioning's mask. The draws are sliced as
         * {@link #referenceBatch(int, int)} says (unchanged by this call).
         *
         * @param globalSeed the reference's global seed
         * @return this builder
         */
        public Builder inferenceScriptMask(long globalSeed) {
            inferenceScriptMask = OptionalLong.of(globalSeed);
            return this;
        }

        /**
         * {@link #inferenceScriptMask(long)} and {@link #referenceBatch(int, int)} in one call.
         *
         * @param globalSeed the reference's global seed
         * @param batchIndex this run's 0-based index in the reference batch
         * @param batchSize the reference batch size
         * @return this builder
         * @throws IllegalArgumentException for a batch position outside the batch
         */
        public Builder inferenceScriptMask(long globalSeed, int batchIndex, int batchSize) {
            referenceBatch(batchIndex, batchSize);
            return inferenceScriptMask(globalSeed);
        }

        /**
         * Back to the plain sampler (the default): the reference sampler with {@code mask=None}. The reference
         * batch position is kept.
         *
         * @return this builder
         */
        public Builder noInferenceScriptMask() {
            inferenceScriptMask = OptionalLong.empty();
            return this;
        }

        /**
         * This run is sample {@code index} of a reference run that sampled {@code size} videos together (default
         * {@code 0/1}): its initial noise is that sample's slice of one batch draw (drawn by the caller, see
         * {@link TorchCpuRandom#randnOfBatch}), and with {@link #inferenceScriptMask(long)} every draw of the
         * sampler covers the whole batch and this run uses its own slice (see {@link TorchCpuRandom#fillNormalSlice}).
         *
         * @param index the 0-based index, in [0, size)
         * @param size the batch size, in [1, {@link #MAX_BATCH}]
         * @return this builder
         * @throws IllegalArgumentException for a size or an index outside its range
         */
        public Builder referenceBatch(int index, int size) {
            if (size < 1 || size > MAX_BATCH) {
                throw new IllegalArgumentException("reference batch size must be in [1, " + MAX_BATCH + "], found "
                        + size);
            }
            if (index < 0 || index >= size) {
                throw new IllegalArgumentException("reference batch index must be in [0, " + (size - 1)
                        + "], found " + index);
            }
            batchIndex = index;
            batchSize = size;
            return this;
        }

        /**
         * Validates the combination and builds.
         *
         * @return the options
         * @throws IllegalArgumentException naming the first bad option
         */
        public SamplerOptions build() {
            if (leap instanceof LeapStrategy.Fixed f && f.step() >= steps) {
                throw new IllegalArgumentException("leap step must be in [0, steps=" + steps + "), found "
                        + f.step());
            }
            if (tdtmSteps > steps) {
                throw new IllegalArgumentException("tdtm steps must be in [0, steps=" + steps + "], found "
                        + tdtmSteps);
            }
            if (stepCaching.enabled() && leap instanceof LeapStrategy.Dynamic) {
                throw new IllegalArgumentException("step caching " + stepCaching + " with a dynamic leap is not "
                        + "supported: the leap would be decided on a reused velocity; use a fixed leap (leapAt)");
            }
            SamplerOptions o = new SamplerOptions(this);
            RflowSchedule schedule = RflowSchedule.of(o);   // throws for geometry the schedule cannot serve
            if (inferenceScriptMask.isPresent() && leap instanceof LeapStrategy.Fixed f
                    && schedule.timestep(f.step()) > numTimesteps) {
                throw new IllegalArgumentException("leap step " + f.step() + " is a thrown-away step of the "
                        + "inference-script emulation (its timestep " + schedule.timestep(f.step()) + " is above "
                        + numTimesteps + "); leap at a later step");
            }
            return o;
        }
    }
}
