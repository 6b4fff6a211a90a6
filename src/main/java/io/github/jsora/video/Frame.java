package io.github.jsora.video;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.util.Arrays;

import io.github.jsora.tensor.Tensor;

/**
 * One immutable 8-bit RGB video frame: {@code width × height} pixels stored row by row, three bytes per pixel in
 * the order R, G, B (an {@code [H, W, 3]} array of unsigned bytes).
 *
 * <p>Frames are value objects: {@link #equals} compares size and every pixel, so "same seed ⇒ identical frames"
 * can be asserted directly.
 */
public final class Frame {

    /** Largest accepted width or height; far above any video this project makes, small enough to never overflow. */
    public static final int MAX_SIDE = 16384;

    private final int width;
    private final int height;
    private final byte[] rgb; // [H, W, 3]

    private Frame(int width, int height, byte[] rgb) {
        checkSize(width, height);
        long need = 3L * width * height;
        if (rgb.length != need) {
            throw new IllegalArgumentException("frame " + width + "x" + height + " needs " + need
                    + " RGB bytes, got " + rgb.length);
        }
        this.width = width;
        this.height = height;
        this.rgb = rgb;
    }

    static void checkSize(int width, int height) {
        if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
            throw new IllegalArgumentException("frame size " + width + "x" + height + " out of range 1.." + MAX_SIDE);
        }
    }

    /**
     * A frame from interleaved RGB bytes {@code [H, W, 3]}; the array is copied.
     *
     * @param width width in pixels
     * @param height height in pixels
     * @param rgb interleaved RGB bytes [H, W, 3]
     * @return the frame
     */
    public static Frame of(int width, int height, byte[] rgb) {
        return new Frame(width, height, rgb.clone());
    }

    /**
     * A frame that takes ownership of {@code rgb} {@code [H, W, 3]} without copying: the caller must not change the
     * array afterwards.
     *
     * @param width width in pixels
     * @param height height in pixels
     * @param rgb interleaved RGB bytes [H, W, 3]
     * @return the frame
     */
    public static Frame wrap(int width, int height, byte[] rgb) {
        return new Frame(width, height, rgb);
    }

    /**
     * A frame filled with one colour {@code 0xRRGGBB}.
     *
     * @param width width in pixels
     * @param height height in pixels
     * @param rgb interleaved RGB bytes [H, W, 3]
     * @return the frame
     */
    public static Frame filled(int width, int height, int rgb) {
        checkSize(width, height);
        byte[] a = new byte[3 * width * height];
        for (int i = 0; i < a.length; i += 3) {
            a[i] = (byte) (rgb >> 16);
            a[i + 1] = (byte) (rgb >> 8);
            a[i + 2] = (byte) rgb;
        }
        return new Frame(width, height, a);
    }

    /**
     * The pixels of any {@link BufferedImage} (alpha is dropped).
     *
     * @param image the image
     * @return the frame
     */
    public static Frame fromImage(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        checkSize(w, h);
        int[] row = new int[w];
        byte[] a = new byte[3 * w * h];
        int p = 0;
        for (int y = 0; y < h; y++) {
            image.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                int c = row[x];
                a[p++] = (byte) (c >> 16);
                a[p++] = (byte) (c >> 8);
                a[p++] = (byte) c;
            }
        }
        return new Frame(w, h, a);
    }

    /**
     * Converts one model output value in [-1, 1] to an 8-bit level the way Open-Sora saves samples: clamp to
     * [-1, 1], map to [0, 1], then {@code floor(v · 255 + 0.5)}.
     *
     * @param v the value
     * @return the level, 0..255
     */
    public static int toByteLevel(float v) {
        float u = Math.max(-1f, Math.min(1f, v)); // NaN stays NaN and maps to 0 below
        float scaled = (u + 1f) / 2f * 255f + 0.5f;
        int level = (int) scaled; // scaled >= 0.5, so truncation is floor
        return Math.max(0, Math.min(255, level));
    }

    /**
     * A frame from channel planes of model output in [-1, 1] (see {@link #toByteLevel}).
     *
     * @param planes  {@code [3, H, W]} starting at {@code offset}: R plane, then G, then B, each {@code H·W} values
     *                {@code planeStride} apart
     * @param width width in pixels
     * @param height height in pixels
     * @param offset index of the first value
     * @param planeStride distance between planes
     * @return the frame
     */
    public static Frame fromSignedPlanes(int width, int height, float[] planes, int offset, int planeStride) {
        checkSize(width, height);
        int n = width * height;
        if (offset < 0 || planeStride < n || (long) offset + 2L * planeStride + n > planes.length) {
            throw new IllegalArgumentException("planes [3, " + height + ", " + width + "] at offset " + offset
                    + " with plane stride " + planeStride + " do not fit an array of " + planes.length);
        }
        byte[] a = new byte[3 * n];
        for (int c = 0; c < 3; c++) {
            int base = offset + c * planeStride;
            for (int i = 0; i < n; i++) {
                a[3 * i + c] = (byte) toByteLevel(planes[base + i]);
            }
        }
        return new Frame(width, height, a);
    }

    /**
     * Frame {@code t} of a decoded video tensor {@code [3, T, H, W]} with values in [-1, 1] (the VAE output layout
     * for one batch item; take {@code x.slice(b)} of a {@code [B, 3, T, H, W]} batch).
     *
     * @param video the video
     * @param t 0-based frame index
     * @return the frame
     */
    public static Frame fromVideoTensor(Tensor video, int t) {
        if (video.rank() != 4 || video.dim(0) != 3) {
            throw new IllegalArgumentException("video tensor must be [3, T, H, W], got " + video.shapeString());
        }
        int frames = video.dim(1);
        if (t < 0 || t >= frames) {
            throw new IndexOutOfBoundsException("frame " + t + " of a video of " + frames + " frames");
        }
        int h = video.dim(2);
        int w = video.dim(3);
        checkSize(w, h);
        int n = w * h;
        float[] planes = new float[3 * n];
        for (int c = 0; c < 3; c++) {
            video.read(((long) c * frames + t) * n, planes, c * n, n); // [H, W] plane of channel c at time t
        }
        return fromSignedPlanes(w, h, planes, 0, n);
    }

    /**
     * Width in pixels.
     *
     * @return width in pixels
     */
    public int width() {
        return width;
    }

    /**
     * Height in pixels.
     *
     * @return height in pixels
     */
    public int height() {
        return height;
    }

    /**
     * The pixel at column {@code x}, row {@code y} as {@code 0xRRGGBB}.
     *
     * @param x column, 0-based
     * @param y row, 0-based
     * @return the pixel at column {@code x}, row {@code y} as {@code 0xRRGGBB}
     */
    public int rgb(int x, int y) {
        if (x < 0 || x >= width || y < 0 || y >= height) {
            throw new IndexOutOfBoundsException("pixel (" + x + ", " + y + ") outside " + width + "x" + height);
        }
        int i = 3 * (y * width + x);
        return (rgb[i] & 0xff) << 16 | (rgb[i + 1] & 0xff) << 8 | (rgb[i + 2] & 0xff);
    }

    /**
     * One channel value (0 = R, 1 = G, 2 = B) of a pixel, 0..255.
     *
     * @param x column, 0-based
     * @param y row, 0-based
     * @param c channel, 0 = R, 1 = G, 2 = B
     * @return one channel value (0 = R, 1 = G, 2 = B) of a pixel, 0..255
     */
    public int channel(int x, int y, int c) {
        if (c < 0 || c > 2) {
            throw new IllegalArgumentException("channel " + c + " not in 0..2");
        }
        return rgb(x, y) >> (8 * (2 - c)) & 0xff;
    }

    /**
     * A copy of the pixels {@code [H, W, 3]}.
     *
     * @return a copy of the pixels {@code [H, W, 3]}
     */
    public byte[] toRgbBytes() {
        return rgb.clone();
    }

    /** The pixel array without copying; package use only (writers, checker). */
    byte[] data() {
        return rgb;
    }

    /**
     * The pixels as a new {@link BufferedImage#TYPE_3BYTE_BGR} image.
     *
     * @return the pixels as a new {@link BufferedImage#TYPE_3BYTE_BGR} image
     */
    public BufferedImage toImage() {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
        byte[] dst = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < rgb.length; i += 3) {
            dst[i] = rgb[i + 2];
            dst[i + 1] = rgb[i + 1];
            dst[i + 2] = rgb[i];
        }
        return img;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Frame f && f.width == width && f.height == height && Arrays.equals(f.rgb, rgb);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * width + height) + Arrays.hashCode(rgb);
    }

    @Override
    public String toString() {
        return "Frame[" + width + "x" + height + "]";
    }
}
