package io.github.jsora.vae;

import io.github.jsora.tensor.Tensor;

/**
 * Optional taps into the decode path (for tests and diagnostics). Tensors are valid only during the call.
 */
public interface DecodeObserver {

    /** No taps. */
    DecodeObserver NONE = new DecodeObserver() {
    };

    /**
     * The latent of one temporal chunk after {@code z·scale + shift}.
     *
     * @param z [C, tz, h, w], latent frames [firstLatentFrame, firstLatentFrame + tz) of {@code sample}
     */
    default void scaledLatent(int sample, int chunk, int firstLatentFrame, Tensor z) {
    }

    /**
     * The temporal decoder's output for one chunk (after the crop of its padding frames): the spatial latent
     * before the division by 0.18215.
     *
     * @param x [C, f, h, w], frames [firstFrame, firstFrame + f) of {@code sample}
     */
    default void temporalOutput(int sample, int chunk, int firstFrame, Tensor x) {
    }
}
