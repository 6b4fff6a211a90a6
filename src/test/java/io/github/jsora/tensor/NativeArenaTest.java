package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** The slab allocator behind {@link Tensor}: zeroed memory, no overlap, memory given back, the limit enforced. */
class NativeArenaTest {

    @Test
    void reusedSlabMemoryIsZeroAndTensorsDoNotOverlap() {
        NativeMemory.releaseIdle();
        long base = NativeMemory.liveBytes();
        long tensorBase = NativeMemory.tensorBytes();
        SplittableRandom rnd = new SplittableRandom(3);
        List<Tensor> live = new ArrayList<>();
        List<Float> values = new ArrayList<>();
        for (int round = 0; round < 200; round++) {
            if (!live.isEmpty() && rnd.nextInt(3) == 0) {
                int k = rnd.nextInt(live.size());
                live.remove(k).close();
                values.remove(k);
                continue;
            }
            int n = 4096 + rnd.nextInt(3_000_000);                 // 16 KiB .. 12 MiB: slab sizes
            Tensor t = Tensor.zeros(n);
            float[] a = t.toArray();
            for (float v : a) {
                assertEquals(0f, v, "fresh tensor of " + n + " is zero");
            }
            t.fill(round + 1);
            live.add(t);
            values.add((float) (round + 1));
        }
        for (int i = 0; i < live.size(); i++) {
            float[] a = live.get(i).toArray();
            for (float v : a) {
                assertEquals(values.get(i), v, "tensor " + i + " was not overwritten by another");
            }
        }
        assertEquals(tensorBase + live.stream().mapToLong(Tensor::ownedBytes).sum(), NativeMemory.tensorBytes());
        live.forEach(Tensor::close);
        assertEquals(tensorBase, NativeMemory.tensorBytes());
        NativeMemory.releaseIdle();
        assertEquals(base, NativeMemory.liveBytes(), "every slab is returned once its tensors are closed");
    }

    @Test
    void largeAndSmallTensorsAreCountedAtTheirSize() {
        NativeMemory.releaseIdle();
        long base = NativeMemory.liveBytes();
        try (Tensor big = Tensor.zeros(10_000_000); Tensor small = Tensor.zeros(100)) {
            assertEquals(base + 40_000_000 + 400, NativeMemory.liveBytes());
            assertEquals(40_000_000, big.ownedBytes());
        }
        assertEquals(base, NativeMemory.liveBytes());
    }

    @Test
    void anAllocationPastTheLimitFailsAndCountsNothing() {
        NativeMemory.releaseIdle();
        long base = NativeMemory.liveBytes();
        long old = NativeMemory.setLimit(base + (100L << 20));
        try {
            MemoryBudgetExceededException e = assertThrows(MemoryBudgetExceededException.class,
                    () -> Tensor.zeros(30_000_000));            // 120 MB
            assertEquals(120_000_000, e.requestedBytes());
            assertTrue(e.getMessage().contains("[30000000]"), e.getMessage());
            assertEquals(base, NativeMemory.liveBytes());
            try (Tensor fits = Tensor.zeros(1_000_000)) {       // into a 64 MiB slab
                assertEquals(4_000_000, fits.ownedBytes());
            }
        } finally {
            NativeMemory.setLimit(old);
        }
        NativeMemory.releaseIdle();
        assertEquals(base, NativeMemory.liveBytes());
    }

    @Test
    void viewsOfSlabTensorsSeeTheirOwnRange() {
        try (Tensor a = Tensor.zeros(8192); Tensor b = Tensor.zeros(8192)) {
            b.fill(2f);
            a.slice(0, 4096).fill(1f);
            assertEquals(1f, a.get(4095));
            assertEquals(0f, a.get(4096));
            assertEquals(2f, b.get(0));
            assertEquals(2f, b.get(8191));
            // a product through the native BLAS on slab memory writes only its own rows
            try (Tensor x = Tensor.zeros(64, 64); Tensor eye = Tensor.zeros(64, 64); Tensor y = Tensor.zeros(64, 64)) {
                for (int i = 0; i < 64; i++) {
                    eye.set(i * 65L, 1f);
                }
                x.fill(3f);
                Gemm.matmul(x, false, eye, false, y, 1f, 0f);
                assertEquals(3f, y.get(0));
                assertEquals(3f, y.get(4095));
                assertEquals(2f, b.get(0), "neighbouring tensor untouched");
            }
        }
    }
}
