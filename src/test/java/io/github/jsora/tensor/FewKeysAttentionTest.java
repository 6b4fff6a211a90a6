package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link Attention.Schedule#PER_THREAD_SIMD} (the few-keys SIMD products) against the naive attention and against
 * {@link Attention.Schedule#SHARED}, on heads in place in token rows: query rows strided over a sequence (as in
 * STDiT3's temporal layout) or contiguous (its cross-attention), value widths unlike the key widths, key counts
 * around the vector width and the limit, query counts that are not whole blocks or under the fewest, and offsets
 * that are not side by side (one matrix a group).
 */
class FewKeysAttentionTest {

    private int threadsBefore;

    @BeforeEach
    void threeThreads() {
        threadsBefore = Parallel.threads();
        Parallel.setThreads(3);
    }

    @AfterEach
    void restore() {
        Parallel.setThreads(threadsBefore);
    }

    /**
     * seqs sequences of m queries over n keys; token rows of q [.., heads·d] (the sequence's rows {@code stride}
     * apart) and of kv [.., heads·d + heads·dv]; out rows like q's with heads·dv floats plus 3 of slack.
     */
    @ParameterizedTest
    @CsvSource({
        // seqs, m, n, heads, d, dv, stride, shuffled
        "6, 70, 20, 4, 72, 72, 3, false",      // rows 3 apart, as temporal sequences are
        "6, 20, 20, 4, 72, 72, 3, false",      // temporal: 20 queries, under the fewest (PER_THREAD)
        "2, 75, 20, 3, 72, 72, 1, false",      // cross: contiguous queries, not whole blocks of 32
        "3, 66, 1, 2, 8, 8, 1, false",         // one key
        "2, 69, 16, 2, 16, 24, 2, false",      // n = 16 lanes, dv unlike d
        "2, 64, 17, 5, 12, 20, 1, false",
        "1, 70, 64, 2, 72, 72, 1, false",      // the most keys taken
        "3, 71, 20, 4, 72, 72, 1, true",       // heads not side by side: one matrix a group
        "2, 64, 65, 2, 16, 16, 1, false",      // past the limit: the BLAS products (PER_THREAD)
    })
    void matchesTheNaiveAttentionAndTheBlasRoute(int seqs, int m, int n, int heads, int d, int dv, int stride,
            boolean shuffled) {
        Random rnd = new Random(31L * m + n);
        int qw = heads * d;
        int kvw = heads * (d + dv);
        int ow = heads * dv + 3;
        int qRowsCount = seqs * m * stride;
        float[] q = Naive.randn(rnd, qRowsCount * qw);
        float[] kv = Naive.randn(rnd, seqs * n * kvw);
        int bt = seqs * heads;
        long[] qOff = new long[bt];
        long[] kOff = new long[bt];
        long[] vOff = new long[bt];
        long[] oOff = new long[bt];
        for (int j = 0; j < seqs; j++) {
            // sequence j's row p is row (j / stride)·m·stride + j % stride + p·stride: interleaved like temporal
            long row0 = (long) (j / stride) * m * stride + j % stride;
            for (int h = 0; h < heads; h++) {
                int e = j * heads + (shuffled ? heads - 1 - h : h);
                qOff[e] = row0 * qw + h * d;
                kOff[e] = (long) j * n * kvw + h * d;
                vOff[e] = (long) j * n * kvw + heads * d + h * dv;
                oOff[e] = row0 * ow + h * dv;
            }
        }
        float scale = (float) (1 / Math.sqrt(d));
        float[] simd;
        float[] shared;
        try (Tensor qt = Tensor.of(q, qRowsCount, qw); Tensor kvt = Tensor.of(kv, seqs * n, kvw)) {
            simd = run(qt, kvt, qOff, kOff, vOff, oOff, stride, qw, kvw, ow, m, n, d, dv, scale, qRowsCount,
                    Attention.Schedule.PER_THREAD_SIMD);
            shared = run(qt, kvt, qOff, kOff, vOff, oOff, stride, qw, kvw, ow, m, n, d, dv, scale, qRowsCount,
                    Attention.Schedule.SHARED);
            if (n > FewKeysAttention.MAX_KEYS || m < FewKeysAttention.MIN_QUERIES) {
                assertArrayEquals(run(qt, kvt, qOff, kOff, vOff, oOff, stride, qw, kvw, ow, m, n, d, dv, scale,
                        qRowsCount, Attention.Schedule.PER_THREAD), simd, "past the limit: PER_THREAD's bits");
            }
        }
        double worstNaive = 0;
        double worstShared = 0;
        int written = 0;
        for (int e = 0; e < bt; e++) {
            float[] qm = new float[m * d];
            float[] km = new float[n * d];
            float[] vm = new float[n * dv];
            for (int p = 0; p < m; p++) {
                System.arraycopy(q, (int) qOff[e] + p * stride * qw, qm, p * d, d);
            }
            for (int p = 0; p < n; p++) {
                System.arraycopy(kv, (int) kOff[e] + p * kvw, km, p * d, d);
                System.arraycopy(kv, (int) vOff[e] + p * kvw, vm, p * dv, dv);
            }
            float[] ref = Naive.attention(qm, km, vm, m, n, d, dv, scale, null);
            for (int p = 0; p < m; p++) {
                for (int c = 0; c < dv; c++) {
                    int o = (int) oOff[e] + p * stride * ow + c;
                    worstNaive = Math.max(worstNaive, Math.abs(simd[o] - ref[p * dv + c]));
                    worstShared = Math.max(worstShared, Math.abs(simd[o] - shared[o]));
                    written++;
                }
            }
        }
        assertEquals((long) bt * m * dv, written);
        // outside the matrices (the slack columns, the rows of no sequence) nothing is written
        for (int i = 0; i < simd.length; i++) {
            if (i % ow >= heads * dv) {
                assertEquals(0f, simd[i], "slack element " + i + " was written");
            }
        }
        assertTrue(worstNaive < 1e-5, "max |simd - naive| = " + worstNaive);
        assertTrue(worstShared < 2e-6, "max |simd - shared| = " + worstShared);
    }

    @ParameterizedTest
    @CsvSource({"16, 72, 72, 16", "16, 72, 72, 1", "4, 8, 16, 4"})
    void headsOfATokenFormOneGroup(int heads, int d, int dv, int expected) {
        int seqs = 3;
        long[] qo = new long[seqs * heads];
        long[] ko = new long[seqs * heads];
        long[] vo = new long[seqs * heads];
        long[] oo = new long[seqs * heads];
        int width = heads * Math.max(d, dv) * (expected == 1 ? 1 : 3);
        for (int j = 0; j < seqs; j++) {
            for (int h = 0; h < heads; h++) {
                int e = j * heads + h;
                int hh = expected == 1 ? (h * 5) % heads : h;              // a permutation breaks the steps
                qo[e] = (long) j * 7 * width + hh * d;
                ko[e] = (long) j * width + hh * d;
                vo[e] = (long) j * width + heads * d + hh * dv;
                oo[e] = (long) j * 7 * width + hh * dv;
            }
        }
        try (Tensor t = Tensor.zeros(1)) {
            assertEquals(expected, FewKeysAttention.heads(new Attention.Strided(t, qo, width),
                    new Attention.Strided(t, ko, width), new Attention.Strided(t, vo, width),
                    new Attention.Strided(t, oo, width), d, dv));
        }
    }

    private static float[] run(Tensor qt, Tensor kvt, long[] qOff, long[] kOff, long[] vOff, long[] oOff, int stride,
            int qw, int kvw, int ow, int m, int n, int d, int dv, float scale, int rows, Attention.Schedule schedule) {
        try (Tensor out = Tensor.zeros(rows, ow); Tensor scratch = Tensor.zeros(m * n * 4)) {
            Attention.sdpa(new Attention.Strided(qt, qOff, stride * qw), new Attention.Strided(kvt, kOff, kvw),
                    new Attention.Strided(kvt, vOff, kvw), m, n, d, dv, scale, scratch,
                    new Attention.Strided(out, oOff, stride * ow), Attention.Softmax.FAST, schedule);
            return out.toArray();
        }
    }
}
