package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.Attention;

/** The attention schedule the block loop picks, and its system property. */
class ComputeKernelsTest {

    @AfterEach
    void clear() {
        System.clearProperty(ComputeKernels.SCHEDULE_PROPERTY);
    }

    @Test
    void autoIsPerThreadSimdInBf16ComputeAndSharedBitsInFloat32() {
        assertEquals(Attention.Schedule.PER_THREAD_SIMD, ComputeKernels.schedule(true));
        assertEquals(Attention.Schedule.SHARED_BITS, ComputeKernels.schedule(false));
        System.setProperty(ComputeKernels.SCHEDULE_PROPERTY, " Auto ");
        assertEquals(Attention.Schedule.SHARED_BITS, ComputeKernels.schedule(false));
    }

    @Test
    void thePropertyForcesAny() {
        System.setProperty(ComputeKernels.SCHEDULE_PROPERTY, "perThread");
        assertEquals(Attention.Schedule.PER_THREAD, ComputeKernels.schedule(false));
        System.setProperty(ComputeKernels.SCHEDULE_PROPERTY, "perThreadSimd");
        assertEquals(Attention.Schedule.PER_THREAD_SIMD, ComputeKernels.schedule(false));
        System.setProperty(ComputeKernels.SCHEDULE_PROPERTY, "shared");
        assertEquals(Attention.Schedule.SHARED, ComputeKernels.schedule(true));
        System.setProperty(ComputeKernels.SCHEDULE_PROPERTY, "sharedBits");
        assertEquals(Attention.Schedule.SHARED_BITS, ComputeKernels.schedule(true));
    }

    @Test
    void aBadValueIsRefusedByName() {
        System.setProperty(ComputeKernels.SCHEDULE_PROPERTY, "fastest");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ComputeKernels.schedule(true));
        assertTrue(e.getMessage().contains(ComputeKernels.SCHEDULE_PROPERTY) && e.getMessage().contains("fastest"),
                e.getMessage());
    }
}
