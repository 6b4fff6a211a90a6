package io.github.jsora.video;

import java.util.Map;

/** The life-cycle checks every {@link FrameSink} shares: begin once, frames of the begun size, finish once. */
final class SinkState {

    private final String what;
    private int width;
    private int height;
    private double fps;
    private int frames;
    private boolean begun;
    private boolean finished;
    private boolean closed;

    SinkState(String what) {
        this.what = what;
    }

    void begin(int width, int height, double fps, Map<String, String> metadata) {
        if (closed) {
            throw new IllegalStateException(what + ": begin() after close()");
        }
        if (begun) {
            throw new IllegalStateException(what + ": begin() called twice");
        }
        Frame.checkSize(width, height);
        if (!(fps > 0) || Double.isInfinite(fps)) {
            throw new IllegalArgumentException(what + ": fps must be finite and > 0, got " + fps);
        }
        if (metadata == null) {
            throw new IllegalArgumentException(what + ": metadata must not be null (use Map.of())");
        }
        metadata.forEach((k, v) -> {
            if (k == null || v == null) {
                throw new IllegalArgumentException(what + ": metadata has a null key or value (" + k + ")");
            }
        });
        this.width = width;
        this.height = height;
        this.fps = fps;
        this.begun = true;
    }

    void accept(Frame frame) {
        if (!begun || finished || closed) {
            throw new IllegalStateException(what + ": accept() is only allowed between begin() and finish()");
        }
        if (frame == null) {
            throw new IllegalArgumentException(what + ": frame is null");
        }
        if (frame.width() != width || frame.height() != height) {
            throw new IllegalArgumentException(what + ": frame " + frames + " is " + frame.width() + "x"
                    + frame.height() + ", the video is " + width + "x" + height);
        }
        frames++;
    }

    /** Checks that finish() may run now. */
    void finish() {
        if (!begun || finished || closed) {
            throw new IllegalStateException(what + ": finish() is only allowed once, after begin()");
        }
        if (frames == 0) {
            throw new IllegalStateException(what + ": no frames were written");
        }
        finished = true;
    }

    /** Marks the sink closed; returns true if it was open (first call). */
    boolean close() {
        boolean wasOpen = !closed;
        closed = true;
        return wasOpen;
    }

    boolean begun() {
        return begun;
    }

    boolean finished() {
        return finished;
    }

    int width() {
        return width;
    }

    int height() {
        return height;
    }

    double fps() {
        return fps;
    }

    int frames() {
        return frames;
    }
}
