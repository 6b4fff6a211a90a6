package io.github.jsora.sampling;

/**
 * Receives one {@link StepProgress} after every finished step, on the sampling thread. An exception thrown here
 * aborts the run and propagates to the caller.
 */
@FunctionalInterface
public interface ProgressListener {

    /** A listener that ignores everything. */
    ProgressListener NONE = p -> {
    };

    void onStep(StepProgress progress);
}
