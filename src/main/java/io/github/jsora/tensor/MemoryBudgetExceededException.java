package io.github.jsora.tensor;

/**
 * An allocation would take jsora's native memory past its limit ({@link NativeMemory#setLimit}). Thrown before the
 * memory is allocated; the message names the bytes asked for, the bytes held and the limit.
 */
public final class MemoryBudgetExceededException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final long requestedBytes;
    private final long liveBytes;
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

    /** Bytes the failed allocation asked for. */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** Bytes jsora held when it failed. */
    public long liveBytes() {
        return liveBytes;
    }

    /** The limit in force. */
    public long limitBytes() {
        return limitBytes;
    }
}
