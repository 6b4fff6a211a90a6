package io.github.jsora.sampling;

import java.util.Locale;
import java.util.OptionalLong;

/**
 * Immutable options of one rectified-flow sampling run. Built with {@link #builder()}; {@link Builder#build()}
 * validates everything (including that the timestep schedule is computable) and throws an
 * {@link IllegalArgumentException} naming the option and its allowed range, so a bad option never reaches the model.
 *
 * <p>Defaults follow Open-Sora v1.2's inference config: 30 steps, guidance scale 7, N = 1000, timestep transform on,
 * continuous (not rounded) timesteps, no leap. The video geometry used by the timestep transform (pixel height,
 * width and frame count) has no default and must be set when the transform is on.
 */
public final class SamplerOptions {

    static final int MAX_STEPS = 100_000;
    static final int MAX_NUM_TIMESTEPS = 1_000_000;
    static final int MAX_PIXELS = 1 << 16;
    static final int MAX_FRAMES = 1 << 20;
    static final int MAX_BATCH = 4096;

    private final int steps;
    private final float cfgScale;
    private final int numTimesteps;
    private final boolean timestepTransform;
    private final boolean discreteTimesteps;
    private final int height;
    private final int width;
    private final int numFrames;
    private final LeapStrategy leap;
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
        this.inferenceScriptMask = b.inferenceScriptMask;
        this.batchIndex = b.batchIndex;
        this.batchSize = b.batchSize;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these options. */
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
        b.inferenceScriptMask = inferenceScriptMask;
        b.batchIndex = batchIndex;
        b.batchSize = batchSize;
        return b;
    }

    /** Number of sampling steps K ≥ 1. */
    public int steps() {
        return steps;
    }

    /** Classifier-free guidance scale s (finite, ≥ 0): {@code v = v_uncond + s·(v_cond − v_uncond)}. */
    public float cfgScale() {
        return cfgScale;
    }

    /** Timestep scale N (1000 in Open-Sora). */
    public int numTimesteps() {
        return numTimesteps;
    }

    /** Whether the resolution/length shift of the timesteps is applied. */
    public boolean timestepTransform() {
        return timestepTransform;
    }

    /** Whether the base grid is rounded to integers before the transform (On-device Sora's setting). */
    public boolean discreteTimesteps() {
        return discreteTimesteps;
    }

    /** Pixel height used by the timestep transform (0 when unset). */
    public int height() {
        return height;
    }

    /** Pixel width used by the timestep transform (0 when unset). */
    public int width() {
        return width;
    }

    /** Pixel frame count used by the timestep transform (0 when unset). */
    public int numFrames() {
        return numFrames;
    }

    /** The leap strategy. */
    public LeapStrategy leap() {
        return leap;
    }

    /**
     * The seed of the inference-script emulation, or empty (the default) for the plain sampler. See
     * {@link Builder#inferenceScriptMask(long)}.
     */
    public OptionalLong inferenceScriptMask() {
        return inferenceScriptMask;
    }

    /** With the inference-script emulation: this run's sample index in the reference batch (default 0). */
    public int batchIndex() {
        return batchIndex;
    }

    /** With the inference-script emulation: the reference batch size (default 1). */
    public int batchSize() {
        return batchSize;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "SamplerOptions[steps=%d, cfgScale=%s, numTimesteps=%d, timestepTransform=%b, discreteTimesteps=%b, "
                        + "height=%d, width=%d, numFrames=%d, leap=%s%s]",
                steps, cfgScale, numTimesteps, timestepTransform, discreteTimesteps, height, width, numFrames, leap,
                inferenceScriptMask.isPresent() ? ", inferenceScriptMask=" + inferenceScriptMask.getAsLong()
                        + (batchSize > 1 ? " (sample " + batchIndex + " of " + batchSize + ")" : "") : "");
    }

    static void requireRange(String option, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(option + " must be in [" + min + ", " + max + "], found " + value);
        }
    }

    /** Mutable builder; {@link #build()} validates. */
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
        private OptionalLong inferenceScriptMask = OptionalLong.empty();
        private int batchIndex = 0;
        private int batchSize = 1;

        private Builder() {
        }

        /** Number of sampling steps, ≥ 1 (default 30). */
        public Builder steps(int v) {
            steps = v;
            return this;
        }

        /** Guidance scale, finite and ≥ 0 (default 7). 1 = conditional velocity only, 0 = unconditional only. */
        public Builder cfgScale(double v) {
            cfgScale = v;
            return this;
        }

        /** Timestep scale N, ≥ 1 (default 1000). */
        public Builder numTimesteps(int v) {
            numTimesteps = v;
            return this;
        }

        /** Apply the resolution/length shift (default true). */
        public Builder timestepTransform(boolean v) {
            timestepTransform = v;
            return this;
        }

        /** Round the base grid to integers before the transform (default false). */
        public Builder discreteTimesteps(boolean v) {
            discreteTimesteps = v;
            return this;
        }

        /** Pixel size of the video (the sizes given to the model, e.g. 240×426), used by the timestep shift. */
        public Builder videoSize(int pixelHeight, int pixelWidth) {
            height = pixelHeight;
            width = pixelWidth;
            return this;
        }

        /** Pixel frame count of the video (e.g. 51), used by the timestep shift. */
        public Builder numFrames(int v) {
            numFrames = v;
            return this;
        }

        /** Leap strategy (default {@link LeapStrategy#off()}). */
        public Builder leap(LeapStrategy v) {
            if (v == null) {
                throw new IllegalArgumentException("leap must not be null (use LeapStrategy.off())");
            }
            leap = v;
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
         * {@code randn_like}. The mask of ones is then the conditioning's mask.
         */
        public Builder inferenceScriptMask(long globalSeed) {
            return inferenceScriptMask(globalSeed, 0, 1);
        }

        /**
         * {@link #inferenceScriptMask(long)} for sample {@code batchIndex} of a reference run that sampled
         * {@code batchSize} (at most 4096) videos together: each of the reference's draws covers the whole batch,
         * and this run uses its own slice of every draw (see {@link TorchCpuRandom#fillNormalSlice}).
         */
        public Builder inferenceScriptMask(long globalSeed, int batchIndex, int batchSize) {
            inferenceScriptMask = OptionalLong.of(globalSeed);
            this.batchIndex = batchIndex;
            this.batchSize = batchSize;
            return this;
        }

        /** Back to the plain sampler (the default): the reference sampler with {@code mask=None}. */
        public Builder noInferenceScriptMask() {
            inferenceScriptMask = OptionalLong.empty();
            batchIndex = 0;
            batchSize = 1;
            return this;
        }

        /** Validates and builds; throws {@link IllegalArgumentException} naming the first bad option. */
        public SamplerOptions build() {
            requireRange("steps", steps, 1, MAX_STEPS);
            if (!(Double.isFinite(cfgScale) && cfgScale >= 0 && cfgScale <= Float.MAX_VALUE)) {
                throw new IllegalArgumentException("cfgScale must be finite and >= 0, found " + cfgScale);
            }
            requireRange("numTimesteps", numTimesteps, 1, MAX_NUM_TIMESTEPS);
            if (leap instanceof LeapStrategy.Fixed f && f.step() >= steps) {
                throw new IllegalArgumentException("leap step must be in [0, steps=" + steps + "), found "
                        + f.step());
            }
            requireRange("batchSize", batchSize, 1, MAX_BATCH);
            requireRange("batchIndex", batchIndex, 0, batchSize - 1);
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
