package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.junit.jupiter.api.Test;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.BlockStore;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.SafetensorsFile;
import io.github.jsora.weights.WeightPrecision;

/**
 * STDiT3 velocity in each weight precision against the float32 run, on the golden tiny model
 * ({@code stdit3_fwd_basic}). Measured (relative L2 error of the output vs float32): bf16 2.84e-3, int8 1.19e-2 (JDK 17, 2 threads) —
 * see the printed lines; bounds are set a little above.
 */
class Stdit3PrecisionBoundsTest {

    static final double BF16_REL_L2 = 4e-3;
    static final double INT8_REL_L2 = 1.6e-2;

    @Test
    void velocityBoundsPerPrecision() {
        Path file = Golden.dir().resolve("stdit3_fwd_basic.safetensors");
        List<Tensor> owned = new ArrayList<>();
        try (SafetensorsFile c = Golden.open(file);
                SafetensorsFile w = SafetensorsFile.open(Golden.resource(file, c, "weights"))) {
            Stdit3Config cfg = Stdit3Config.parse(file + "#config", w.metadata().get("config"));
            BlockLayout layout = Stdit3.validatedLayout(cfg, w);
            Stdit3Input in = Stdit3GoldenTest.input(c, owned);
            float[] ref = run(cfg, in, new ResidentBlockSource(w, layout));
            for (WeightPrecision p : new WeightPrecision[] {WeightPrecision.BF16, WeightPrecision.INT8}) {
                float[] got = run(cfg, in, new ResidentBlockSource(w, layout, p));
                double rel = relL2(ref, got);
                double bound = p == WeightPrecision.BF16 ? BF16_REL_L2 : INT8_REL_L2;
                System.out.printf(Locale.ROOT, "precision stdit3 %s: velocity rel_l2=%.3e bound=%.1e%n", p, rel,
                        bound);
                assertTrue(rel <= bound, p + ": relative L2 error " + rel + " above " + bound);
                // a store that streams part of the blocks computes the same values as the resident source
                long[] sizes = BlockStore.blockBytes(w, layout);
                long budget = 0;
                for (long s : sizes) {
                    budget = Math.max(budget, s);
                }
                budget = 2 * budget + budget / 4;
                try (BlockStore store = new BlockStore(w, layout, BlockStore.Options.budget(budget).withPrecision(p))) {
                    assertTrue(store.plan().residentCount() > 0 && store.plan().residentCount() < sizes.length,
                            store.plan().toString());
                    System.out.println("precision stdit3 " + p + " store: " + store.plan());
                    float[] streamed = runOpen(cfg, in, store);
                    streamed = runOpen(cfg, in, store); // second pass: resident blocks from their packed copies
                    assertArrayEquals(got, streamed, p + ": block store differs from the resident source");
                    assertTrue(store.stats().peakResidentBytes() <= budget, store.stats().toString());
                }
            }
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    private static float[] run(Stdit3Config cfg, Stdit3Input in, ResidentBlockSource src) {
        try (src) {
            return runOpen(cfg, in, src);
        }
    }

    private static float[] runOpen(Stdit3Config cfg, Stdit3Input in, BlockSource src) {
        Stdit3 m = Stdit3.withSource(cfg, src);
        try (Tensor out = Tensor.zeros(m.outputShape(in))) {
            m.forward(in, out);
            return out.toArray();
        }
    }

    static double relL2(float[] ref, float[] got) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) got[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }
}
