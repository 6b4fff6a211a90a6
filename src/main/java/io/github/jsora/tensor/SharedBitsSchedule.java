package io.github.jsora.tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Attention.Schedule#SHARED_BITS}: for each call shape, the fastest schedule whose output was seen, in this
 * process, to equal {@link Attention.Schedule#SHARED}'s bit for bit.
 *
 * <p>The schedules run the same softmax; they differ only in their products (BLAS on all threads, BLAS on one, or
 * the SIMD loops of {@link FewKeysAttention}). A product's order of operations for an output element is fixed by the
 * BLAS kernel, the matrix sizes and the thread count, not by the values. So one probe per shape decides for every call
 * of that shape: random matrices (fixed seed) of the call's m, n, d and dv, as many as there are compute threads, run
 * through {@link Attention.Schedule#SHARED} and through each candidate, fastest first
 * ({@link Attention.Schedule#PER_THREAD_SIMD} where it takes the shape, then {@link Attention.Schedule#PER_THREAD}); the
 * first whose output has the same bits is kept, else SHARED. The probe uses the call's own score buffer (whose
 * contents the call overwrites anyway), since its size sets the row blocks of the per-thread schedules.
 *
 * <p>On OpenBLAS's AVX-512 kernels the per-thread schedules pass at STDiT3's shapes (the XL block pair's output hash
 * is the same under all three); on its AVX2 ("Haswell") kernel they do not, and SHARED runs as before.
 */
final class SharedBitsSchedule {

    private static final Logger LOG = LoggerFactory.getLogger(SharedBitsSchedule.class);

    /**
     * What the probe looked at: the sizes, the softmax, the compute and BLAS thread counts and the score buffer's
     * size.
     */
    private record Key(int m, int n, int d, int dv, boolean fast, int threads, int blasThreads, long scratchFloats) {
    }

    private static final Map<Key, Attention.Schedule> CHOSEN = new HashMap<>();

    private SharedBitsSchedule() {
    }

    /** The schedule for a call of these sizes with this score buffer; the first call of a shape runs the probe. */
    static synchronized Attention.Schedule choose(int m, int n, int d, int dv, boolean fast, Tensor scratch) {
        int threads = Parallel.threads();
        if (threads < 2) {
            return Attention.Schedule.SHARED;                      // the per-thread schedules are SHARED here
        }
        Key key = new Key(m, n, d, dv, fast, threads, Gemm.blasThreads(), scratch.size());
        Attention.Schedule s = CHOSEN.get(key);
        if (s == null) {
            try {
                s = probe(key, scratch);
            } catch (MemoryBudgetExceededException e) {
                // the probe's few MB did not fit the memory budget: this call takes the shared schedule, which needs
                // none, and a later call of the shape probes again
                LOG.debug("float32 attention of {}x{} keys: schedule SHARED for now (no room for the probe: {})", m,
                        n, e.getMessage());
                return Attention.Schedule.SHARED;
            }
            CHOSEN.put(key, s);
        }
        return s;
    }

    /** Forgets the choices (for tests). */
    static synchronized void reset() {
        CHOSEN.clear();
    }

    /** The candidates, fastest first, for a shape. */
    static List<Attention.Schedule> candidates(int m, int n) {
        List<Attention.Schedule> c = new ArrayList<>(2);
        if (FewKeysAttention.takes(m, n)) {
            c.add(Attention.Schedule.PER_THREAD_SIMD);
        }
        c.add(Attention.Schedule.PER_THREAD);
        return c;
    }

    private static Attention.Schedule probe(Key key, Tensor scratch) {
        int count = key.threads();
        int m = key.m();
        int n = key.n();
        int d = key.d();
        int dv = key.dv();
        Attention.Softmax softmax = key.fast() ? Attention.Softmax.FAST : Attention.Softmax.EXACT;
        Random random = new Random(20261208L);
        Attention.Schedule chosen;
        try (Tensor q = gaussian(random, count, m, d);                // [count, m, d]
                Tensor k = gaussian(random, count, n, d);             // [count, n, d]
                Tensor v = gaussian(random, count, n, dv);            // [count, n, dv]
                Tensor out = Tensor.zeros(count, m, dv)) {            // [count, m, dv]
            float scale = (float) (1.0 / Math.sqrt(d));
            chosen = pick(candidates(m, n), schedule -> {
                Attention.sdpa(strided(q, (long) m * d, d), strided(k, (long) n * d, d), strided(v, (long) n * dv, dv),
                        m, n, d, dv, scale, scratch, strided(out, (long) m * dv, dv), softmax, schedule);
                return out.toArray();
            });
        }
        if (chosen == Attention.Schedule.SHARED) {
            LOG.info("float32 attention of {}x{} keys (head widths {}, {}): schedule SHARED (the per-thread products "
                    + "give other bits on this BLAS kernel)", m, n, d, dv);
        } else {
            LOG.info("float32 attention of {}x{} keys (head widths {}, {}): schedule {}, the same bits as the shared "
                    + "BLAS products here", m, n, d, dv, chosen);
        }
        return chosen;
    }

    /**
     * The first candidate whose output has the bits of {@link Attention.Schedule#SHARED}'s, else SHARED.
     *
     * @param run the probe's output under a schedule
     */
    static Attention.Schedule pick(List<Attention.Schedule> candidates, Function<Attention.Schedule, float[]> run) {
        float[] want = run.apply(Attention.Schedule.SHARED);
        for (Attention.Schedule candidate : candidates) {
            float[] got = run.apply(candidate);
            int differing = differing(want, got);
            if (differing == 0) {
                return candidate;
            }
            LOG.debug("{} differs from the shared schedule in {} of {} values", candidate, differing, want.length);
        }
        return Attention.Schedule.SHARED;
    }

    private static Tensor gaussian(Random random, int count, int rows, int cols) {
        float[] a = new float[count * rows * cols];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextGaussian();
        }
        return Tensor.of(a, count, rows, cols);
    }

    private static Attention.Strided strided(Tensor t, long matrixFloats, int ld) {
        long[] off = new long[t.dim(0)];
        for (int i = 0; i < off.length; i++) {
            off[i] = i * matrixFloats;
        }
        return new Attention.Strided(t, off, ld);
    }

    private static int differing(float[] a, float[] b) {
        if (a.length != b.length) {
            return Math.max(a.length, b.length);
        }
        int diff = 0;
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                diff++;
            }
        }
        return diff;
    }
}
