package io.github.jsora.vae;

import java.util.concurrent.atomic.AtomicLong;

import io.github.jsora.tensor.Tensor;

/**
 * Counts the native bytes of activation tensors (not weights) a decoder holds: every intermediate is allocated
 * through {@link #alloc} and freed through {@link #free}, so {@link #currentBytes()} is what is live now and
 * {@link #peakBytes()} the most that was live at once since the last {@link #resetPeak()}. Thread-safe.
 */
public final class ActivationMeter {

    private final AtomicLong current = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();
    private final AtomicLong allocated = new AtomicLong();

    /** A new zero-filled tensor, counted until {@link #free}d. */
    public Tensor alloc(int... shape) {
        Tensor t = Tensor.zeros(shape);
        long now = current.addAndGet(t.ownedBytes());
        allocated.addAndGet(t.ownedBytes());
        peak.accumulateAndGet(now, Math::max);
        return t;
    }

    /** Closes a tensor from {@link #alloc} and stops counting it; null and already closed tensors are ignored. */
    public void free(Tensor t) {
        if (t != null && !t.isClosed()) {
            current.addAndGet(-t.ownedBytes());
            t.close();
        }
    }

    /** Bytes live now. */
    public long currentBytes() {
        return current.get();
    }

    /** Most bytes live at once since the last reset. */
    public long peakBytes() {
        return peak.get();
    }

    /** Total bytes ever allocated (a measure of allocation churn). */
    public long allocatedBytes() {
        return allocated.get();
    }

    /** Starts a new peak measurement from the current level. */
    public void resetPeak() {
        peak.set(current.get());
    }

    @Override
    public String toString() {
        return String.format("activations: current %.1f MiB, peak %.1f MiB", currentBytes() / 1048576.0,
                peakBytes() / 1048576.0);
    }
}
