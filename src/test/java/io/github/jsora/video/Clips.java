package io.github.jsora.video;

import java.util.ArrayList;
import java.util.List;

/** Synthetic test clips. */
final class Clips {

    static final int BACKGROUND = 0x28_3C_50; // (40, 60, 80)

    private Clips() {
    }

    /**
     * {@code n} frames of a {@code side}-pixel square of colour {@code rgb} on a plain {@link #BACKGROUND}, its
     * top-left corner at {@code (x0 + t·vx, y0 + t·vy)} in frame t.
     */
    static List<Frame> movingSquare(int w, int h, int n, int side, int rgb, int x0, int y0, int vx, int vy) {
        List<Frame> frames = new ArrayList<>(n);
        for (int t = 0; t < n; t++) {
            byte[] a = Frame.filled(w, h, BACKGROUND).toRgbBytes();
            int sx = x0 + t * vx;
            int sy = y0 + t * vy;
            for (int y = Math.max(0, sy); y < Math.min(h, sy + side); y++) {
                for (int x = Math.max(0, sx); x < Math.min(w, sx + side); x++) {
                    int i = 3 * (y * w + x);
                    a[i] = (byte) (rgb >> 16);
                    a[i + 1] = (byte) (rgb >> 8);
                    a[i + 2] = (byte) rgb;
                }
            }
            frames.add(Frame.wrap(w, h, a));
        }
        return frames;
    }

    /** The default clip of the writer tests: 12 frames 48x40, an orange-red 10 px square moving right and down. */
    static List<Frame> standard() {
        return movingSquare(48, 40, 12, 10, 0xDC_28_1E, 2, 3, 3, 2);
    }

    /** A frame with more than 256 colours: R ramps along x, G along y, B a diagonal pattern. */
    static Frame gradient(int w, int h) {
        byte[] a = new byte[3 * w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = 3 * (y * w + x);
                a[i] = (byte) (x * 255 / (w - 1));
                a[i + 1] = (byte) (y * 255 / (h - 1));
                a[i + 2] = (byte) ((x + y) * 7 & 0xff);
            }
        }
        return Frame.wrap(w, h, a);
    }

    /** Largest per-channel absolute difference between two frames of equal size. */
    static int maxAbsDiff(Frame a, Frame b) {
        byte[] x = a.toRgbBytes();
        byte[] y = b.toRgbBytes();
        int m = 0;
        for (int i = 0; i < x.length; i++) {
            m = Math.max(m, Math.abs((x[i] & 0xff) - (y[i] & 0xff)));
        }
        return m;
    }

    /** Mean per-channel absolute difference. */
    static double meanAbsDiff(Frame a, Frame b) {
        byte[] x = a.toRgbBytes();
        byte[] y = b.toRgbBytes();
        long s = 0;
        for (int i = 0; i < x.length; i++) {
            s += Math.abs((x[i] & 0xff) - (y[i] & 0xff));
        }
        return (double) s / x.length;
    }
}
