package io.github.jsora.weights;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import io.github.jsora.tensor.Tensor;

/**
 * Test double: a checkpoint that delegates to a real one, can slow every tensor read down, and throws a given
 * failure when a chosen tensor is read (a fault-injecting source for the block store's error paths).
 */
final class FaultyCheckpoint implements Checkpoint {

    private final Checkpoint inner;
    private volatile long delayMillis;
    private volatile Predicate<String> failOn = n -> false;
    private volatile Throwable failure;
    final AtomicInteger reads = new AtomicInteger();

    FaultyCheckpoint(Checkpoint inner) {
        this.inner = inner;
    }

    /** Every tensor read sleeps this long first. */
    FaultyCheckpoint delay(long millis) {
        this.delayMillis = millis;
        return this;
    }

    /** Reading a tensor whose name matches throws {@code t} (a RuntimeException or an Error). */
    FaultyCheckpoint failOn(Predicate<String> names, Throwable t) {
        this.failure = t;
        this.failOn = names;
        return this;
    }

    @Override
    public Path source() {
        return inner.source();
    }

    @Override
    public Set<String> names() {
        return inner.names();
    }

    @Override
    public boolean contains(String name) {
        return inner.contains(name);
    }

    @Override
    public TensorInfo info(String name) {
        return inner.info(name);
    }

    @Override
    public Map<String, String> metadata() {
        return inner.metadata();
    }

    @Override
    public void loadInto(String name, Tensor dst) {
        reads.incrementAndGet();
        long d = delayMillis;
        if (d > 0) {
            try {
                Thread.sleep(d);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (failOn.test(name)) {
            Throwable t = failure;
            if (t instanceof RuntimeException r) {
                throw r;
            }
            throw (Error) t;
        }
        inner.loadInto(name, dst);
    }

    @Override
    public long[] loadLongs(String name) {
        return inner.loadLongs(name);
    }

    @Override
    public void close() {
        inner.close();
    }
}
