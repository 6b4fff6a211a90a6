package io.github.jsora.sampling;

import java.util.Locale;

/**
 * Step caching, the fourth technique: a denoiser may reuse the work of its transformer's block stack between
 * neighbouring steps when a cheap signal says the step changed little (TeaCache and FirstBlockCache, no retraining).
 * This object is the per-request policy: which signal, which threshold, and in which steps a reuse is allowed. The
 * model applies it ({@code dit.BlockCache}); the sampler's loop is unchanged.
 *
 * <p>Where reuse is never allowed, whatever the signal says:
 * <ul>
 *   <li>outside {@code [fromStep, toStep)};</li>
 *   <li>the first step (nothing is cached yet);</li>
 *   <li>with LPL, the evaluation whose velocity makes the leap: its error would be carried over the whole remaining
 *       time, so it is always computed;</li>
 *   <li>with TDTM, the first step after merging stops (the residual came from merged attention);</li>
 *   <li>a step whose model batch differs from the cached one (a guidance-interval step at half batch).</li>
 * </ul>
 *
 * @param signal    what measures the change between steps
 * @param threshold reuse while the change (accumulated, for {@link StepCacheSignal#MODULATED_INPUT}) stays below this
 * @param fromStep  first step at which a reuse is allowed
 * @param toStep    steps from this one on always compute ({@code Integer.MAX_VALUE}: no end)
 */
public record StepCaching(StepCacheSignal signal, double threshold, int fromStep, int toStep) {


    private static final StepCaching OFF = new StepCaching(StepCacheSignal.OFF, 0, 0, 0);

    /**
     * Validates the policy; with {@link StepCacheSignal#OFF} the other components are not checked.
     *
     * @param signal    what measures the change between steps, not null
     * @param threshold the reuse threshold, positive and finite unless the signal is off
     * @param fromStep  first step at which a reuse is allowed, ≥ 1 unless the signal is off
     * @param toStep    first step that always computes again, above {@code fromStep} unless the signal is off
     * @throws IllegalArgumentException if a component is out of its range
     */
    public StepCaching {
        if (signal == null) {
            throw new IllegalArgumentException("step caching signal is null");
        }
        if (signal != StepCacheSignal.OFF) {
            if (!(threshold > 0) || !Double.isFinite(threshold)) {
                throw new IllegalArgumentException("step caching threshold must be positive and finite, found "
                        + threshold);
            }
            if (fromStep < 1 || toStep <= fromStep) {
                throw new IllegalArgumentException("step caching steps must satisfy 1 <= from < to, found from "
                        + fromStep + ", to " + toStep);
            }
        }
    }

    /**
     * No step caching (the default).
     *
     * @return the policy under which every step computes
     */
    public static StepCaching off() {
        return OFF;
    }

    /**
     * TeaCache-style caching allowed from step 1 on.
     *
     * @param threshold reuse while the accumulated relative L1 change of the modulated input stays below this, positive
     * @return the policy with signal {@link StepCacheSignal#MODULATED_INPUT}
     * @throws IllegalArgumentException if {@code threshold} is not positive and finite
     */
    public static StepCaching modulatedInput(double threshold) {
        return new StepCaching(StepCacheSignal.MODULATED_INPUT, threshold, 1, Integer.MAX_VALUE);
    }

    /**
     * FirstBlockCache-style caching allowed from step 1 on.
     *
     * @param threshold reuse while the relative L1 change of the first block pair's residual stays below this, positive
     * @return the policy with signal {@link StepCacheSignal#FIRST_BLOCK_RESIDUAL}
     * @throws IllegalArgumentException if {@code threshold} is not positive and finite
     */
    public static StepCaching firstBlockResidual(double threshold) {
        return new StepCaching(StepCacheSignal.FIRST_BLOCK_RESIDUAL, threshold, 1, Integer.MAX_VALUE);
    }

    /**
     * The same policy with reuse allowed only in steps [from, to).
     *
     * @param from the first step at which a reuse is allowed, ≥ 1
     * @param to the first step that always computes again, above {@code from} ({@code Integer.MAX_VALUE}: no end)
     * @return a new policy; this one is unchanged
     * @throws IllegalArgumentException if the signal is not off and the steps do not satisfy {@code 1 <= from < to}
     */
    public StepCaching steps(int from, int to) {
        return new StepCaching(signal, threshold, from, to);
    }

    /**
     * Whether any reuse can happen.
     *
     * @return true unless the signal is {@link StepCacheSignal#OFF}
     */
    public boolean enabled() {
        return signal != StepCacheSignal.OFF;
    }

    /**
     * Whether step {@code step} may reuse cached work.
     *
     * @param step         the 0-based step index
     * @param leapVelocity true for the evaluation whose velocity makes an LPL leap
     * @param mergingEnded true for the first step after TDTM stopped merging
     * @return true if caching is enabled, the step is in {@code [fromStep, toStep)} and neither exception applies
     */
    public boolean mayReuse(int step, boolean leapVelocity, boolean mergingEnded) {
        return enabled() && step >= fromStep && step < toStep && !leapVelocity && !mergingEnded;
    }

    /**
     * Parses the CLI form: {@code off}, {@code input:THRESHOLD}, {@code block:THRESHOLD}, each optionally followed by
     * {@code @FROM-TO} (steps, TO exclusive; {@code @FROM-} for no end).
     *
     * @param spec the text, for example {@code input:0.1@2-28}; case and surrounding blanks ignored
     * @return the policy described; without a range, reuse is allowed from step 1 on
     * @throws IllegalArgumentException if the text is blank or malformed, or describes an invalid policy
     */
    public static StepCaching parse(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("--step-cache needs off, input:THRESHOLD or block:THRESHOLD");
        }
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("off")) {
            return off();
        }
        String range = null;
        int at = s.indexOf('@');
        if (at >= 0) {
            range = s.substring(at + 1);
            s = s.substring(0, at);
        }
        int colon = s.indexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("--step-cache '" + spec + "': expected input:THRESHOLD or "
                    + "block:THRESHOLD");
        }
        StepCacheSignal signal = switch (s.substring(0, colon)) {
            case "input" -> StepCacheSignal.MODULATED_INPUT;
            case "block" -> StepCacheSignal.FIRST_BLOCK_RESIDUAL;
            default -> throw new IllegalArgumentException("--step-cache '" + spec + "': unknown signal '"
                    + s.substring(0, colon) + "' (input or block)");
        };
        double threshold;
        try {
            threshold = Double.parseDouble(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--step-cache '" + spec + "': threshold '" + s.substring(colon + 1)
                    + "' is not a number");
        }
        int from = 1;
        int to = Integer.MAX_VALUE;
        if (range != null) {
            int dash = range.indexOf('-');
            try {
                if (dash < 0) {
                    throw new NumberFormatException();
                }
                from = Integer.parseInt(range.substring(0, dash));
                to = dash == range.length() - 1 ? Integer.MAX_VALUE : Integer.parseInt(range.substring(dash + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--step-cache '" + spec + "': steps '" + range
                        + "' must be FROM-TO or FROM-");
            }
        }
        return new StepCaching(signal, threshold, from, to);
    }

    @Override
    public String toString() {
        if (!enabled()) {
            return "off";
        }
        return String.format(Locale.ROOT, "%s:%s@%d-%s", signal == StepCacheSignal.MODULATED_INPUT ? "input" : "block",
                threshold, fromStep, toStep == Integer.MAX_VALUE ? "" : Integer.toString(toStep));
    }
}
