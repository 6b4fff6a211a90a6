package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class ResidencyPlanTest {

    private static List<String> names(int n) {
        List<String> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add("b" + i);
        }
        return l;
    }

    @Test
    void everythingResidentWhenTheBudgetHoldsAll() {
        long[] s = {10, 100, 100, 100, 5};
        ResidencyPlan p = ResidencyPlan.plan(names(5), s, 315, 1);
        assertEquals(5, p.residentCount());
        assertEquals(315, p.residentBytes());
        assertEquals(0, p.reserveBytes());
        assertEquals(0, p.streamedBytes());
    }

    @Test
    void equalBlocksKeepAPrefixAndReserveTheInFlightBlocks() {
        long[] s = {100, 100, 100, 100, 100, 100};
        // 450 bytes, prefetch 1: reserve 200 for streamed, 2 resident (200 + 200 <= 450), the third would leave 150
        ResidencyPlan p = ResidencyPlan.plan(names(6), s, 450, 1);
        assertEquals(2, p.residentCount());
        assertTrue(p.isResident(0) && p.isResident(1) && !p.isResident(2));
        assertEquals(200, p.reserveBytes());
        assertEquals(400, p.streamedBytes());
        assertTrue(p.residentBytes() + p.reserveBytes() <= p.budgetBytes());
        // without prefetch the reserve is one block: 3 resident
        ResidencyPlan q = ResidencyPlan.plan(names(6), s, 450, 0);
        assertEquals(3, q.residentCount());
        assertEquals(100, q.reserveBytes());
    }

    @Test
    void firstFitKeepsASmallLaterBlockThatAPrefixWouldStream() {
        // embedder, 4 big blocks, small final layer: budget for 1 big computing + 1 prefetched + small ones
        long[] s = {10, 100, 100, 100, 100, 5};
        ResidencyPlan p = ResidencyPlan.plan(names(6), s, 215, 1);
        assertTrue(p.isResident(0), "embedder");
        assertFalse(p.isResident(1));
        assertTrue(p.isResident(5), "final layer resident although block 1..4 are streamed");
        assertEquals(15, p.residentBytes());
        assertEquals(200, p.reserveBytes());
    }

    @Test
    void invariantHoldsOverManyBudgets() {
        long[] s = {7, 130, 90, 130, 64, 130, 3};
        for (int depth = 0; depth <= 2; depth++) {
            long min = ResidencyPlan.requiredBudget(s, depth);
            for (long b = min; b <= 600; b += 11) {
                ResidencyPlan p = ResidencyPlan.plan(names(7), s, b, depth);
                assertTrue(p.residentBytes() + p.reserveBytes() <= b, p.toString());
                assertEquals(p.residentBytes() + p.streamedBytes(), 554);
            }
        }
    }

    @Test
    void tooSmallBudgetNamesTheBytesNeeded() {
        long[] s = {10, 100, 120, 100};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ResidencyPlan.plan(names(4), s, 219, 1));
        assertTrue(e.getMessage().contains("220 bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("b2"), e.getMessage());
        assertEquals(220, ResidencyPlan.requiredBudget(s, 1));
        assertEquals(120, ResidencyPlan.requiredBudget(s, 0));
        IllegalArgumentException e0 = assertThrows(IllegalArgumentException.class,
                () -> ResidencyPlan.plan(names(4), s, 119, 0));
        assertTrue(e0.getMessage().contains("120 bytes"), e0.getMessage());
    }
}
