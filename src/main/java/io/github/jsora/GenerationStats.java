package io.github.jsora;

import java.util.Locale;
import java.util.OptionalInt;

/**
 * Timings and counters of one generation.
 *
 * @param textSeconds         tokenising and T5 encoding
 * @param denoiseSeconds      the sampler loop
 * @param decodeSeconds       the VAE decode
 * @param writeSeconds        writing the output file (0 when none was written)
 * @param modelEvaluations    diffusion transformer calls (each on the guidance batch of 2)
 * @param leapStep            the step at which LPL leapt, if it did
 * @param bytesLoaded         block bytes materialised from the checkpoints (T5 + STDiT3) during the generation
 * @param peakResidentBytes   peak block bytes resident at once (the larger of T5's and STDiT3's)
 * @param computeWaitSeconds  time compute waited for a block to be loaded
 * @param threads             compute threads used
 */
public record GenerationStats(double textSeconds, double denoiseSeconds, double decodeSeconds, double writeSeconds,
        int modelEvaluations, OptionalInt leapStep, long bytesLoaded, long peakResidentBytes,
        double computeWaitSeconds, int threads) {

    public double totalSeconds() {
        return textSeconds + denoiseSeconds + decodeSeconds + writeSeconds;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "text %.2fs, denoise %.2fs, decode %.2fs, write %.2fs; %d model "
                + "evaluations%s; blocks loaded %.1f MB, peak resident %.1f MB, compute waited %.2fs; %d threads",
                textSeconds, denoiseSeconds, decodeSeconds, writeSeconds, modelEvaluations,
                leapStep.isPresent() ? ", leapt at step " + leapStep.getAsInt() : "", bytesLoaded / 1e6,
                peakResidentBytes / 1e6, computeWaitSeconds, threads);
    }
}
