package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** {@link Ops#expNonPositive}, {@link Ops#softmaxRowFast} and the FAST attention softmax against double references. */
class FastSoftmaxTest {

    /** The stated bound of expNonPositive: 3·2⁻²⁴ relative. */
    private static final double EXP_BOUND = 3 * 0x1p-24;

    private static float exp1(float x) {
        float[] v = {x};
        Ops.expNonPositive(v, 0, 1, new float[1]);
        return v[0];
    }

    @Test
    void expNonPositiveWithinStatedRelativeErrorOverItsWholeRange() {
        double worst = 0;
        float worstAt = 0;
        int chunk = 1 << 12;
        float[] v = new float[chunk + 3];
        float[] args = new float[chunk];
        float[] tmp = new float[chunk + 3];
        int end = Float.floatToRawIntBits(-87.33654f);
        // every 31st float of [-87.33, 0] (~34 million), in rows at an offset of 3
        for (int bits = Float.floatToRawIntBits(-0f); bits <= end; bits += 31 * chunk) {
            int n = (int) Math.min(chunk, (end - (long) bits) / 31 + 1);
            for (int i = 0; i < n; i++) {
                args[i] = Float.intBitsToFloat(bits + 31 * i);
                v[3 + i] = args[i];
            }
            Ops.expNonPositive(v, 3, n, tmp);
            for (int i = 0; i < n; i++) {
                double e = Math.exp(args[i]);
                double rel = Math.abs(v[3 + i] - e) / e;
                if (rel > worst) {
                    worst = rel;
                    worstAt = args[i];
                }
            }
        }
        System.err.println("expNonPositive worst relative error " + worst + " at " + worstAt);
        assertTrue(worst <= EXP_BOUND, "expNonPositive worst relative error " + worst + " at " + worstAt);
    }

    @Test
    void expNonPositiveEdges() {
        assertEquals(1f, exp1(0f));
        assertEquals(1f, exp1(-0f));
        assertEquals(0f, exp1(Float.NEGATIVE_INFINITY));
        assertEquals(0f, exp1(-87.34f));
        assertEquals(0f, exp1(-1e30f));
        assertEquals(0f, exp1(-Float.MAX_VALUE));
        assertTrue(Float.isNaN(exp1(Float.NaN)));
        assertTrue(Math.abs(exp1(-87.3f) / Math.exp((double) -87.3f) - 1) <= EXP_BOUND);
        assertTrue(Math.abs(exp1(-0x1p-30f) / Math.exp((double) -0x1p-30f) - 1) <= EXP_BOUND);
        for (int m = 0; m <= 125; m++) { // the powers of two of the scale, at −m·ln 2 (−126·ln 2 is below the range)
            float x = (float) (-m * Math.log(2));
            assertTrue(Math.abs(exp1(x) / Math.exp(x) - 1) <= EXP_BOUND, "x = " + x);
        }
    }

    @Test
    void softmaxRowFastMatchesDoubleReference() {
        Random rnd = new Random(11);
        double worst = 0;
        for (int n : new int[] {1, 7, 8, 20, 64, 256, 300, 4096}) {
            for (boolean masked : new boolean[] {false, true}) {
                float[] x = new float[3 * n];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (rnd.nextGaussian() * 8);
                }
                float[] mask = null;
                if (masked) {
                    mask = new float[n];
                    for (int i = 0; i < n; i++) {
                        mask[i] = i % 3 == 1 ? Float.NEGATIVE_INFINITY : (float) rnd.nextGaussian();
                    }
                    mask[0] = 0f;
                }
                float[] want = Naive.softmax(x, n, 0.125, mask);
                float[] got = x.clone();
                for (int r = 0; r < 3; r++) {
                    Ops.softmaxRowFast(got, r * n, n, 0.125f, mask);
                }
                for (int i = 0; i < got.length; i++) {
                    double err = Math.abs(got[i] - want[i]);
                    worst = Math.max(worst, err / (want[i] + 1e-30));
                    assertTrue(err <= 1e-6 * want[i] + 1e-12, "n " + n + " element " + i + ": " + got[i] + " vs "
                            + want[i]);
                    if (mask != null && mask[i % n] == Float.NEGATIVE_INFINITY) {
                        assertEquals(0f, got[i]);
                    }
                }
            }
        }
        System.err.println("softmaxRowFast worst relative error " + worst);
        assertTrue(worst <= 1e-6, "worst relative error " + worst);
    }

    @Test
    void blockSoftmaxEqualsRowByRow() {
        Random rnd = new Random(13);
        for (int n : new int[] {1, 5, 20, 33}) {
            int rows = 37;
            float[] a = new float[2 + rows * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (rnd.nextGaussian() * 6);
            }
            for (int i = 0; i < n; i++) {
                a[2 + 4 * n + i] = Float.NEGATIVE_INFINITY; // a fully masked row
            }
            a[2 + 7 * n] = Float.NEGATIVE_INFINITY;
            float[] b = a.clone();
            Ops.softmaxRowsFast(a, 2, rows, n, 0.3f);
            for (int r = 0; r < rows; r++) {
                Ops.softmaxRowFast(b, 2 + r * n, n, 0.3f, null);
            }
            assertArrayEquals(b, a, "n " + n);
        }
    }

    @Test
    void fullyMaskedRowBecomesZeros() {
        float[] v = {1f, 2f, 3f};
        float[] m = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        Ops.softmaxRowFast(v, 0, 3, 1f, m);
        assertArrayEquals(new float[3], v);
    }

    @Test
    void fastAttentionMatchesNaiveWithBiasAndMask() {
        Random rnd = new Random(12);
        int bt = 4;
        int m = 9;
        int n = 13;
        int d = 8;
        int dv = 5;
        float[] q = gaussian(rnd, bt * m * d);
        float[] k = gaussian(rnd, bt * n * d);
        float[] v = gaussian(rnd, bt * n * dv);
        float[] bias = gaussian(rnd, 2 * m * n);
        float[] mask = new float[2 * n];
        mask[n + 3] = Float.NEGATIVE_INFINITY;
        try (Tensor tq = Tensor.of(q, bt, m, d); Tensor tk = Tensor.of(k, bt, n, d); Tensor tv = Tensor.of(v, bt, n, dv);
                Tensor tb = Tensor.of(bias, 2, m, n); Tensor tm = Tensor.of(mask, 2, n);
                Tensor scratch = Tensor.zeros(2 * m * n); Tensor plain = Tensor.zeros(bt, m, dv);
                Tensor withBias = Tensor.zeros(bt, m, dv)) {
            Attention.sdpa(tq, tk, tv, 0.35f, null, null, scratch, plain, Attention.Softmax.FAST);
            Attention.sdpa(tq, tk, tv, 0.35f, tb, tm, scratch, withBias, Attention.Softmax.FAST);
            float[] gp = plain.toArray();
            float[] gb = withBias.toArray();
            for (int b = 0; b < bt; b++) {
                float[] qb = Arrays.copyOfRange(q, b * m * d, (b + 1) * m * d);
                float[] kb = Arrays.copyOfRange(k, b * n * d, (b + 1) * n * d);
                float[] vb = Arrays.copyOfRange(v, b * n * dv, (b + 1) * n * dv);
                float[] add = new float[m * n];
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        add[i * n + j] = bias[((b % 2) * m + i) * n + j] + mask[(b / 2) * n + j];
                    }
                }
                float[] wp = Naive.attention(qb, kb, vb, m, n, d, dv, 0.35, null);
                float[] wb = Naive.attention(qb, kb, vb, m, n, d, dv, 0.35, add);
                for (int i = 0; i < m * dv; i++) {
                    assertEquals(wp[i], gp[b * m * dv + i], 1e-5, "plain, row " + b + " element " + i);
                    assertEquals(wb[i], gb[b * m * dv + i], 1e-5, "bias+mask, row " + b + " element " + i);
                }
            }
        }
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }
}
