/**
 * The Open-Sora v1.2 video VAE: the temporal and spatial (SD-XL) decoders and encoders, chunked within the memory
 * budget.
 *
 * <p><b>Internal.</b> Not part of jsora's API: public only so that the stages and the benchmarks can reach each
 * other; it may change in any release. Use the facade {@link io.github.jsora.VideoGenerator} instead.
 */
package io.github.jsora.vae;
