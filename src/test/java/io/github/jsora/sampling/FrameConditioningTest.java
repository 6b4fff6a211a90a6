package io.github.jsora.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.Tensor;

/** The mask-strategy parser, {@link FrameConditioning} and what the sampler does with it (fake models). */
class FrameConditioningTest {

    private final RflowSampler sampler = new RflowSampler();

    /** A fake that accepts a frame mask (and ignores it) and records the masks it was given. */
    static final class MaskedAnalytic extends FakeModels.Analytic {
        final List<boolean[]> masks = new ArrayList<>();

        MaskedAnalytic() {
            super(4);
        }

        @Override
        public Tensor forward(Tensor x, float[] ts, int step) {
            masks.add(null);
            return super.forward(x, ts, step);
        }

        @Override
        public Tensor forward(Tensor x, float[] ts, boolean[] generated, int step) {
            masks.add(generated.clone());
            return super.forward(x, ts, step);
        }
    }

    @Test
    void parsesGroupsWithTheReferenceDefaults() {
        assertEquals(List.of(new MaskStrategy.Group(0, 0, 0, 0, 1, 0.0)), MaskStrategy.parse("0").groups());
        MaskStrategy s = MaskStrategy.parse("1,0,-2,0,2,0.5;0,1, 3 ,-1");
        assertEquals(new MaskStrategy.Group(1, 0, -2, 0, 2, 0.5), s.groups().get(0));
        assertEquals(new MaskStrategy.Group(0, 1, 3, -1, 1, 0.0), s.groups().get(1));
        assertEquals("1,0,-2,0,2,0.5;0,1,3,-1,1,0.0", s.toString());
        assertEquals(s, MaskStrategy.parse(s.toString()));
        assertTrue(MaskStrategy.parse("").groups().isEmpty());
        assertEquals(List.of(s.groups().get(0)), s.groupsOf(1));
        // append_generated's group: the last `overlap` frames of the new reference to the start
        assertEquals(new MaskStrategy.Group(2, 1, -5, 0, 5, 0.0), MaskStrategy.continuation(2, 1, 5, 0.0));
    }

    @Test
    void refusesBadStrategiesNamingTheField() {
        for (String bad : new String[] {"a", "0;;1", "0,0,0,0,1,0,7", "0,0,0,0,1,x", "0,0,0,0,1,1.5", "-1", "0,0,0,0,-1"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MaskStrategy.parse(bad),
                    bad);
            assertTrue(e.getMessage().contains("mask strategy \"" + bad + "\""), e.getMessage());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MaskStrategy.parse("0,x")).getMessage()
                .contains("ref of group"));
    }

    @Test
    void appliesStrategiesLikeTheReference() {
        int[] shape = {2, 2, 5, 2, 3};
        try (Tensor ref = ramp(2, 3, 2, 3); Tensor z = Tensor.zeros(shape)) {   // [C=2, Tr=3, H=2, W=3]
            List<MaskStrategy> ms = List.of(MaskStrategy.parse("0,0,-1,-1,4,0.25"),   // last ref frame → last frame
                    MaskStrategy.parse("0,0,1,1,9;1,0,0,0,5,0.5"));                  // 2 frames fit; loop 1 skipped
            FrameConditioning c = FrameConditioning.fromStrategies(shape, ms, List.of(List.of(ref), List.of(ref)),
                    0, 0);
            assertArrayEquals(new float[] {1, 1, 1, 1, 0.25f, 1, 0, 0, 1, 1}, c.maskValues());
            assertTrue(c.conditions());
            assertTrue(c.hasReference(1, 2));
            assertFalse(c.hasReference(1, 3));
            c.writeInto(z);
            float[] r = ref.toArray();
            float[] v = z.toArray();
            int hw = 6;
            for (int ch = 0; ch < 2; ch++) {
                assertEquals(r[(ch * 3 + 2) * hw], v[((0 * 2 + ch) * 5 + 4) * hw]);   // sample 0 frame 4 = ref 2
                assertEquals(r[(ch * 3 + 1) * hw + 5], v[((1 * 2 + ch) * 5 + 1) * hw + 5]);
                assertEquals(r[(ch * 3 + 2) * hw + 3], v[((1 * 2 + ch) * 5 + 2) * hw + 3]);
                assertEquals(0f, v[((1 * 2 + ch) * 5 + 3) * hw]);
            }
            // align moves starts to the nearest multiple, as find_nearest_point
            FrameConditioning a = FrameConditioning.fromStrategies(new int[] {1, 2, 5, 2, 3},
                    List.of(MaskStrategy.parse("0,0,0,3,1")), List.of(List.of(ref)), 0, 2);
            assertArrayEquals(new float[] {1, 1, 0, 1, 1}, a.maskValues());
        }
    }

    @Test
    void refusesMissingReferencesFramesOutsideAndSizeMismatch() {
        int[] shape = {1, 2, 5, 2, 3};
        try (Tensor ref = ramp(2, 3, 2, 3); Tensor wide = ramp(2, 1, 2, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FrameConditioning
                    .fromStrategies(shape, List.of(MaskStrategy.parse("0,1")), List.of(List.of(ref)), 0, 0));
            assertTrue(e.getMessage().contains("names reference 1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> FrameConditioning.builder(shape)
                    .copy(0, ref, 0, 5, 1, 0));
            assertTrue(e.getMessage().contains("target frame 5 is outside the 5 latent frames"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> FrameConditioning.builder(shape)
                    .copy(0, ref, 0, -6, 1, 0));
            assertTrue(e.getMessage().contains("target frame -1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> FrameConditioning.builder(shape)
                    .copy(0, ref, 3, 0, 1, 0));
            assertTrue(e.getMessage().contains("reference frame 3"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> FrameConditioning.builder(shape)
                    .copy(0, wide, 0, 0, 1, 0));
            assertTrue(e.getMessage().contains("does not match"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> FrameConditioning.builder(shape).copy(0, ref, 0, 0, 1,
                    -0.1));
            try (Tensor other = Tensor.zeros(1, 2, 4, 2, 3)) {
                FrameConditioning c = FrameConditioning.builder(shape).copy(0, ref, 0, 0, 1, 0).build();
                assertThrows(IllegalArgumentException.class, () -> c.writeInto(other));
                SamplerOptions o = SamplerOptions.builder().steps(3).videoSize(240, 426).numFrames(17).build();
                e = assertThrows(IllegalArgumentException.class, () -> sampler.sample(new MaskedAnalytic(), other, o,
                        c, ProgressListener.NONE, CancellationToken.none()));
                assertTrue(e.getMessage().contains("frame conditioning is for a latent"), e.getMessage());
            }
        }
    }

    /** Edit-ratio frames need the reference generator's draws; without its seed the run is refused up front. */
    @Test
    void anEditRatioNeedsTheGeneratorSeed() {
        int[] shape = {1, 2, 4, 2, 2};
        try (Tensor ref = ramp(2, 1, 2, 2); Tensor noise = TorchCpuRandom.randn(3, shape)) {
            FrameConditioning c = FrameConditioning.builder(shape).copy(0, ref, 0, 1, 1, 0.5).build();
            SamplerOptions o = SamplerOptions.builder().steps(4).videoSize(240, 426).numFrames(17).build();
            MaskedAnalytic m = new MaskedAnalytic();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sampler.sample(m, noise,
                    o, c, ProgressListener.NONE, CancellationToken.none()));
            assertTrue(e.getMessage().contains("inferenceScriptMask"), e.getMessage());
            assertEquals(0, m.calls());
            // an edit ratio of 0 never re-noises: no seed needed
            FrameConditioning keep = FrameConditioning.builder(shape).copy(0, ref, 0, 1, 1, 0).build();
            sampler.sample(m, noise, o, keep, ProgressListener.NONE, CancellationToken.none()).close();
        }
    }

    /** A model without a frame mask refuses a mixed mask clearly instead of ignoring it. */
    @Test
    void aModelWithoutFrameMaskRefusesAMixedMask() {
        int[] shape = {1, 2, 3, 2, 2};
        try (Tensor ref = ramp(2, 1, 2, 2); Tensor noise = TorchCpuRandom.randn(3, shape)) {
            FrameConditioning c = FrameConditioning.builder(shape).copy(0, ref, 0, 0, 1, 0).build();
            SamplerOptions o = SamplerOptions.builder().steps(2).videoSize(240, 426).numFrames(17).build();
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> sampler
                    .sample(new FakeModels.Analytic(0), noise, o, c, ProgressListener.NONE, CancellationToken.none()));
            assertTrue(e.getMessage().contains("per-frame mask"), e.getMessage());
        }
    }

    /**
     * The sampler's frame mask: a frame with edit ratio e is a conditioning frame (kept, model mask false) while
     * e·N < t, is re-noised once at the first step with t ≤ N·e with that step's draw (one draw per step taken
     * from the start), and is then updated like the others.
     */
    @Test
    void editRatioReleasesAFrameOnceWithThatStepsDraw() {
        int[] shape = {1, 2, 3, 2, 2};
        int n = 2 * 3 * 4;
        int hw = 4;
        try (Tensor ref = ramp(2, 1, 2, 2); Tensor noise = TorchCpuRandom.randn(3, shape)) {
            FrameConditioning c = FrameConditioning.builder(shape).copy(0, ref, 0, 0, 1, 0)
                    .copy(0, ref, 0, 2, 1, 0.6).build();
            SamplerOptions o = SamplerOptions.builder().steps(5).videoSize(240, 426).numFrames(17)
                    .inferenceScriptMask(5).build();
            RflowSchedule sched = RflowSchedule.of(o);
            int release = 0;
            while (0.6f * 1000f < sched.timestep(release)) {
                release++;
            }
            assertTrue(release > 0 && release < 5, "the test needs a release inside the run");
            MaskedAnalytic m = new MaskedAnalytic();
            List<float[]> draws = new ArrayList<>();
            try (SampleResult r = sampler.sample(m, noise, o, c, ProgressListener.NONE, CancellationToken.none(),
                    (i, z, d) -> draws.add(d == null ? null : d.clone()))) {
                TorchCpuRandom g = new TorchCpuRandom(5);
                float[] want = new float[n];
                for (int i = 0; i < 5; i++) {
                    g.fillNormal(want);
                    if (i <= release) {
                        assertArrayEquals(want, draws.get(i), "draw of step " + i);
                    } else {
                        assertEquals(null, draws.get(i), "no draw needed after the release");
                    }
                    boolean[] mask = m.masks.get(i);
                    assertArrayEquals(new boolean[] {false, true, i >= release}, mask, "model mask of step " + i);
                }
                float[] z0 = noise.toArray();
                float[] refv = ref.toArray();
                float[] in = m.inputs.get(release);
                float t = sched.timestep(release);
                float keep = 1f - t / 1000f;
                for (int ch = 0; ch < 2; ch++) {
                    for (int k = 0; k < hw; k++) {
                        int p = (ch * 3 + 2) * hw + k;
                        assertEquals(refv[ch * hw + k], m.inputs.get(release - 1)[p], "kept before the release");
                        assertEquals(keep * refv[ch * hw + k] + (1f - keep) * draws.get(release)[p], in[p],
                                "re-noised at the release");
                        int q = (ch * 3) * hw + k;
                        assertEquals(refv[ch * hw + k], r.latent().toArray()[q], "frame 0 stays the reference");
                        assertNotEquals(z0[(ch * 3 + 1) * hw + k], r.latent().toArray()[(ch * 3 + 1) * hw + k]);
                    }
                }
            }
        }
    }

    /**
     * LPL with conditioning: the leap is an update of the generated frames only, so conditioned frames stay exactly
     * at the reference, including an edit-ratio frame not yet released at the leap.
     */
    @Test
    void aLeapKeepsConditionedFramesAtTheReference() {
        int[] shape = {1, 2, 4, 2, 2};
        int hw = 4;
        try (Tensor ref = ramp(2, 2, 2, 2); Tensor noise = TorchCpuRandom.randn(4, shape)) {
            FrameConditioning c = FrameConditioning.builder(shape).copy(0, ref, 0, 0, 1, 0)
                    .copy(0, ref, 1, 3, 1, 0.05).build();
            SamplerOptions o = SamplerOptions.builder().steps(8).videoSize(240, 426).numFrames(17)
                    .leap(LeapStrategy.fixed(3)).inferenceScriptMask(9).build();
            MaskedAnalytic m = new MaskedAnalytic();
            try (SampleResult r = sampler.sample(m, noise, o, c, ProgressListener.NONE, CancellationToken.none())) {
                assertEquals(java.util.OptionalInt.of(3), r.leapStep());
                assertEquals(4, r.modelCalls());
                float[] v = r.latent().toArray();
                float[] rv = ref.toArray();
                float[] z0 = noise.toArray();
                for (int ch = 0; ch < 2; ch++) {
                    for (int k = 0; k < hw; k++) {
                        assertEquals(rv[(ch * 2) * hw + k], v[(ch * 4) * hw + k], "frame 0");
                        assertEquals(rv[(ch * 2 + 1) * hw + k], v[(ch * 4 + 3) * hw + k], "frame 3 (not released)");
                        assertNotEquals(z0[(ch * 4 + 1) * hw + k], v[(ch * 4 + 1) * hw + k], "frame 1 generated");
                    }
                }
            }
        }
    }

    /** [C, T, H, W] with distinct values. */
    static Tensor ramp(int c, int t, int h, int w) {
        float[] v = new float[c * t * h * w];
        for (int i = 0; i < v.length; i++) {
            v[i] = 0.1f * i - 1f;
        }
        return Tensor.of(v, c, t, h, w);
    }
}
