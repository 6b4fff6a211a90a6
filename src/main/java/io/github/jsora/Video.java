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
     * Writes the video; the format follows the path: {@code .gif}, {@code .avi} (MJPEG), any other path is a
     * directory of PNG frames. The request is stored in the file's metadata.
     *
     * @param overwrite replace an existing file; when false an existing target fails with an IOException
     */
    public void write(Path path, boolean overwrite) throws IOException {
        try (FrameSink sink = sinkFor(path, overwrite)) {
            sink.begin(width(), height(), fps, frames.size(), VideoGenerator.metadata(request));
            for (Frame f : frames) {
                sink.accept(f);
            }
            sink.finish();
        }
    }

    /** The writer for a path: .gif, .avi, otherwise a directory of PNG frames. */
    static FrameSink sinkFor(Path path, boolean overwrite) throws IOException {
        String n = path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (n.endsWith(".gif") || n.endsWith(".avi")) {
            return VideoWriters.forPath(path, overwrite);
        }
        return VideoWriters.create(io.github.jsora.video.VideoFormat.PNG_SEQUENCE, path, overwrite);
    }

    @Override
    public String toString() {
        return "Video[" + frames.size() + " frames " + width() + "x" + height() + " @ " + fps + " fps; " + request
                + "]";
    }
}
