package io.github.jsora.video;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

import io.github.jsora.tensor.Tensor;

/**
 * Reference pictures for image-to-video and video-to-video, read and prepared as Open-Sora's inference script
 * prepares {@code reference_path}: the picture is converted to RGB, resized with a bicubic filter so that it covers
 * the video size ({@code resize_crop_to_fill}: scale by the larger of height/H and width/W ratios, the other side
 * rounded half to even), centre-cropped to exactly H×W, and mapped to [−1, 1] ({@code (v/255 − 0.5)/0.5}).
 *
 * <p>The resize follows the Pillow bicubic resampling the reference uses (Keys kernel a = −0.5, support widened by
 * the scale when shrinking, 22-bit fixed-point weights, horizontal pass first, 8-bit intermediate). Decoding is
 * javax.imageio's: PNG is exact; a JPEG may differ from libjpeg by a level here and there.
 *
 * <p>Readable inputs: PNG and JPEG files; a reference video is a folder of PNG/JPEG frames (in file-name order), a
 * GIF, or an MJPEG AVI such as jsora writes. Errors name the file and what is wrong with it.
 */
public final class ImageInput {

    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double SUPPORT = 2.0;   // bicubic
    private static final double A = -0.5;

    private ImageInput() {
    }

    /**
     * The picture in {@code file} prepared for a video of {@code height}×{@code width} pixels: {@code [1, 3, 1, H,
     * W]} in [−1, 1], a one-frame video for the VAE encoder.
     *
     * @throws IllegalArgumentException when the file cannot be read or is not a PNG or JPEG image
     */
    public static Tensor image(Path file, int height, int width) {
        float[] v = prepare(read(file), height, width);
        return Tensor.of(v, 1, 3, 1, height, width);
    }

    /**
     * The frames of a reference video ({@code source}: a folder of PNG/JPEG frames, a GIF or an MJPEG AVI), at most
     * {@code maxFrames}, each prepared like {@link #image}: {@code [1, 3, F, H, W]}.
     */
    public static Tensor video(Path source, int height, int width, int maxFrames) {
        List<BufferedImage> frames = frames(source, maxFrames);
        int n = frames.size();
        long plane = (long) height * width;
        float[] v = new float[Math.toIntExact(3L * n * plane)];
        for (int f = 0; f < n; f++) {
            float[] one = prepare(frames.get(f), height, width);        // [3, H, W]
            for (int c = 0; c < 3; c++) {
                System.arraycopy(one, (int) (c * plane), v, (int) ((c * (long) n + f) * plane), (int) plane);
            }
        }
        return Tensor.of(v, 1, 3, n, height, width);
    }

    /** Reads a PNG or JPEG file. */
    public static BufferedImage read(Path file) {
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new IllegalArgumentException("reference image " + file + ": not a readable file");
        }
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("reference image " + file + ": cannot be decoded (" + e.getMessage()
                    + ")", e);
        }
        if (img == null) {
            throw new IllegalArgumentException("reference image " + file + ": not a PNG or JPEG image");
        }
        return img;
    }

    /** {@code img} resized to cover H×W, centre-cropped, as [3, H, W] floats in [−1, 1] (torchvision's order). */
    public static float[] prepare(BufferedImage img, int height, int width) {
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("target size must be positive, found " + width + "x" + height);
        }
        int w = img.getWidth();
        int h = img.getHeight();
        double rh = (double) height / h;
        double rw = (double) width / w;
        int sh;
        int sw;
        int top;
        int left;
        if (rh > rw) {
            sh = height;
            sw = (int) Math.rint(w * rh);
            top = 0;
            left = (int) Math.rint((sw - width) / 2.0);
        } else {
            sh = (int) Math.rint(h * rw);
            sw = width;
            top = (int) Math.rint((sh - height) / 2.0);
            left = 0;
        }
        int[][] rgb = planes(img);                                     // [3][h·w] 0..255
        float[] out = new float[3 * height * width];
        for (int c = 0; c < 3; c++) {
            int[] r = resize(rgb[c], w, h, sw, sh);                     // [sh·sw]
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    float v = r[(top + y) * sw + left + x] / 255f;
                    out[(c * height + y) * width + x] = (v - 0.5f) / 0.5f;
                }
            }
        }
        return out;
    }

    /** The RGB planes of an image (alpha dropped, palette resolved), as Pillow's {@code convert("RGB")}. */
    private static int[][] planes(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
        int[][] p = new int[3][w * h];
        for (int i = 0; i < argb.length; i++) {
            p[0][i] = (argb[i] >> 16) & 0xff;
            p[1][i] = (argb[i] >> 8) & 0xff;
            p[2][i] = argb[i] & 0xff;
        }
        return p;
    }

    /** One 8-bit plane resized from w×h to sw×sh: horizontal pass, then vertical (each skipped when the size stays). */
    static int[] resize(int[] plane, int w, int h, int sw, int sh) {
        int[] cur = plane;
        if (sw != w) {
            Coefficients k = coefficients(w, sw);
            int[] next = new int[sw * h];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < sw; x++) {
                    next[y * sw + x] = k.apply(cur, y * w, 1, x);
                }
            }
            cur = next;
        }
        if (sh != h) {
            Coefficients k = coefficients(h, sh);
            int[] next = new int[sw * sh];
            for (int y = 0; y < sh; y++) {
                for (int x = 0; x < sw; x++) {
                    next[y * sw + x] = k.apply(cur, x, sw, y);
                }
            }
            cur = next;
        }
        return cur;
    }

    /** Per output index: the first input index and the fixed-point weights. */
    private record Coefficients(int[] start, int[][] weights) {
        int apply(int[] src, int base, int stride, int i) {
            long acc = 1L << (PRECISION_BITS - 1);
            int[] k = weights[i];
            int s = start[i];
            for (int j = 0; j < k.length; j++) {
                acc += (long) src[base + (s + j) * stride] * k[j];
            }
            long v = acc >> PRECISION_BITS;
            return (int) Math.max(0, Math.min(255, v));
        }
    }

    private static double cubic(double x) {
        x = Math.abs(x);
        if (x < 1) {
            return ((A + 2) * x - (A + 3)) * x * x + 1;
        }
        if (x < 2) {
            return (((x - 5) * x + 8) * x - 4) * A;
        }
        return 0;
    }

    private static Coefficients coefficients(int in, int out) {
        double scale = (double) in / out;
        double filterScale = Math.max(scale, 1.0);
        double support = SUPPORT * filterScale;
        int[] start = new int[out];
        int[][] weights = new int[out][];
        for (int i = 0; i < out; i++) {
            double center = (i + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int lo = Math.max((int) (center - support + 0.5), 0);
            int hi = Math.min((int) (center + support + 0.5), in);
            double[] k = new double[hi - lo];
            double sum = 0;
            for (int x = 0; x < k.length; x++) {
                k[x] = cubic((x + lo - center + 0.5) * ss);
                sum += k[x];
            }
            int[] fixed = new int[k.length];
            for (int x = 0; x < k.length; x++) {
                double v = sum != 0 ? k[x] / sum : 0;
                double f = v * (1 << PRECISION_BITS);
                fixed[x] = (int) (v < 0 ? f - 0.5 : f + 0.5);
            }
            start[i] = lo;
            weights[i] = fixed;
        }
        return new Coefficients(start, weights);
    }

    // ------------------------------------------------------------------------------------------ reference videos

    private static List<BufferedImage> frames(Path source, int maxFrames) {
        if (maxFrames < 1) {
            throw new IllegalArgumentException("reference video " + source + ": at most " + maxFrames + " frames");
        }
        if (Files.isDirectory(source)) {
            List<Path> files;
            try (Stream<Path> s = Files.list(source)) {
                files = s.filter(p -> {
                    String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
                    return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg");
                }).sorted().limit(maxFrames).toList();
            } catch (IOException e) {
                throw new IllegalArgumentException("reference video " + source + ": cannot list the folder ("
                        + e.getMessage() + ")", e);
            }
            if (files.isEmpty()) {
                throw new IllegalArgumentException("reference video " + source + ": the folder has no PNG or JPEG "
                        + "frames");
            }
            List<BufferedImage> out = new ArrayList<>();
            for (Path p : files) {
                out.add(read(p));
            }
            return out;
        }
        String name = source.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".gif")) {
            return gifFrames(source, maxFrames);
        }
        if (name.endsWith(".avi")) {
            return aviFrames(source, maxFrames);
        }
        throw new IllegalArgumentException("reference video " + source + ": not a folder of frames, a .gif or an .avi");
    }

    private static List<BufferedImage> gifFrames(Path file, int maxFrames) {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (in == null || !readers.hasNext()) {
                throw new IllegalArgumentException("reference video " + file + ": not a GIF");
            }
            ImageReader r = readers.next();
            try {
                r.setInput(in);
                int n = Math.min(r.getNumImages(true), maxFrames);
                List<BufferedImage> out = new ArrayList<>();
                int w = r.getWidth(0);
                int h = r.getHeight(0);
                for (int i = 0; i < n; i++) {
                    BufferedImage img = r.read(i);
                    if (img.getWidth() != w || img.getHeight() != h) {
                        throw new IllegalArgumentException("reference video " + file + ": frame " + i + " is "
                                + img.getWidth() + "x" + img.getHeight() + ", not the full " + w + "x" + h
                                + " (only GIFs with full frames, as jsora writes, are read)");
                    }
                    out.add(img);
                }
                if (out.isEmpty()) {
                    throw new IllegalArgumentException("reference video " + file + ": no frames");
                }
                return out;
            } finally {
                r.dispose();
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("reference video " + file + ": cannot be decoded (" + e.getMessage()
                    + ")", e);
        }
    }

    /** The JPEG frames ('00dc' chunks of the 'movi' list) of an MJPEG AVI. */
    private static List<BufferedImage> aviFrames(Path file, int maxFrames) {
        byte[] data;
        try {
            data = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("reference video " + file + ": cannot be read (" + e.getMessage()
                    + ")", e);
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (data.length < 12 || !fourcc(b, 0).equals("RIFF") || !fourcc(b, 8).equals("AVI ")) {
            throw new IllegalArgumentException("reference video " + file + ": not an AVI file");
        }
        List<BufferedImage> out = new ArrayList<>();
        int pos = 12;
        while (pos + 8 <= data.length && out.size() < maxFrames) {
            String id = fourcc(b, pos);
            long size = b.getInt(pos + 4) & 0xffffffffL;
            if (id.equals("LIST")) {
                pos += 12;                          // descend into every list ('hdrl', 'movi')
                continue;
            }
            if (pos + 8 + size > data.length) {
                throw new IllegalArgumentException("reference video " + file + ": chunk '" + id + "' at " + pos
                        + " runs past the end of the file");
            }
            if (id.equals("00dc")) {
                try {
                    BufferedImage img = ImageIO.read(new ByteArrayInputStream(data, pos + 8, (int) size));
                    if (img == null) {
                        throw new IOException("not a JPEG frame");
                    }
                    out.add(img);
                } catch (IOException e) {
                    throw new IllegalArgumentException("reference video " + file + ": frame " + out.size()
                            + " cannot be decoded (" + e.getMessage() + ")", e);
                }
            }
            pos += 8 + (int) (size + (size & 1));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("reference video " + file + ": no MJPEG frames");
        }
        return out;
    }

    private static String fourcc(ByteBuffer b, int pos) {
        byte[] c = new byte[4];
        for (int i = 0; i < 4; i++) {
            c[i] = b.get(pos + i);
        }
        return new String(c, java.nio.charset.StandardCharsets.US_ASCII);
    }
}
