package io.github.jsora.dit;

import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tensor;

/**
 * The frame rule of Temporal Dimension Token Merging for any frame count T.
 *
 * <p><b>Merge:</b> merged frame j of T' = ⌈T/2⌉ is the mean of frames 2j and 2j+1; when T is odd, the last merged
 * frame j = T'−1 is frame T−1 alone (a group of one, copied unchanged). <b>Unmerge:</b> output frame t takes merged
 * frame ⌊t/2⌋, so both frames of a pair receive the same values and the unpaired last frame gets its own result
 * back. The token count is restored exactly: T frames in, T frames out. (The reference Python drops the last frame
 * of an odd T, and only restores it for some T; this rule is correct for all T ≥ 1.)
 *
 * <p>Tensors are [B, T, R] with R = S·C floats per frame (any tensor of B·T·R elements; the shape is not
 * inspected beyond that).
 */
public final class FrameMerging {

    private FrameMerging() {
    }

    /** Frames after merging T frames: ⌈T/2⌉. */
    public static int mergedFrames(int t) {
        if (t < 1) {
            throw new IllegalArgumentException("frame count must be >= 1, found " + t);
        }
        return (t + 1) / 2;
    }

    /** Merged frame that frame {@code t} belongs to: ⌊t/2⌋. */
    public static int groupOf(int t) {
        return t / 2;
    }

    /** Number of source frames in merged frame {@code j} of T: 2, or 1 for the unpaired last frame of an odd T. */
    public static int groupSize(int j, int t) {
        return 2 * j + 1 < t ? 2 : 1;
    }

    /**
     * dst[b, j, :] = mean of src[b, frames of group j, :].
     *
     * @param src [B, T, R] (B·T·R elements)
     * @param dst [B, ⌈T/2⌉, R] (B·⌈T/2⌉·R elements), must not overlap src
     */
    public static void merge(Tensor src, Tensor dst, int b, int t) {
        long r = perFrame(src, b, t, "merge source");
        requireSize(dst, (long) b * mergedFrames(t) * r, "merge destination");
        Kernels.mergeFramePairs(src, dst, b, t, r);
    }

    /**
     * dst[b, t, :] = src[b, ⌊t/2⌋, :] (each merged frame copied back to its source frames).
     *
     * @param src [B, ⌈T/2⌉, R]
     * @param dst [B, T, R], must not overlap src
     */
    public static void unmerge(Tensor src, Tensor dst, int b, int t) {
        long r = perFrame(dst, b, t, "unmerge destination");
        int tq = mergedFrames(t);
        requireSize(src, (long) b * tq * r, "unmerge source");
        int per = (int) Math.min(r, 1 << 14);
        int chunks = (int) ((r + per - 1) / per);
        Parallel.forRange(b * t * chunks, per, (from, to) -> {
            float[] buf = Kernels.scratch(0, per);
            for (int u = from; u < to; u++) {
                int f = u / chunks;
                long e0 = (long) (u % chunks) * per;
                int n = (int) Math.min(per, r - e0);
                int g = (f / t) * tq + groupOf(f % t);
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
