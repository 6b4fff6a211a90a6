package io.github.jsora.vae;

import io.github.jsora.tensor.Tensor;

/**
 * Conversion of decoded frames to 8-bit RGB exactly as Open-Sora saves videos ({@code save_sample}): clamp to
 * [−1, 1], map {@code (x + 1)/2·255 + 0.5} in float32, clamp to [0, 255], truncate to an unsigned byte.
 */
public final class Frames {

    private Frames() {
    }

    /** One value: clamp(x, −1, 1) → (x + 1)/2 → ·255 → +0.5 → clamp(0, 255) → truncate. NaN gives 0. */
    public static int toUint8(float x) {
        float v = Math.max(-1f, Math.min(1f, x));
        v = v - (-1f);
        v = v / 2f;
        v = v * 255f;
        v = v + 0.5f;
        v = Math.max(0f, Math.min(255f, v));
        return Float.isNaN(v) ? 0 : (int) v;
    }

    /**
     * A frame [3, H, W] as interleaved RGB bytes (row-major pixels, R G B each), H·W·3 long.
     */
    public static byte[] toRgb24(Tensor frame) {
        checkFrame(frame);
        byte[] dst = new byte[Math.toIntExact(frame.size())];
        toRgb24(frame, dst, 0);
        return dst;
    }

    /** Writes the interleaved RGB bytes of a frame [3, H, W] into {@code dst} from {@code off} on. */
    public static void toRgb24(Tensor frame, byte[] dst, int off) {
        checkFrame(frame);
        int plane = Math.multiplyExact(frame.dim(1), frame.dim(2));
        if (off < 0 || dst.length - off < 3L * plane) {
            throw new IllegalArgumentException("RGB buffer of " + dst.length + " bytes from " + off
                    + " cannot hold a frame " + frame.shapeString());
        }
        float[] row = new float[plane];
        for (int c = 0; c < 3; c++) {
            frame.read((long) c * plane, row, 0, plane);
            for (int p = 0; p < plane; p++) {
                dst[off + 3 * p + c] = (byte) toUint8(row[p]);
            }
        }
    }

    private static void checkFrame(Tensor frame) {
        if (frame.rank() != 3 || frame.dim(0) != 3) {
            throw new IllegalArgumentException("an RGB frame must be [3, H, W], found " + frame.shapeString());
        }
    }
}
