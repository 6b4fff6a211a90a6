package io.github.jsora;

import java.util.Locale;
import java.util.List;
import java.util.OptionalInt;

/**
 * Timings and counters of one generation.
 *
 * @param textSeconds         tokenising and T5 encoding
 * @param denoiseSeconds      the sampler loop
 * @param decodeSeconds       the VAE decode
 * @param writeSeconds        writing the output file: by {@code generateTo} / {@code decodeTo}, or by
 *                            {@link Video#write} calls made before {@link Video#stats()} (0 when none was written)
 * @param modelEvaluations    diffusion transformer calls (each on the guidance batch of 2)
 * @param leapStep            the step at which LPL leapt, if it did
 * @param bytesLoaded         block bytes materialised from the checkpoints (T5 + STDiT3) during the generation
 * @param peakResidentBytes   peak block bytes resident at once (the larger of T5's and STDiT3's)
 * @param computeWaitSeconds  time compute waited for a block to be loaded
 * @param threads             compute threads used
 * @param textFromCache       the prompt embedding came from the generator's cache (T5 did not run)
 * @param budgetBytes         the memory budget the run was planned with (the request's, or the generator's default)
 * @param peakNativeBytes     most native memory jsora held at once during the run (weights, activations, caches;
 *                            never above the budget)
 * @param sampleEvaluations   transformer work in guided-step units: a step on the guidance batch counts 1, a step
 *                            outside the guidance interval (prompt half only) counts ½
 * @param reusedSteps         the steps whose block-stack work came from the step cache (every other step computed)
 */
public record GenerationStats(double textSeconds, double denoiseSeconds, double decodeSeconds, double writeSeconds,
        int modelEvaluations, OptionalInt leapStep, long bytesLoaded, long peakResidentBytes,
        double computeWaitSeconds, int threads, boolean textFromCache, long budgetBytes, long peakNativeBytes,
        double sampleEvaluations, List<Integer> reusedSteps) {

    public GenerationStats {
        reusedSteps = List.copyOf(reusedSteps);
    }

    /**
     * The same statistics with another {@link #writeSeconds()}.
     *
     * @param seconds the write time
     * @return a copy with {@code writeSeconds = seconds}
     */
    public GenerationStats withWriteSeconds(double seconds) {
        return new GenerationStats(textSeconds, denoiseSeconds, decodeSeconds, seconds, modelEvaluations, leapStep,
                bytesLoaded, peakResidentBytes, computeWaitSeconds, threads, textFromCache, budgetBytes,
                peakNativeBytes, sampleEvaluations, reusedSteps);
    }

    /**
     * The whole run's time.
     *
     * @return text + denoise + decode + write seconds
     */
    public double totalSeconds() {
        return textSeconds + denoiseSeconds + decodeSeconds + writeSeconds;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "text %.2fs%s, denoise %.2fs, decode %.2fs, write %.2fs; %d model "
                + "evaluations%s%s%s; blocks loaded %.1f MB, peak resident %.1f MB, compute waited %.2fs; native peak "
                + "%.1f MB of a %.1f MB budget; %d threads",
                textSeconds, textFromCache ? " (cached)" : "", denoiseSeconds, decodeSeconds, writeSeconds,
                modelEvaluations, sampleEvaluations == modelEvaluations ? ""
                        : String.format(Locale.ROOT, " (%.1f in guided-step units)", sampleEvaluations),
                reusedSteps.isEmpty() ? "" : ", " + reusedSteps.size() + " from the step cache " + reusedSteps,
                leapStep.isPresent() ? ", leapt at step " + leapStep.getAsInt() : "",
                bytesLoaded / 1e6, peakResidentBytes / 1e6, computeWaitSeconds, peakNativeBytes / 1e6,
                budgetBytes / 1e6, threads);
    }
}
