package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class StageTimerTest {

    private static void spin(long nanos) {
        long until = System.nanoTime() + nanos;
        while (System.nanoTime() < until) {
            Thread.onSpinWait();
        }
    }

    @Test
    void scopesChargeTheirStageAndReportTheirOwnDuration() {
        StageTimer timer = new StageTimer();
        StageTimer.Scope outer = timer.time("outer");
        long inner;
        try (StageTimer.Scope s = timer.time("inner")) {
            spin(2_000_000);
            assertTrue(s.nanos() >= 2_000_000, "an open scope reports the time so far");
            s.close();
            inner = s.nanos();
            spin(1_000_000);
            assertEquals(inner, s.nanos(), "a closed scope's duration is fixed");
        }
        assertEquals(inner, timer.nanos("inner"), "closing twice charges once");
        outer.close();
        assertTrue(outer.nanos() >= inner + 1_000_000, outer.nanos() + " vs " + inner);
        assertEquals(outer.nanos(), timer.nanos("outer"));
        assertEquals(outer.nanos() / 1_000_000, outer.millis());
        assertEquals(List.of("inner", "outer"), List.copyOf(timer.snapshot().keySet()), "in the order first charged");
    }

    @Test
    void aStartedScopeHasATimerOfItsOwn() {
        StageTimer.Scope a = StageTimer.start("write");
        StageTimer.Scope b = StageTimer.start("write");
        spin(1_000_000);
        b.close();
        a.close();
        assertTrue(a.nanos() >= b.nanos() && b.nanos() >= 1_000_000, a.nanos() + " " + b.nanos());
    }

    @Test
    void lapsChargeTheTimeSinceTheLastMark() {
        StageTimer timer = new StageTimer();
        try (StageTimer.Scope s = timer.time("scope")) {
            spin(1_000_000);
        }
        timer.lap("after");            // the scope's end is the mark: only the time since then
        assertTrue(timer.nanos("after") < timer.nanos("scope"), timer.snapshot().toString());
        assertEquals(timer.nanos("scope") / 1e9, timer.seconds("scope"));
    }
}
