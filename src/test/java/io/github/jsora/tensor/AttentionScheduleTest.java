package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Attention.Schedule#PER_THREAD} against {@link Attention.Schedule#SHARED} and the naive attention, on heads
 * read in place from token rows: groups of whole matrices and blocks of query rows (a scratch too small for a whole
 * score matrix per thread, group and block counts that do not divide the work), more items than threads and fewer,
 * both softmax
 * kernels; OpenBLAS's thread count is restored, also after a refused call; concurrent products keep their results.
 */
class AttentionScheduleTest {

    private int threadsBefore;

    @BeforeEach
    void threeThreads() {
        threadsBefore = Parallel.threads();
        Parallel.setThreads(3); // more threads than this machine's cores still exercise the split
    }

    @AfterEach
    void restore() {
        Parallel.setThreads(threadsBefore);
    }

    /** One layout: {@code seqs} sequences of m query rows (q, k, v parts of width heads·hd each) over n key rows. */
    private static final class Layout implements AutoCloseable {
        final int m;
        final int n;
        final int hd;
        final int bt;
        final int qWidth;
        final Tensor qRows;
        final Tensor kvRows;
        final long[] qOff;
        final long[] kOff;
        final long[] vOff;
        final long[] outOff;
        final float[] q;
        final float[] kv;

        Layout(int seqs, int m, int n, int heads, int hd, long seed) {
            this.m = m;
            this.n = n;
            this.hd = hd;
            int c = heads * hd;
            bt = seqs * heads;
            qWidth = c;
            Random rnd = new Random(seed);
            q = Naive.randn(rnd, seqs * m * c);
            kv = Naive.randn(rnd, seqs * n * 2 * c);
            qRows = Tensor.of(q, seqs * m, c);
            kvRows = Tensor.of(kv, seqs * n, 2 * c);
            qOff = new long[bt];
            kOff = new long[bt];
            vOff = new long[bt];
            outOff = new long[bt];
            for (int j = 0; j < seqs; j++) {
                for (int h = 0; h < heads; h++) {
                    int e = j * heads + h;
                    qOff[e] = (long) j * m * c + h * hd;
                    kOff[e] = (long) j * n * 2 * c + h * hd;
                    vOff[e] = kOff[e] + c;
                    outOff[e] = qOff[e];
                }
            }
        }

        float[] run(Attention.Schedule schedule, Attention.Softmax softmax, int scratchFloats, float scale) {
            try (Tensor out = Tensor.zeros(qRows.dim(0), qWidth); Tensor scratch = Tensor.zeros(scratchFloats)) {
                Attention.sdpa(new Attention.Strided(qRows, qOff, qWidth), new Attention.Strided(kvRows, kOff,
                        2 * qWidth), new Attention.Strided(kvRows, vOff, 2 * qWidth), m, n, hd, hd, scale, scratch,
                        new Attention.Strided(out, outOff, qWidth), softmax, schedule);
                return out.toArray();
            }
        }

        /** The naive attention of matrix e, [m, hd]. */
        float[] naive(int e, float scale) {
            float[] qm = new float[m * hd];
            float[] km = new float[n * hd];
            float[] vm = new float[n * hd];
            for (int r = 0; r < m; r++) {
                System.arraycopy(q, (int) qOff[e] + r * qWidth, qm, r * hd, hd);
            }
            for (int r = 0; r < n; r++) {
                System.arraycopy(kv, (int) kOff[e] + r * 2 * qWidth, km, r * hd, hd);
                System.arraycopy(kv, (int) vOff[e] + r * 2 * qWidth, vm, r * hd, hd);
            }
            return Naive.attention(qm, km, vm, m, n, hd, hd, scale, null);
        }

        @Override
        public void close() {
            qRows.close();
            kvRows.close();
        }
    }

    @ParameterizedTest
    @CsvSource({
        // seqs, m, n, heads, hd, scratch floats, softmax
        "2, 16, 16, 3, 8, 100000, EXACT",   // whole matrices, 6 items over 3 threads
        "2, 16, 16, 3, 8, 100000, FAST",
        "1, 37, 11, 1, 5, 407, FAST",       // 135 floats a thread: blocks of 12 rows, the last of 1
        "1, 37, 11, 1, 5, 407, EXACT",
        "3, 5, 9, 2, 4, 45, EXACT",         // 15 floats a thread: 1-row blocks
        "1, 2, 300, 1, 7, 5000, FAST",      // fewer items than threads
        "7, 4, 4, 1, 6, 144, EXACT",        // 48 floats a thread: groups of 3 whole matrices, the last of 1
        "13, 4, 4, 1, 6, 96, FAST",         // groups of 2, 7 of them over 3 threads
        "2, 64, 20, 4, 72, 2000000, FAST"})
    void perThreadMatchesSharedAndNaive(int seqs, int m, int n, int heads, int hd, int scratch, String softmax) {
        float scale = 0.3f;
        Attention.Softmax sm = Attention.Softmax.valueOf(softmax);
        try (Layout l = new Layout(seqs, m, n, heads, hd, 31L * m + n)) {
            float[] shared = l.run(Attention.Schedule.SHARED, sm, scratch, scale);
            float[] perThread = l.run(Attention.Schedule.PER_THREAD, sm, scratch, scale);
            double worstShared = 0;
            double worstNaive = 0;
            for (int e = 0; e < l.bt; e++) {
                float[] want = l.naive(e, scale);
                for (int r = 0; r < m; r++) {
                    for (int i = 0; i < hd; i++) {
                        int at = (int) l.outOff[e] + r * l.qWidth + i;
                        worstShared = Math.max(worstShared, Math.abs(perThread[at] - shared[at]));
                        worstNaive = Math.max(worstNaive, Math.abs(perThread[at] - want[r * hd + i]));
                    }
                }
            }
            // the same products on another thread count: a few ulp at most (values are O(1))
            assertTrue(worstShared < 2e-6, "per-thread vs shared: " + worstShared);
            assertTrue(worstNaive < 1e-5, "per-thread vs naive: " + worstNaive);
        }
    }

    @ParameterizedTest
    @CsvSource({
        // seqs, m, n, heads, hd, scratch floats, softmax
        "2, 16, 16, 3, 8, 100000, EXACT",
        "1, 37, 11, 1, 5, 407, EXACT",      // row blocks of the per-thread schedule
        "7, 4, 4, 1, 6, 144, FAST",
        "2, 64, 20, 4, 72, 2000000, EXACT", // the few-keys kernel's shape (cross-attention)
        "2, 96, 64, 2, 72, 2000000, EXACT",
        "1, 256, 256, 2, 72, 2000000, EXACT"})  // STDiT3's spatial heads
    void sharedBitsGivesTheSharedScheduleBitForBit(int seqs, int m, int n, int heads, int hd, int scratch,
            String softmax) {
        SharedBitsSchedule.reset();
        Attention.Softmax sm = Attention.Softmax.valueOf(softmax);
        try (Layout l = new Layout(seqs, m, n, heads, hd, 17L * m + n)) {
            float[] shared = l.run(Attention.Schedule.SHARED, sm, scratch, 0.4f);
            assertArrayEquals(shared, l.run(Attention.Schedule.SHARED_BITS, sm, scratch, 0.4f));
            // the second call of the shape uses the cached choice
            assertArrayEquals(shared, l.run(Attention.Schedule.SHARED_BITS, sm, scratch, 0.4f));
        }
    }

    @Test
    void sharedBitsPicksTheFirstCandidateWithTheSameBits() {
        float[] base = {1f, -0f, Float.NaN, 3.5f};
        float[] oneUlp = base.clone();
        oneUlp[3] = Math.nextUp(oneUlp[3]);
        float[] plusZero = base.clone();
        plusZero[1] = 0f;                                                   // equal as floats, not as bits
        List<Attention.Schedule> both = List.of(Attention.Schedule.PER_THREAD_SIMD, Attention.Schedule.PER_THREAD);
        assertEquals(Attention.Schedule.PER_THREAD_SIMD,
                SharedBitsSchedule.pick(both, s -> base.clone()));
        assertEquals(Attention.Schedule.PER_THREAD, SharedBitsSchedule.pick(both,
                s -> s == Attention.Schedule.PER_THREAD_SIMD ? oneUlp : base.clone()));
        assertEquals(Attention.Schedule.SHARED, SharedBitsSchedule.pick(both,
                s -> s == Attention.Schedule.SHARED ? base : s == Attention.Schedule.PER_THREAD ? plusZero : oneUlp));
    }

    @Test
    void sharedBitsWithoutRoomForTheProbeIsShared() {
        SharedBitsSchedule.reset();
        try (Layout l = new Layout(2, 40, 24, 2, 8, 9); Tensor scratch = Tensor.zeros(100000)) {
            long old = NativeMemory.setLimit(NativeMemory.liveBytes() + 1024);   // the probe needs ~16 KB
            try {
                assertEquals(Attention.Schedule.SHARED, SharedBitsSchedule.choose(40, 24, 8, 8, false, scratch));
            } finally {
                NativeMemory.setLimit(old);
            }
            // not kept: with room again the shape is probed (and SHARED_BITS gives SHARED's bits either way)
            assertArrayEquals(l.run(Attention.Schedule.SHARED, Attention.Softmax.EXACT, 100000, 0.4f),
                    l.run(Attention.Schedule.SHARED_BITS, Attention.Softmax.EXACT, 100000, 0.4f));
        } finally {
            SharedBitsSchedule.reset();
        }
    }

    @Test
    void sharedBitsOnOneThreadIsShared() {
        Parallel.setThreads(1);
        try (Tensor scratch = Tensor.zeros(100)) {
            assertEquals(Attention.Schedule.SHARED, SharedBitsSchedule.choose(8, 8, 4, 4, false, scratch));
        }
    }

    @Test
    void oneThreadFallsBackToSharedBitForBit() {
        Parallel.setThreads(1);
        try (Layout l = new Layout(2, 24, 24, 2, 8, 7)) {
            assertArrayEquals(l.run(Attention.Schedule.SHARED, Attention.Softmax.EXACT, 10000, 0.5f),
                    l.run(Attention.Schedule.PER_THREAD, Attention.Softmax.EXACT, 10000, 0.5f));
        }
    }

    @Test
    void blasThreadCountIsRestoredAlsoAfterARefusedCall() {
        int before = Nd4j.factory().blas().getMaxThreads();
        try (Layout l = new Layout(2, 8, 8, 2, 4, 3)) {
            l.run(Attention.Schedule.PER_THREAD, Attention.Softmax.FAST, 1000, 1f);
            assertEquals(before, Nd4j.factory().blas().getMaxThreads());
            long[] bad = l.kOff.clone();
            bad[bad.length - 1] = l.kvRows.size(); // the last key matrix starts past the end of its rows
            try (Tensor out = Tensor.zeros(l.qRows.dim(0), l.qWidth); Tensor scratch = Tensor.zeros(1000)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Attention.sdpa(
                        new Attention.Strided(l.qRows, l.qOff, l.qWidth), new Attention.Strided(l.kvRows, bad,
                                2 * l.qWidth), new Attention.Strided(l.kvRows, l.vOff, 2 * l.qWidth), l.m, l.n, l.hd,
                        l.hd, 1f, scratch, new Attention.Strided(out, l.outOff, l.qWidth), Attention.Softmax.FAST,
                        Attention.Schedule.PER_THREAD));
                assertTrue(e.getMessage().contains("operand b"), e.getMessage());
            }
            assertEquals(before, Nd4j.factory().blas().getMaxThreads());
        }
    }

    /**
     * A thread-count call (made under {@link Parallel}'s lock) while per-thread attention runs (whose loop needs that
     * lock) neither waits for the attention nor makes it wait: both go on, and the count holds afterwards. (A first
     * version, whose thread-count call waited for the product lock under that lock, deadlocked here.)
     */
    @Test
    void settingTheThreadCountMeanwhileDoesNotDeadlock() throws Exception {
        try (Layout l = new Layout(8, 32, 32, 4, 8, 9)) {
            float[] want = l.run(Attention.Schedule.PER_THREAD, Attention.Softmax.FAST, 100000, 0.5f);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                AtomicBoolean attending = new AtomicBoolean(true);
                Future<Integer> setter = pool.submit(() -> {
                    int calls = 0;
                    while (attending.get()) {
                        Parallel.setThreads(3);
                        calls++;
                    }
                    return calls;
                });
                assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
                    try {
                        for (int i = 0; i < 300; i++) {
                            assertArrayEquals(want, l.run(Attention.Schedule.PER_THREAD, Attention.Softmax.FAST,
                                    100000, 0.5f));
                        }
                    } finally {
                        attending.set(false);
                    }
                    assertTrue(setter.get() > 0, "the thread count was never set meanwhile");
                });
            } finally {
                pool.shutdownNow();
            }
            assertEquals(3, Nd4j.factory().blas().getMaxThreads());
        }
    }

    /** Products of other threads, run while per-thread attention runs, give the results they give alone. */
    @Test
    void concurrentProductsKeepTheirResults() throws Exception {
        Random rnd = new Random(11);
        int dim = 192;
        try (Tensor a = Tensor.of(Naive.randn(rnd, dim * dim), dim, dim);
                Tensor b = Tensor.of(Naive.randn(rnd, dim * dim), dim, dim);
                Layout l = new Layout(4, 48, 48, 4, 16, 5)) {
            float[] alone;
            try (Tensor c = Gemm.matmul(a, false, b, true)) {
                alone = c.toArray();
            }
            float[] attentionAlone = l.run(Attention.Schedule.PER_THREAD, Attention.Softmax.FAST, 100000, 0.25f);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                List<Future<float[]>> products = new ArrayList<>();
                List<Future<float[]>> attentions = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    products.add(pool.submit(() -> {
                        try (Tensor c = Gemm.matmul(a, false, b, true)) {
                            return c.toArray();
                        }
                    }));
                    attentions.add(pool.submit(() -> l.run(Attention.Schedule.PER_THREAD, Attention.Softmax.FAST,
                            100000, 0.25f)));
                }
                for (int i = 0; i < 20; i++) {
                    assertArrayEquals(alone, products.get(i).get(), "product " + i);
                    assertArrayEquals(attentionAlone, attentions.get(i).get(), "attention " + i);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
