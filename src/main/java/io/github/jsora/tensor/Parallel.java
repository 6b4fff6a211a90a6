package io.github.jsora.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * Data-parallel loops for the Java kernels: splits an index range into chunks run on a shared
 * {@link ForkJoinPool}. The thread count defaults to the number of available processors and can be set with the
 * system property {@code jsora.threads} or {@link #setThreads(int)} (which also sets ND4J's BLAS threads).
 *
 * <p>Every kernel splits work the same way for the same thread count, so results are deterministic for a given
 * thread count; reductions are never split across threads.
 */
public final class Parallel {

    /** Below this many scalar operations a loop runs on the calling thread. */
    private static final long MIN_WORK = 1 << 15;

    private static volatile ForkJoinPool pool = new ForkJoinPool(defaultThreads());

    private Parallel() {
    }

    private static int defaultThreads() {
        String p = System.getProperty("jsora.threads");
        if (p != null) {
            try {
                int n = Integer.parseInt(p.trim());
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // fall through to the processor count
            }
            throw new IllegalArgumentException("system property jsora.threads must be a positive integer, found '"
                    + p + "'");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    /** Number of threads the kernels use. */
    public static int threads() {
        return pool.getParallelism();
    }

    /** Sets the number of threads of the Java kernels and of ND4J's matrix products. */
    public static synchronized void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be >= 1, found " + n);
        }
        if (n != threads()) {
            ForkJoinPool old = pool;
            pool = new ForkJoinPool(n);
            old.shutdown();
        }
        Gemm.setThreads(n);
    }

    /** Body of a parallel loop over [from, to). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    /**
     * Runs {@code body} over [0, n) split into contiguous chunks. {@code workPerItem} is a rough count of scalar
     * operations per index, used to stay serial for small loops.
     */
    public static void forRange(int n, long workPerItem, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int threads = threads();
        if (threads == 1 || n == 1 || (long) n * Math.max(1, workPerItem) < MIN_WORK) {
            body.run(0, n);
            return;
        }
        int chunks = Math.min(n, threads * 4);
        pool.invoke(new Chunk(body, n, chunks, 0, chunks));
    }

    private static final class Chunk extends RecursiveAction {
        private final RangeBody body;
        private final int n;
        private final int chunks;
        private final int lo;
        private final int hi;

        Chunk(RangeBody body, int n, int chunks, int lo, int hi) {
            this.body = body;
            this.n = n;
            this.chunks = chunks;
            this.lo = lo;
            this.hi = hi;
        }

        @Override
        protected void compute() {
            if (hi - lo == 1) {
                int from = (int) ((long) n * lo / chunks);
                int to = (int) ((long) n * (lo + 1) / chunks);
                body.run(from, to);
                return;
            }
            int mid = (lo + hi) >>> 1;
            invokeAll(new Chunk(body, n, chunks, lo, mid), new Chunk(body, n, chunks, mid, hi));
        }
    }
}
