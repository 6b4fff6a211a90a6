package io.github.jsora.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.Tensor;

/** 8-bit conversion as Open-Sora's save_sample: clamp, (x+1)/2·255 + 0.5, clamp, truncate. */
class FramesTest {

    @Test
    void valuesMapLikeSaveSample() {
        assertEquals(0, Frames.toUint8(-5f));
        assertEquals(0, Frames.toUint8(-1f));        // 0.5 → 0
        assertEquals(128, Frames.toUint8(0f));       // 127.5 + 0.5 → 128
        assertEquals(191, Frames.toUint8(0.5f));     // 191.25 + 0.5 → 191
        assertEquals(255, Frames.toUint8(1f));       // 255.5 → 255
        assertEquals(255, Frames.toUint8(7f));
        assertEquals(0, Frames.toUint8(Float.NaN));
        // the rounding edge: (x+1)/2·255 = k + 0.5 exactly rounds up
        float x = 2f * 0.5f / 255f - 1f;             // (x+1)/2·255 ≈ 0.5
        assertEquals((int) (((x + 1f) / 2f) * 255f + 0.5f), Frames.toUint8(x));
    }

    @Test
    void framesBecomeInterleavedRgb() {
        float[] v = {-1f, 0f, 1f, 0.5f, // R plane 2x2
            1f, 1f, -1f, -1f,               // G
            0f, -1f, 0.5f, 1f};             // B
        try (Tensor f = Tensor.of(v, 3, 2, 2)) {
            byte[] rgb = Frames.toRgb24(f);
            assertArrayEquals(new byte[] {0, (byte) 255, (byte) 128, (byte) 128, (byte) 255, 0, (byte) 255, 0,
                (byte) 191, (byte) 191, 0, (byte) 255}, rgb);
        }
        try (Tensor g = Tensor.zeros(4, 2, 2)) {
            assertThrows(IllegalArgumentException.class, () -> Frames.toRgb24(g));
        }
    }
}
