package io.github.jsora;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import io.github.jsora.video.Frame;
import io.github.jsora.video.FrameSink;
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

    Video(List<Frame> frames, double fps, GenerationRequest request, GenerationStats stats) {
        this.frames = List.copyOf(frames);
        this.fps = fps;
        this.request = request;
        this.stats = stats;
    }

    public List<Frame> frames() {
        return frames;
    }

    public int width() {
        return frames.isEmpty() ? 0 : frames.get(0).width();
    }

    public int height() {
        return frames.isEmpty() ? 0 : frames.get(0).height();
    }

    public double fps() {
        return fps;
    }

    /** The request, with the seed actually used filled in. */
    public GenerationRequest request() {
        return request;
    }

    public GenerationStats stats() {
        return stats;
    }

    /**
     * Writes the video; the format follows the path: {@code .gif}, {@code .avi} (MJPEG), or a directory (path
     * ending in '/', or an existing directory) of PNG frames. The request is stored in the file's metadata.
     *
     * @param overwrite replace an existing file; when false an existing target fails with an IOException
     */
    public void write(Path path, boolean overwrite) throws IOException {
        try (FrameSink sink = VideoWriters.forPath(path, overwrite)) {
            sink.begin(width(), height(), fps, frames.size(), VideoGenerator.metadata(request));
            for (Frame f : frames) {
                sink.accept(f);
            }
            sink.finish();
        }
    }

    @Override
    public String toString() {
        return "Video[" + frames.size() + " frames " + width() + "x" + height() + " @ " + fps + " fps; " + request
                + "]";
    }
}
