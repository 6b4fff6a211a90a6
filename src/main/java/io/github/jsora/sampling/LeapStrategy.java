package io.github.jsora.sampling;

import java.util.Locale;

/**
 * Linear Proportional Leap (LPL, On-device Sora §4): when to stop integrating and apply the current guided velocity
 * over the whole remaining time. At the leap step {@code n} the sampler computes the guided velocity {@code v_n}
 * as on every step, then sets {@code z ← z_n + v_n · t'_n/N} (straight to time 0) and stops: {@code n+1} model
 * evaluations instead of K. The schedule itself is unchanged.
 *
 * <p>A strategy is an immutable description; the sampler makes fresh per-generation state from it for every
 * {@code sample} call, so two generations in a row never influence each other (the reference's dynamic variant
 * keeps its state in the scheduler object across prompts; jsora does not).
 *
 * <ul>
 * <li>{@link #off()}: every step is a plain Euler step.</li>
 * <li>{@link #fixed(int)}: leap at a given 0-based step index (the iPhone app's LPL; 16/30 = {@code fixed(15)}
 *     with 30 steps).</li>
 * <li>{@link #dynamic()}: the authors' run-time rule (see {@link Dynamic}).</li>
 * </ul>
 */
public sealed interface LeapStrategy permits LeapStrategy.Off, LeapStrategy.Fixed, LeapStrategy.Dynamic {

    /**
     * No leap.
     *
     * @return the strategy that integrates all K steps
     */
    static LeapStrategy off() {
        return Off.INSTANCE;
    }

    /**
     * Leap at 0-based step index {@code step} (validated against the step count by {@link SamplerOptions}).
     *
     * @param step the leap step, ≥ 0 and below the step count
     * @return the fixed-step strategy
     * @throws IllegalArgumentException if {@code step} is negative
     */
    static Fixed fixed(int step) {
        return new Fixed(step);
    }

    /**
     * Dynamic leap with the authors' defaults: minimum step 14, tolerance 1e-3, patience 3, slice [0, 0, 0].
     *
     * @return the dynamic strategy with the default parameters; adjust it with the {@code with...} methods
     */
    static Dynamic dynamic() {
        return new Dynamic(Dynamic.DEFAULT_MIN_STEP, Dynamic.DEFAULT_TOLERANCE, Dynamic.DEFAULT_PATIENCE, 0, 0, 0);
    }

    /** No leap: all K steps are integrated. */
    final class Off implements LeapStrategy {
        static final Off INSTANCE = new Off();

        private Off() {
        }

        @Override
        public String toString() {
            return "off";
        }
    }

    /**
     * Leap at a fixed 0-based step index: {@code step + 1} model evaluations. {@code step = K−1} is the same as no
     * leap (the last Euler step already goes to 0).
     *
     * @param step the leap step, in {@code [0, steps)}
     */
    record Fixed(int step) implements LeapStrategy {
        /**
         * Validates the sign; the upper bound (the step count) is checked by {@link SamplerOptions}.
         *
         * @param step the leap step, ≥ 0
         * @throws IllegalArgumentException if {@code step} is negative
         */
        public Fixed {
            if (step < 0) {
                throw new IllegalArgumentException("leap step must be >= 0, found " + step);
            }
        }

        @Override
        public String toString() {
            return "fixed(" + step + ")";
        }
    }

    /**
     * Dynamic leap, the rule of the authors' GPU code. After the guided velocity {@code v_i} of step {@code i} is
     * known, and when {@code i ≥ minStep} and a previous step exists, the similarity {@code c_i} between {@code v_i}
     * and {@code v_{i−1}} is measured on one slice {@code [batch, channel, frame]} of the {@code [B, C, T, H, W]}
     * velocity: the cosine similarity of each of the H rows (vectors along W), averaged over the rows (a row with a
     * zero norm counts as similarity 0). With per-generation state {@code best = 0}, {@code left = patience}: if
     * {@code c_i > best + tolerance} then {@code best = c_i, left = patience}, otherwise {@code left −= 1}; when
     * {@code left} reaches 0 the sampler leaps at this same step {@code i}. With the defaults (14, 1e-3, 3) and a
     * first similarity above 1e-3, the earliest leap is step 17 (18 evaluations). If no leap fires, all steps run
     * ({@code minStep ≥ K} is allowed and never leaps).
     *
     * @param minStep   first step index at which similarities are measured, ≥ 0 (the authors: 14 of 30)
     * @param tolerance required improvement of the best similarity, finite and ≥ 0 (the authors' code: 1e-3; the
     *                  paper text says 1e-4)
     * @param patience  non-improving measurements before the leap, ≥ 1 (the authors: 3)
     * @param batch     batch index of the measured slice, ≥ 0 (checked against the latent at sampling)
     * @param channel   channel index of the measured slice, ≥ 0 (checked against the latent at sampling)
     * @param frame     latent frame index of the measured slice, ≥ 0 (checked against the latent at sampling)
     */
    record Dynamic(int minStep, double tolerance, int patience, int batch, int channel, int frame)
            implements LeapStrategy {

        /** The authors' first measured step index, 14 (of 30 steps). */
        public static final int DEFAULT_MIN_STEP = 14;
        /** The authors' code's required improvement of the best similarity, 1e-3. */
        public static final double DEFAULT_TOLERANCE = 1e-3;
        /** The authors' number of non-improving measurements before the leap, 3. */
        public static final int DEFAULT_PATIENCE = 3;

        /**
         * Validates the parameters that do not depend on the step count.
         *
         * @param minStep   first step index at which similarities are measured, ≥ 0
         * @param tolerance required improvement of the best similarity, finite and ≥ 0
         * @param patience  non-improving measurements before the leap, ≥ 1
         * @param batch     batch index of the measured slice, ≥ 0
         * @param channel   channel index of the measured slice, ≥ 0
         * @param frame     latent frame index of the measured slice, ≥ 0
         * @throws IllegalArgumentException if a parameter is out of its range
         */
        public Dynamic {
            if (minStep < 0) {
                throw new IllegalArgumentException("dynamic leap minStep must be >= 0, found " + minStep);
            }
            if (!(Double.isFinite(tolerance) && tolerance >= 0)) {
                throw new IllegalArgumentException("dynamic leap tolerance must be finite and >= 0, found "
                        + tolerance);
            }
            if (patience < 1) {
                throw new IllegalArgumentException("dynamic leap patience must be >= 1, found " + patience);
            }
            if (batch < 0 || channel < 0 || frame < 0) {
                throw new IllegalArgumentException("dynamic leap slice [batch, channel, frame] must be >= 0, found ["
                        + batch + ", " + channel + ", " + frame + "]");
            }
        }

        /**
         * The same rule with another minimum step.
         *
         * @param newMinStep the first step index at which similarities are measured, ≥ 0
         * @return a new strategy; this one is unchanged
         * @throws IllegalArgumentException if {@code newMinStep} is negative
         */
        public Dynamic withMinStep(int newMinStep) {
            return new Dynamic(newMinStep, tolerance, patience, batch, channel, frame);
        }

        /**
         * The same rule with another tolerance.
         *
         * @param newTolerance the required improvement of the best similarity, finite and ≥ 0
         * @return a new strategy; this one is unchanged
         * @throws IllegalArgumentException if {@code newTolerance} is negative or not finite
         */
        public Dynamic withTolerance(double newTolerance) {
            return new Dynamic(minStep, newTolerance, patience, batch, channel, frame);
        }

        /**
         * The same rule with another patience.
         *
         * @param newPatience the number of non-improving measurements before the leap, ≥ 1
         * @return a new strategy; this one is unchanged
         * @throws IllegalArgumentException if {@code newPatience} is below 1
         */
        public Dynamic withPatience(int newPatience) {
            return new Dynamic(minStep, tolerance, newPatience, batch, channel, frame);
        }

        /**
         * The same rule measured on another {@code [batch, channel, frame]} slice of the [B, C, T, H, W] velocity.
         *
         * @param newBatch the batch index, ≥ 0
         * @param newChannel the channel index, ≥ 0
         * @param newFrame the latent frame index, ≥ 0
         * @return a new strategy; this one is unchanged
         * @throws IllegalArgumentException if an index is negative
         */
        public Dynamic withSlice(int newBatch, int newChannel, int newFrame) {
            return new Dynamic(minStep, tolerance, patience, newBatch, newChannel, newFrame);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "dynamic(minStep=%d, tolerance=%s, patience=%d, slice=[%d,%d,%d])",
                    minStep, tolerance, patience, batch, channel, frame);
        }
    }
}
