package io.github.jsora.dit;

import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tensor;

/**
 * The {@link FrameMerging} rule applied to whole tensors, for tests: the pipeline merges and unmerges inside its
 * kernels ({@code Kernels.mergeFramePairs}), so these are test scope only.
 */
final class MergedFrames {

    private MergedFrames() {
    }

    /**
     * dst[b, j, :] = mean of src[b, frames of group j, :].
     *
     * @param src [B, T, R] (B·T·R elements)
     * @param dst [B, ⌈T/2⌉, R] (B·⌈T/2⌉·R elements), must not overlap src
     */
    static void merge(Tensor src, Tensor dst, int b, int t) {
        long r = perFrame(src, b, t, "merge source");
        requireSize(dst, (long) b * FrameMerging.mergedFrames(t) * r, "merge destination");
        Kernels.mergeFramePairs(src, dst, b, t, r);
    }

    /**
     * dst[b, t, :] = src[b, ⌊t/2⌋, :] (each merged frame copied back to its source frames).
     *
     * @param src [B, ⌈T/2⌉, R]
     * @param dst [B, T, R], must not overlap src
     */
    static void unmerge(Tensor src, Tensor dst, int b, int t) {
        long r = perFrame(dst, b, t, "unmerge destination");
        int tq = FrameMerging.mergedFrames(t);
        requireSize(src, (long) b * tq * r, "unmerge source");
        int per = (int) Math.min(r, 1 << 14);
        int chunks = (int) ((r + per - 1) / per);
        Parallel.forRange(b * t * chunks, per, (from, to) -> {
            float[] buf = Kernels.scratch(0, per);
            for (int u = from; u < to; u++) {
                int f = u / chunks;
                long e0 = (long) (u % chunks) * per;
                int n = (int) Math.min(per, r - e0);
                int g = (f / t) * tq + FrameMerging.groupOf(f % t);
                src.read((long) g * r + e0, buf, 0, n);
                dst.write((long) f * r + e0, buf, 0, n);
            }
        });
    }

    private static long perFrame(Tensor x, int b, int t, String what) {
        if (b < 1 || t < 1) {
            throw new IllegalArgumentException("frame merging needs B >= 1 and T >= 1, found B=" + b + ", T=" + t);
        }
        long frames = (long) b * t;
        if (x.size() % frames != 0) {
            throw new IllegalArgumentException(what + " " + x.shapeString() + " does not split into " + b + "x" + t
                    + " frames");
        }
        return x.size() / frames;
    }

    private static void requireSize(Tensor x, long n, String what) {
        if (x.size() != n) {
            throw new IllegalArgumentException(what + " " + x.shapeString() + " must have " + n + " elements");
        }
    }
}
