package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.Tensor;

class BlockStoreTest {

    private static final Duration GUARD = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private Path file;
    private BlockLayout layout;
    private Checkpoint ckpt;
    private long[] sizes;
    private long largest;

    @BeforeEach
    void setUp() throws IOException {
        layout = syntheticLayout(6, 32);
        file = dir.resolve("model.safetensors");
        RandomModel.seeded(7).write(file, layout, new RandomModel.Format(BlockStoreTest::syntheticDtype, false,
                Map.of()));
        ckpt = Checkpoint.open(file);
        layout.validate(ckpt);
        sizes = BlockStore.blockBytes(ckpt, layout);
        for (long s : sizes) {
            largest = Math.max(largest, s);
        }
    }

    @AfterEach
    void tearDown() {
        ckpt.close();
    }

    /** A model-like layout: a small "embed" block, {@code blocks} equal "blk.i" blocks, a tiny "final" block. */
    static BlockLayout syntheticLayout(int blocks, int width) {
        BlockLayout.Builder b = BlockLayout.builder();
        b.block("embed").tensor("embed.weight", 16, width).tensor("embed.bias", width);
        for (int i = 0; i < blocks; i++) {
            String p = "blocks." + i + ".";
            b.block("blk." + i).tensor(p + "attn.qkv.weight", 3 * width, width).tensor(p + "attn.qkv.bias", 3 * width)
                    .tensor(p + "mlp.fc1.weight", 4 * width, width).tensor(p + "mlp.fc2.weight", width, 4 * width)
                    .tensor(p + "norm.scale", width);
        }
        return b.block("final").tensor("final.weight", 4, width).build();
    }

    /** Mixed storage: BF16 qkv and fc1 weights, F16 fc2 weights, the rest F32. */
    static DType syntheticDtype(String name) {
        if (name.endsWith("qkv.weight") || name.endsWith("fc1.weight")) {
            return DType.BF16;
        }
        return name.endsWith("fc2.weight") ? DType.F16 : DType.F32;
    }

    /**
     * A fake forward pass: {@code passes} times, acquires every block in layout order, reads every tensor (the
     * "compute", optionally sleeping {@code computeMillis} per block) and releases it. Returns the values seen.
     */
    static List<float[]> run(BlockSource src, int passes, long computeMillis) {
        List<float[]> seen = new ArrayList<>();
        for (int p = 0; p < passes; p++) {
            for (BlockLayout.BlockSpec spec : src.layout().blocks()) {
                Block blk = src.acquire(spec.name());
                try {
                    for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                        seen.add(blk.get(e.getKey()).toArray());
                    }
                    if (computeMillis > 0) {
                        Thread.sleep(computeMillis);
                    }
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                } finally {
                    src.release(blk);
                }
            }
        }
        return seen;
    }

    /** Named budgets: everything, all bytes exactly, two blocks + prefetch, one block + prefetch, one, none. */
    private Map<String, BlockStore.Options> budgets() {
        long total = layout.float32Bytes();
        Map<String, BlockStore.Options> m = new LinkedHashMap<>();
        m.put("unlimited", BlockStore.Options.unlimited());
        m.put("all blocks", BlockStore.Options.budget(total));
        m.put("two blocks + prefetch", BlockStore.Options.budget(3 * largest));
        m.put("one block + prefetch", BlockStore.Options.budget(2 * largest));
        m.put("one block + prefetch 3", BlockStore.Options.budget(4 * largest).withPrefetch(3));
        m.put("two blocks, no prefetch", BlockStore.Options.budget(2 * largest).withoutPrefetch());
        m.put("one block, no prefetch", BlockStore.Options.budget(largest).withoutPrefetch());
        m.put("one block single pass", BlockStore.Options.budget(2 * largest).singlePass());
        m.put("one block + prefetch, mapped reads", BlockStore.Options.budget(2 * largest).withMappedReads());
        m.put("one block, no prefetch, mapped reads", BlockStore.Options.budget(largest).withoutPrefetch()
                .withMappedReads());
        return m;
    }

    @Test
    void sizesAreTheFloat32BytesOfTheLayout() {
        for (int i = 0; i < sizes.length; i++) {
            assertEquals(layout.blocks().get(i).float32Bytes(), sizes[i]);
        }
    }

    @Test
    void identicalValuesUnderEveryBudget() {
        List<float[]> expected;
        try (ResidentBlockSource res = new ResidentBlockSource(ckpt, layout)) {
            expected = run(res, 3, 0);
        }
        for (Map.Entry<String, BlockStore.Options> b : budgets().entrySet()) {
            assertTimeoutPreemptively(GUARD, () -> {
                try (BlockStore store = new BlockStore(ckpt, layout, b.getValue())) {
                    List<float[]> got = run(store, 3, 0);
                    assertEquals(expected.size(), got.size(), b.getKey());
                    for (int i = 0; i < got.size(); i++) {
                        assertArrayEquals(expected.get(i), got.get(i), b.getKey() + " tensor read #" + i);
                    }
                }
            }, b.getKey());
        }
    }

    @Test
    void peakResidentStaysWithinTheBudget() {
        int n = sizes.length;
        for (Map.Entry<String, BlockStore.Options> b : budgets().entrySet()) {
            assertTimeoutPreemptively(GUARD, () -> {
                try (BlockStore store = new BlockStore(ckpt, layout, b.getValue())) {
                    run(store, 3, 2);
                    BlockStoreStats st = store.stats();
                    ResidencyPlan plan = store.plan();
                    String what = b.getKey() + ": " + st + " / " + plan;
                    assertTrue(st.peakResidentBytes() <= b.getValue().budgetBytes(), what);
                    assertTrue(st.peakResidentBytes() >= largest, what);
                    assertEquals(3L * n, st.acquires(), what);
                    // each pass loads every streamed block; resident blocks load once
                    long minLoaded = plan.residentBytes() + 3 * plan.streamedBytes();
                    assertTrue(st.bytesLoaded() >= minLoaded, what);
                    if (plan.streamedBytes() == 0) {
                        assertEquals(n, st.loads(), what);
                    }
                    if (!b.getValue().cyclic()) {
                        assertEquals(3L * n - 2L * plan.residentCount(), st.loads(), what);
                    }
                    assertTrue(st.residentBytes() <= b.getValue().budgetBytes(), what);
                }
            }, b.getKey());
        }
    }

    @Test
    void shardedCheckpointReadsTheSameValues() throws IOException {
        // split the synthetic checkpoint into two shards plus an index
        Path sdir = dir.resolve("sharded");
        java.nio.file.Files.createDirectories(sdir);
        SafetensorsWriter w1 = new SafetensorsWriter();
        SafetensorsWriter w2 = new SafetensorsWriter();
        StringBuilder index = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        int i = 0;
        for (String n : ckpt.names()) {
            boolean first = n.compareTo("blocks.3") < 0;
            try (Tensor t = ckpt.load(n)) {
                (first ? w1 : w2).add(n, t, ckpt.info(n).dtype());
            }
            index.append(i++ > 0 ? "," : "").append('"').append(n).append("\":\"")
                    .append(first ? "a.safetensors" : "b.safetensors").append('"');
        }
        w1.write(sdir.resolve("a.safetensors"), false);
        w2.write(sdir.resolve("b.safetensors"), false);
        java.nio.file.Files.writeString(sdir.resolve("model.safetensors.index.json"), index.append("}}"));
        List<float[]> expected;
        try (ResidentBlockSource res = new ResidentBlockSource(ckpt, layout)) {
            expected = run(res, 2, 0);
        }
        try (Checkpoint sc = Checkpoint.open(sdir)) {
            assertTrue(sc instanceof ShardedCheckpoint);
            for (BlockStore.Options opt : List.of(BlockStore.Options.budget(2 * largest),
                    BlockStore.Options.budget(largest).withoutPrefetch())) {
                try (BlockStore store = new BlockStore(sc, layout, opt)) {
                    List<float[]> got = run(store, 2, 0);
                    for (int k = 0; k < got.size(); k++) {
                        assertArrayEquals(expected.get(k), got.get(k), opt + " read #" + k);
                    }
                }
            }
        }
    }

    @Test
    void statsResetStartsANewGeneration() {
        try (BlockStore store = new BlockStore(ckpt, layout, BlockStore.Options.budget(2 * largest))) {
            run(store, 1, 0);
            assertTrue(store.stats().loads() >= sizes.length);
            store.resetStats();
            BlockStoreStats st = store.stats();
            assertEquals(0, st.acquires());
            assertEquals(0, st.computeWait().toNanos());
            assertEquals(st.residentBytes(), st.peakResidentBytes());
        }
    }

    @Test
    void unlimitedLoadsEachBlockOnceAndKeepsIt() {
        try (BlockStore store = new BlockStore(ckpt, layout, BlockStore.Options.unlimited())) {
            run(store, 4, 0);
            BlockStoreStats st = store.stats();
            assertEquals(sizes.length, st.loads());
            assertEquals(layout.float32Bytes(), st.bytesLoaded());
            assertEquals(layout.float32Bytes(), st.residentBytes());
            store.close();
            assertEquals(0, store.stats().residentBytes(), "close frees every block");
        }
    }

    @Test
    void outOfOrderAcquiresStillWork() {
        assertTimeoutPreemptively(GUARD, () -> {
            try (ResidentBlockSource res = new ResidentBlockSource(ckpt, layout);
                    BlockStore store = new BlockStore(ckpt, layout, BlockStore.Options.budget(2 * largest)
                            .withPrefetch(1))) {
                String[] order = {"blk.3", "embed", "blk.5", "blk.4", "blk.0", "final", "blk.3", "blk.1", "blk.2"};
                for (String name : order) {
                    Block a = res.acquire(name);
                    Block b = store.acquire(name);
                    for (String t : a.tensors().keySet()) {
                        assertArrayEquals(a.get(t).toArray(), b.get(t).toArray(), name + " " + t);
                    }
                    store.release(b);
                    assertTrue(store.stats().peakResidentBytes() <= 2 * largest);
                }
            }
        });
    }

    @Test
    void budgetBelowTheLargestBlockPlusPrefetchFailsAtConstruction() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new BlockStore(ckpt, layout, BlockStore.Options.budget(2 * largest - 1)));
        assertTrue(e.getMessage().contains((2 * largest) + " bytes"), e.getMessage());
        IllegalArgumentException e0 = assertThrows(IllegalArgumentException.class,
                () -> new BlockStore(ckpt, layout, BlockStore.Options.budget(largest - 1).withoutPrefetch()));
        assertTrue(e0.getMessage().contains(largest + " bytes"), e0.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BlockStore.Options.budget(0));
        assertThrows(IllegalArgumentException.class, () -> BlockStore.Options.budget(100).withPrefetch(-1));
    }

    @Test
    void holdingTwoBlocksBeyondTheBudgetFailsInsteadOfHanging() {
        assertTimeoutPreemptively(GUARD, () -> {
            try (BlockStore store = new BlockStore(ckpt, layout,
                    BlockStore.Options.budget(largest).withoutPrefetch())) {
                Block a = store.acquire("blk.0");
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> store.acquire("blk.1"));
                assertTrue(e.getMessage().contains("blk.0"), e.getMessage());
                store.release(a);
                store.release(store.acquire("blk.1"));
            }
        });
    }

    @Test
    void unknownBlockAndForeignReleaseAreRejected() {
        try (BlockStore store = new BlockStore(ckpt, layout, BlockStore.Options.unlimited());
                ResidentBlockSource res = new ResidentBlockSource(ckpt, layout)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> store.acquire("nope"));
            assertTrue(e.getMessage().contains("nope"));
            assertThrows(IllegalArgumentException.class, () -> store.release(res.acquire("blk.0")));
            Block b = store.acquire("blk.0");
            store.release(b);
            assertThrows(IllegalArgumentException.class, () -> store.release(b), "double release");
        }
    }

    // ------------------------------------------------------------------ errors, cancellation, close

    @Test
    void loaderFailureReachesTheCallerWithItsCause() {
        for (BlockStore.Options opt : List.of(BlockStore.Options.budget(2 * largest),
                BlockStore.Options.budget(largest).withoutPrefetch(), BlockStore.Options.unlimited())) {
            RuntimeException injected = new WeightFormatException("injected fault");
            FaultyCheckpoint faulty = new FaultyCheckpoint(ckpt)
                    .failOn(n -> n.startsWith("blocks.3.mlp"), injected);
            assertTimeoutPreemptively(GUARD, () -> {
                try (BlockStore store = new BlockStore(faulty, layout, opt)) {
                    BlockLoadException e = assertThrows(BlockLoadException.class,
                            () -> run(store, 2, 0), opt.toString());
                    assertSame(injected, e.getCause(), opt.toString());
                    assertEquals("blk.3", e.blockName());
                    // the store stays failed: every acquire reports the failure
                    BlockLoadException again = assertThrows(BlockLoadException.class, () -> store.acquire("embed"));
                    assertSame(injected, again.getCause());
                }
            }, opt.toString());
        }
    }

    @Test
    void anErrorOnTheLoaderThreadIsNotSwallowed() {
        OutOfMemoryError injected = new OutOfMemoryError("injected: no memory for block 1");
        FaultyCheckpoint faulty = new FaultyCheckpoint(ckpt).failOn(n -> n.startsWith("blocks.1."), injected);
        assertTimeoutPreemptively(GUARD, () -> {
            try (BlockStore store = new BlockStore(faulty, layout, BlockStore.Options.budget(2 * largest))) {
                BlockLoadException e = assertThrows(BlockLoadException.class, () -> run(store, 1, 0));
                assertSame(injected, e.getCause());
            }
        });
    }

    @Test
    void waitingCallerIsWokenPromptlyByAFailure() {
        // block 2 loads slowly and then fails: the caller waiting for it must get the error, not wait forever
        RuntimeException injected = new IllegalStateException("disk gone");
        FaultyCheckpoint faulty = new FaultyCheckpoint(ckpt).delay(20).failOn(n -> n.startsWith("blocks.2.fc"),
                injected);
        faulty.failOn(n -> n.startsWith("blocks.2.mlp.fc2"), injected);
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            try (BlockStore store = new BlockStore(faulty, layout, BlockStore.Options.budget(2 * largest))) {
                BlockLoadException e = assertThrows(BlockLoadException.class, () -> run(store, 1, 0));
                assertSame(injected, e.getCause());
            }
        });
    }

    @Test
    void fileTruncatedAfterOpenFailsTheAcquire() throws IOException {
        int k = 0;
        for (BlockStore.Options opt : List.of(BlockStore.Options.budget(2 * largest),
                BlockStore.Options.budget(largest).withoutPrefetch(),
                BlockStore.Options.budget(2 * largest).withMappedReads(),
                BlockStore.Options.budget(largest).withoutPrefetch().withMappedReads())) {
            for (boolean mappedBefore : new boolean[] {false, true}) {
                Path copy = dir.resolve("copy-" + (k++) + ".safetensors");
                java.nio.file.Files.copy(file, copy);
                try (Checkpoint c = Checkpoint.open(copy)) {
                    if (mappedBefore) {
                        c.load("embed.weight").close(); // the data section is mapped before the file shrinks
                    }
                    TensorInfo cut = c.info("blocks.2.mlp.fc1.weight");
                    try (RandomAccessFile raf = new RandomAccessFile(copy.toFile(), "rw")) {
                        raf.setLength(raf.length() - (c.info("blocks.5.attn.qkv.weight").begin() - cut.begin()));
                    }
                    String what = opt + (mappedBefore ? ", mapped before truncation" : "");
                    assertTimeoutPreemptively(GUARD, () -> {
                        try (BlockStore store = new BlockStore(c, layout, opt)) {
                            BlockLoadException e = assertThrows(BlockLoadException.class,
                                    () -> run(store, 1, 0), what);
                            assertTrue(e.getCause() instanceof WeightFormatException, what + ": " + e.getCause());
                            assertTrue(e.getMessage().contains(copy.getFileName().toString()), e.getMessage());
                            if (mappedBefore || !opt.mappedReads()) {
                                assertTrue(e.getMessage().contains("truncated after opening"), e.getMessage());
                            }
                        }
                    }, what);
                }
            }
        }
    }

    @Test
    void closeStopsASlowLoaderPromptlyAndFreesEverything() {
        FaultyCheckpoint slow = new FaultyCheckpoint(ckpt).delay(50);
        assertTimeoutPreemptively(GUARD, () -> {
            BlockStore store = new BlockStore(slow, layout, BlockStore.Options.unlimited());
            Block first = store.acquire("embed");
            Thread.sleep(60);
            long t0 = System.nanoTime();
            store.close();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            // the loader stops after the tensor it is reading (50 ms), not after all blocks (> 1.5 s)
            assertTrue(ms < 1000, "close took " + ms + " ms");
            int readsAtClose = slow.reads.get();
            Thread.sleep(150);
            assertEquals(readsAtClose, slow.reads.get(), "no loading after close");
            // a held block survives close until released
            assertEquals(first.bytes(), store.stats().residentBytes());
            Tensor t = first.get("embed.weight");
            t.toArray();
            store.release(first);
            assertTrue(t.isClosed());
            assertEquals(0, store.stats().residentBytes());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> store.acquire("embed"));
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            store.close(); // idempotent
        });
    }

    @Test
    void closeFreesEveryTensorOfEveryBudget() {
        for (BlockStore.Options opt : budgets().values()) {
            List<Tensor> seen = new ArrayList<>();
            BlockStore store = new BlockStore(ckpt, layout, opt);
            for (BlockLayout.BlockSpec spec : layout.blocks()) {
                Block b = store.acquire(spec.name());
                seen.addAll(b.tensors().values());
                store.release(b);
            }
            store.close();
            assertEquals(0, store.stats().residentBytes(), opt.toString());
            for (Tensor t : seen) {
                assertTrue(t.isClosed(), opt + ": a tensor survived close");
            }
        }
    }

    @Test
    void interruptedWaitIsACancellation() {
        FaultyCheckpoint slow = new FaultyCheckpoint(ckpt).delay(30);
        assertTimeoutPreemptively(GUARD, () -> {
            try (BlockStore store = new BlockStore(slow, layout, BlockStore.Options.budget(2 * largest))) {
                Thread.currentThread().interrupt();
                try {
                    assertThrows(CancellationException.class, () -> store.acquire("blk.4"));
                    assertTrue(Thread.currentThread().isInterrupted(), "interrupt flag kept");
                } finally {
                    Thread.interrupted();
                }
            }
        });
    }

    @Test
    void singlePassDoesNotPrefetchPastTheEnd() throws InterruptedException {
        try (BlockStore store = new BlockStore(ckpt, layout,
                BlockStore.Options.budget(2 * largest).singlePass())) {
            run(store, 1, 0);
            Thread.sleep(100);
            assertEquals(sizes.length, store.stats().loads());
        }
    }
}
