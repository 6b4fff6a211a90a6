package io.github.jsora.sampling;

import java.util.Locale;

/**
 * The timesteps at which classifier-free guidance is applied (Kynkäänniemi et al., 2024: guidance limited to an
 * interval keeps or improves quality). Timesteps are the sampler's, in [0, num_timesteps] with 1000 pure noise. At a
 * step outside {@code [low, high]} the model runs on the conditional half only, at half the batch, and the velocity
 * is the conditional one (guidance scale 1 there).
 *
 * @param low  lowest timestep that is guided
 * @param high highest timestep that is guided
 */
public record GuidanceInterval(double low, double high) {

    private static final GuidanceInterval ALWAYS = new GuidanceInterval(0, Double.POSITIVE_INFINITY);

    /**
     * Validates the bounds.
     *
     * @param low  lowest timestep that is guided, ≥ 0
     * @param high highest timestep that is guided, ≥ {@code low} (may be infinite)
     * @throws IllegalArgumentException if a bound is NaN, {@code low} is negative or {@code high} is below {@code low}
     */
    public GuidanceInterval {
        if (Double.isNaN(low) || Double.isNaN(high) || low < 0 || high < low) {
            throw new IllegalArgumentException("guidance interval must satisfy 0 <= low <= high, found [" + low + ", "
                    + high + "]");
        }
    }

    /**
     * Guidance at every step (the default, and the reference's behaviour).
     *
     * @return the interval [0, +∞)
     */
    public static GuidanceInterval always() {
        return ALWAYS;
    }

    /**
     * Whether this interval is {@link #always()}.
     *
     * @return true if the interval is [0, +∞)
     */
    public boolean isAlways() {
        return low == 0 && high == Double.POSITIVE_INFINITY;
    }

    /**
     * Whether a step at timestep {@code t} is guided.
     *
     * @param t the step's timestep, in [0, num_timesteps]
     * @return true if {@code low <= t <= high}
     */
    public boolean guides(double t) {
        return t >= low && t <= high;
    }

    /**
     * Parses the CLI form {@code LOW,HIGH} (timesteps).
     *
     * @param spec the text, for example {@code 200,800}; blanks around each number ignored
     * @return the interval [LOW, HIGH]
     * @throws IllegalArgumentException if the text is null, not two comma-separated numbers, or an invalid interval
     */
    public static GuidanceInterval parse(String spec) {
        String[] p = spec == null ? new String[0] : spec.split(",");
        if (p.length != 2) {
            throw new IllegalArgumentException("--cfg-interval needs LOW,HIGH (timesteps in [0, 1000]), found '"
                    + spec + "'");
        }
        try {
            return new GuidanceInterval(Double.parseDouble(p[0].trim()), Double.parseDouble(p[1].trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--cfg-interval '" + spec + "': LOW and HIGH must be numbers");
        }
    }

    @Override
    public String toString() {
        return isAlways() ? "always" : String.format(Locale.ROOT, "%s,%s", low, high);
    }
}
