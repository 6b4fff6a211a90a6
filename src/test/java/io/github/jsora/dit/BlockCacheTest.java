package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.RandomModel;

/** Step caching inside STDiT3: its decisions, what a reuse computes, and that no cache is the plain forward. */
class BlockCacheTest {

    static final Stdit3Config CFG = Stdit3NaiveTest.A;

    /** x scaled by (1 + eps): a step that changed little (eps small) or a lot. */
    private static Stdit3Input scaled(Stdit3Input in, Tensor x, float eps) {
        float[] v = in.x().toArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= 1 + eps;
        }
        x.write(0, v, 0, v.length);
        return new Stdit3Input(x, in.timestep(), in.y(), in.mask(), in.xMask(), in.fps(), in.height(), in.width());
    }

    @ParameterizedTest
    @EnumSource(BlockCache.Criterion.class)
    void reusesOnlyWhenAllowedAndTheStepChangedLittle(BlockCache.Criterion criterion) {
        try (BlockSource src = RandomModel.seeded(5).source(Stdit3.layout(CFG, true));
                Stdit3 model = Stdit3.withSource(CFG, src);
                var in = Stdit3NaiveTest.Inputs.random(CFG, 2, 4, 6, 6, 8, 1, false, new Random(5));
                Tensor x = Tensor.zeros(in.input().x().shape());
                Tensor plain = Tensor.zeros(model.outputShape(in.input()));
                Tensor got = Tensor.zeros(model.outputShape(in.input()));
                BlockCache cache = new BlockCache(criterion, 0.05)) {
            model.forward(in.input(), false, got, null, cache, true);         // nothing cached yet: computes
            model.forward(in.input(), false, plain);
            assertArrayEquals(plain.toArray(), got.toArray(), "a computed step is the plain forward, bit for bit");

            Stdit3Input near = scaled(in.input(), x, 1e-3f);
            model.forward(near, false, got, null, cache, false);              // small change, reuse not allowed
            model.forward(near, false, plain);
            assertArrayEquals(plain.toArray(), got.toArray());
            model.forward(near, false, got, null, cache, true);               // same input again: reused
            assertEquals(List.of(false, false, true), cache.decisions());
            assertEquals(0.0, cache.distances().get(2), 1e-12);
            double err = Stdit3NaiveTest.maxAbs(plain.toArray(), got.toArray());
            assertTrue(err < 1e-4, "reusing the residual of the same input gives the same output, err " + err);
            assertEquals(criterion == BlockCache.Criterion.MODULATED_INPUT ? 0 : 2,
                    model.lastStats().selfAttentionCalls(), "a reused step skips the stack (or all but pair 0)");

            Stdit3Input far = scaled(in.input(), x, 0.5f);
            model.forward(far, false, got, null, cache, true);                // large change: computes
            model.forward(far, false, plain);
            assertArrayEquals(plain.toArray(), got.toArray());
            assertEquals(List.of(false, false, true, false), cache.decisions());
            assertTrue(cache.distances().get(3) > 0.05, "distance " + cache.distances().get(3));
            assertEquals(1, cache.reusedForwards());
        }
    }

    @Test
    void modulatedInputChangesAccumulateUntilTheThreshold() {
        try (BlockSource src = RandomModel.seeded(6).source(Stdit3.layout(CFG, true));
                Stdit3 model = Stdit3.withSource(CFG, src);
                var in = Stdit3NaiveTest.Inputs.random(CFG, 1, 3, 4, 4, 6, 1, false, new Random(6));
                Tensor x = Tensor.zeros(in.input().x().shape());
                Tensor out = Tensor.zeros(model.outputShape(in.input()));
                BlockCache cache = new BlockCache(BlockCache.Criterion.MODULATED_INPUT, 1e-9)) {
            model.forward(in.input(), false, out, null, cache, true);
            model.forward(scaled(in.input(), x, 0f), false, out, null, cache, true);   // no change: reused
            model.forward(scaled(in.input(), x, 1e-2f), false, out, null, cache, true); // sum above 1e-9
            assertEquals(List.of(false, true, false), cache.decisions());
        }
    }

    @Test
    void anotherBatchRestartsTheCache() {
        try (BlockSource src = RandomModel.seeded(7).source(Stdit3.layout(CFG, true));
                Stdit3 model = Stdit3.withSource(CFG, src);
                var two = Stdit3NaiveTest.Inputs.random(CFG, 2, 2, 4, 4, 6, 1, false, new Random(7));
                var one = Stdit3NaiveTest.Inputs.random(CFG, 1, 2, 4, 4, 6, 1, false, new Random(7));
                Tensor out2 = Tensor.zeros(model.outputShape(two.input()));
                Tensor out1 = Tensor.zeros(model.outputShape(one.input()));
                BlockCache cache = new BlockCache(BlockCache.Criterion.FIRST_BLOCK_RESIDUAL, 10)) {
            model.forward(two.input(), false, out2, null, cache, true);
            model.forward(one.input(), false, out1, null, cache, true);
            assertEquals(List.of(false, false), cache.decisions());
            assertTrue(Double.isNaN(cache.distances().get(1)));
            assertFalse(cache.decisions().get(1));
        }
    }

    @Test
    void badThresholdsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new BlockCache(BlockCache.Criterion.MODULATED_INPUT, 0));
        assertThrows(IllegalArgumentException.class,
                () -> new BlockCache(BlockCache.Criterion.MODULATED_INPUT, Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> new BlockCache(null, 0.1));
    }
}
