package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link Attention} with a caller-owned score buffer against the naive per-row attention, including slabs smaller than the batch. */
class AttentionScratchTest {

    @ParameterizedTest
    @CsvSource({"6, 5, 7, 8, 6, 1000", "16, 20, 20, 16, 16, 900", "3, 33, 4, 8, 5, 132"})
    void matchesNaive(int bt, int m, int n, int d, int dv, int scratchFloats) {
        Random rnd = new Random(bt * 31 + m);
        float[] q = gaussian(rnd, bt * m * d);
        float[] k = gaussian(rnd, bt * n * d);
        float[] v = gaussian(rnd, bt * n * dv);
        float scale = (float) (1 / Math.sqrt(d));
        try (Tensor tq = Tensor.of(q, bt, m, d); Tensor tk = Tensor.of(k, bt, n, d); Tensor tv = Tensor.of(v, bt, n, dv);
                Tensor out = Tensor.zeros(bt, m, dv); Tensor scratch = Tensor.zeros(scratchFloats)) {
            Attention.sdpa(tq, tk, tv, scale, null, null, scratch, out);
            float[] got = out.toArray();
            double worst = 0;
            for (int b = 0; b < bt; b++) {
                float[] want = Naive.attention(Arrays.copyOfRange(q, b * m * d, (b + 1) * m * d),
                        Arrays.copyOfRange(k, b * n * d, (b + 1) * n * d),
                        Arrays.copyOfRange(v, b * n * dv, (b + 1) * n * dv), m, n, d, dv, scale, null);
                for (int i = 0; i < want.length; i++) {
                    worst = Math.max(worst, Math.abs(want[i] - got[b * m * dv + i]));
                }
            }
            assertTrue(worst < 1e-5, "batched attention vs naive: " + worst);
        }
    }

    @org.junit.jupiter.api.Test
    void biasAndMaskFollowTheirRowsAcrossSlabs() {
        int bt = 6, m = 3, n = 5, d = 4;
        Random rnd = new Random(3);
        float[] q = gaussian(rnd, bt * m * d);
        float[] k = gaussian(rnd, bt * n * d);
        float[] v = gaussian(rnd, bt * n * d);
        float[] bias = gaussian(rnd, 2 * m * n);
        float[] mask = new float[3 * n];
        mask[n + 1] = Float.NEGATIVE_INFINITY;
        try (Tensor tq = Tensor.of(q, bt, m, d); Tensor tk = Tensor.of(k, bt, n, d); Tensor tv = Tensor.of(v, bt, n, d);
                Tensor tb = Tensor.of(bias, 2, m, n); Tensor tm = Tensor.of(mask, 3, n);
                Tensor whole = Tensor.zeros(bt, m, d); Tensor slabs = Tensor.zeros(bt, m, d);
                Tensor scratch = Tensor.zeros(m * n)) {
            Attention.sdpa(tq, tk, tv, 0.5f, tb, tm, whole);               // one slab
            Attention.sdpa(tq, tk, tv, 0.5f, tb, tm, scratch, slabs);      // one batch row per slab
            org.junit.jupiter.api.Assertions.assertArrayEquals(whole.toArray(), slabs.toArray());
        }
    }

    @org.junit.jupiter.api.Test
    void scratchSmallerThanOneScoreMatrixIsRejected() {
        try (Tensor q = Tensor.zeros(2, 4, 3); Tensor k = Tensor.zeros(2, 5, 3); Tensor out = Tensor.zeros(2, 4, 3);
                Tensor scratch = Tensor.zeros(19)) {
            assertThrows(IllegalArgumentException.class, () -> Attention.sdpa(q, k, k, 1f, null, null, scratch, out));
        }
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) rnd.nextGaussian();
        }
        return f;
    }
}
