package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** Every fast kernel against its naive twin on random shapes, including sizes that are not multiples of 8. */
class TensorKernelsTest {

    private final Random rnd = new Random(7);

    private float[] randn(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    private static void close(float[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, "length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            if (Math.abs(e - actual[i]) > tol * Math.max(1, Math.abs(e))) {
                throw new AssertionError("element " + i + ": expected " + e + ", found " + actual[i]);
            }
        }
    }

    @Test
    void matmulAllTranspositionsOnOffsetViews() {
        int[][] shapes = {{1, 1, 1}, {7, 13, 5}, {33, 17, 65}, {64, 72, 9}};
        for (int[] s : shapes) {
            int m = s[0], k = s[1], n = s[2];
            for (int ta = 0; ta < 2; ta++) {
                for (int tb = 0; tb < 2; tb++) {
                    float[] a = randn(m * k);
                    float[] b = randn(k * n);
                    // place operands at an offset inside larger tensors to exercise views
                    try (Tensor big = Tensor.zeros(3 + m * k + k * n + m * n)) {
                        Tensor ta2 = big.view(3, ta == 1 ? new int[] {k, m} : new int[] {m, k});
                        Tensor tb2 = big.view(3 + m * k, tb == 1 ? new int[] {n, k} : new int[] {k, n});
                        Tensor tc = big.view(3 + m * k + k * n, m, n);
                        ta2.write(0, a, 0, a.length);
                        tb2.write(0, b, 0, b.length);
                        Gemm.matmul(ta2, ta == 1, tb2, tb == 1, tc, 1f, 0f);
                        close(Naive.matmul(a, ta == 1, b, tb == 1, m, k, n), tc.toArray(), 1e-4);
                        assertEquals(0f, big.get(0));
                    }
                }
            }
        }
    }

    @Test
    void matmulAccumulatesWithAlphaBeta() {
        float[] a = randn(5 * 3), b = randn(3 * 4), c0 = randn(5 * 4);
        Tensor c = Tensor.of(c0, 5, 4);
        Gemm.matmul(Tensor.of(a, 5, 3), false, Tensor.of(b, 3, 4), false, c, 2f, 0.5f);
        float[] p = Naive.matmul(a, false, b, false, 5, 3, 4);
        float[] e = new float[20];
        for (int i = 0; i < 20; i++) {
            e[i] = 2 * p[i] + 0.5f * c0[i];
        }
        close(e, c.toArray(), 1e-4);
    }

    @Test
    void batchedMatmulMatchesPerBatch() {
        int bt = 6, m = 11, k = 9, n = 13;
        for (boolean transB : new boolean[] {false, true}) {
            float[] a = randn(bt * m * k), b = randn(bt * k * n);
            Tensor c = Tensor.zeros(bt, m, n);
            Gemm.batchedMatmul(Tensor.of(a, bt, m, k), false, Tensor.of(b, transB ? new int[] {bt, n, k}
                    : new int[] {bt, k, n}), transB, c, 1f, 0f);
            float[] all = c.toArray();
            for (int i = 0; i < bt; i++) {
                float[] ai = java.util.Arrays.copyOfRange(a, i * m * k, (i + 1) * m * k);
                float[] bi = java.util.Arrays.copyOfRange(b, i * k * n, (i + 1) * k * n);
                close(Naive.matmul(ai, false, bi, transB, m, k, n),
                        java.util.Arrays.copyOfRange(all, i * m * n, (i + 1) * m * n), 1e-4);
            }
        }
    }

    @Test
    void linearWithBias() {
        int rows = 19, in = 23, out = 7;
        float[] x = randn(rows * in), w = randn(out * in), b = randn(out);
        Tensor y = Gemm.linear(Tensor.of(x, 1, rows, in), Tensor.of(w, out, in), Tensor.of(b, out));
        assertArrayEquals(new int[] {1, rows, out}, y.shape());
        close(Naive.linear(x, rows, in, w, out, b), y.toArray(), 1e-4);
    }

    @Test
    void shapeErrorsNameBothShapes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Gemm.matmul(Tensor.zeros(3, 4), false, Tensor.zeros(5, 6), false, Tensor.zeros(3, 6), 1, 0));
        assertTrue(e.getMessage().contains("[3, 4]") && e.getMessage().contains("[5, 6]"), e.getMessage());
    }

    @Test
    void normsAndActivations() {
        for (int c : new int[] {1, 7, 64, 1153}) {
            int rows = 5;
            float[] x = randn(rows * c);
            Tensor out = Tensor.zeros(rows, c);
            float[] ln = x.clone();
            for (int r = 0; r < rows; r++) {
                float[] row = java.util.Arrays.copyOfRange(ln, r * c, (r + 1) * c);
                Ops.layerNormRow(row, c, 1e-6);
                System.arraycopy(row, 0, ln, r * c, c);
            }
            close(Naive.layerNorm(x, c, 1e-6), ln, 1e-4);
            float[] w = randn(c);
            Ops.rmsNorm(Tensor.of(x, rows, c), Tensor.of(w, c), 1e-6f, out);
            close(Naive.rmsNorm(x, w, 1e-6), out.toArray(), 1e-4);
            Tensor g = Tensor.zeros(rows, c);
            Ops.geluTanh(Tensor.of(x, rows, c), g);
            Tensor s = Tensor.zeros(rows, c);
            Ops.silu(Tensor.of(x, rows, c), s);
            for (int i = 0; i < x.length; i++) {
                assertEquals(Naive.gelu(x[i]), g.get(i), 1e-6);
                assertEquals(Naive.silu(x[i]), s.get(i), 1e-6);
            }
        }
    }

    @Test
    void softmaxWithMaskAndFullyMaskedRow() {
        int n = 13;
        float[] x = randn(4 * n);
        float[] mask = new float[n];
        mask[3] = Float.NEGATIVE_INFINITY;
        mask[12] = -1e30f;
        Tensor t = Tensor.of(x, 4, n);
        Ops.softmaxInPlace(t, 0.5f, Tensor.of(mask, n));
        close(Naive.softmax(x, n, 0.5, mask), t.toArray(), 1e-5);
        float[] all = new float[n];
        java.util.Arrays.fill(all, Float.NEGATIVE_INFINITY);
        Tensor u = Tensor.of(randn(n), 1, n);
        Ops.softmaxInPlace(u, 1f, Tensor.of(all, n));
        for (float v : u.toArray()) {
            assertEquals(0f, v);
        }
    }

    @Test
    void largeFlatKernelsSplitAcrossBlocksAndThreads() {
        int n = (1 << 16) * 3 + 5;
        float[] x = randn(n), y = randn(n);
        Tensor a = Tensor.of(x, n);
        Ops.addInPlace(a, Tensor.of(y, n));
        for (int i = 0; i < n; i += 977) {
            assertEquals(x[i] + y[i], a.get(i), 1e-6);
        }
        assertEquals(x[n - 1] + y[n - 1], a.get(n - 1), 1e-6);
    }

    @Test
    void attentionWithBiasAndKeyMask() {
        int bt = 4, m = 7, n = 9, d = 5, dv = 3;
        float[] q = randn(bt * m * d), k = randn(bt * n * d), v = randn(bt * n * dv), bias = randn(2 * m * n);
        float[] mask = new float[2 * n];
        mask[n + 2] = Float.NEGATIVE_INFINITY; // second half of the rows cannot see key 2
        Tensor out = Tensor.zeros(bt, m, dv);
        Attention.sdpa(Tensor.of(q, bt, m, d), Tensor.of(k, bt, n, d), Tensor.of(v, bt, n, dv), 0.7f,
                Tensor.of(bias, 2, m, n), Tensor.of(mask, 2, n), out);
        float[] all = out.toArray();
        for (int b = 0; b < bt; b++) {
            float[] bb = new float[m * n];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    bb[i * n + j] = bias[((b % 2) * m + i) * n + j] / 0.7f + mask[(b / 2) * n + j] / 0.7f;
                }
            }
            float[] e = Naive.attention(java.util.Arrays.copyOfRange(q, b * m * d, (b + 1) * m * d),
                    java.util.Arrays.copyOfRange(k, b * n * d, (b + 1) * n * d),
                    java.util.Arrays.copyOfRange(v, b * n * dv, (b + 1) * n * dv), m, n, d, dv, 0.7, scaleBias(bb, 0.7f));
            close(e, java.util.Arrays.copyOfRange(all, b * m * dv, (b + 1) * m * dv), 1e-4);
        }
    }

    private static float[] scaleBias(float[] b, float s) {
        float[] o = new float[b.length];
        for (int i = 0; i < b.length; i++) {
            o[i] = b[i] * s;
        }
        return o;
    }

    @Test
    void viewsShareMemoryAndClosedTensorsRefuseAccess() {
        Tensor t = Tensor.zeros(4, 3);
        Tensor row = t.slice(2);
        row.set(1, 5f);
        assertEquals(5f, t.get(2, 1));
        assertEquals(5f, t.reshape(12).get(7));
        t.close();
        assertTrue(row.isClosed());
        assertThrows(IllegalStateException.class, () -> row.get(0));
    }

    @Test
    void headSplitAndMergeFollowTheLayout() {
        int bsz = 2, l = 5, heads = 3, dk = 4;
        float[] x = randn(bsz * l * heads * dk);
        try (Tensor src = Tensor.of(x, bsz * l, heads * dk); Tensor split = Tensor.zeros(bsz * heads, l, dk);
                Tensor back = Tensor.zeros(bsz * l, heads * dk)) {
            Attention.splitHeads(src, bsz, l, heads, dk, split);
            for (int b = 0; b < bsz; b++) {
                for (int i = 0; i < l; i++) {
                    for (int h = 0; h < heads; h++) {
                        for (int d = 0; d < dk; d++) {
                            assertEquals(x[((b * l + i) * heads + h) * dk + d],
                                    split.get(((long) (b * heads + h) * l + i) * dk + d));
                        }
                    }
                }
            }
            Attention.mergeHeads(split, bsz, l, heads, dk, back);
            assertArrayEquals(x, back.toArray());
        }
        float[] r = randn(24);
        try (Tensor t = Tensor.of(r, 4, 6)) {
            Ops.relu(t);
            for (int i = 0; i < r.length; i++) {
                assertEquals(Math.max(r[i], 0f), t.get(i));
            }
        }
    }
}
