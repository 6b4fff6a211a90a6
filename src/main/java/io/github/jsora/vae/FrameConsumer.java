package io.github.jsora.vae;

import io.github.jsora.tensor.Tensor;

/**
 * Receives decoded frames one at a time, in order (sample 0's frames 0, 1, …, then sample 1's, …), so a caller can
 * write a video without holding it in memory.
 */
@FunctionalInterface
public interface FrameConsumer {

    /**
     * @param sample     index in the latent batch
     * @param frameIndex frame index within the sample's video
     * @param frame      [3, H, W] RGB in ≈[−1, 1] (unclipped decoder output; see {@link Frames} for 8-bit). Valid
     *                   only during the call: copy what you keep.
     */
    void accept(int sample, int frameIndex, Tensor frame);
}
