package io.github.jsora.video;

import java.util.List;
import java.util.Map;

/**
 * A video read back from a file by {@link VideoReaders}.
 *
 * @param format            the container it was read from
 * @param width             frame width in pixels
 * @param height            frame height in pixels
 * @param frames            the frames, fully composed (for GIFs: after applying offsets and disposal)
 * @param frameDurations    per-frame display time in seconds (GIF: each frame's own delay; AVI and PNG: 1 / fps)
 * @param fps               frames per second as the file states it (GIF: frames / total duration)
 * @param loopCount         GIF only: 0 = loop forever, n &gt; 0 = n repetitions, -1 = no looping extension;
 *                          -1 for other formats
 * @param metadata          the metadata written by the jsora writers (GIF comment, PNG sidecar, AVI ICMT),
 *                          empty if the file has none
 */
public record DecodedVideo(VideoFormat format, int width, int height, List<Frame> frames, List<Double> frameDurations,
        double fps, int loopCount, Map<String, String> metadata) {

    public DecodedVideo {
        frames = List.copyOf(frames);
        frameDurations = List.copyOf(frameDurations);
        metadata = Map.copyOf(metadata);
    }

    /** Number of frames. */
    public int frameCount() {
        return frames.size();
    }

    /** Total display time in seconds. */
    public double durationSeconds() {
        double s = 0;
        for (double d : frameDurations) {
            s += d;
        }
        return s;
    }
}
