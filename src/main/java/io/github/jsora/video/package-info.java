/**
 * Decoded frames and the writers of MP4 (H.264), GIF, MJPEG AVI and PNG sequences.
 *
 * <p><b>Internal.</b> Not part of jsora's API: public only so that the stages and the benchmarks can reach each
 * other; it may change in any release. The exceptions are {@link io.github.jsora.video.Frame} and {@link
 * io.github.jsora.video.VideoFormat}, which the facade's signatures use (see the README's "Public API").
 */
package io.github.jsora.video;
