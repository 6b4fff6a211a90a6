package io.github.jsora;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import io.github.jsora.tensor.StageTimer;
import io.github.jsora.video.Frame;
import io.github.jsora.video.FrameSink;
import io.github.jsora.video.VideoFormat;
import io.github.jsora.video.VideoWriters;

/**
 * A generated video: 8-bit RGB frames, the frame rate, the request that made it (with the seed actually used) and
 * the run's timings and counters. Immutable; frames live on the heap.
 */
public final class Video {

    private final List<Frame> frames;
    private final double fps;
    private final GenerationRequest request;
    private final GenerationStats stats;
    private long writeNanos; // time spent in write(), guarded by this

    Video(List<Frame> frames, double fps, GenerationRequest request, GenerationStats stats) {
        this.frames = List.copyOf(frames);
        this.fps = fps;
        this.request = request;
        this.stats = stats;
    }

    /**
     * The frames in display order.
     *
     * @return the frames (unmodifiable; empty for a video written straight to a file)
     */
    public List<Frame> frames() {
        return frames;
    }

    /**
     * The frame width.
     *
     * @return width in pixels, 0 without frames
     */
    public int width() {
        return frames.isEmpty() ? 0 : frames.get(0).width();
    }

    /**
     * The frame height.
     *
     * @return height in pixels, 0 without frames
     */
    public int height() {
        return frames.isEmpty() ? 0 : frames.get(0).height();
    }

    /**
     * The frame rate.
     *
     * @return frames per second
     */
    public double fps() {
        return fps;
    }

    /**
     * The request, with the seed actually used filled in.
     *
     * @return the request
     */
    public GenerationRequest request() {
        return request;
    }

    /**
     * The run's timings and counters. {@link GenerationStats#writeSeconds()} includes the time spent in
     * {@link #write} calls made so far on this video.
     *
     * @return the statistics
     */
    public GenerationStats stats() {
        long w;
        synchronized (this) {
            w = writeNanos;
        }
        return w == 0 ? stats : stats.withWriteSeconds(stats.writeSeconds() + w / 1e9);
    }

    /**
     * Writes the video; the format follows the path as {@link VideoFormat#of(Path)} says: {@code .mp4} (H.264),
     * {@code .gif}, {@code .avi} (MJPEG), or an existing directory for PNG frames; any other path is refused. The
     * request is stored in the file's metadata. The time taken is counted in the
     * {@link GenerationStats#writeSeconds()} of later {@link #stats()} calls.
     *
     * @param path      the output file
     * @param overwrite replace an existing file; when false an existing target fails with an IOException
     * @throws IOException if the output cannot be written
     * @throws IllegalArgumentException for an unsupported extension, naming the path and the supported forms
     */
    public void write(Path path, boolean overwrite) throws IOException {
        write(VideoFormat.of(path), path, overwrite);
    }

    /**
     * Writes the video in the given format, whatever the path's extension; the explicit way to ask for a new
     * directory of PNG frames ({@link VideoFormat#PNG_SEQUENCE}).
     *
     * @param format    the output format
     * @param path      the output file, or the directory for PNG frames
     * @param overwrite replace an existing output; when false an existing target fails with an IOException
     * @throws IOException if the output cannot be written
     */
    public void write(VideoFormat format, Path path, boolean overwrite) throws IOException {
        StageTimer.Scope writing = StageTimer.start("write");
        try (FrameSink sink = VideoWriters.create(format, path, overwrite)) {
            sink.begin(width(), height(), fps, frames.size(), VideoGenerator.metadata(request));
            for (Frame f : frames) {
                sink.accept(f);
            }
            sink.finish();
        }
        writing.close();
        addWriteNanos(writing.nanos());
    }

    private synchronized void addWriteNanos(long nanos) {
        writeNanos += nanos;
    }

    @Override
    public String toString() {
        return "Video[" + frames.size() + " frames " + width() + "x" + height() + " @ " + fps + " fps; " + request
                + "]";
    }
}
