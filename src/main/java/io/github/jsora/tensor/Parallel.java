package io.github.jsora.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Data-parallel loops for the Java kernels: splits an index range into chunks run on a shared
 * {@link ForkJoinPool}. The thread count defaults to the number of available processors and can be set with the
 * system property {@code jsora.threads} or {@link #setThreads(int)} (which also sets ND4J's BLAS threads).
 *
 * <p>Every kernel splits work the same way for the same thread count, so results are deterministic for a given
 * thread count; reductions are never split across threads.
 *
 * <p>The count is process-wide (ND4J's BLAS thread count is too), so runs that overlap in time must agree on it:
 * {@link #lease(int)} takes the count for a run and refuses, with an {@link IllegalStateException} naming both
 * counts, a different count while another lease is held. The compute threads are daemon threads named
 * {@code jsora-compute-N}; {@link #retain()} / {@link #release()} count the open users (generators), and when the
 * last one releases the pool is shut down so its idle threads end at once (a program exits promptly even under
 * launchers that wait for the threads they started, such as {@code mvn exec:java}). The next parallel loop starts
 * a new pool.
 */
public final class Parallel {

    /** Below this many scalar operations a loop runs on the calling thread. */
    private static final long MIN_WORK = 1 << 15;

    private static final AtomicInteger THREAD_IDS = new AtomicInteger();

    private static volatile int threads = defaultThreads();
    private static ForkJoinPool pool; // guarded by Parallel.class; null until used or after the last release
    private static int users;         // open generators (retain/release)
    private static int leases;        // runs holding the thread count

    private Parallel() {
    }

    /** The count used when none is asked for: {@code jsora.threads}, else the available processors. */
    public static int defaultThreads() {
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
        return threads;
    }

    /**
     * Sets the number of threads of the Java kernels and of ND4J's matrix products.
     *
     * @throws IllegalStateException when a run holding a {@link #lease} uses another count now
     */
    public static synchronized void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be >= 1, found " + n);
        }
        if (leases > 0 && n != threads) {
            throw conflict(n);
        }
        apply(n);
    }

    private static void apply(int n) {
        if (n != threads) {
            threads = n;
            if (pool != null) {
                pool.shutdown();
                pool = null;
            }
        }
        Gemm.setThreads(n);
    }

    private static IllegalStateException conflict(int n) {
        return new IllegalStateException("compute threads " + n + " conflict with the " + threads + " of a "
                + "generation running now in this JVM (the count is process-wide, and a different count would change "
                + "the other run's results); run them one after the other, or give both the same thread count");
    }

    /** A run's hold on the thread count; close it when the run ends. */
    public interface Lease extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Takes the thread count {@code n} (0: {@link #defaultThreads()}) for one run.
     *
     * @throws IllegalStateException when another run holds a different count now
     */
    public static synchronized Lease lease(int n) {
        int want = n == 0 ? defaultThreads() : n;
        if (want < 1) {
            throw new IllegalArgumentException("threads must be >= 1 (or 0 for the default), found " + n);
        }
        if (leases > 0 && want != threads) {
            throw conflict(want);
        }
        if (leases == 0) {
            apply(want);
        }
        leases++;
        boolean[] closed = {false};
        return () -> {
            synchronized (Parallel.class) {
                if (!closed[0]) {
                    closed[0] = true;
                    leases--;
                }
            }
        };
    }

    /** Counts one more user of the pool (an open generator). */
    public static synchronized void retain() {
        users++;
    }

    /** Counts one user less; the last one shuts the pool down (its threads end; a later loop starts a new one). */
    public static synchronized void release() {
        if (users > 0 && --users == 0 && pool != null) {
            pool.shutdown();
            pool = null;
        }
    }

    private static synchronized ForkJoinPool pool() {
        if (pool == null) {
            pool = new ForkJoinPool(threads, p -> {
                ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
                t.setName("jsora-compute-" + THREAD_IDS.incrementAndGet());
                t.setDaemon(true);
                return t;
            }, null, false);
        }
        return pool;
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
        if (ForkJoinTask.inForkJoinPool()) {
            new Chunk(body, n, chunks, 0, chunks).invoke(); // nested: stay in the pool already running us
            return;
        }
        for (int attempt = 0; ; attempt++) {
            try {
                pool().invoke(new Chunk(body, n, chunks, 0, chunks));
                return;
            } catch (RejectedExecutionException e) {
                if (attempt > 2) {
                    throw e;
                }
                // the pool was shut down by a release or a thread-count change meanwhile: take the new one
            }
        }
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
