package io.github.jsora.video;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Median-cut colour quantisation of one RGB frame to at most {@code maxColours} palette entries.
 *
 * <p>The distinct colours of the frame (weighted by pixel count) start in one box. Repeatedly, the box with the
 * largest squared error around its mean is split at the weighted median of its widest-spread channel, until there
 * are {@code maxColours} boxes or every box holds a single distinct colour. Each box becomes one palette entry (the
 * pixel-weighted mean of its colours, rounded) and every pixel is mapped to the entry of its own box.
 *
 * <p>Guarantees (tested): a frame with at most {@code maxColours} distinct colours is reproduced exactly; otherwise
 * each channel of a pixel is off by at most the extent of its box along that channel.
 */
final class MedianCut {

    /** A quantised frame: {@code palette[k] = 0xRRGGBB}, {@code indices[y·W + x]} in 0..palette.length-1. */
    record Result(int[] palette, byte[] indices) {
    }

    private MedianCut() {
    }

    private static final class Box {
        final int lo; // range [lo, hi) of the colour arrays
        final int hi;
        long count;
        double sse;
        int widestChannel; // 0 = R, 1 = G, 2 = B
        int distinct;
        int mean;

        Box(int lo, int hi) {
            this.lo = lo;
            this.hi = hi;
        }
    }

    static Result quantize(byte[] rgb, int maxColours) {
        if (maxColours < 2 || maxColours > 256) {
            throw new IllegalArgumentException("maxColours " + maxColours + " not in 2..256");
        }
        int n = rgb.length / 3;
        int[] packed = new int[n];
        for (int i = 0; i < n; i++) {
            packed[i] = (rgb[3 * i] & 0xff) << 16 | (rgb[3 * i + 1] & 0xff) << 8 | (rgb[3 * i + 2] & 0xff);
        }
        int[] sorted = packed.clone();
        Arrays.sort(sorted);
        // distinct colours and their pixel counts
        int u = 0;
        int[] colours = new int[n];
        int[] counts = new int[n];
        for (int i = 0; i < n; i++) {
            if (u > 0 && colours[u - 1] == sorted[i]) {
                counts[u - 1]++;
            } else {
                colours[u] = sorted[i];
                counts[u++] = 1;
            }
        }
        colours = Arrays.copyOf(colours, u);
        counts = Arrays.copyOf(counts, u);

        List<Box> boxes = new ArrayList<>();
        boxes.add(measure(new Box(0, u), colours, counts));
        int[] tmpC = new int[u];
        int[] tmpN = new int[u];
        while (boxes.size() < maxColours) {
            Box worst = null;
            for (Box b : boxes) {
                if (b.distinct > 1 && (worst == null || b.sse > worst.sse)) {
                    worst = b;
                }
            }
            if (worst == null) {
                break; // every box is a single colour: exact
            }
            int cut = split(worst, colours, counts, tmpC, tmpN);
            boxes.remove(worst);
            boxes.add(measure(new Box(worst.lo, cut), colours, counts));
            boxes.add(measure(new Box(cut, worst.hi), colours, counts));
        }

        // colour -> palette index, looked up by binary search over the distinct colours in sorted order
        int[] palette = new int[boxes.size()];
        long[] keyed = new long[u];
        for (int k = 0; k < boxes.size(); k++) {
            Box b = boxes.get(k);
            palette[k] = b.mean;
            for (int i = b.lo; i < b.hi; i++) {
                keyed[i] = (long) colours[i] << 8 | k;
            }
        }
        Arrays.sort(keyed);
        int[] keys = new int[u];
        for (int i = 0; i < u; i++) {
            keys[i] = (int) (keyed[i] >>> 8);
        }
        byte[] indices = new byte[n];
        for (int i = 0; i < n; i++) {
            int pos = Arrays.binarySearch(keys, packed[i]);
            indices[i] = (byte) (keyed[pos] & 0xff);
        }
        return new Result(palette, indices);
    }

    private static int channel(int colour, int c) {
        return colour >> (8 * (2 - c)) & 0xff;
    }

    private static Box measure(Box b, int[] colours, int[] counts) {
        long n = 0;
        double[] sum = new double[3];
        double[] sq = new double[3];
        int[] min = {255, 255, 255};
        int[] max = {0, 0, 0};
        for (int i = b.lo; i < b.hi; i++) {
            int w = counts[i];
            n += w;
            for (int c = 0; c < 3; c++) {
                int v = channel(colours[i], c);
                sum[c] += (double) w * v;
                sq[c] += (double) w * v * v;
                min[c] = Math.min(min[c], v);
                max[c] = Math.max(max[c], v);
            }
        }
        b.count = n;
        b.distinct = b.hi - b.lo;
        double sse = 0;
        int widest = 0;
        int mean = 0;
        for (int c = 0; c < 3; c++) {
            double m = sum[c] / n;
            sse += Math.max(0, sq[c] - sum[c] * m);
            if (max[c] - min[c] > max[widest] - min[widest]) {
                widest = c;
            }
            mean = mean << 8 | (int) Math.max(0, Math.min(255, Math.round(m)));
        }
        b.sse = sse;
        b.widestChannel = widest;
        b.mean = mean;
        return b;
    }

    /**
     * Sorts the box's colours by its widest channel (stable counting sort) and returns the cut index: just after the
     * colour at which the cumulative pixel count reaches half, kept strictly inside the range (the box has at least
     * two distinct colours) so both halves are non-empty.
     */
    private static int split(Box b, int[] colours, int[] counts, int[] tmpC, int[] tmpN) {
        int ch = b.widestChannel;
        int[] start = new int[257];
        for (int i = b.lo; i < b.hi; i++) {
            start[channel(colours[i], ch) + 1]++;
        }
        for (int v = 0; v < 256; v++) {
            start[v + 1] += start[v];
        }
        int[] next = start.clone();
        for (int i = b.lo; i < b.hi; i++) {
            int p = b.lo + next[channel(colours[i], ch)]++;
            tmpC[p] = colours[i];
            tmpN[p] = counts[i];
        }
        System.arraycopy(tmpC, b.lo, colours, b.lo, b.hi - b.lo);
        System.arraycopy(tmpN, b.lo, counts, b.lo, b.hi - b.lo);
        // weighted median index, kept strictly inside the range so both halves are non-empty
        long half = (b.count + 1) / 2;
        long acc = 0;
        int cut = b.lo;
        while (cut < b.hi && acc + counts[cut] < half) {
            acc += counts[cut++];
        }
        cut = Math.max(b.lo + 1, Math.min(b.hi - 1, cut + 1));
        return cut;
    }
}
