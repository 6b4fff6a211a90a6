package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.RandomModel;

/** Temporal Dimension Token Merging: the frame rule, its exactness, and its effect inside the model. */
class TdtmTest {

    // ------------------------------------------------------------------ merge / unmerge

    /** x[b, t, r] = 100·b + 10·t + r, B = 2, R = 3. */
    private static Tensor ramp(int t) {
        float[] v = new float[2 * t * 3];
        for (int b = 0; b < 2; b++) {
            for (int f = 0; f < t; f++) {
                for (int r = 0; r < 3; r++) {
                    v[(b * t + f) * 3 + r] = 100 * b + 10 * f + r;
                }
            }
        }
        return Tensor.of(v, 2, t, 3);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 20})
    void mergeAndUnmergeFollowTheRule(int t) {
        int tq = FrameMerging.mergedFrames(t);
        assertEquals((t + 1) / 2, tq);
        try (Tensor x = ramp(t); Tensor m = Tensor.zeros(2, tq, 3); Tensor u = Tensor.zeros(2, t, 3)) {
            MergedFrames.merge(x, m, 2, t);
            for (int b = 0; b < 2; b++) {
                for (int j = 0; j < tq; j++) {
                    boolean pair = 2 * j + 1 < t;
                    assertEquals(pair ? 2 : 1, FrameMerging.groupSize(j, t));
                    for (int r = 0; r < 3; r++) {
                        // pair: mean of 10·2j and 10·(2j+1) = 20j + 5; lone last frame: itself, 10·(T−1)
                        float want = pair ? 100 * b + 20 * j + 5 + r : 100 * b + 10 * (t - 1) + r;
                        assertEquals(want, m.get(b, j, r), "merged b=" + b + " j=" + j + " r=" + r + " T=" + t);
                    }
                }
            }
            MergedFrames.unmerge(m, u, 2, t);
            for (int b = 0; b < 2; b++) {
                for (int f = 0; f < t; f++) {
                    int j = f / 2;
                    boolean pair = 2 * j + 1 < t;
                    for (int r = 0; r < 3; r++) {
                        float want = pair ? 100 * b + 20 * j + 5 + r : 100 * b + 10 * (t - 1) + r;
                        assertEquals(want, u.get(b, f, r), "unmerged b=" + b + " t=" + f + " T=" + t);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 20})
    void roundTripOfPairEqualFramesIsExact(int t) {
        Random rnd = new Random(t);
        int r = 7;
        float[] v = new float[2 * t * r];
        for (int b = 0; b < 2; b++) {
            for (int f = 0; f < t; f += 2) {
                for (int i = 0; i < r; i++) {
                    float a = (float) rnd.nextGaussian() * 1e3f;
                    v[(b * t + f) * r + i] = a;
                    if (f + 1 < t) {
                        v[(b * t + f + 1) * r + i] = a;
                    }
                }
            }
        }
        int tq = FrameMerging.mergedFrames(t);
        try (Tensor x = Tensor.of(v, 2, t, r); Tensor m = Tensor.zeros(2, tq, r); Tensor u = Tensor.zeros(2, t, r)) {
            MergedFrames.merge(x, m, 2, t);
            MergedFrames.unmerge(m, u, 2, t);
            assertArrayEquals(v, u.toArray());
        }
    }

    @Test
    void ruleRejectsBadSizes() {
        assertThrows(IllegalArgumentException.class, () -> FrameMerging.mergedFrames(0));
        assertThrows(IllegalArgumentException.class, () -> TokenMerging.firstSteps(-1));
        try (Tensor x = Tensor.zeros(2, 4, 3); Tensor m = Tensor.zeros(2, 3, 3)) {
            assertThrows(IllegalArgumentException.class, () -> MergedFrames.merge(x, m, 2, 4));
        }
    }

    @Test
    void scheduleMergesTheFirstKSteps() {
        TokenMerging k = TokenMerging.firstSteps(2);
        assertTrue(k.mergeAt(0));
        assertTrue(k.mergeAt(1));
        assertFalse(k.mergeAt(2));
        assertFalse(TokenMerging.firstSteps(0).mergeAt(0));
        assertFalse(TokenMerging.off().mergeAt(0));
    }

    // ------------------------------------------------------------------ inside the model

    static final Stdit3Config CFG = Stdit3NaiveTest.A;

    @Test
    void kZeroIsBitIdenticalToThePlainForward() {
        try (BlockSource src = RandomModel.seeded(21).source(Stdit3.layout(CFG, true));
                Stdit3 model = Stdit3.withSource(CFG, src);
                var in = Stdit3NaiveTest.Inputs.random(CFG, 2, 4, 6, 6, 8, 1, false, new Random(21));
                Tensor plain = Tensor.zeros(model.outputShape(in.input()));
                Tensor step = Tensor.zeros(model.outputShape(in.input()))) {
            model.forward(in.input(), plain);
            for (int s = 0; s < 3; s++) {
                model.forward(in.input(), TokenMerging.firstSteps(0).mergeAt(s), step);
                assertArrayEquals(plain.toArray(), step.toArray(), "step " + s);
                assertFalse(model.lastStats().merged());
            }
            model.forward(in.input(), TokenMerging.firstSteps(2).mergeAt(1), step);
            assertTrue(model.lastStats().merged());
            model.forward(in.input(), TokenMerging.firstSteps(2).mergeAt(2), step);
            assertFalse(model.lastStats().merged());
            assertArrayEquals(plain.toArray(), step.toArray(), "after the merged steps the plain path is unchanged");
            assertEquals(1, model.workspaceAllocations(), "one workspace serves every step of one geometry");
        }
    }

    /** Pair-equal latent frames give pair-equal tokens (patch and position embeddings are per frame). */
    private static Stdit3NaiveTest.Inputs pairEqualInput(int b, int t, int h, int w, long seed) {
        var in = Stdit3NaiveTest.Inputs.random(CFG, b, t, h, w, 8, b, false, new Random(seed));
        Tensor x = in.input().x();
        int frame = h * w;
        float[] v = x.toArray();
        for (int bc = 0; bc < b * CFG.inChannels(); bc++) {
            for (int f = 1; f < t; f += 2) {
                System.arraycopy(v, (bc * t + f - 1) * frame, v, (bc * t + f) * frame, frame);
            }
        }
        x.write(0, v, 0, v.length);
        return in;
    }

    @ParameterizedTest
    @ValueSource(ints = {4, 5})
    void spatialBlockIsUnchangedByMergingPairEqualFrames(int t) {
        try (BlockSource src = RandomModel.seeded(31).source(Stdit3.layout(CFG, true));
                Stdit3 model = Stdit3.withSource(CFG, src);
                var in = pairEqualInput(2, t, 6, 8, 31);
                Tensor out = Tensor.zeros(model.outputShape(in.input()))) {
            float[][] got = new float[2][];
            for (int merge = 0; merge < 2; merge++) {
                int slot = merge;
                model.forward(in.input(), merge == 1, out, (name, a, index) -> {
                    if (name.equals("spatial_block_0_out")) {
                        got[slot] = a.toArray();
                    }
                });
            }
            double err = Stdit3NaiveTest.maxAbs(got[0], got[1]);
            System.out.printf("tdtm spatial block, pair-equal frames, T=%d: merged vs plain max_abs_err=%.3e%n", t, err);
            assertTrue(err <= 1e-5, "spatial block with merging differs by " + err);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 4, 5, 20})
    void attentionQueryTokensHalveWhileMerging(int t) {
        int b = 2;
        int h = 4;
        int w = 4;
        try (BlockSource src = RandomModel.seeded(41).source(Stdit3.layout(CFG, true));
                Stdit3 model = Stdit3.withSource(CFG, src);
                var in = Stdit3NaiveTest.Inputs.random(CFG, b, t, h, w, 5, 1, false, new Random(41));
                Tensor out = Tensor.zeros(model.outputShape(in.input()))) {
            model.forward(in.input(), false, out);
            ForwardStats plain = model.lastStats();
            model.forward(in.input(), true, out);
            ForwardStats merged = model.lastStats();
            int s = (h / 2) * (w / 2);
            assertEquals(2L * CFG.depth(), plain.selfAttentionCalls());
            assertEquals(plain.selfAttentionCalls(), merged.selfAttentionCalls());
            assertEquals((double) b * t * s, plain.selfQueriesPerCall());
            assertEquals((double) b * ((t + 1) / 2) * s, merged.selfQueriesPerCall());
            assertEquals((double) b * ((t + 1) / 2) * s, merged.crossQueriesPerCall());
            System.out.printf("tdtm T=%d: query tokens per self-attention call %.0f -> %.0f, per cross-attention "
                    + "call %.0f -> %.0f%n", t, plain.selfQueriesPerCall(), merged.selfQueriesPerCall(),
                    plain.crossQueriesPerCall(), merged.crossQueriesPerCall());
        }
    }
}
