package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

class ScratchTest {

    @Test
    void arraysAreReusedGrownAndPerSlotPerThreadPerPool() throws Exception {
        Scratch pool = new Scratch(2);
        float[] a = pool.get(0, 100);
        assertTrue(a.length >= 100);
        assertSame(a, pool.get(0, 50), "a large enough array is reused");
        assertNotSame(a, pool.get(1, 50), "slots are distinct");
        float[] bigger = pool.get(0, 10_000);
        assertTrue(bigger.length >= 10_000);
        assertSame(bigger, pool.get(0, 1));
        assertNotSame(bigger, new Scratch(2).get(0, 1), "pools are distinct");
        AtomicReference<float[]> other = new AtomicReference<>();
        Thread t = new Thread(() -> other.set(pool.get(0, 1)));
        t.start();
        t.join();
        assertNotSame(bigger, other.get(), "threads are distinct");
    }

    @Test
    void badSlotsAreRefused() {
        Scratch pool = new Scratch(2);
        assertThrows(IllegalArgumentException.class, () -> pool.get(2, 1));
        assertThrows(IllegalArgumentException.class, () -> pool.get(-1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Scratch(0));
    }
}
