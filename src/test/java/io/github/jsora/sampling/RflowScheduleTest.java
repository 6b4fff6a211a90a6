package io.github.jsora.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Properties of the schedule that hold for any geometry (the reference values are in the golden test). */
class RflowScheduleTest {

    private static RflowSchedule schedule(int steps, int h, int w, int frames, boolean discrete) {
        return RflowSchedule.of(SamplerOptions.builder().steps(steps).videoSize(h, w).numFrames(frames)
                .discreteTimesteps(discrete).build());
    }

    @Test
    void everyFrameCountGivesAFiniteStrictlyDecreasingSchedule() {
        for (int frames = 1; frames <= 120; frames++) {
            for (boolean discrete : new boolean[] {false, true}) {
                RflowSchedule s = schedule(30, 360, 640, frames, discrete);
                float[] t = s.timesteps();
                for (int i = 0; i < t.length; i++) {
                    assertTrue(Float.isFinite(t[i]) && t[i] > 0, frames + " frames: t[" + i + "]=" + t[i]);
                    assertTrue(i == 0 || t[i] < t[i - 1], frames + " frames: not decreasing at " + i);
                }
                assertEquals(1000f, t[0], 5e-4f, frames + " frames: first timestep");
            }
        }
    }

    @Test
    void frameFactorFollowsTheReferenceWhereItIsDefined() {
        assertEquals(1, RflowSchedule.frameFactor(1));
        for (int f = 2; f <= 16; f++) {
            assertEquals((f + 3) / 4, RflowSchedule.frameFactor(f), "jsora rule for " + f + " frames");
        }
        for (int f = 17; f <= 300; f++) {
            assertEquals(f / 17 * 5, RflowSchedule.frameFactor(f), "reference rule for " + f + " frames");
        }
        // never below the image factor, so the shift never degenerates
        for (int f = 1; f <= 300; f++) {
            assertTrue(RflowSchedule.frameFactor(f) >= 1, "factor of " + f + " frames");
        }
    }

    @Test
    void stepSizesTelescopeToTheFirstTimestep() {
        RflowSchedule s = schedule(30, 64, 64, 17, false);
        assertTrue(s.timestep(0) > 1000f, "64x64x17 keeps the float32 overshoot of the first step");
        double sum = 0;
        for (int i = 0; i < s.steps(); i++) {
            sum += s.dt(i);
            assertEquals(s.timestep(i) / 1000f, s.leapDt(i));
            assertTrue(s.dt(i) > 0, "dt[" + i + "]");
        }
        assertEquals(s.timestep(0) / 1000.0, sum, 1e-5);
        assertEquals(s.timestep(29) / 1000f, s.dt(29));
        assertEquals((s.timestep(3) - s.timestep(4)) / 1000f, s.dt(3));
    }

    @Test
    void withoutTransformTheGridIsLinear() {
        RflowSchedule s = RflowSchedule.of(SamplerOptions.builder().steps(8).timestepTransform(false).build());
        for (int i = 0; i < 8; i++) {
            assertEquals((float) ((1.0 - i / 8.0) * 1000), s.timestep(i));
        }
        assertEquals(1f, s.shiftRatio());
        // discrete rounding is half to even, like Python's round: 16 steps -> 937.5 -> 938, 812.5 -> 812
        RflowSchedule d = RflowSchedule.of(SamplerOptions.builder().steps(16).timestepTransform(false)
                .discreteTimesteps(true).build());
        assertEquals(938f, d.timestep(1));
        assertEquals(812f, d.timestep(3));
        assertEquals(688f, d.timestep(5));
    }

    @Test
    void singleStepGoesStraightToZero() {
        RflowSchedule s = schedule(1, 240, 426, 51, false);
        assertEquals(1, s.steps());
        assertEquals(s.timestep(0) / 1000f, s.dt(0));
    }
}
