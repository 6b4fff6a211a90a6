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

    /** The float-lane SIMD loops of {@link VectorFloat} run (the same bits as the scalar loops either way). */
    private static final boolean SIMD = ExactExp.vectorised();

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

    /**
     * {@code out = GELU_tanh(a) · b} in one pass (T5's gated feed-forward: {@code geluTanh(a, a)} then
     * {@code mul(a, b, a)} read and write {@code a} twice); bit-identical to those two calls.
     */
    public static void geluTanhMul(Tensor a, Tensor b, Tensor out) {
        sameSize("geluTanhMul", a, b);
        sameSize("geluTanhMul", a, out);
        blockwise(a, b, out, (x, y, n) -> {
            for (int i = 0; i < n; i++) {
                x[i] = geluTanh(x[i]) * y[i];
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
        blockwise(x, null, out, (a, y, n) -> ExactExp.silu(a, 0, n));
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

    /**
     * {@link #layerNormRow} on v[off..off+c) with float32 statistics over 8 interleaved partial sums, so that the
     * JIT vectorises all three passes (the double sums of {@link #layerNormRow} run one dependent add an element).
     * Agrees with {@link #layerNormRow} within 2e-6 absolute on unit-variance rows of 1152 and 4096 (tests).
     */
    public static void layerNormRowFast(float[] v, int off, int c, float eps) {
        float mean = sum8(v, off, c) / c;
        float[] d = scratch(3, off + c);
        for (int i = 0; i < c; i++) {
            float t = v[off + i] - mean;
            d[off + i] = t * t;
        }
        float inv = (float) (1.0 / Math.sqrt(sum8(d, off, c) / c + (double) eps));
        for (int i = 0; i < c; i++) {
            v[off + i] = (v[off + i] - mean) * inv;
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
        scaleByWeight(v, off, c, (float) (1.0 / Math.sqrt(sq / c + eps)), w);
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

    /**
     * Softmax of scale·v[off..off+n) (+ mask) in place: {@code (float) Math.exp(a − max)} of every a, their sum in
     * double in index order, times the float of its inverse; a row without a finite or +∞ entry (all −∞ or NaN) is
     * all zeros. The exps run through {@link ExactExp} and the max as a vectorised reduction, with the results of the
     * plain scalar loops bit for bit (see {@link #scaleAndMax}).
     */
    public static void softmaxRow(float[] v, int off, int n, float scale, float[] mask) {
        float max = scaleAndMax(v, off, n, scale, mask);
        if (max == Float.NEGATIVE_INFINITY) {
            Arrays.fill(v, off, off + n, 0f);
            return;
        }
        for (int i = 0; i < n; i++) {
            v[off + i] -= max;
        }
        ExactExp.exp(v, off, n); // (float) Math.exp(v − max), SIMD where the JVM has the Vector API
        scaleRow(v, off, n, (float) (1.0 / rowSum(v, off, n)));
    }

    /**
     * {@link #softmaxRow} without a mask on {@code rows} consecutive rows of {@code n} at {@code off}, the same bits
     * row by row: one exp pass over the block, and the double sums of four rows as independent chains (each still
     * adds its row in index order), so short rows and the sums' latency cost less.
     */
    public static void softmaxRows(float[] v, int off, int rows, int n, float scale) {
        float[] maxes = scratch(2, rows);
        for (int r = 0; r < rows; r++) {
            int o = off + r * n;
            float max = scaleAndMax(v, o, n, scale, null);
            maxes[r] = max;
            if (max != Float.NEGATIVE_INFINITY) {
                for (int i = 0; i < n; i++) {
                    v[o + i] -= max;
                }
            }
        }
        ExactExp.exp(v, off, rows * n);
        double[] sums = new double[4];
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int o = off + r * n;
            sum4(v, o, n, n, sums);
            for (int j = 0; j < 4; j++) {
                normaliseRow(v, o + j * n, n, maxes[r + j], sums[j]);
            }
        }
        for (; r < rows; r++) {
            int o = off + r * n;
            normaliseRow(v, o, n, maxes[r], rowSum(v, o, n));
        }
    }

    /** Σ v[off..off+n) in double, in index order. */
    private static double rowSum(float[] v, int off, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += v[off + i];
        }
        return sum;
    }

    /**
     * out[j] = Σ_i v[o + j·stride + i] over i &lt; n in double, for j &lt; 4, each in index order (four independent
     * chains: the same bits as four {@code rowSum}s at a quarter of the latency).
     */
    public static void sum4(float[] v, int o, int stride, int n, double[] out) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        for (int i = 0; i < n; i++) {
            s0 += v[o + i];
            s1 += v[o + stride + i];
            s2 += v[o + 2 * stride + i];
            s3 += v[o + 3 * stride + i];
        }
        out[0] = s0;
        out[1] = s1;
        out[2] = s2;
        out[3] = s3;
    }

    /**
     * out[j] = Σ_i d·d in double with the float d = v[o + j·stride + i] − m_j, for j &lt; 4, each in index order
     * (with m_j = 0, d is v itself: the sums of squares of an RMS norm).
     */
    public static void squares4(float[] v, int o, int stride, int n, float m0, float m1, float m2, float m3,
            double[] out) {
        double q0 = 0;
        double q1 = 0;
        double q2 = 0;
        double q3 = 0;
        for (int i = 0; i < n; i++) {
            float d0 = v[o + i] - m0;
            float d1 = v[o + stride + i] - m1;
            float d2 = v[o + 2 * stride + i] - m2;
            float d3 = v[o + 3 * stride + i] - m3;
            q0 += d0 * d0;
            q1 += d1 * d1;
            q2 += d2 * d2;
            q3 += d3 * d3;
        }
        out[0] = q0;
        out[1] = q1;
        out[2] = q2;
        out[3] = q3;
    }

    /** The last step of an exact softmax row: zeros for a row without a max, else v·(float) (1 / sum). */
    private static void normaliseRow(float[] v, int off, int n, float max, double sum) {
        if (max == Float.NEGATIVE_INFINITY) {
            Arrays.fill(v, off, off + n, 0f);
        } else {
            scaleRow(v, off, n, (float) (1.0 / sum));
        }
    }

    /** {@code v[off + i] *= by} for i &lt; n (in SIMD registers where {@link ExactExp#vectorised()}, same bits). */
    public static void scaleRow(float[] v, int off, int n, float by) {
        for (int i = SIMD ? VectorFloat.scale(v, off, n, by) : 0; i < n; i++) {
            v[off + i] *= by;
        }
    }

    /** {@code v[off + i] += add[i]} for i &lt; n (in SIMD registers where {@link ExactExp#vectorised()}, same bits). */
    public static void addRow(float[] v, int off, float[] add, int n) {
        for (int i = SIMD ? VectorFloat.add(v, off, add, n) : 0; i < n; i++) {
            v[off + i] += add[i];
        }
    }

    /**
     * {@link #rmsNormRow} with weight w on each of {@code heads} consecutive runs of hd floats from v[off] (a q or k
     * row of per-head RMS norms), the same bits as one head after the other: each head's double sum of its float
     * squares in index order, then v·inv·w. Groups of heads run as independent chains, {@link VectorFloat#HEADS} in
     * SIMD lanes (one gather a step) where {@link ExactExp#vectorised()}; the heads left over (all of them without
     * SIMD) four at a time in scalar registers, then one by one.
     */
    public static void rmsNormHeads(float[] v, int off, int heads, int hd, float[] w, float eps) {
        int h = SIMD ? VectorFloat.rmsNormHeads(v, off, heads, hd, w, eps) : 0;
        if (h + 4 <= heads) {
            double[] sq = new double[4];
            for (; h + 4 <= heads; h += 4) {
                int o0 = off + h * hd;
                squares4(v, o0, hd, hd, 0f, 0f, 0f, 0f, sq);
                for (int j = 0; j < 4; j++) {
                    scaleByWeight(v, o0 + j * hd, hd, (float) (1.0 / Math.sqrt(sq[j] / hd + eps)), w);
                }
            }
        }
        for (; h < heads; h++) {
            rmsNormRow(v, off + h * hd, hd, w, eps);
        }
    }

    /** {@code v[off + i] = v[off + i]·inv·w[i]}: an RMS norm's second pass. */
    static void scaleByWeight(float[] v, int off, int n, float inv, float[] w) {
        for (int i = SIMD ? VectorFloat.scaleByWeight(v, off, n, inv, w) : 0; i < n; i++) {
            v[off + i] = v[off + i] * inv * w[i];
        }
    }

    /**
     * The interleaved rotary embedding on the n/2 pairs (a, b) = (v[off + 2i], v[off + 2i + 1]), n even: a·c − b·s and
     * b·c + a·s, with the angle tables in pair layout from {@code t}: c = cosPairs[t + 2i] = cosPairs[t + 2i + 1],
     * s = sinPairs[t + 2i + 1] = −sinPairs[t + 2i] (so both results are x·c + y·s' with one sign in the table: the
     * same bits, as x·(−s) = −(x·s) exactly, provided the signed entries are made with unary minus, so that a zero sine
     * gives −0). Both tables need {@code t + n} entries. In SIMD registers where {@link ExactExp#vectorised()}.
     */
    public static void rotatePairs(float[] v, int off, int n, float[] cosPairs, float[] sinPairs, int t) {
        if ((n & 1) != 0) {
            throw new IllegalArgumentException("rotatePairs: " + n + " floats are not whole pairs");
        }
        for (int i = SIMD ? VectorFloat.rotatePairs(v, off, n, cosPairs, sinPairs, t) : 0; i < n; i += 2) {
            float a = v[off + i];
            float b = v[off + i + 1];
            v[off + i] = a * cosPairs[t + i] + b * sinPairs[t + i];
            v[off + i + 1] = b * cosPairs[t + i + 1] + a * sinPairs[t + i + 1];
        }
    }

    /**
     * v[off + i] = v[off + i]·scale + (mask[i] or 0) in place; returns the largest non-NaN result, −∞ when there is
     * none. The loop is a {@code Math.max} reduction ({@link VectorFloat#scaleAddMax} in SIMD registers where
     * {@link ExactExp#vectorised()}: the same max); a NaN in the row makes that NaN, and then the
     * scalar comparison loop finds the max that ignores NaN, as the softmax always did. A max of ±0 may come out
     * with the other zero sign than a first-wins comparison gives, which changes no a − max.
     */
    private static float scaleAndMax(float[] v, int off, int n, float scale, float[] mask) {
        float max = Float.NEGATIVE_INFINITY;
        int done = 0;
        if (SIMD) {
            max = VectorFloat.scaleAddMax(v, off, n, scale, mask);
            done = VectorFloat.grouped(n);
        }
        if (mask == null) {
            for (int i = done; i < n; i++) {
                float a = v[off + i] * scale + 0f;
                v[off + i] = a;
                max = Math.max(max, a);
            }
        } else {
            for (int i = done; i < n; i++) {
                float a = v[off + i] * scale + mask[i];
                v[off + i] = a;
                max = Math.max(max, a);
            }
        }
        if (Float.isNaN(max)) {
            max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                if (v[off + i] > max) {
                    max = v[off + i];
                }
            }
        }
        return max;
    }

    // ------------------------------------------------------------------ fast exp and softmax

    // exp(x) = 2^−m · exp(r), −m = round(x·log2 e), r = x + m·ln 2 (Cody–Waite: ln 2 split into a 12-bit head, so
    // m·LN2_HI is exact, and a tail), exp(r) on |r| ≤ ln2/2 by a degree-6 polynomial fitted for this project
    // (relative-error least squares with re-weighting; fit error 1.9e-9). Rounding adds 1.5·2^23 in the float adder,
    // and 2^−m is the exact product of 2^(−2^j) over the bits j of m, each bit b found as m − 2·⌊m/2⌋ (again by the
    // adder): only float +, ·, max, so C2 vectorises the loops (no Math.min, no bit moves, no library call). The work
    // is split into four passes over the row because C2 only unrolls, hence vectorises, loops with small bodies
    // (measured on JDK 17: one fused loop ran scalar, 17 ns an element; the passes together about 2.5 ns).
    static final float EXP_LO = -87.33654f;   // exp below is subnormal: the result is 0
    static final float LOG2E = 1.44269504088896341f;
    static final float LN2_HI = 0.693115234375f;
    static final float LN2_LO = 3.194618329871446e-05f;
    static final float ROUND_MAGIC = 12582912f; // 1.5·2^23
    static final float E0 = 1.000000001f;
    static final float E1 = 1.000000036f;
    static final float E2 = 0.4999999209f;
    static final float E3 = 0.1666642045f;
    static final float E4 = 0.04166822592f;
    static final float E5 = 0.008374792964f;
    static final float E6 = 0.001383674306f;

    /**
     * {@code v[off..off+n) = exp(v)} in place for arguments ≤ 0 (a softmax's {@code x − max}): relative error
     * ≤ 3·2⁻²⁴ = 1.8e-7 (measured max 1.1e-7 over every 31st float of [−87.33, 0], asserted by the tests);
     * exactly 0 below −87.33 (including −∞, so masked keys get weight 0) where {@code Math.exp} would give a
     * subnormal or 0; NaN stays NaN; positive arguments are outside the contract. In SIMD registers where
     * {@link ExactExp#vectorised()} ({@link VectorFloat#expNonPositive}: the same bits for arguments ≤ 0 and NaN), else
     * vectorised by C2 (see above).
     *
     * @param tmp scratch of at least {@code off + n} floats, elements {@code off..off+n) overwritten (the same
     *            indices as {@code v}'s: C2 only vectorises when it can see the two arrays cannot overlap at a
     *            distance)
     */
    public static void expNonPositive(float[] v, int off, int n, float[] tmp) {
        int done = SIMD ? VectorFloat.expNonPositive(v, off, n, tmp) : 0;
        expNonPositiveScalar(v, off + done, n - done, tmp);
    }

    /** The scalar loops of {@link #expNonPositive}: the reference its SIMD loop equals. */
    static void expNonPositiveScalar(float[] v, int off, int n, float[] tmp) {
        for (int i = 0; i < n; i++) {
            // m = −round(x·log2 e), plus 512 below EXP_LO (also −∞; NaN stays NaN) so that the last factor is 0
            float x = v[off + i];
            float xc = Math.max(EXP_LO, x);
            float nf = (xc * LOG2E + ROUND_MAGIC) - ROUND_MAGIC;
            float below = Math.max(-1f, (x - xc) * 0x1p100f); // 0, or −1 below EXP_LO
            tmp[off + i] = -nf - 512f * below;
        }
        for (int i = 0; i < n; i++) {
            float xc = Math.max(EXP_LO, v[off + i]);
            float nf = (xc * LOG2E + ROUND_MAGIC) - ROUND_MAGIC;
            float r = (xc - nf * LN2_HI) - nf * LN2_LO;
            v[off + i] = ((((((E6 * r + E5) * r + E4) * r + E3) * r + E2) * r + E1) * r + E0);
        }
        for (int i = 0; i < n; i++) {
            float m = tmp[off + i];
            float h = ((m * 0.5f - 0.25f) + ROUND_MAGIC) - ROUND_MAGIC;
            float b = m - 2f * h;
            float s = b * 0.5f + (1f - b);
            m = h;
            h = ((m * 0.5f - 0.25f) + ROUND_MAGIC) - ROUND_MAGIC;
            b = m - 2f * h;
            s *= b * 0x1p-2f + (1f - b);
            m = h;
            h = ((m * 0.5f - 0.25f) + ROUND_MAGIC) - ROUND_MAGIC;
            b = m - 2f * h;
            s *= b * 0x1p-4f + (1f - b);
            v[off + i] *= s;
            tmp[off + i] = h;
        }
        for (int i = 0; i < n; i++) {
            float m = tmp[off + i];
            float h = ((m * 0.5f - 0.25f) + ROUND_MAGIC) - ROUND_MAGIC;
            float b = m - 2f * h;
            float s = b * 0x1p-8f + (1f - b);
            m = h;
            h = ((m * 0.5f - 0.25f) + ROUND_MAGIC) - ROUND_MAGIC;
            b = m - 2f * h;
            s *= b * 0x1p-16f + (1f - b);
            m = h;
            h = ((m * 0.5f - 0.25f) + ROUND_MAGIC) - ROUND_MAGIC;
            b = m - 2f * h;
            s *= b * 0x1p-32f + (1f - b);
            s *= Math.max(0f, h * 0x1p-64f + (1f - h)); // the last bit (m < 128), or 0 when 512 was added
            v[off + i] *= s;
        }
    }

    /**
     * {@link #softmaxRow} with {@link #expNonPositive} and a float32 sum over 8 interleaved partial sums (the loops
     * vectorise); agrees with {@link #softmaxRow} within 1e-6 relative per probability (measured 7.9e-7 against a double softmax) for rows up to
     * 4096 (asserted by the tests). Same treatment of fully masked rows (all zeros).
     */
    public static void softmaxRowFast(float[] v, int off, int n, float scale, float[] mask) {
        float max = scaleAndMax(v, off, n, scale, mask);
        if (max == Float.NEGATIVE_INFINITY) {
            Arrays.fill(v, off, off + n, 0f);
            return;
        }
        for (int i = 0; i < n; i++) {
            v[off + i] -= max;
        }
        expNonPositive(v, off, n, scratch(3, off + n));
        float inv = 1f / sum8(v, off, n);
        for (int j = 0; j < n; j++) {
            v[off + j] *= inv;
        }
    }

    /**
     * {@link #softmaxRowFast} without a mask on {@code rows} consecutive rows of {@code n} at {@code off}, with one
     * exp pass over the whole block (short rows, e.g. temporal attention over 20 frames, otherwise spend their time
     * in the vector loops' scalar remainders). Same results as calling {@link #softmaxRowFast} row by row.
     */
    public static void softmaxRowsFast(float[] v, int off, int rows, int n, float scale) {
        int len = rows * n;
        float[] maxes = scratch(2, rows);
        for (int r = 0; r < rows; r++) {
            int o = off + r * n;
            float max = SIMD ? VectorFloat.scaleMax(v, o, n, scale) : Float.NEGATIVE_INFINITY;
            for (int i = SIMD ? VectorFloat.grouped(n) : 0; i < n; i++) {
                v[o + i] *= scale;
                max = Math.max(max, v[o + i]);
            }
            maxes[r] = max;
            if (max != Float.NEGATIVE_INFINITY) {
                for (int i = 0; i < n; i++) {
                    v[o + i] -= max;
                }
            }
        }
        expNonPositive(v, off, len, scratch(3, off + len));
        for (int r = 0; r < rows; r++) {
            int o = off + r * n;
            if (maxes[r] == Float.NEGATIVE_INFINITY) {
                Arrays.fill(v, o, o + n, 0f);
                continue;
            }
            float inv = 1f / sum8(v, o, n);
            for (int i = 0; i < n; i++) {
                v[o + i] *= inv;
            }
        }
    }

    /** Sum of v[off..off+n) over 8 interleaved float partial sums, combined pairwise. */
    private static float sum8(float[] v, int off, int n) {
        float s0 = 0f;
        float s1 = 0f;
        float s2 = 0f;
        float s3 = 0f;
        float s4 = 0f;
        float s5 = 0f;
        float s6 = 0f;
        float s7 = 0f;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            int o = off + i;
            s0 += v[o];
            s1 += v[o + 1];
            s2 += v[o + 2];
            s3 += v[o + 3];
            s4 += v[o + 4];
            s5 += v[o + 5];
            s6 += v[o + 6];
            s7 += v[o + 7];
        }
        for (; i < n; i++) {
            s0 += v[off + i];
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }
}
