package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.tensor.NativeMemory;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;

/** The block store in bf16 and int8: packed accounting, budget held with prefetch, values of the resident source. */
class BlockStorePrecisionTest {

    static final Path DEMO_STDIT = Path.of("src/main/resources/io/github/jsora/demo-model/stdit");

    @Test
    void float32OptionIsTheDefault() {
        assertEquals(BlockStore.Options.budget(1000), BlockStore.Options.budget(1000)
                .withPrecision(WeightPrecision.FLOAT32));
        assertEquals(WeightPrecision.FLOAT32, BlockStore.Options.unlimited().precision());
    }

    @Test
    void demoModelResidentSizes() {
        Stdit3Config cfg = Stdit3Config.read(DEMO_STDIT.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(DEMO_STDIT)) {
            BlockLayout layout = Stdit3.validatedLayout(cfg, ckpt);
            long f32 = sum(BlockStore.blockBytes(ckpt, layout));
            assertEquals(f32, sum(BlockStore.blockBytes(ckpt, layout, WeightPrecision.FLOAT32)));
            long bf16 = sum(BlockStore.blockBytes(ckpt, layout, WeightPrecision.BF16));
            long int8 = sum(BlockStore.blockBytes(ckpt, layout, WeightPrecision.INT8));
            System.out.printf(Locale.ROOT, "demo stdit resident: f32 %d, bf16 %d (%.3f), int8 %d (%.3f) bytes%n", f32,
                    bf16, bf16 / (double) f32, int8, int8 / (double) f32);
            assertTrue(bf16 < 0.52 * f32 && int8 < 0.28 * f32, bf16 + " / " + int8 + " of " + f32);
            try (BlockStore s = new BlockStore(ckpt, layout, BlockStore.Options.unlimited()
                    .withPrecision(WeightPrecision.INT8).withoutPrefetch())) {
                assertEquals(int8, s.plan().residentBytes());
            }
        }
    }

    @Test
    void budgetHeldWithPrefetchAndValuesMatchResidentSource() {
        Stdit3Config cfg = Stdit3Config.read(DEMO_STDIT.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(DEMO_STDIT)) {
            BlockLayout layout = Stdit3.validatedLayout(cfg, ckpt);
            long[] f32 = BlockStore.blockBytes(ckpt, layout);
            long max = 0;
            for (long b : f32) {
                max = Math.max(max, b);
            }
            for (WeightPrecision p : List.of(WeightPrecision.BF16, WeightPrecision.INT8)) {
                Map<String, float[]> want = new HashMap<>();
                try (ResidentBlockSource r = new ResidentBlockSource(ckpt, layout, p)) {
                    for (BlockLayout.BlockSpec spec : layout.blocks()) {
                        Block b = r.acquire(spec.name());
                        for (Map.Entry<String, Tensor> e : b.tensors().entrySet()) {
                            want.put(e.getKey(), e.getValue().toArray());
                        }
                        r.release(b);
                    }
                }
                for (int run = 0; run < 6; run++) {
                    int depth = run % 3;
                    long budget = (1 + depth) * max + (run < 3 ? max / 3 : max + max / 2);
                    long live = NativeMemory.liveBytes();
                    try (BlockStore s = new BlockStore(ckpt, layout, BlockStore.Options.budget(budget)
                            .withPrefetch(depth).withPrecision(p))) {
                        ResidencyPlan plan = s.plan();
                        System.out.println("demo stdit " + p + " depth " + depth + ": " + plan);
                        assertTrue(plan.packed() && plan.residentBytes() + plan.reserveBytes() <= budget, plan.toString());
                        assertTrue(plan.residentCount() > 0 && (run >= 3
                                || plan.residentCount() < layout.blocks().size()), plan.toString());
                        for (int pass = 0; pass < 3; pass++) {
                            for (BlockLayout.BlockSpec spec : layout.blocks()) {
                                Block b = s.acquire(spec.name());
                                for (Map.Entry<String, Tensor> e : b.tensors().entrySet()) {
                                    assertArrayEquals(want.get(e.getKey()), e.getValue().toArray(), p + " "
                                            + e.getKey());
                                }
                                s.release(b);
                            }
                        }
                        BlockStoreStats st = s.stats();
                        assertTrue(st.peakResidentBytes() <= budget, st + " over " + budget);
                    }
                    assertEquals(live, NativeMemory.liveBytes(), "memory left after close");
                }
            }
        }
    }

    @Test
    void holdingTwoWorkingCopiesBeyondTheBudgetFails() {
        Stdit3Config cfg = Stdit3Config.read(DEMO_STDIT.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(DEMO_STDIT)) {
            BlockLayout layout = Stdit3.validatedLayout(cfg, ckpt);
            long[] f32 = BlockStore.blockBytes(ckpt, layout);
            long[] packed = BlockStore.blockBytes(ckpt, layout, WeightPrecision.INT8);
            // everything resident packed, room for one float32 working copy of the largest block only
            long max = 0;
            for (long b : f32) {
                max = Math.max(max, b);
            }
            long budget = sum(packed) + max;
            try (BlockStore s = new BlockStore(ckpt, layout, BlockStore.Options.budget(budget).withoutPrefetch()
                    .withPrecision(WeightPrecision.INT8))) {
                assertEquals(layout.blocks().size(), s.plan().residentCount(), s.plan().toString());
                String a = Stdit3.pairBlock(0);
                String b = Stdit3.pairBlock(1);
                Block x = s.acquire(a);
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.acquire(b));
                assertTrue(e.getMessage().contains("working copy"), e.getMessage());
                s.release(x);
                s.release(s.acquire(b));
            }
        }
    }

    @Test
    void expansionSpeed() {
        int rows = 4096;
        int cols = 4096;
        try (Tensor w = Tensor.zeros(rows, cols); Tensor out = Tensor.zeros(rows, cols)) {
            float[] row = new float[cols];
            java.util.Random rnd = new java.util.Random(1);
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < cols; i++) {
                    row[i] = (float) rnd.nextGaussian();
                }
                w.write((long) r * cols, row, 0, cols);
            }
            for (PackedWeight.Format f : PackedWeight.Format.values()) {
                try (PackedWeight p = PackedWeight.pack(w, f)) {
                    p.expandInto(out); // warm-up
                    int reps = 5;
                    long t0 = System.nanoTime();
                    for (int k = 0; k < reps; k++) {
                        p.expandInto(out);
                    }
                    double s = (System.nanoTime() - t0) / 1e9;
                    System.out.printf(Locale.ROOT, "expand %s %dx%d: %.2f GB/s of float32 produced%n", f, rows, cols,
                            reps * (double) rows * cols * 4 / s / 1e9);
                }
            }
        }
    }

    private static long sum(long[] a) {
        long s = 0;
        for (long x : a) {
            s += x;
        }
        return s;
    }
}
