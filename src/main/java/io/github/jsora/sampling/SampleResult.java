package io.github.jsora.sampling;

import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;

import io.github.jsora.tensor.Tensor;

/**
 * The outcome of one sampling run: the final latent and the run's counters. The latent is owned by the result;
 * {@link #close()} frees it (or keep the tensor and close it yourself).
 */
public final class SampleResult implements AutoCloseable {

    private final Tensor latent;   // [B, C, T, H, W]
    private final int modelCalls;
    private final int leapStep;                            // -1 when no leap
    private final List<Duration> stepTimes;
    private final float[] timesteps;

    SampleResult(Tensor latent, int modelCalls, int leapStep, List<Duration> stepTimes,
            float[] timesteps) {
        this.latent = latent;
        this.modelCalls = modelCalls;
        this.leapStep = leapStep;
        this.stepTimes = List.copyOf(stepTimes);
        this.timesteps = timesteps.clone();
    }

    /** The final latent {@code [B, C, T, H, W]} (time 0). */
    public Tensor latent() {
        return latent;
    }

    /** Number of model evaluations (each on the 2B guidance batch). */
    public int modelCalls() {
        return modelCalls;
    }

    /** The step at which the run leapt to time 0, empty when all steps ran as Euler steps. */
    public OptionalInt leapStep() {
        return leapStep < 0 ? OptionalInt.empty() : OptionalInt.of(leapStep);
    }

    /** Wall time of each executed step, in order (one per model call). */
    public List<Duration> stepTimes() {
        return stepTimes;
    }

    /** Total wall time of the executed steps. */
    public Duration totalTime() {
        Duration d = Duration.ZERO;
        for (Duration s : stepTimes) {
            d = d.plus(s);
        }
        return d;
    }

    /** The full schedule's timesteps ({@code [K]}, a copy); the run used the first {@link #modelCalls()}. */
    public float[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public void close() {
        latent.close();
    }

    @Override
    public String toString() {
        return "SampleResult[latent=" + latent.shapeString() + ", modelCalls=" + modelCalls + ", leapStep="
                + (leapStep < 0 ? "none" : leapStep) + ", time=" + totalTime() + "]";
    }
}
