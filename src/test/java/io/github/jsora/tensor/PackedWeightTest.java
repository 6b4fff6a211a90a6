package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** PackedWeight against slow, obvious twins of its rounding, on random weights. */
class PackedWeightTest {

    /** Nearest bfloat16 by comparing the two neighbours in double; ties to the even one. */
    static float naiveBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        float lo = Float.intBitsToFloat(bits & 0xffff0000);
        float hi = Float.intBitsToFloat((bits & 0xffff0000) + 0x10000);
        double dl = Math.abs((double) f - lo);
        double dh = Math.abs((double) f - hi);
        if (dl < dh) {
            return lo;
        }
        if (dh < dl) {
            return hi;
        }
        return ((Float.floatToRawIntBits(lo) >>> 16) & 1) == 0 ? lo : hi;
    }

    /** Per-row symmetric int8 as written in the task: scale = max|row|/127, q = round(w/scale) clamped. */
    static float[] naiveInt8(float[] w, int rows) {
        int rl = w.length / rows;
        float[] out = new float[w.length];
        for (int r = 0; r < rows; r++) {
            float m = 0;
            for (int i = 0; i < rl; i++) {
                m = Math.max(m, Math.abs(w[r * rl + i]));
            }
            float scale = m / 127f;
            for (int i = 0; i < rl; i++) {
                int q = scale == 0 ? 0 : (int) Math.max(-127, Math.min(127, Math.rint(w[r * rl + i] / scale)));
                out[r * rl + i] = q * scale;
            }
        }
        return out;
    }

    static float[] random(int n, long seed) {
        Random rnd = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian() * 3));
        }
        return a;
    }

    @Test
    void bf16MatchesNaiveRoundingAndRoundInPlace() {
        int[] shape = {37, 3, 129};
        float[] w = random(37 * 3 * 129, 1);
        w[0] = Float.intBitsToFloat(0x3f808000); // a tie: rounds to even (down)
        w[1] = Float.intBitsToFloat(0x3f818000); // a tie: rounds to even (up)
        try (Tensor t = Tensor.of(w, shape); PackedWeight p = PackedWeight.pack(t, PackedWeight.Format.BF16);
                Tensor e = p.expand()) {
            float[] want = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                want[i] = naiveBf16(w[i]);
            }
            assertArrayEquals(want, e.toArray());
            assertEquals(2L * w.length, p.bytes());
            PackedWeight.roundInPlace(t, PackedWeight.Format.BF16);
            assertArrayEquals(e.toArray(), t.toArray());
        }
    }

    @Test
    void int8MatchesNaiveQuantisationAndRoundInPlace() {
        int rows = 300;
        int[] shape = {rows, 70};
        float[] w = random(rows * 70, 2);
        for (int i = 0; i < 70; i++) {
            w[5 * 70 + i] = 0f; // a row of zeros
        }
        try (Tensor t = Tensor.of(w, shape); PackedWeight p = PackedWeight.pack(t, PackedWeight.Format.INT8);
                Tensor e = p.expand()) {
            assertArrayEquals(naiveInt8(w, rows), e.toArray());
            assertEquals(0f, p.scales()[5]);
            assertEquals(rows * 70L + rows * 4L, p.bytes());
            PackedWeight.roundInPlace(t, PackedWeight.Format.INT8);
            assertArrayEquals(e.toArray(), t.toArray());
        }
    }

    /** Weights of several conversion chunks (2^16 elements each): every chunk lands at its own rows. */
    @Test
    void packingBeyondOneChunkKeepsEveryRow() {
        int rows = 600;
        int rl = 300;
        float[] w = random(rows * rl, 7);
        try (Tensor t = Tensor.of(w, rows, rl); PackedWeight b = PackedWeight.pack(t, PackedWeight.Format.BF16);
                PackedWeight q = PackedWeight.pack(t, PackedWeight.Format.INT8); Tensor eb = b.expand();
                Tensor eq = q.expand()) {
            float[] want = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                want[i] = naiveBf16(w[i]);
            }
            assertArrayEquals(want, eb.toArray());
            assertArrayEquals(naiveInt8(w, rows), eq.toArray());
            ByteBuffer raw = ByteBuffer.allocate(2 * rl).order(ByteOrder.LITTLE_ENDIAN);
            b.readRaw((long) (rows - 1) * rl, raw);
            assertEquals(Float.floatToRawIntBits(want[(rows - 1) * rl]) >>> 16, raw.getShort(0) & 0xffff);
        }
    }

    @Test
    void rawBytesRoundTripAndMemoryIsCounted() {
        float[] w = random(64 * 33, 3);
        long live = NativeMemory.liveBytes();
        try (Tensor t = Tensor.of(w, 64, 33); PackedWeight p = PackedWeight.pack(t, PackedWeight.Format.INT8);
                PackedWeight q = PackedWeight.allocate(PackedWeight.Format.INT8, 64, 33)) {
            ByteBuffer b = ByteBuffer.allocate(64 * 33).order(ByteOrder.LITTLE_ENDIAN);
            p.readRaw(0, b);
            b.flip();
            q.writeRaw(0, b);
            float[] s = p.scales();
            q.writeScales(0, s, 0, s.length);
            try (Tensor a = p.expand(); Tensor c = q.expand()) {
                assertArrayEquals(a.toArray(), c.toArray());
            }
        }
        assertEquals(live, NativeMemory.liveBytes());
    }

    @Test
    void rejectsRankBelowTwo() {
        try (Tensor t = Tensor.zeros(8)) {
            assertThrows(IllegalArgumentException.class, () -> PackedWeight.pack(t, PackedWeight.Format.BF16));
        }
    }
}
