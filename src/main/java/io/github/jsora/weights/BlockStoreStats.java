package io.github.jsora.weights;

import java.time.Duration;

/**
 * A snapshot of a {@link BlockStore}'s counters since it was created or since its last
 * {@link BlockStore#resetStats()} (call that at the start of each generation to get per-generation numbers).
 * Immutable.
 *
 * @param budgetBytes       the store's hard limit on block memory
 * @param residentBytes     block bytes held now (materialised or being materialised)
 * @param peakResidentBytes largest {@code residentBytes} seen (never above the budget)
 * @param bytesLoaded       bytes materialised from the checkpoint (float32 bytes written)
 * @param loads             blocks materialised
 * @param acquires          {@link BlockStore#acquire} calls
 * @param loadTime          time spent materialising blocks (on the loader thread or in {@code acquire})
 * @param computeWait       time callers of {@code acquire} spent waiting for a block to load (with prefetch off:
 *                          the whole synchronous load time); {@code loadTime − computeWait} was hidden behind
 *                          compute
 * @param residentBlocks    blocks the plan keeps resident
 * @param streamedBlocks    blocks the plan streams each pass
 */
public record BlockStoreStats(long budgetBytes, long residentBytes, long peakResidentBytes, long bytesLoaded,
        long loads, long acquires, Duration loadTime, Duration computeWait, int residentBlocks, int streamedBlocks) {

    /** Wait in seconds (for tables). */
    public double computeWaitSeconds() {
        return computeWait.toNanos() / 1e9;
    }

    /** Load time in seconds. */
    public double loadSeconds() {
        return loadTime.toNanos() / 1e9;
    }

    @Override
    public String toString() {
        return String.format("blocks: resident now %s, peak %s of budget %s; loaded %s in %d loads taking %.3f s; "
                + "%d acquires; compute waited %.3f s (%d resident / %d streamed blocks)",
                ResidencyPlan.mib(residentBytes), ResidencyPlan.mib(peakResidentBytes),
                budgetBytes == Long.MAX_VALUE ? "unlimited" : ResidencyPlan.mib(budgetBytes),
                ResidencyPlan.mib(bytesLoaded), loads, loadSeconds(), acquires, computeWaitSeconds(), residentBlocks,
                streamedBlocks);
    }
}
