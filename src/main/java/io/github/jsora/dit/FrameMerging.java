package io.github.jsora.dit;

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
}
