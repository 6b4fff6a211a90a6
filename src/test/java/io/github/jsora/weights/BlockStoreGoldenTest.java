package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.text.T5Config;
import io.github.jsora.text.T5Encoder;

/**
 * The golden STDiT3 and T5 models run on a {@link BlockStore} under several budgets give outputs bit-identical to
 * the same models on a {@link ResidentBlockSource}, over repeated passes (a denoising loop reuses the store), and
 * the store's peak stays within its budget. Budgets are in units of the model's largest block: everything,
 * two blocks + prefetch, one block + prefetch, two blocks without prefetch, one block without prefetch.
 */
class BlockStoreGoldenTest {

    private static final Duration GUARD = Duration.ofSeconds(60);

    /** Named budgets for a model whose largest block has {@code largest} bytes. */
    private static Map<String, BlockStore.Options> budgets(long total, long largest, boolean cyclic) {
        Map<String, BlockStore.Options> m = new LinkedHashMap<>();
        m.put("everything", BlockStore.Options.unlimited());
        m.put("all bytes exactly", BlockStore.Options.budget(total));
        m.put("two blocks + prefetch", BlockStore.Options.budget(3 * largest));
        m.put("one block + prefetch", BlockStore.Options.budget(2 * largest));
        m.put("two blocks, no prefetch", BlockStore.Options.budget(2 * largest).withoutPrefetch());
        m.put("one block, no prefetch", BlockStore.Options.budget(largest).withoutPrefetch());
        if (cyclic) {
            return m;
        }
        Map<String, BlockStore.Options> single = new LinkedHashMap<>();
        m.forEach((k, o) -> single.put(k + ", single pass", o.singlePass()));
        return single;
    }

    /**
     * Runs {@code forward} {@code passes} times on a resident source and on a store per budget; every pass's output
     * must have the same bits.
     */
    private static void compareUnderBudgets(Path file, Checkpoint weights, BlockLayout layout, boolean cyclic,
            int passes, Function<BlockSource, float[]> forward) {
        List<float[]> expected = new ArrayList<>();
        try (ResidentBlockSource res = new ResidentBlockSource(weights, layout)) {
            for (int p = 0; p < passes; p++) {
                expected.add(forward.apply(res));
            }
        }
        long[] sizes = BlockStore.blockBytes(weights, layout);
        long largest = 0;
        for (long s : sizes) {
            largest = Math.max(largest, s);
        }
        for (Map.Entry<String, BlockStore.Options> b : budgets(layout.float32Bytes(), largest, cyclic).entrySet()) {
            String what = file.getFileName() + " " + b.getKey();
            assertTimeoutPreemptively(GUARD, () -> {
                try (BlockStore store = new BlockStore(weights, layout, b.getValue())) {
                    for (int p = 0; p < passes; p++) {
                        float[] got = forward.apply(store);
                        assertArrayEquals(expected.get(p), got, what + " pass " + p + ": output differs");
                    }
                    BlockStoreStats st = store.stats();
                    assertTrue(st.peakResidentBytes() <= b.getValue().budgetBytes(), what + ": " + st);
                    System.out.printf("golden blockstore %s: %d passes bit-identical to resident; %s PASS%n", what,
                            passes, st);
                }
            }, what);
        }
    }

    @TestFactory
    Stream<DynamicTest> stdit3BitIdenticalUnderBudgets() {
        return Golden.tests("stdit3_fwd", file -> {
            List<Tensor> owned = new ArrayList<>();
            try (SafetensorsFile c = Golden.open(file);
                    SafetensorsFile wf = SafetensorsFile.open(Golden.resource(file, c, "weights"))) {
                String json = wf.metadata().get("config");
                assertTrue(json != null, wf.source() + ": metadata has no \"config\"");
                Stdit3Config cfg = Stdit3Config.parse(wf.source() + "#config", json);
                BlockLayout layout = Stdit3.validatedLayout(cfg, wf);
                Stdit3Input in = stdit3Input(c, owned);
                compareUnderBudgets(file, wf, layout, true, 2, src -> {
                    try (Stdit3 model = Stdit3.withSource(cfg, src); Tensor out = model.forward(in)) {
                        return out.toArray();
                    }
                });
            } finally {
                owned.forEach(Tensor::close);
            }
        });
    }

    @TestFactory
    Stream<DynamicTest> t5EncoderBitIdenticalUnderBudgets() {
        return Golden.tests("t5_encoder_fwd", file -> {
            try (SafetensorsFile c = Golden.open(file);
                    Checkpoint weights = Checkpoint.open(Golden.resource(file, c, "weights"))) {
                String json = c.metadata().get("config");
                assertTrue(json != null, file.getFileName() + ": metadata has no \"config\"");
                T5Config config = T5Config.from(ModelConfig.parse(file + " config", json));
                BlockLayout layout = T5Encoder.layoutFor(config, weights);
                int[][] ids = Golden.intRows(c, "in.input_ids");
                int[][] mask = Golden.intRows(c, "in.attention_mask");
                for (boolean cyclic : new boolean[] {false, true}) {
                    compareUnderBudgets(file, weights, layout, cyclic, 2, src -> {
                        try (Tensor out = new T5Encoder(config, src).forward(ids, mask)) {
                            return out.toArray();
                        }
                    });
                }
            }
        });
    }

    private static Stdit3Input stdit3Input(SafetensorsFile c, List<Tensor> owned) {
        Tensor x = keep(owned, c.load("in.x"));
        Tensor y = keep(owned, c.load("in.y"));
        Tensor mask = keep(owned, maskOf(c, "in.mask"));
        Tensor xMask = c.contains("in.x_mask") ? keep(owned, maskOf(c, "in.x_mask")) : null;
        return new Stdit3Input(x, c.loadFloats("in.timestep"), y, mask, xMask, c.loadFloats("in.fps"),
                c.loadFloats("in.height")[0], c.loadFloats("in.width")[0]);
    }

    private static Tensor maskOf(SafetensorsFile c, String name) {
        int[] s = c.info(name).shape();
        return Stdit3Input.maskOf(c.loadLongs(name), s[0], s[1]);
    }

    private static Tensor keep(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }

}
