package io.github.jsora.video;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link FrameSink} that keeps the frames in memory, e.g. to return them to the caller and also write them with
 * {@link FrameSinks#tee}.
 */
public final class FrameCollector implements FrameSink {

    private final List<Frame> frames = new ArrayList<>();
    private final SinkState state = new SinkState("memory");
    private Map<String, String> metadata = Map.of();

    @Override
    public void begin(int width, int height, double fps, int frameCountHint, Map<String, String> metadata) {
        state.begin(width, height, fps, metadata);
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        if (frameCountHint > 0) {
            ((ArrayList<Frame>) frames).ensureCapacity(Math.min(frameCountHint, 100_000));
        }
    }

    @Override
    public void accept(Frame frame) {
        state.accept(frame);
        frames.add(frame);
    }

    @Override
    public void finish() {
        state.finish();
    }

    @Override
    public void close() {
        state.close();
    }

    /** The frames received so far, in order (unmodifiable view). */
    public List<Frame> frames() {
        return Collections.unmodifiableList(frames);
    }

    /** Frames per second given to {@link #begin}, or 0 before it. */
    public double fps() {
        return state.fps();
    }

    /** The metadata given to {@link #begin}. */
    public Map<String, String> metadata() {
        return metadata;
    }
}
