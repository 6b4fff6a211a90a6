package io.github.jsora.video;

import java.util.ArrayList;
import java.util.List;

/** Clips and measures for the MP4 tests. */
final class Mp4Clips {

    private Mp4Clips() {
    }

    /**
     * {@code n} frames of {@code w × h} that look like model output: a smooth colour ramp that drifts, with a soft
     * blob moving right (smooth content, so 4:2:0 chroma costs little).
     */
    static List<Frame> smooth(int w, int h, int n) {
        List<Frame> frames = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            byte[] rgb = new byte[3 * w * h];
            double cx = w * (0.2 + 0.6 * t / Math.max(1, n - 1));
            double cy = h * 0.5;
            double sigma = Math.min(w, h) / 5.0;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    double g = Math.exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * sigma * sigma));
                    int i = 3 * (y * w + x);
                    rgb[i] = (byte) Math.round(40 + 150 * g + 40.0 * x / w);
                    rgb[i + 1] = (byte) Math.round(60 + 100 * g + 50.0 * (y + 2 * t) / (h + 2 * n));
                    rgb[i + 2] = (byte) Math.round(150 - 110 * g + 30.0 * y / h);
                }
            }
            frames.add(Frame.wrap(w, h, rgb));
        }
        return frames;
    }

    /** PSNR in dB of {@code b} against {@code a} over the three channels (infinite when equal). */
    static double psnr(Frame a, Frame b) {
        if (a.width() != b.width() || a.height() != b.height()) {
            throw new IllegalArgumentException(a + " vs " + b);
        }
        byte[] x = a.toRgbBytes();
        byte[] y = b.toRgbBytes();
        return psnr(x, 0, 1, y, 0, 1, x.length);
    }

    /** PSNR of {@code n} bytes of {@code a} and {@code b}, each read with its own offset and stride. */
    static double psnr(byte[] a, int aOff, int aStride, byte[] b, int bOff, int bStride, int n) {
        double se = 0;
        for (int i = 0; i < n; i++) {
            double d = (a[aOff + i * aStride] & 0xff) - (b[bOff + i * bStride] & 0xff);
            se += d * d;
        }
        double mse = se / n;
        return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse);
    }
}
