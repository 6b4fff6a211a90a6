package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link Attention#sdpa(Attention.Strided, Attention.Strided, Attention.Strided, int, int, int, int, float, Tensor,
 * Attention.Strided)} on heads inside token-major rows against the contiguous {@link Attention#sdpa} on copied heads
 * (bit for bit) and against the naive attention; {@link Gemm#matmulAt} against the naive product.
 */
class AttentionStridedTest {

    /**
     * Sequences of {@code len} token rows of width 3·heads·hd (q, k, v parts), {@code seqs} of them; rows of a
     * sequence are {@code rowStride} rows apart (sequence j starts at row j when the stride is above 1).
     */
    @ParameterizedTest
    @CsvSource({"3, 7, 2, 8, 1, 100000", "4, 5, 3, 6, 4, 100000", "5, 9, 2, 4, 1, 81", "2, 6, 4, 8, 2, 40"})
    void headsInPlaceMatchCopiedHeads(int seqs, int len, int heads, int hd, int rowStride, int scratchFloats) {
        int c = heads * hd;
        int width = 3 * c;
        int rows = seqs * len;
        Random rnd = new Random(seqs * 97 + len);
        float[] qkv = Naive.randn(rnd, rows * width);
        int bt = seqs * heads;
        long[][] off = new long[3][bt];
        long[] outOff = new long[bt];
        float[][] parts = new float[3][bt * len * hd];
        for (int j = 0; j < seqs; j++) {
            long base = rowStride == 1 ? (long) j * len : j;
            for (int h = 0; h < heads; h++) {
                int e = j * heads + h;
                for (int part = 0; part < 3; part++) {
                    off[part][e] = base * width + part * c + h * hd;
                    for (int p = 0; p < len; p++) {
                        System.arraycopy(qkv, (int) (off[part][e] + (long) p * rowStride * width), parts[part],
                                (e * len + p) * hd, hd);
                    }
                }
                outOff[e] = base * c + h * hd;
            }
        }
        float scale = 0.4f;
        try (Tensor t = Tensor.of(qkv, rows, width); Tensor out = Tensor.zeros(rows, c);
                Tensor q = Tensor.of(parts[0], bt, len, hd); Tensor k = Tensor.of(parts[1], bt, len, hd);
                Tensor v = Tensor.of(parts[2], bt, len, hd); Tensor ref = Tensor.zeros(bt, len, hd);
                Tensor scratch = Tensor.zeros(scratchFloats); Tensor scratch2 = Tensor.zeros(scratchFloats)) {
            Attention.sdpa(new Attention.Strided(t, off[0], width * rowStride),
                    new Attention.Strided(t, off[1], width * rowStride),
                    new Attention.Strided(t, off[2], width * rowStride), len, len, hd, hd, scale, scratch,
                    new Attention.Strided(out, outOff, c * rowStride));
            Attention.sdpa(q, k, v, scale, null, null, scratch2, ref);
            float[] got = out.toArray();
            float[] want = ref.toArray();
            float[] gathered = new float[want.length];
            for (int e = 0; e < bt; e++) {
                for (int p = 0; p < len; p++) {
                    System.arraycopy(got, (int) (outOff[e] + (long) p * rowStride * c), gathered, (e * len + p) * hd,
                            hd);
                }
            }
            assertArrayEquals(want, gathered, "strided attention differs from the contiguous one");
            double worst = 0;
            for (int e = 0; e < bt; e++) {
                float[] nv = Naive.attention(slice(parts[0], e, len * hd), slice(parts[1], e, len * hd),
                        slice(parts[2], e, len * hd), len, len, hd, hd, scale, null);
                for (int i = 0; i < nv.length; i++) {
                    worst = Math.max(worst, Math.abs(nv[i] - gathered[e * len * hd + i]));
                }
            }
            assertTrue(worst < 1e-5, "strided attention vs naive: " + worst);
        }
    }

    @Test
    void matmulAtMatchesNaiveOnSubmatrices() {
        Random rnd = new Random(5);
        int m = 5, n = 3, k = 4, lda = 11, ldb = 9, ldc = 7;
        float[] a = Naive.randn(rnd, 2 * m * lda);
        float[] b = Naive.randn(rnd, 2 * n * ldb);
        try (Tensor ta = Tensor.of(a, 2 * m, lda); Tensor tb = Tensor.of(b, 2 * n, ldb);
                Tensor tc = Tensor.zeros(2 * m, ldc)) {
            long[] ao = {2, m * lda + 5};
            long[] bo = {1, n * ldb + 3};
            long[] co = {0, m * ldc + 2};
            Gemm.matmulAt(false, true, m, n, k, 1f, ta, ao, lda, tb, bo, ldb, 0f, tc, co, ldc);
            float[] c = tc.toArray();
            for (int i = 0; i < 2; i++) {
                float[] am = new float[m * k];
                float[] bm = new float[n * k];
                for (int r = 0; r < m; r++) {
                    System.arraycopy(a, (int) ao[i] + r * lda, am, r * k, k);
                }
                for (int r = 0; r < n; r++) {
                    System.arraycopy(b, (int) bo[i] + r * ldb, bm, r * k, k);
                }
                float[] want = Naive.matmul(am, false, bm, true, m, k, n);
                for (int r = 0; r < m; r++) {
                    for (int j = 0; j < n; j++) {
                        float g = c[(int) co[i] + r * ldc + j];
                        assertTrue(Math.abs(g - want[r * n + j]) < 1e-5, "product " + i + " at " + r + "," + j);
                    }
                }
            }
            long[] outside = {m * ldc + 5}; // its last row would end one float past c
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gemm.matmulAt(false,
                    true, m, n, k, 1f, ta, new long[] {0}, lda, tb, new long[] {0}, ldb, 0f, tc, outside, ldc));
            assertTrue(e.getMessage().contains("operand c"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Gemm.matmulAt(false, true, m, n, k, 1f, ta,
                    new long[] {0}, lda, tb, new long[] {0, 1}, ldb, 0f, tc, co, ldc));
        }
    }

    private static float[] slice(float[] a, int i, int n) {
        return java.util.Arrays.copyOfRange(a, i * n, (i + 1) * n);
    }
}
