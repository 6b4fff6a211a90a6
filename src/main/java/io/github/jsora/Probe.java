package io.github.jsora;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.text.TokenizedBatch;

/**
 * Package-private observation points of a generation, used by the end-to-end golden tests to compare every stage
 * with the reference. Tensors are valid only during the call.
 */
interface Probe {

    Probe NONE = new Probe() {
    };

    /** Token ids and mask of the prompt batch. */
    default void tokens(TokenizedBatch tokens) {
    }

    /** The captions handed to the transformer: y2 [2, 1, L, Cc] and the mask [b, L]. */
    default void captions(Tensor y2, Tensor mask) {
    }

    /** One transformer evaluation: input x [2B, C, T, H, W], timesteps [2B], raw output [2B, 2C, T, H, W]. */
    default void step(int step, Tensor x, float[] timesteps, Tensor out) {
    }

    /** One decoded frame [3, H, W] in ≈[−1, 1], before the 8-bit conversion. */
    default void frame(int index, Tensor frame) {
    }

    /** Temporal decoder output of one chunk (spatial latents, before the spatial decoder). */
    default void temporalOutput(int chunk, int firstFrame, Tensor x) {
    }
}
