package io.github.jsora.tensor;

import java.util.Arrays;

/**
 * Elementwise, normalisation and activation kernels in plain Java over {@link Tensor}s.
 *
 * <p>Each kernel moves a block of rows into a thread-local heap array with one bulk copy, computes there (loops the
 * JIT vectorises) and writes back with one bulk copy. Loops are split across {@link Parallel#threads()} threads by
 * rows; a reduction (a norm's mean, a softmax's sum) is always computed by one thread in a fixed order, so results do
 * not depend on the thread count.
 *
 * <p>Output tensors may be the input tensor (in-place) unless stated otherwise. Shapes are checked up front.
 */
public final class Ops {

    /** Elements per block of the flat elementwise kernels. */
    private static final int BLOCK = 1 << 14;

    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

    private static final Scratch SCRATCH = new Scratch(4);

    private Ops() {
    }

    /** A thread-local scratch array of at least {@code n} floats (slot 0..3). */
    static float[] scratch(int slot, int n) {
        return SCRATCH.get(slot, n);
    }

    private static void sameSize(String op, Tensor a, Tensor b) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException(op + ": shapes " + a.shapeString() + " and " + b.shapeString()
                    + " differ in size");
        }
    }

    private static int blocks(long size) {
        return Math.toIntExact((size + BLOCK - 1) / BLOCK);
    }

    @FunctionalInterface
    private interface BlockKernel {
        /** Computes on {@code n} elements of the scratch arrays. */
        void apply(float[] x, float[] y, int n);
    }

    /** out[i] = f(a[i], b[i]) blockwise; b may be null. */
    private static void blockwise(Tensor a, Tensor b, Tensor out, BlockKernel k) {
        long size = a.size();
        Parallel.forRange(blocks(size), BLOCK, (from, to) -> {
            float[] x = scratch(0, BLOCK);
            float[] y = b == null ? null : scratch(1, BLOCK);
            for (int blk = from; blk < to; blk++) {
                long start = (long) blk * BLOCK;
                int n = (int) Math.min(BLOCK, size - start);
                a.read(start, x, 0, n);
                if (b != null) {
                    b.read(start, y, 0, n);
                }
                k.apply(x, y, n);
                out.write(start, x, 0, n);
            }
        });
    }

    // ------------------------------------------------------------------ elementwise

    /** out = a + b (same element count). */
    public static void add(Tensor a, Tensor b, Tensor out) {
        sameSize("add", a, b);
        sameSize("add", a, out);
        blockwise(a, b, out, (x, y, n) -> {
            for (int i = 0; i < n; i++) {
                x[i] += y[i];
            }
        });
    }

    /** a += b. */
    public static void addInPlace(Tensor a, Tensor b) {
        add(a, b, a);
    }

    /** out = a · b elementwise (same element count). */
    public static void mul(Tensor a, Tensor b, Tensor out) {
        sameSize("mul", a, b);
        sameSize("mul", a, out);
        blockwise(a, b, out, (x, y, n) -> {
            for (int i = 0; i < n; i++) {
                x[i] *= y[i];
            }
        });
    }

    /** t = s·t. */
    public static void scaleInPlace(Tensor t, float s) {
        if (s == 1f) {
            return;
        }
        blockwise(t, null, t, (x, y, n) -> {
            for (int i = 0; i < n; i++) {
                x[i] *= s;
            }
        });
    }

    /** t[r, :] += v for every row r of t viewed as [rows, v.size()]. */
    public static void addRowVectorInPlace(Tensor t, Tensor v) {
        addRowVectorInPlace(t, v.toArray(), Math.toIntExact(v.size()));
    }

    /** t[r, :] += v[0..n) for every row r of t viewed as [rows, n]. */
    public static void addRowVectorInPlace(Tensor t, float[] v, int n) {
        if (n <= 0 || n > v.length || t.size() % n != 0) {
            throw new IllegalArgumentException("row vector of " + n + " does not divide " + t.shapeString());
        }
        int rows = Math.toIntExact(t.size() / n);
        Parallel.forRange(rows, n, (from, to) -> {
            float[] x = scratch(0, n);
            for (int r = from; r < to; r++) {
                long o = (long) r * n;
                t.read(o, x, 0, n);
                for (int i = 0; i < n; i++) {
                    x[i] += v[i];
                }
                t.write(o, x, 0, n);
            }
        });
    }

    /** out = GELU(x), tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    public static void geluTanh(Tensor x, Tensor out) {
        sameSize("gelu", x, out);
        blockwise(x, null, out, (a, y, n) -> {
            for (int i = 0; i < n; i++) {
                a[i] = geluTanh(a[i]);
            }
        });
    }

    /** Scalar tanh-GELU in float32: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) with {@link #tanh(float)}. */
    public static float geluTanh(float v) {
        return 0.5f * v * (1f + tanh(SQRT_2_OVER_PI * (v + 0.044715f * v * v * v)));
    }

    // tanh(u) ≈ u·P(u²)/Q(u²) on |u| ≤ 9 (beyond, tanh rounds to ±1 in float32): a rational fit made for this
    // project (weighted least squares on [0, 9]); max error 4e-7 evaluated in float32. Only +, ·, /, min, max,
    // so the JIT vectorises the loops that call it (Math.tanh is a scalar library call, ~10× slower here).
    private static final float TANH_CLAMP = 9f;
    private static final float P0 = 0.9999999954838704f;
    private static final float P1 = 0.13431198503429279f;
    private static final float P2 = 0.0035548806872051637f;
    private static final float P3 = 2.1569367206047615e-05f;
    private static final float P4 = 1.4649726987059353e-08f;
    private static final float Q1 = 0.4676452885959725f;
    private static final float Q2 = 0.02610336113135714f;
    private static final float Q3 = 0.00033819811490803193f;
    private static final float Q4 = 8.314455832540701e-07f;

    /** tanh in float32 via the rational fit above (absolute error ≤ 4e-7, |result| ≤ 1; NaN stays NaN). */
    public static float tanh(float x) {
        float u = Math.max(-TANH_CLAMP, Math.min(TANH_CLAMP, x));
        float u2 = u * u;
        float p = ((((P4 * u2 + P3) * u2 + P2) * u2 + P1) * u2 + P0) * u;
        float q = (((Q4 * u2 + Q3) * u2 + Q2) * u2 + Q1) * u2 + 1f;
        return Math.max(-1f, Math.min(1f, p / q));   // the fit overshoots 1 by an ulp at the clamp
    }

    /** t = max(t, 0) elementwise, row by row of the last dimension. */
    public static void relu(Tensor t) {
        int c = t.dim(-1);
        int rows = Math.toIntExact(t.size() / c);
        Parallel.forRange(rows, c, (from, to) -> {
            float[] r = new float[c];
            for (int i = from; i < to; i++) {
                t.read((long) i * c, r, 0, c);
                for (int j = 0; j < c; j++) {
                    r[j] = Math.max(r[j], 0f);
                }
                t.write((long) i * c, r, 0, c);
            }
        });
    }

    /** out = x·σ(x). */
    public static void silu(Tensor x, Tensor out) {
        sameSize("silu", x, out);
        blockwise(x, null, out, (a, y, n) -> {
            for (int i = 0; i < n; i++) {
                a[i] = silu(a[i]);
            }
        });
    }

    public static float silu(float v) {
        return (float) (v / (1.0 + Math.exp(-v)));
    }

    // ------------------------------------------------------------------ norms

    /** v[0..c) = (v − mean)/√(var + eps) in place, no affine (statistics accumulated in double). */
    public static void layerNormRow(float[] v, int c, double eps) {
        double sum = 0;
        for (int i = 0; i < c; i++) {
            sum += v[i];
        }
        float mean = (float) (sum / c);
        double sq = 0;
        for (int i = 0; i < c; i++) {
            float d = v[i] - mean;
            sq += d * d;
        }
        float inv = (float) (1.0 / Math.sqrt(sq / c + eps));
        for (int i = 0; i < c; i++) {
            v[i] = (v[i] - mean) * inv;
        }
    }

    /** RMSNorm over the last dimension: x·rsqrt(mean(x²) + eps)·weight. */
    public static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        sameSize("rmsNorm", x, out);
        int c = x.dim(-1);
        weight.requireShape("rmsNorm weight", c);
        float[] w = weight.toArray();
        int rows = Math.toIntExact(x.size() / Math.max(c, 1));
        Parallel.forRange(rows, 3L * c, (from, to) -> {
            float[] v = scratch(0, c);
            for (int r = from; r < to; r++) {
                long o = (long) r * c;
                x.read(o, v, 0, c);
                rmsNormRow(v, 0, c, w, eps);
                out.write(o, v, 0, c);
            }
        });
    }

    /** RMSNorm of v[off..off+c) in place with weight w. */
    public static void rmsNormRow(float[] v, int off, int c, float[] w, float eps) {
        double sq = 0;
        for (int i = 0; i < c; i++) {
            float a = v[off + i];
            sq += a * a;
        }
        float inv = (float) (1.0 / Math.sqrt(sq / c + eps));
        for (int i = 0; i < c; i++) {
            v[off + i] = v[off + i] * inv * w[i];
        }
    }

    /**
     * Mean and 1/√(variance + eps) of each of {@code groups} consecutive runs of {@code groupSize} elements of
     * {@code x} (the statistics of a group norm: x viewed as [N·G, C/G·spatial]), in double precision, one group per
     * thread in a fixed order.
     */
    public static void groupStatistics(Tensor x, int groups, long groupSize, double eps, double[] mean,
            double[] invStd) {
        if ((long) groups * groupSize != x.size() || mean.length < groups || invStd.length < groups) {
            throw new IllegalArgumentException("groupStatistics: " + groups + " groups of " + groupSize
                    + " elements do not fit " + x.shapeString());
        }
        int chunk = (int) Math.max(1, Math.min(groupSize, BLOCK));
        Parallel.forRange(groups, 2 * groupSize, (from, to) -> {
            float[] v = scratch(0, chunk);
            for (int g = from; g < to; g++) {
                long start = g * groupSize;
                double sum = 0;
                for (long p = 0; p < groupSize; p += chunk) {
                    int len = (int) Math.min(chunk, groupSize - p);
                    x.read(start + p, v, 0, len);
                    for (int i = 0; i < len; i++) {
                        sum += v[i];
                    }
                }
                double m = sum / groupSize;
                double sq = 0;
                for (long p = 0; p < groupSize; p += chunk) {
                    int len = (int) Math.min(chunk, groupSize - p);
                    x.read(start + p, v, 0, len);
                    for (int i = 0; i < len; i++) {
                        double d = v[i] - m;
                        sq += d * d;
                    }
                }
                mean[g] = m;
                invStd[g] = 1.0 / Math.sqrt(sq / groupSize + eps);
            }
        });
    }

    // ------------------------------------------------------------------ softmax

    /** Softmax over the last dimension, in place. */
    public static void softmaxInPlace(Tensor x) {
        softmaxInPlace(x, 1f, null);
    }

    /**
     * Softmax of {@code scale·x + mask} over the last dimension, in place.
     *
     * @param mask additive mask of shape [n] (n = last dimension), applied to every row, or null. Entries of
     *             {@code -Infinity} (or a very negative number) exclude a position; a row with every position
     *             excluded becomes all zeros rather than NaN.
     */
    public static void softmaxInPlace(Tensor x, float scale, Tensor mask) {
        int n = x.dim(-1);
        float[] m = null;
        if (mask != null) {
            mask.requireShape("softmax mask", n);
            m = mask.toArray();
        }
        float[] mm = m;
        int rows = Math.toIntExact(x.size() / Math.max(n, 1));
        Parallel.forRange(rows, 4L * n, (from, to) -> {
            float[] v = scratch(0, n);
            for (int r = from; r < to; r++) {
                long o = (long) r * n;
                x.read(o, v, 0, n);
                softmaxRow(v, 0, n, scale, mm);
                x.write(o, v, 0, n);
            }
        });
    }

    /** Softmax of scale·v[off..off+n) (+ mask) in place. */
    public static void softmaxRow(float[] v, int off, int n, float scale, float[] mask) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float a = v[off + i] * scale + (mask == null ? 0f : mask[i]);
            v[off + i] = a;
            if (a > max) {
                max = a;
            }
        }
        if (max == Float.NEGATIVE_INFINITY) {
            Arrays.fill(v, off, off + n, 0f);
            return;
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(v[off + i] - max);
            v[off + i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) {
            v[off + i] *= inv;
        }
    }
}
