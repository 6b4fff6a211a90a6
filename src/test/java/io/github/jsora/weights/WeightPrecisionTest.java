package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class WeightPrecisionTest {

    @Test
    void parsesTheAllowedNames() {
        assertEquals(WeightPrecision.FLOAT32, WeightPrecision.parse("f32"));
        assertEquals(WeightPrecision.FLOAT32, WeightPrecision.parse("FP32"));
        assertEquals(WeightPrecision.FLOAT32, WeightPrecision.parse(" float32 "));
        assertEquals(WeightPrecision.BF16, WeightPrecision.parse("bf16"));
        assertEquals(WeightPrecision.INT8, WeightPrecision.parse("int8"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WeightPrecision.parse("fp8"));
        assertTrue(e.getMessage().contains("\"fp8\"") && e.getMessage().contains("bf16")
                && e.getMessage().contains("int8"), e.getMessage());
    }

    @Test
    void residentBytesPerTensor() {
        assertEquals(4 * 10 * 6, WeightPrecision.FLOAT32.residentBytes(new int[] {10, 6}));
        assertEquals(2 * 10 * 6, WeightPrecision.BF16.residentBytes(new int[] {10, 6}));
        assertEquals(10 * 6 + 4 * 10, WeightPrecision.INT8.residentBytes(new int[] {10, 6}));
        assertEquals(4 * 6, WeightPrecision.INT8.residentBytes(new int[] {6})); // biases stay float32
    }
}
