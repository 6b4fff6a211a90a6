package io.github.jsora.tensor;

/**
 * An allocation would take jsora's native memory past its limit ({@link NativeMemory#setLimit}). Thrown before the
 * memory is allocated; the message names the bytes asked for, the bytes held and the limit.
 */
public final class MemoryBudgetExceededException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Bytes the failed allocation asked for. */
    private final long requestedBytes;
    /** Native bytes jsora held when the allocation was refused. */
    private final long liveBytes;
    /** The native memory limit in force, in bytes. */
    private final long limitBytes;

    MemoryBudgetExceededException(long requestedBytes, long liveBytes, long limitBytes, String what) {
        super("memory budget exceeded: " + what + " needs " + requestedBytes + " bytes ("
                + NativeMemory.mib(requestedBytes) + ") while jsora holds " + liveBytes + " bytes ("
                + NativeMemory.mib(liveBytes) + ") of a budget of " + limitBytes + " bytes ("
                + NativeMemory.mib(limitBytes) + "); raise the budget (--budget) or lower the resolution or frames");
        this.requestedBytes = requestedBytes;
        this.liveBytes = liveBytes;
        this.limitBytes = limitBytes;
    }

    /**
     * Bytes the failed allocation asked for.
     *
     * @return the requested size in bytes
     */
    public long requestedBytes() {
        return requestedBytes;
    }

    /**
     * Bytes jsora held when the allocation failed.
     *
     * @return the native bytes live at the time of the failure
     */
    public long liveBytes() {
        return liveBytes;
    }

    /**
     * The limit in force.
     *
     * @return the native memory limit in bytes
     */
    public long limitBytes() {
        return limitBytes;
    }
}
