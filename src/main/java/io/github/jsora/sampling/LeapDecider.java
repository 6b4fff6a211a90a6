package io.github.jsora.sampling;

import java.util.Arrays;

/** Per-generation leap state made from a {@link LeapStrategy}; one instance per {@code sample} call. */
abstract class LeapDecider {

    /** Access to the guided velocity of the current step ({@code [B, C, T, H, W]}). */
    interface GuidedVelocity {
        /** Writes the guided velocity of slice {@code [batch, channel, frame]} ({@code [H, W]}) into {@code dst}. */
        void readSlice(int batch, int channel, int frame, float[] dst);
    }

    /** Fresh state for {@code strategy}. */
    static LeapDecider create(LeapStrategy strategy) {
        if (strategy instanceof LeapStrategy.Fixed f) {
            return new FixedDecider(f.step());
        }
        if (strategy instanceof LeapStrategy.Dynamic d) {
            return new DynamicDecider(d);
        }
        return new NeverDecider();
    }

    /** Checks the strategy against the latent shape {@code [B, C, T, H, W]} before the first model call. */
    void checkLatent(int[] latentShape) {
    }

    /**
     * Called once per step after guidance, before the update. Returns true to leap at this step.
     *
     * @param step 0-based step
     * @param v    the guided velocity of this step
     */
    abstract boolean leapAt(int step, GuidedVelocity v);

    /** The similarity measured at the last {@link #leapAt} call, or NaN when none was measured. */
    double lastSimilarity() {
        return Double.NaN;
    }

    static final class NeverDecider extends LeapDecider {
        @Override
        boolean leapAt(int step, GuidedVelocity v) {
            return false;
        }
    }

    static final class FixedDecider extends LeapDecider {
        private final int leapStep;

        FixedDecider(int leapStep) {
            this.leapStep = leapStep;
        }

        @Override
        boolean leapAt(int step, GuidedVelocity v) {
            return step == leapStep;
        }
    }

    static final class DynamicDecider extends LeapDecider {
        private final LeapStrategy.Dynamic rule;
        private int rows;
        private int cols;
        private float[] prev;          // [H, W] slice of the previous step's guided velocity
        private float[] cur;           // [H, W] slice of this step's guided velocity
        private boolean hasPrev;
        private double best;           // best similarity so far (starts at 0 like the authors' code)
        private int left;              // remaining patience
        private double last = Double.NaN;

        DynamicDecider(LeapStrategy.Dynamic rule) {
            this.rule = rule;
            this.left = rule.patience();
        }

        @Override
        void checkLatent(int[] s) {
            if (rule.batch() >= s[0] || rule.channel() >= s[1] || rule.frame() >= s[2]) {
                throw new IllegalArgumentException("dynamic leap slice [batch, channel, frame] = [" + rule.batch()
                        + ", " + rule.channel() + ", " + rule.frame() + "] is outside the latent " + Arrays.toString(s)
                        + " (allowed: batch < " + s[0] + ", channel < " + s[1] + ", frame < " + s[2] + ")");
            }
            rows = s[3];
            cols = s[4];
            prev = new float[rows * cols];
            cur = new float[rows * cols];
        }

        @Override
        boolean leapAt(int step, GuidedVelocity v) {
            v.readSlice(rule.batch(), rule.channel(), rule.frame(), cur);
            boolean leap = false;
            last = Double.NaN;
            if (hasPrev && step >= rule.minStep()) {
                double c = rowwiseCosine(cur, prev, rows, cols);
                last = c;
                if (c > best + rule.tolerance()) {
                    best = c;
                    left = rule.patience();
                } else {
                    left--;
                }
                leap = left <= 0;
            }
            float[] t = prev;
            prev = cur;
            cur = t;
            hasPrev = true;
            return leap;
        }

        @Override
        double lastSimilarity() {
            return last;
        }
    }

    /**
     * Mean over the {@code rows} rows of the cosine similarity of {@code a} and {@code b} along each row of
     * {@code cols} elements (double accumulation; a row where either norm is zero contributes 0).
     */
    static double rowwiseCosine(float[] a, float[] b, int rows, int cols) {
        double sum = 0;
        for (int r = 0; r < rows; r++) {
            double dot = 0, na = 0, nb = 0;
            int o = r * cols;
            for (int j = 0; j < cols; j++) {
                double x = a[o + j], y = b[o + j];
                dot += x * y;
                na += x * x;
                nb += y * y;
            }
            double den = Math.sqrt(na * nb);
            sum += den > 0 ? dot / Math.max(den, 1e-8) : 0.0;
        }
        return sum / rows;
    }
}
