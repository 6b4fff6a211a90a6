package io.github.jsora.tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Wall time per named stage of a computation: the one timer of jsora's forwards and of a generation's stages.
 *
 * <p>Two ways to attribute time, which can be mixed: {@link #lap(String)} charges the time since the previous mark
 * to a stage (for a sequence of steps where every nanosecond belongs to some stage), and {@link #time(String)}
 * opens a scope that charges its own duration when closed:
 * <pre>{@code
 * try (StageTimer.Scope s = timer.time("decode")) {
 *     ...
 * }
 * }</pre>
 * Stages are reported in first-use order. Not thread-safe: one timer per computation. A scope also reports its own
 * duration ({@link Scope#nanos()}); {@link #start(String)} opens one on a timer of its own, for a single
 * measurement (a log line, a step's time).
 */
public final class StageTimer {

    private final Map<String, long[]> nanos = new LinkedHashMap<>();
    private long mark = System.nanoTime();

    /** Forgets every stage and sets the mark to now. */
    public void restart() {
        nanos.clear();
        mark = System.nanoTime();
    }

    /** Charges the time since the last mark (restart, lap or the end of a scope) to {@code stage}. */
    public void lap(String stage) {
        long now = System.nanoTime();
        add(stage, now - mark);
        mark = now;
    }

    /** A scope charging its duration to {@code stage} when closed; its end is also the new mark. */
    public Scope time(String stage) {
        return new Scope(stage, System.nanoTime());
    }

    /**
     * A scope on a new timer of its own: a single measurement read with {@link Scope#nanos()}.
     *
     * @param stage the stage name
     * @return the open scope
     */
    public static Scope start(String stage) {
        return new StageTimer().time(stage);
    }

    /** Adds {@code nanos} to {@code stage}. */
    public void add(String stage, long nanos) {
        this.nanos.computeIfAbsent(stage, k -> new long[1])[0] += nanos;
    }

    /** Nanoseconds charged to {@code stage} so far (0 if none). */
    public long nanos(String stage) {
        long[] v = nanos.get(stage);
        return v == null ? 0 : v[0];
    }

    /** Seconds charged to {@code stage} so far. */
    public double seconds(String stage) {
        return nanos(stage) / 1e9;
    }

    /** Nanoseconds per stage, in first-use order (a copy). */
    public Map<String, Long> snapshot() {
        Map<String, Long> out = new LinkedHashMap<>();
        nanos.forEach((k, v) -> out.put(k, v[0]));
        return out;
    }

    /** A timed scope of {@link StageTimer#time(String)}. */
    public final class Scope implements AutoCloseable {

        private final String stage;
        private final long start;
        private long end;
        private boolean closed;

        private Scope(String stage, long start) {
            this.stage = stage;
            this.start = start;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                long now = System.nanoTime();
                end = now;
                add(stage, now - start);
                mark = now;
            }
        }

        /**
         * This scope's duration: the time since it opened while open, its whole duration once closed.
         *
         * @return nanoseconds
         */
        public long nanos() {
            return (closed ? end : System.nanoTime()) - start;
        }

        /**
         * {@link #nanos()} in whole milliseconds.
         *
         * @return milliseconds, rounded down
         */
        public long millis() {
            return nanos() / 1_000_000;
        }
    }
}
