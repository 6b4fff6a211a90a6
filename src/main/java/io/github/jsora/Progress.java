package io.github.jsora;

import java.time.Duration;

/**
 * One progress event of a generation.
 *
 * @param stage   the stage the event belongs to
 * @param step    0-based unit within the stage (denoising step, decoded frame; 0 for single-unit stages)
 * @param total   number of units the stage expects (denoising steps, frames)
 * @param elapsed time since the generation started
 * @param leapt   true on the denoising step where Linear Proportional Leap finished the sampling
 * @param cancel  handle that cancels this generation (the call then throws {@link GenerationCancelledException})
 */
public record Progress(Stage stage, int step, int total, Duration elapsed, boolean leapt, Cancel cancel) {

    /** Cancels a running generation; safe to call from any thread, any number of times. */
    @FunctionalInterface
    public interface Cancel {
        /** Cancels the generation. */
        void cancel();
    }
}
