package io.github.jsora;

import java.util.Locale;
import java.util.Map;

/**
 * Named output resolutions (Open-Sora's 144p … 720p) combined with an aspect ratio, resolved to a pixel size.
 *
 * <p>An aspect ratio {@code "a:b"} is height:width, as Open-Sora writes it ({@code "9:16"} is landscape: 240p 9:16 is
 * 240×426 pixels, height × width). For 9:16 and 16:9 the canonical sizes are returned; for any other ratio jsora
 * keeps the pixel count of the named resolution: h = √(area·a/b), w = √(area·b/a), each rounded to the nearest
 * multiple of 8 (the VAE's spatial factor).
 */
public final class Resolution {

    /** Canonical landscape (9:16) sizes, height × width. */
    private static final Map<String, int[]> BASE = Map.of(
            "144p", new int[] {144, 256},
            "240p", new int[] {240, 426},
            "360p", new int[] {360, 640},
            "480p", new int[] {480, 854},
            "720p", new int[] {720, 1280});

    private Resolution() {
    }

    /**
     * The names accepted by {@link #size}.
     *
     * @return the names accepted by {@link #size}
     */
    public static java.util.Set<String> names() {
        return new java.util.TreeSet<>(BASE.keySet());
    }

    /**
     * Pixel size {height, width} for a named resolution and an aspect ratio.
     *
     * @throws IllegalArgumentException for an unknown name or a malformed ratio, naming the accepted values
     * @param name the name
     * @param aspectRatio height:width, e.g. "9:16"
     * @return {width, height} in pixels
     */
    public static int[] size(String name, String aspectRatio) {
        int[] base = BASE.get(name.toLowerCase(Locale.ROOT));
        if (base == null) {
            throw new IllegalArgumentException("unknown resolution '" + name + "'; accepted: " + names());
        }
        double r = parseRatio(aspectRatio);
        if (Math.abs(r - 9.0 / 16) < 1e-9) {
            return base.clone();
        }
        if (Math.abs(r - 16.0 / 9) < 1e-9) {
            return new int[] {base[1], base[0]};
        }
        double area = (double) base[0] * base[1];
        int h = (int) Math.max(8, Math.round(Math.sqrt(area * r) / 8) * 8);
        int w = (int) Math.max(8, Math.round(Math.sqrt(area / r) / 8) * 8);
        return new int[] {h, w};
    }

    /**
     * Parses "a:b" (height:width) into a/b.
     *
     * @param aspectRatio height:width, e.g. "9:16"
     * @return {height, width}
     */
    public static double parseRatio(String aspectRatio) {
        String[] p = aspectRatio.trim().split(":");
        try {
            if (p.length == 2) {
                double a = Double.parseDouble(p[0]);
                double b = Double.parseDouble(p[1]);
                if (a > 0 && b > 0 && Double.isFinite(a / b)) {
                    return a / b;
                }
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new IllegalArgumentException("aspect ratio must be 'height:width' with positive numbers, e.g. 9:16 or "
                + "1:1; found '" + aspectRatio + "'");
    }
}
