package io.github.jsora.sampling;

import java.util.concurrent.CancellationException;

/** Thrown by the sampler when its {@link CancellationToken} was cancelled; no partial result is returned. */
public final class SamplingCancelledException extends CancellationException {

    private static final long serialVersionUID = 1L;

    private final int completedSteps;

    SamplingCancelledException(int completedSteps, int totalSteps) {
        super("sampling cancelled after " + completedSteps + " of " + totalSteps + " steps");
        this.completedSteps = completedSteps;
    }

    /** Number of steps that had finished when the cancellation was seen. */
    public int completedSteps() {
        return completedSteps;
    }
}
