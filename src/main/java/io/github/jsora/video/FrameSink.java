package io.github.jsora.video;

import java.io.Closeable;
import java.io.IOException;
import java.util.Map;

/**
 * A streaming consumer of video frames: the VAE decoder hands each frame over as soon as it is decoded, so a writer
 * never needs the whole video in memory.
 *
 * <p>Life cycle: {@link #begin} once, {@link #accept} once per frame (all frames of the size given to
 * {@code begin}), then {@link #finish} to complete the output, and always {@link #close}. File writers write to a
 * temporary file beside the target and move it into place only in {@code finish()}; {@code close()} without a
 * successful {@code finish()} discards everything, so a failed or cancelled run never leaves a half-written file
 * under the target name. The intended use is
 *
 * <pre>{@code
 * try (FrameSink sink = VideoWriters.forPath(out, false)) {
 *     sink.begin(w, h, 24, frames, metadata);
 *     for (Frame f : ...) sink.accept(f);
 *     sink.finish();
 * }
 * }</pre>
 *
 * <p>Implementations are not thread-safe: one producer thread per sink.
 */
public interface FrameSink extends Closeable {

    /**
     * Starts the video.
     *
     * @param width          frame width in pixels (every frame must have it)
     * @param height         frame height in pixels
     * @param fps            frames per second, finite and &gt; 0
     * @param frameCountHint expected number of frames, or 0 if unknown (writers only use it to size buffers)
     * @param metadata       key/value pairs written into the file where the format allows (e.g. the generation
     *                       request); may be empty, never null
     * @throws IOException if reading or writing fails
     */
    void begin(int width, int height, double fps, int frameCountHint, Map<String, String> metadata) throws IOException;

    /**
     * Appends one frame; its size must match {@link #begin}.
     *
     * @param frame the frame
     * @throws IOException if reading or writing fails
     */
    void accept(Frame frame) throws IOException;

    /**
     * Completes the output (for files: writes trailers and indexes, then moves the file into place). At least one
     * frame must have been accepted. After it, only {@link #close} may be called.
     *
     * @throws IOException if reading or writing fails
     */
    void finish() throws IOException;

    /**
     * Releases resources. If {@link #finish} has not completed, everything written so far is discarded and the
     * target is left as it was. Idempotent.
     */
    @Override
    void close() throws IOException;
}
