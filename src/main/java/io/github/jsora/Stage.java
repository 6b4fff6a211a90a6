package io.github.jsora;

/** The stages of a generation, in order. */
public enum Stage {
    /** Tokenising the prompt and running the T5 encoder. */
    TEXT,
    /** The rectified-flow sampler running the diffusion transformer. */
    DENOISE,
    /** The video VAE turning the latent into frames. */
    DECODE,
    /** Writing the video file (only for calls that write one). */
    WRITE
}
