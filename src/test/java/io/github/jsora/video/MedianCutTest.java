package io.github.jsora.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;

class MedianCutTest {

    /** The frame as the quantiser maps it. */
    static Frame apply(Frame f, int colours) {
        MedianCut.Result q = MedianCut.quantize(f.toRgbBytes(), colours);
        byte[] out = new byte[3 * f.width() * f.height()];
        for (int i = 0; i < q.indices().length; i++) {
            int c = q.palette()[q.indices()[i] & 0xff];
            out[3 * i] = (byte) (c >> 16);
            out[3 * i + 1] = (byte) (c >> 8);
            out[3 * i + 2] = (byte) c;
        }
        return Frame.wrap(f.width(), f.height(), out);
    }

    @Test
    void atMostPaletteSizeColoursAreExact() {
        Random r = new Random(1);
        int[] colours = new int[256];
        for (int i = 0; i < colours.length; i++) {
            colours[i] = r.nextInt(1 << 24);
        }
        byte[] a = new byte[3 * 100 * 50];
        for (int i = 0; i < 5000; i++) {
            int c = colours[i % 256 == 0 ? 0 : r.nextInt(256)];
            a[3 * i] = (byte) (c >> 16);
            a[3 * i + 1] = (byte) (c >> 8);
            a[3 * i + 2] = (byte) c;
        }
        Frame f = Frame.wrap(100, 50, a);
        assertEquals(f, apply(f, 256));
        Frame one = Frame.filled(7, 3, 0x123456);
        assertEquals(one, apply(one, 256));
    }

    @Test
    void paletteNeverExceedsTheLimitAndErrorStaysInsideBoxes() {
        Random r = new Random(2);
        byte[] a = new byte[3 * 80 * 60];
        r.nextBytes(a); // 4800 random colours: worst case for a palette
        Frame f = Frame.wrap(80, 60, a);
        for (int k : new int[] {2, 16, 256}) {
            MedianCut.Result q = MedianCut.quantize(a, k);
            assertTrue(q.palette().length <= k);
            Set<Integer> used = new HashSet<>();
            for (byte i : q.indices()) {
                used.add(i & 0xff);
            }
            assertEquals(q.palette().length, used.size(), "every palette entry is used");
        }
        // Each palette entry is the rounded pixel-weighted mean of exactly the pixels mapped to it, so every pixel
        // is within its box: |pixel - entry| <= max - min of the box's pixels, per channel.
        MedianCut.Result q = MedianCut.quantize(a, 256);
        int n = q.palette().length;
        long[][] sum = new long[n][3];
        long[] count = new long[n];
        int[][] min = new int[n][3];
        int[][] max = new int[n][3];
        for (int[] m : min) {
            java.util.Arrays.fill(m, 255);
        }
        for (int i = 0; i < q.indices().length; i++) {
            int k = q.indices()[i] & 0xff;
            count[k]++;
            for (int c = 0; c < 3; c++) {
                int v = a[3 * i + c] & 0xff;
                sum[k][c] += v;
                min[k][c] = Math.min(min[k][c], v);
                max[k][c] = Math.max(max[k][c], v);
            }
        }
        for (int k = 0; k < n; k++) {
            for (int c = 0; c < 3; c++) {
                int entry = q.palette()[k] >> (8 * (2 - c)) & 0xff;
                assertEquals(Math.round((double) sum[k][c] / count[k]), entry, "entry " + k + " channel " + c);
                assertTrue(entry >= min[k][c] && entry <= max[k][c]);
            }
        }
        // More colours, less error.
        double e16 = Clips.meanAbsDiff(f, apply(f, 16));
        double e256 = Clips.meanAbsDiff(f, apply(f, 256));
        assertTrue(e256 < e16, e256 + " vs " + e16);
        assertTrue(e256 < 20, "uniform noise with 256 boxes: mean error " + e256);
    }
}
