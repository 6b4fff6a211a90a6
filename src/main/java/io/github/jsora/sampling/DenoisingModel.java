package io.github.jsora.sampling;

import io.github.jsora.tensor.Tensor;

/**
 * The denoiser as the sampler sees it: a velocity predictor for a classifier-free-guidance batch. The sampler knows
 * nothing of the architecture or of text; everything the model is conditioned on (the caption embedding and the
 * null caption, the caption mask, fps, pixel height and width) is bound into the implementation by glue code.
 *
 * <p>Batch layout: rows {@code 0..B-1} of {@code x} are the conditional half (caption y), rows {@code B..2B-1} the
 * unconditional half (the null caption, or a negative prompt's embedding when one is given; which one is the
 * glue's business: the sampler only combines the two halves). Both halves hold the same latent, {@code [z; z]}.
 *
 * <p>The {@code step} index (0-based, in the order of {@link RflowSchedule#timestep(int)}) lets an implementation
 * apply per-step strategies such as temporal token merging (TDTM) only on some steps; a plain model ignores it.
 *
 * <p>Contract: {@code x} is owned by the sampler and reused between steps (read it, do not keep or modify it). The
 * returned tensor is handed to the sampler, which calls {@link Tensor#close()} on it after the step (closing a view
 * is a no-op, so an implementation may return a view of a buffer it reuses). Implementations need not be
 * thread-safe: one generation calls {@code forward} sequentially from one thread.
 */
@FunctionalInterface
public interface DenoisingModel {

    /**
     * Predicts the velocity (x0 − noise convention of rectified flow) for both guidance halves.
     *
     * @param x         latent batch {@code [2B, C, T, H, W]}: conditional half, then unconditional half
     * @param timesteps {@code [2B]} transformed timesteps on the 0…{@code numTimesteps} (normally 0…1000) scale;
     *                  the first may exceed 1000 by a float32 rounding (see {@link RflowSchedule})
     * @param step      0-based sampling step index
     * @return {@code [2B, C', T, H, W]} with {@code C' ≥ C}; channels {@code 0..C-1} are the velocity, any further
     *         channels (STDiT3's learned variance) are ignored
     */
    Tensor forward(Tensor x, float[] timesteps, int step);

    /**
     * Like {@link #forward(Tensor, float[], int)}, with a frame mask (Open-Sora's {@code x_mask}): frame
     * {@code f} of sample {@code b} is generated when {@code generated[b·T + f]} and a conditioning frame otherwise,
     * which the model modulates with the embedding of timestep 0 instead of {@code timesteps}. The rows are those
     * of the conditional half ({@code [B, T]}); the unconditional half uses the same rows (the reference's
     * {@code repeat(2, 1)}). The sampler calls it only when some frame is a conditioning frame (see
     * {@link FrameConditioning}); with every frame generated it calls {@link #forward(Tensor, float[], int)}.
     *
     * <p>The default serves a model whose timesteps act only through that modulation (STDiT3) when every frame is
     * a conditioning frame (it passes timestep 0), and refuses a mixed mask; a model with a real frame mask
     * overrides it.
     *
     * @param generated {@code [B·T]} row-major; true = generated (x_mask true)
     * @throws UnsupportedOperationException from the default, for a mask with both kinds of frames
     */
    default Tensor forward(Tensor x, float[] timesteps, boolean[] generated, int step) {
        for (boolean g : generated) {
            if (g) {
                throw new UnsupportedOperationException(getClass().getName() + " has no per-frame mask: override "
                        + "DenoisingModel.forward(x, timesteps, generated, step) to sample with reference frames");
            }
        }
        return forward(x, new float[timesteps.length], step);
    }
}
