package io.github.jsora;

/**
 * What a {@link VideoGenerator}'s model is.
 *
 * @param demo           true for the embedded demo model
 * @param hiddenSize     the diffusion transformer's width
 * @param depth          its number of spatial/temporal block pairs
 * @param captionTokens  caption length the transformer takes (T5 tokens per prompt)
 * @param latentChannels channels of the VAE latent
 * @param spatialFactor  pixels per latent pixel along each side
 * @param ditBytes       float32 bytes of the diffusion transformer's weights
 * @param vaeBytes       float32 bytes of the VAE decoder's weights
 * @param t5Bytes        float32 bytes of the T5 encoder's weights
 */
public record ModelInfo(boolean demo, int hiddenSize, int depth, int captionTokens, int latentChannels,
        int spatialFactor, long ditBytes, long vaeBytes, long t5Bytes) {

    /**
     * Float32 bytes of all three models.
     *
     * @return the bytes of all checkpoints
     */
    public long totalBytes() {
        return ditBytes + vaeBytes + t5Bytes;
    }
}
