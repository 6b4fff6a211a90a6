package io.github.jsora.sampling;

import java.util.Arrays;
import java.util.Locale;

/**
 * The timestep schedule of Open-Sora v1.2's rectified-flow sampler, computed in float32 operation by operation
 * like the reference so that the timesteps fed to the model agree to the last bit.
 *
 * <ol>
 * <li>Base grid {@code t_i = (1 − i/K)·N} for {@code i = 0..K−1} ({@code K} = steps, {@code N} = numTimesteps,
 *     normally 1000), computed in double and stored as float32; with discrete timesteps each value is first
 *     rounded to an integer (half to even, like Python's {@code round}).</li>
 * <li>Optional resolution/length shift on the 0–1 scale {@code s = t/N}:
 *     {@code r = √(height·width/512²) · √(F_t)}, {@code t' = N · r·s / (1 + (r−1)·s)}, where {@code height, width}
 *     are PIXEL sizes and {@code F_t} is a frame factor derived from the pixel frame count {@code F}:
 *     <ul>
 *     <li>{@code F = 1} (an image): {@code F_t = 1} — as the reference;</li>
 *     <li>{@code F ≥ 17}: {@code F_t = ⌊F/17⌋·5} — as the reference (the latent frame count of the whole 17-frame
 *         chunks; fps plays no part);</li>
 *     <li>{@code 2 ≤ F ≤ 16}: {@code F_t = ⌈F/4⌉}, the latent frame count the v1.2 VAE makes of such a clip. This
 *         is jsora's choice: the reference computes {@code ⌊F/17⌋·5 = 0}, hence {@code r = 0}, a NaN first
 *         timestep ({@code 0/0}) and 0 for every other step. It is the only place where jsora departs from the
 *         reference formula.</li>
 *     </ul></li>
 * </ol>
 *
 * <p>The transform of {@code t = N} can round slightly above {@code N} in float32 (64×64 px, 17 frames gives
 * {@code 1000.0001220703125}). jsora feeds that value to the model unchanged and updates the latent on every step,
 * like the reference sampler called with {@code mask=None}. (Open-Sora's inference script passes a mask of ones,
 * with which such a first step runs the model with all frames marked as conditioning and then discards the update;
 * {@link SamplerOptions.Builder#inferenceScriptMask(long)} reproduces that when asked.)
 *
 * <p>Every schedule is checked at construction: finite, positive and strictly decreasing, so no step has a zero or
 * negative size and none is silently dropped; a violation is an {@link IllegalArgumentException} naming the options.
 *
 * <p>Step sizes on the 0–1 scale are float32 like the reference: {@code dt_i = (t'_i − t'_{i+1})/N} and
 * {@code dt_{K−1} = t'_{K−1}/N}; a Linear Proportional Leap at step {@code i} uses {@code t'_i/N} (straight to 0).
 * Instances are immutable.
 */
public final class RflowSchedule {

    /** The reference's base resolution of the shift, 512². */
    private static final float BASE_RESOLUTION = 512f * 512f;

    private final float[] timesteps;   // [K], transformed, 0..N scale
    private final int numTimesteps;
    private final float ratio;         // r (1 when the transform is off)
    private final int frameFactor;     // F_t (0 when the transform is off)

    private RflowSchedule(float[] timesteps, int numTimesteps, float ratio, int frameFactor) {
        this.timesteps = timesteps;
        this.numTimesteps = numTimesteps;
        this.ratio = ratio;
        this.frameFactor = frameFactor;
    }

    /** The schedule of validated options (see {@link SamplerOptions}). */
    public static RflowSchedule of(SamplerOptions o) {
        return compute(o.steps(), o.numTimesteps(), o.discreteTimesteps(), o.timestepTransform(), o.height(),
                o.width(), o.numFrames());
    }

    /**
     * Computes a schedule; arguments are checked ({@code height}, {@code width}, {@code numFrames} only when the
     * transform is on).
     */
    static RflowSchedule compute(int steps, int numTimesteps, boolean discrete, boolean transform, int height,
            int width, int numFrames) {
        SamplerOptions.requireRange("steps", steps, 1, SamplerOptions.MAX_STEPS);
        SamplerOptions.requireRange("numTimesteps", numTimesteps, 1, SamplerOptions.MAX_NUM_TIMESTEPS);
        if (discrete && steps > numTimesteps) {
            throw new IllegalArgumentException("steps must be in [1, numTimesteps=" + numTimesteps
                    + "] with discrete timesteps (more steps would round to equal timesteps), found " + steps);
        }
        float ratio = 1f;
        int frameFactor = 0;
        if (transform) {
            SamplerOptions.requireRange("height", height, 1, SamplerOptions.MAX_PIXELS);
            SamplerOptions.requireRange("width", width, 1, SamplerOptions.MAX_PIXELS);
            SamplerOptions.requireRange("numFrames", numFrames, 1, SamplerOptions.MAX_FRAMES);
            frameFactor = frameFactor(numFrames);
            // float32, operation by operation: sqrt(h*w / 512^2) * sqrt(F_t / 1) * 1.0
            float space = sqrtF(((float) height * (float) width) / BASE_RESOLUTION);
            float time = sqrtF((float) frameFactor);
            ratio = space * time;
        }
        float n = numTimesteps;
        float[] ts = new float[steps];
        for (int i = 0; i < steps; i++) {
            double base = (1.0 - (double) i / steps) * numTimesteps;   // Python float arithmetic
            float t = discrete ? (float) Math.rint(base) : (float) base;
            if (transform) {
                float s = t / n;
                float num = ratio * s;
                float den = 1f + (ratio - 1f) * s;
                t = (num / den) * n;
            }
            ts[i] = t;
        }
        for (int i = 0; i < steps; i++) {
            boolean ok = Float.isFinite(ts[i]) && ts[i] > 0f && (i == 0 || ts[i] < ts[i - 1]);
            if (!ok) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "timestep schedule (steps=%d, numTimesteps=%d, discrete=%b, transform=%b, height=%d, "
                                + "width=%d, numFrames=%d, shift r=%s) is not finite, positive and strictly "
                                + "decreasing at step %d (t=%s%s); use fewer steps or another size",
                        steps, numTimesteps, discrete, transform, height, width, numFrames, ratio, i, ts[i],
                        i > 0 ? ", previous " + ts[i - 1] : ""));
            }
        }
        return new RflowSchedule(ts, numTimesteps, ratio, frameFactor);
    }

    /** The frame factor {@code F_t} of the length shift for {@code numFrames ≥ 1} pixel frames (see class doc). */
    public static int frameFactor(int numFrames) {
        if (numFrames < 1) {
            throw new IllegalArgumentException("numFrames must be >= 1, found " + numFrames);
        }
        if (numFrames == 1) {
            return 1;
        }
        if (numFrames >= 17) {
            return numFrames / 17 * 5;
        }
        return (numFrames + 3) / 4;
    }

    /** float32 square root (correctly rounded: the double root of a float rounds to the float root). */
    private static float sqrtF(float v) {
        return (float) Math.sqrt(v);
    }

    /** Number of steps K. */
    public int steps() {
        return timesteps.length;
    }

    /** The scale N of the timesteps (normally 1000). */
    public int numTimesteps() {
        return numTimesteps;
    }

    /** Transformed timestep of step {@code i} on the 0…N scale, as fed to the model. */
    public float timestep(int i) {
        return timesteps[i];
    }

    /** All transformed timesteps ({@code [K]}, a copy). */
    public float[] timesteps() {
        return timesteps.clone();
    }

    /** Euler step size of step {@code i} on the 0–1 scale: {@code (t'_i − t'_{i+1})/N}, the last {@code t'_{K−1}/N}. */
    public float dt(int i) {
        float d = i < timesteps.length - 1 ? timesteps[i] - timesteps[i + 1] : timesteps[i];
        return d / (float) numTimesteps;
    }

    /** Step size of a leap at step {@code i} straight to time 0: {@code t'_i/N}. */
    public float leapDt(int i) {
        return timesteps[i] / (float) numTimesteps;
    }

    /** The shift ratio r (1 when the transform is off). */
    public float shiftRatio() {
        return ratio;
    }

    /** The frame factor F_t of the shift (0 when the transform is off). */
    public int frameFactor() {
        return frameFactor;
    }

    @Override
    public String toString() {
        return "RflowSchedule[K=" + timesteps.length + ", N=" + numTimesteps + ", r=" + ratio + ", F_t=" + frameFactor
                + ", t=" + Arrays.toString(timesteps) + "]";
    }
}
