package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** {@link Ops#expFast}, {@link Ops#softmaxRowFast} and the FAST attention softmax against double references. */
class FastSoftmaxTest {

    /** The stated bound of expFast: 3·2⁻²⁴ relative. */
    private static final double EXP_BOUND = 3 * 0x1p-24;

    @Test
    void expFastWithinStatedRelativeErrorOverItsWholeRange() {
        double worst = 0;
        float worstAt = 0;
        // every 61st float of [-87.33, 0] and of [0, 88.37]: ~35 million arguments
        for (int sign = 0; sign < 2; sign++) {
            float limit = sign == 0 ? -87.33654f : 88.37626f;
            int end = Float.floatToRawIntBits(limit);
            int start = Float.floatToRawIntBits(sign == 0 ? -0f : 0f);
            for (int bits = start; bits <= end; bits += 61) {
                float x = Float.intBitsToFloat(bits);
                double e = Math.exp(x);
                double rel = Math.abs(Ops.expFast(x) - e) / e;
                if (rel > worst) {
                    worst = rel;
                    worstAt = x;
                }
            }
        }
        System.err.println("expFast worst relative error " + worst + " at " + worstAt);
        assertTrue(worst <= EXP_BOUND, "expFast worst relative error " + worst + " at " + worstAt);
    }

    @Test
    void expFastEdges() {
        assertEquals(1f, Ops.expFast(0f));
        assertEquals(1f, Ops.expFast(-0f));
        assertEquals(0f, Ops.expFast(Float.NEGATIVE_INFINITY));
        assertEquals(0f, Ops.expFast(-88f));
        assertEquals(0f, Ops.expFast(-1e30f));
        assertTrue(Float.isNaN(Ops.expFast(Float.NaN)));
        assertTrue(Ops.expFast(Float.POSITIVE_INFINITY) > 2e38f);
        assertTrue(Math.abs(Ops.expFast(-87.3f) / Math.exp((double) -87.3f) - 1) <= EXP_BOUND);
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
