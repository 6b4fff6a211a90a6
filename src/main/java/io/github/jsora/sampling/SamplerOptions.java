package io.github.jsora.sampling;

import java.util.Locale;

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

    private final int steps;
    private final float cfgScale;
    private final int numTimesteps;
    private final boolean timestepTransform;
    private final boolean discreteTimesteps;
    private final int height;
    private final int width;
    private final int numFrames;
    private final LeapStrategy leap;

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

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "SamplerOptions[steps=%d, cfgScale=%s, numTimesteps=%d, timestepTransform=%b, discreteTimesteps=%b, "
                        + "height=%d, width=%d, numFrames=%d, leap=%s]",
                steps, cfgScale, numTimesteps, timestepTransform, discreteTimesteps, height, width, numFrames, leap);
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
            SamplerOptions o = new SamplerOptions(this);
            RflowSchedule.of(o);   // throws for geometry the schedule cannot serve
            return o;
        }
    }
}
