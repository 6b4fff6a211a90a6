package io.github.jsora.sampling;

import io.github.jsora.tensor.Tensor;

/**
 * Seeded standard-normal noise for the initial latent.
 *
 * <p>Generator (fixed, part of the contract): a SplitMix64 stream started at {@code seed} gives 64-bit words;
 * each pair of words {@code (a, b)} becomes {@code u1 = ((a >>> 11) + 1)·2⁻⁵³ ∈ (0, 1]},
 * {@code u2 = (b >>> 11)·2⁻⁵³ ∈ [0, 1)} and, by the Box–Muller transform in double precision with
 * {@link StrictMath}, the two values {@code √(−2 ln u1)·cos(2π u2)} and {@code √(−2 ln u1)·sin(2π u2)}, rounded to
 * float32 and written in C (row-major) order. It runs on one thread and uses only strictly specified arithmetic, so
 * the same seed and shape give a bit-identical tensor on every run and machine.
 *
 * <p>This cannot reproduce PyTorch's {@code torch.randn} (Mersenne Twister / Philox and its own normal transform):
 * for parity with a reference run, pass the reference's noise tensor to the sampler instead of a seed.
 */
public final class GaussianNoise {

    private static final double TWO_POW_M53 = 0x1.0p-53;
    private static final int BLOCK = 1 << 14;

    private GaussianNoise() {
    }

    /** A new tensor of {@code shape} (e.g. the latent {@code [B, C, T, H, W]}) filled with N(0, 1) noise. */
    public static Tensor sample(long seed, int... shape) {
        Tensor t = Tensor.zeros(shape);
        try {
            fill(seed, t);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** Overwrites {@code t} with the noise of {@code seed} (the same values {@link #sample} gives for its shape). */
    public static void fill(long seed, Tensor t) {
        long state = seed;
        long size = t.size();
        float[] buf = new float[(int) Math.min(BLOCK, Math.max(size, 2))];
        boolean haveSpare = false;
        float spare = 0f;
        for (long start = 0; start < size; start += buf.length) {
            int n = (int) Math.min(buf.length, size - start);
            for (int i = 0; i < n; i++) {
                if (haveSpare) {
                    buf[i] = spare;
                    haveSpare = false;
                    continue;
                }
                state += 0x9E3779B97F4A7C15L;
                long a = mix(state);
                state += 0x9E3779B97F4A7C15L;
                long b = mix(state);
                double u1 = ((a >>> 11) + 1) * TWO_POW_M53;
                double u2 = (b >>> 11) * TWO_POW_M53;
                double r = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
                double phi = 2.0 * Math.PI * u2;
                buf[i] = (float) (r * StrictMath.cos(phi));
                spare = (float) (r * StrictMath.sin(phi));
                haveSpare = true;
            }
            t.write(start, buf, 0, n);
        }
    }

    /** SplitMix64 output function. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
