package io.github.jsora.tensor;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The process-wide account of the native memory jsora allocates: every {@link Tensor} (weights, activations,
 * workspaces, scratch, attention buffers) and every packed weight buffer is counted from allocation until it is
 * closed. Memory is released deterministically by {@code close()}, never left for the garbage collector, so
 * {@link #liveBytes()} is what jsora holds now and {@link #peakBytes()} the most it held at once.
 *
 * <p>An optional {@linkplain #setLimit limit} makes the account a hard bound: an allocation that would pass it fails
 * with a {@link MemoryBudgetExceededException} before any memory is taken, naming the bytes asked for, the bytes live
 * and the limit. The generator sets the limit to the process budget it plans with, so a planning error shows up as
 * jsora's own exception rather than as the kernel's out-of-memory killer.
 *
 * <p>Thread-safe; counting costs one atomic add per allocation and per release.
 */
public final class NativeMemory {

    private static final AtomicLong LIVE = new AtomicLong();
    private static final AtomicLong PEAK = new AtomicLong();
    private static final AtomicLong ALLOCATED = new AtomicLong();
    private static final AtomicLong TENSOR_LIVE = new AtomicLong();
    private static final AtomicLong TENSOR_PEAK = new AtomicLong();
    private static volatile long limit = Long.MAX_VALUE;

    static {
        // JavaCPP's own guard (maxphysicalbytes, by default 4 × -Xmx in 1.5.7) compares the whole process's RSS with
        // a limit that knows nothing of the machine: with the default heap it lies above physical memory, so the
        // kernel's OOM killer comes first, and with a small heap it throws from deep inside ND4J. jsora bounds its
        // own memory instead (the budget), so it switches that guard off unless the user set it.
        for (String p : new String[] {"org.bytedeco.javacpp.maxphysicalbytes", "org.bytedeco.javacpp.maxbytes"}) {
            if (System.getProperty(p) == null) {
                System.setProperty(p, "0");
            }
        }
        Amx.init(); // before oneDNN's first product: it reads its ISA setting once
        OpenBlasThreads.init(); // before OpenBLAS loads: it reads its environment then
    }

    private NativeMemory() {
    }

    /**
     * JavaCPP's limit on the process's resident set ({@code org.bytedeco.javacpp.maxphysicalbytes}; 0 = none). jsora
     * sets it to 0 before JavaCPP loads unless the user set it; a program that loaded JavaCPP first keeps JavaCPP's
     * default (a multiple of the heap), which then bounds what a budget can use.
     */
    public static long javaCppPhysicalLimit() {
        return org.bytedeco.javacpp.Pointer.maxPhysicalBytes();
    }

    /** Runs the class's set-up (JavaCPP's limits) before any ND4J class is used; called by the ND4J entry points. */
    static void init() {
        // the static initialiser does the work
    }

    /**
     * Counts {@code bytes} about to be allocated.
     *
     * @throws MemoryBudgetExceededException when the limit would be passed (nothing is counted then)
     */
    static void reserve(long bytes, String what) {
        long now = LIVE.addAndGet(bytes);
        long lim = limit;
        if (now > lim) {
            LIVE.addAndGet(-bytes);
            throw new MemoryBudgetExceededException(bytes, now - bytes, lim, what);
        }
        ALLOCATED.addAndGet(bytes);
        PEAK.accumulateAndGet(now, Math::max);
    }

    /** Stops counting {@code bytes} that were freed. */
    static void release(long bytes) {
        LIVE.addAndGet(-bytes);
    }

    /** Counts a tensor's own bytes (its share of a slab, or its allocation), whatever memory it lives in. */
    static void tensorAllocated(long bytes) {
        TENSOR_PEAK.accumulateAndGet(TENSOR_LIVE.addAndGet(bytes), Math::max);
    }

    static void tensorFreed(long bytes) {
        TENSOR_LIVE.addAndGet(-bytes);
    }

    /**
     * Bytes of the tensors alive now (the sum of their sizes; {@link #liveBytes()} is what they occupy, whole slabs
     * included).
     */
    public static long tensorBytes() {
        return TENSOR_LIVE.get();
    }

    /** Most {@link #tensorBytes()} at once since start or the last {@link #resetPeak()}. */
    public static long tensorPeakBytes() {
        return TENSOR_PEAK.get();
    }

    /** Native bytes jsora holds now. */
    public static long liveBytes() {
        return LIVE.get();
    }

    /** Most native bytes held at once since start or the last {@link #resetPeak()}. */
    public static long peakBytes() {
        return PEAK.get();
    }

    /** Total native bytes ever allocated (a measure of churn). */
    public static long allocatedBytes() {
        return ALLOCATED.get();
    }

    /** Starts a new peak measurement at the bytes live now; returns the previous peak. */
    public static long resetPeak() {
        TENSOR_PEAK.set(TENSOR_LIVE.get());
        return PEAK.getAndSet(LIVE.get());
    }

    /** The hard limit on {@link #liveBytes()} ({@link Long#MAX_VALUE}: none). */
    public static long limit() {
        return limit;
    }

    /**
     * Sets the hard limit on live native bytes ({@link Long#MAX_VALUE} for none); returns the previous limit.
     * Memory already live is not affected, only later allocations.
     */
    public static long setLimit(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("native memory limit must be > 0 bytes, found " + bytes);
        }
        long old = limit;
        limit = bytes;
        return old;
    }

    /**
     * Returns memory the allocator keeps idle for reuse (an empty slab) to the operating system; for a caller
     * about to plan with {@link #liveBytes()} or to leave memory unused for long.
     */
    public static void releaseIdle() {
        NativeArena.releaseSpare();
    }

    /** Bytes as mebibytes with one decimal, for messages. */
    public static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }
}
