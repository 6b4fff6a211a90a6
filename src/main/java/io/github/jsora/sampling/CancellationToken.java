package io.github.jsora.sampling;

/**
 * A cancel flag shared between the thread that samples and any other thread. The sampler checks it before every
 * step (so also before the first model call); a step that is running is finished first, then the run ends with a
 * {@link SamplingCancelledException}. A token stays cancelled; use a new one per run.
 */
public final class CancellationToken {

    private volatile boolean cancelled;

    /** A token that is not cancelled. */
    public CancellationToken() {
    }

    /** A token that is never cancelled (do not call {@link #cancel()} on it). */
    public static CancellationToken none() {
        return new CancellationToken();
    }

    /** Requests cancellation; safe from any thread, idempotent. */
    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled;
    }
}
