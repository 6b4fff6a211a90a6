package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.jsora.sampling.GuidanceInterval;
import io.github.jsora.sampling.StepCaching;
import io.github.jsora.video.Frame;

/**
 * Step caching and the guidance interval on the demo model: off is bit-identical; the decisions respect the step
 * range, the LPL leap velocity and the end of TDTM; the interval runs half batches outside it and counts them as
 * half an evaluation; the combinations that cannot work are refused.
 */
class StepCachingTest {

    private static final String PROMPT = "a red circle moving left";
    /** A threshold no demo step reaches: every allowed step is reused. */
    private static final double ALWAYS = 1e9;
    private static VideoGenerator gen;

    @BeforeAll
    static void open() {
        gen = VideoGenerator.openDefault();
    }

    @AfterAll
    static void close() {
        gen.close();
    }

    private static GenerationRequest.Builder request() {
        return gen.requestBuilder(PROMPT).steps(12).seed(3);
    }

    private static List<Integer> range(int from, int to, int... except) {
        List<Integer> out = new java.util.ArrayList<>();
        outer:
        for (int i = from; i < to; i++) {
            for (int e : except) {
                if (e == i) {
                    continue outer;
                }
            }
            out.add(i);
        }
        return out;
    }

    private static void assertSameFrames(Video a, Video b) {
        assertEquals(a.frames().size(), b.frames().size());
        for (int i = 0; i < a.frames().size(); i++) {
            assertArrayEquals(a.frames().get(i).toRgbBytes(), b.frames().get(i).toRgbBytes(), "frame " + i);
        }
    }

    static double psnr(Video a, Video b) {
        double se = 0;
        long n = 0;
        for (int f = 0; f < a.frames().size(); f++) {
            Frame x = a.frames().get(f);
            Frame y = b.frames().get(f);
            byte[] p = x.toRgbBytes();
            byte[] q = y.toRgbBytes();
            for (int i = 0; i < p.length; i++) {
                double d = (p[i] & 0xff) - (q[i] & 0xff);
                se += d * d;
            }
            n += p.length;
        }
        return 10 * Math.log10(255.0 * 255.0 / Math.max(se / n, 1e-12));
    }

    @Test
    void offIsTheDefaultAndChangesNothing() {
        Video plain = gen.generate(request().build());
        Video off = gen.generate(request().stepCaching(StepCaching.off()).cfgEverywhere().build());
        assertSameFrames(plain, off);
        assertTrue(off.stats().reusedSteps().isEmpty());
        assertEquals(12.0, off.stats().sampleEvaluations());
        // an interval holding every timestep is guidance everywhere
        assertSameFrames(plain, gen.generate(request().cfgInterval(0, 2000).build()));
    }

    @Test
    void reuseFollowsTheStepRange() {
        Video v = gen.generate(request().stepCaching(StepCaching.modulatedInput(ALWAYS).steps(4, 9)).build());
        assertEquals(range(4, 9), v.stats().reusedSteps());
        Video all = gen.generate(request().stepCaching(StepCaching.firstBlockResidual(ALWAYS)).build());
        assertEquals(range(1, 12), all.stats().reusedSteps(), "step 0 has nothing cached");
        assertEquals(12, all.stats().modelEvaluations());
    }

    @Test
    void theLeapVelocityIsAlwaysComputed() {
        Video v = gen.generate(request().leapAt(6).stepCaching(StepCaching.modulatedInput(ALWAYS)).build());
        assertEquals(range(1, 6), v.stats().reusedSteps(), "steps 1-5 reused, step 6 (the leap) computed");
        assertEquals(7, v.stats().modelEvaluations());
        assertThrows(IllegalArgumentException.class,
                () -> request().dynamicLeap().stepCaching(StepCaching.modulatedInput(0.1)).build());
    }

    @Test
    void theFirstStepAfterMergingIsComputed() {
        Video v = gen.generate(request().tdtmSteps(5).stepCaching(StepCaching.modulatedInput(ALWAYS)).build());
        assertEquals(range(1, 12, 5), v.stats().reusedSteps());
    }

    @Test
    void aSmallThresholdReusesLessAndStaysCloseToTheUncachedRun() {
        Video plain = gen.generate(request().build());
        Video cached = gen.generate(request().stepCaching(StepCaching.modulatedInput(0.1)).build());
        int reused = cached.stats().reusedSteps().size();
        assertTrue(reused > 0 && reused < 11, "reused " + cached.stats().reusedSteps());
        double psnr = psnr(plain, cached);
        System.out.printf(java.util.Locale.ROOT, "step cache input:0.1, 12 steps: reused %s, PSNR %.1f dB%n",
                cached.stats().reusedSteps(), psnr);
        assertTrue(psnr > 25, "PSNR " + psnr);
    }

    @Test
    void outsideTheIntervalOnlyThePromptHalfRuns() {
        // no timestep is in [2000, 3000]: every step runs the prompt half, i.e. guidance scale 1
        Video none = gen.generate(request().cfgInterval(2000, 3000).build());
        assertEquals(6.0, none.stats().sampleEvaluations());
        assertEquals(12, none.stats().modelEvaluations());
        Video cfg1 = gen.generate(request().cfgScale(1.0).build());
        double psnr = psnr(none, cfg1);
        System.out.printf(java.util.Locale.ROOT, "guidance nowhere vs cfg 1: PSNR %.1f dB%n", psnr);
        assertTrue(psnr > 40, "a prompt-only step is the cfg-1 step: PSNR " + psnr);
        Video plain = gen.generate(request().build());
        assertTrue(psnr(none, plain) < psnr, "guidance matters on the demo model");

        Video part = gen.generate(request().cfgInterval(0, 800).build());
        double units = part.stats().sampleEvaluations();
        assertTrue(units > 6 && units < 12 && units * 2 == Math.rint(units * 2), "units " + units);
        assertFalse(part.stats().toString().isEmpty());
    }

    @Test
    void optionsParseAndRefuseClearly() {
        assertEquals(StepCaching.modulatedInput(0.2).steps(3, 20), StepCaching.parse("input:0.2@3-20"));
        assertEquals(StepCaching.firstBlockResidual(0.05), StepCaching.parse("block:0.05"));
        assertEquals(StepCaching.off(), StepCaching.parse("off"));
        assertEquals(Integer.MAX_VALUE, StepCaching.parse("input:0.1@2-").toStep());
        for (String bad : new String[] {"", "input", "input:x", "foo:0.1", "input:-1", "input:0.1@0-3",
                "input:0.1@5-5", "input:0.1@a-b"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StepCaching.parse(bad),
                    bad);
            assertTrue(e.getMessage().contains("step") || e.getMessage().contains("threshold"), e.getMessage());
        }
        assertEquals(new GuidanceInterval(100, 800), GuidanceInterval.parse("100, 800"));
        assertThrows(IllegalArgumentException.class, () -> GuidanceInterval.parse("800,100"));
        assertThrows(IllegalArgumentException.class, () -> GuidanceInterval.parse("1"));
        assertThrows(IllegalArgumentException.class, () -> request().cfgInterval(-1, 5));
    }
}
