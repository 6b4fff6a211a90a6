package io.github.jsora.vae;

import io.github.jsora.tensor.Tensor;

/**
 * Optional taps into the encode path (for tests and diagnostics). Tensors are valid only during the call and must
 * not be modified.
 */
public interface EncodeObserver {

    /** No taps. */
    EncodeObserver NONE = new EncodeObserver() {
    };

    /**
     * The spatial (image) posterior of one frame, before the ×0.18215.
     *
     * @param mean   [latentChannels, h, w]
     * @param logvar [latentChannels, h, w], clamped to [−30, 20]
     */
    default void spatialPosterior(int sample, int frame, Tensor mean, Tensor logvar) {
    }

    /**
     * The spatial latent the temporal encoder receives for one sample, all frames: 0.18215 × (the posterior mean on
     * the mode path, the posterior sample on the sampled path).
     *
     * @param xz [latentChannels, F, h, w]
     */
    default void spatialLatent(int sample, Tensor xz) {
    }

    /**
     * The temporal posterior of one chunk of one sample, before the normalisation {@code (z − shift)/scale}.
     *
     * @param mean   [embedDim, tz, h, w], latent frames [firstLatentFrame, firstLatentFrame + tz)
     * @param logvar [embedDim, tz, h, w], clamped to [−30, 20]
     */
    default void temporalPosterior(int sample, int chunk, int firstLatentFrame, Tensor mean, Tensor logvar) {
    }
}
