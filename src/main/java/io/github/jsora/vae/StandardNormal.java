package io.github.jsora.vae;

/**
 * The source of the standard-normal draws of the VAE's sampled encode path ({@link VideoVae#encode(
 * io.github.jsora.tensor.Tensor, StandardNormal)}). Each {@link #fill} call stands for one {@code torch.randn} call
 * of the reference, with exactly that call's element count, in the reference's call order: first one call per
 * spatial micro-batch of {@link VaeConfig#microBatchSize()} frames over the (sample, frame) order, shape
 * [frames, latentChannels, h, w]; then one call per temporal chunk of {@link VaeConfig#microFrameSize()} frames,
 * shape [B, embedDim, latent frames of the chunk, h, w]. A generator whose output depends on the call size (as
 * PyTorch's CPU generator does) therefore reproduces the reference's draws; {@code TorchCpuRandom::fillNormal}
 * fits as a method reference.
 */
@FunctionalInterface
public interface StandardNormal {

    /** Fills {@code out} with the next {@code out.length} independent N(0, 1) draws, as one call. */
    void fill(float[] out);
}
