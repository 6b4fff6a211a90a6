package io.github.jsora.video;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/** Combinators for {@link FrameSink}s. */
public final class FrameSinks {

    private FrameSinks() {
    }

    /**
     * A sink that forwards every call to all {@code sinks} in order (e.g. a {@link FrameCollector} and a file
     * writer). {@code close()} closes every sink even if one fails; the first failure is rethrown.
     */
    public static FrameSink tee(FrameSink... sinks) {
        if (sinks.length == 0) {
            throw new IllegalArgumentException("tee needs at least one sink");
        }
        List<FrameSink> all = List.of(sinks); // rejects nulls
        return new FrameSink() {
            @Override
            public void begin(int width, int height, double fps, int hint, Map<String, String> metadata)
                    throws IOException {
                for (FrameSink s : all) {
                    s.begin(width, height, fps, hint, metadata);
                }
            }

            @Override
            public void accept(Frame frame) throws IOException {
                for (FrameSink s : all) {
                    s.accept(frame);
                }
            }

            @Override
            public void finish() throws IOException {
                for (FrameSink s : all) {
                    s.finish();
                }
            }

            @Override
            public void close() throws IOException {
                Throwable first = null;
                for (FrameSink s : all) {
                    try {
                        s.close();
                    } catch (IOException | RuntimeException e) {
                        if (first == null) {
                            first = e;
                        } else {
                            first.addSuppressed(e);
                        }
                    }
                }
                if (first instanceof IOException io) {
                    throw io;
                }
                if (first != null) {
                    throw (RuntimeException) first;
                }
            }
        };
    }
}
