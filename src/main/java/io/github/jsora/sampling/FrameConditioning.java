package io.github.jsora.sampling;

import java.util.Arrays;
import java.util.List;

import io.github.jsora.tensor.Tensor;

/**
 * Reference frames for a sampling run (image-to-video, continuation, editing): per sample and latent frame, the
 * frame mask value and, for the frames a reference covers, the reference latent. This is what Open-Sora v1.2's
 * {@code apply_mask_strategy} produces: the mask {@code [B, T]} (1 = generate, {@code e} in [0, 1) = conditioned
 * with edit ratio {@code e}) and the reference frames it writes into the initial latent.
 *
 * <p>In {@link RflowSampler#sample(DenoisingModel, Tensor, SamplerOptions, FrameConditioning, ProgressListener,
 * CancellationToken) sampling}, at step {@code i} with timestep {@code t} a frame is generated when
 * {@code mask·N ≥ t} (float32) and conditioned otherwise. A conditioned frame is given to the model as a
 * conditioning frame (STDiT3's {@code x_mask} false: timestep-0 modulation) and keeps its value through the step;
 * with an edit ratio {@code e > 0} it becomes generated at the first step with {@code t ≤ N·e}, where it is
 * re-noised once with that step's draw, {@code (1 − t/N)·x + (t/N)·ε}, and from then on denoised like the others.
 *
 * <p>Immutable; holds a copy of the covered reference frames ({@code B·C·T·H·W} floats at most). Built by
 * {@link #builder(int...)}, {@link #fromStrategies} or {@link #none(int...)}.
 */
public final class FrameConditioning {

    private final int[] shape;          // [B, C, T, H, W]
    private final float[] mask;         // [B·T]
    private final boolean[] written;    // [B·T] frames a reference was written into
    private final float[] values;       // [B·C·T·H·W], meaningful where written

    private FrameConditioning(int[] shape, float[] mask, boolean[] written, float[] values) {
        this.shape = shape;
        this.mask = mask;
        this.written = written;
        this.values = values;
    }

    /** No reference frames: the mask of ones Open-Sora's inference script passes for text-to-video. */
    public static FrameConditioning none(int... latentShape) {
        int[] s = checkShape(latentShape);
        float[] m = new float[s[0] * s[2]];
        Arrays.fill(m, 1f);
        return new FrameConditioning(s, m, new boolean[m.length], null);
    }

    /** A builder for a latent of {@code latentShape} {@code [B, C, T, H, W]}; every frame starts generated. */
    public static Builder builder(int... latentShape) {
        return new Builder(checkShape(latentShape));
    }

    /**
     * Port of Open-Sora's {@code apply_mask_strategy(z, refs, mask_strategys, loop_i, align)}: for each sample the
     * groups of {@code strategies.get(b)} of loop {@code loop}, in order, with references
     * {@code references.get(b)} (each {@code [C, T_ref, H, W]}, or {@code [1, C, T_ref, H, W]}).
     *
     * @param align 0 for none, else the reference's {@code align}: starts are moved to the nearest multiple
     * @throws IllegalArgumentException for a missing reference, a start outside its frames or a size mismatch
     */
    public static FrameConditioning fromStrategies(int[] latentShape, List<MaskStrategy> strategies,
            List<List<Tensor>> references, int loop, int align) {
        Builder b = builder(latentShape);
        if (strategies.size() != latentShape[0] || references.size() != latentShape[0]) {
            throw new IllegalArgumentException("mask strategies (" + strategies.size() + ") and reference lists ("
                    + references.size() + ") must have one entry per sample (B=" + latentShape[0] + ")");
        }
        if (align < 0) {
            throw new IllegalArgumentException("align must be >= 0 (0 = none), found " + align);
        }
        for (int i = 0; i < latentShape[0]; i++) {
            List<Tensor> refs = references.get(i);
            for (MaskStrategy.Group g : strategies.get(i).groupsOf(loop)) {
                if (g.reference() >= refs.size()) {
                    throw new IllegalArgumentException("mask strategy group \"" + g + "\" of sample " + i
                            + " names reference " + g.reference() + ", but the sample has " + refs.size()
                            + " reference(s)");
                }
                Tensor ref = refs.get(g.reference());
                int refFrames = ref.dim(ref.rank() - 3);
                int rs = g.referenceStart() < 0 ? refFrames + g.referenceStart() : g.referenceStart();
                int ts = g.targetStart() < 0 ? latentShape[2] + g.targetStart() : g.targetStart();
                if (align > 0) {
                    rs = nearestPoint(rs, align, refFrames);
                    ts = nearestPoint(ts, align, latentShape[2]);
                }
                b.copy(i, ref, rs, ts, g.length(), g.editRatio(), "mask strategy group \"" + g + "\" of sample " + i);
            }
        }
        return b.build();
    }

    /** The reference's find_nearest_point (non-negative values). */
    private static int nearestPoint(int value, int point, int max) {
        if (value < 0) {
            return value;   // refused by the copy with the frame named
        }
        int t = value / point;
        if (value % point > point / 2.0 && t < max / point - 1) {
            t++;
        }
        return t * point;
    }

    /** {@code [B, C, T, H, W]} of the latent this conditioning is for (a copy). */
    public int[] latentShape() {
        return shape.clone();
    }

    /** Samples B. */
    public int batch() {
        return shape[0];
    }

    /** Latent frames T. */
    public int frames() {
        return shape[2];
    }

    /** The mask value of latent frame {@code frame} of sample {@code sample} (1 = generated). */
    public float mask(int sample, int frame) {
        return mask[index(sample, frame)];
    }

    /** The mask {@code [B·T]} row-major (a copy). */
    public float[] maskValues() {
        return mask.clone();
    }

    /** True when a reference was written into that frame (a conditioned frame, or an edit ratio of 1). */
    public boolean hasReference(int sample, int frame) {
        return written[index(sample, frame)];
    }

    /** True when some frame has a mask value other than 1. */
    public boolean conditions() {
        for (float m : mask) {
            if (m != 1f) {
                return true;
            }
        }
        return false;
    }

    /**
     * Writes the reference frames into {@code z} {@code [B, C, T, H, W]} in place (the reference's
     * {@code z[i, :, a:b] = ref[...]}); other frames are left as they are.
     */
    public void writeInto(Tensor z) {
        if (!z.hasShape(shape)) {
            throw new IllegalArgumentException("frame conditioning is for a latent " + Arrays.toString(shape)
                    + ", found " + z.shapeString());
        }
        if (values == null) {
            return;
        }
        int hw = shape[3] * shape[4];
        for (int b = 0; b < shape[0]; b++) {
            for (int f = 0; f < shape[2]; f++) {
                if (!written[b * shape[2] + f]) {
                    continue;
                }
                for (int c = 0; c < shape[1]; c++) {
                    long off = (((long) b * shape[1] + c) * shape[2] + f) * hw;
                    z.write(off, values, (int) off, hw);
                }
            }
        }
    }

    private int index(int sample, int frame) {
        if (sample < 0 || sample >= shape[0] || frame < 0 || frame >= shape[2]) {
            throw new IndexOutOfBoundsException("sample " + sample + ", frame " + frame + " outside [B=" + shape[0]
                    + ", T=" + shape[2] + "]");
        }
        return sample * shape[2] + frame;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("FrameConditioning").append(Arrays.toString(shape)).append(" mask=[");
        for (int b = 0; b < shape[0]; b++) {
            sb.append(b == 0 ? "" : ", ").append(Arrays.toString(Arrays.copyOfRange(mask, b * shape[2],
                    (b + 1) * shape[2])));
        }
        return sb.append(']').toString();
    }

    private static int[] checkShape(int[] s) {
        if (s == null || s.length != 5 || Arrays.stream(s).anyMatch(d -> d < 1)) {
            throw new IllegalArgumentException("frame conditioning: latent shape must be [B, C, T, H, W] with sizes "
                    + ">= 1, found " + Arrays.toString(s));
        }
        if ((long) s[0] * s[1] * s[2] * s[3] * s[4] > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("frame conditioning: latent " + Arrays.toString(s)
                    + " has more than 2^31-1 elements");
        }
        return s.clone();
    }

    /** Collects reference frames; {@link #build()} makes the immutable conditioning. */
    public static final class Builder {
        private final int[] shape;
        private final float[] mask;
        private final boolean[] written;
        private float[] values;

        private Builder(int[] shape) {
            this.shape = shape;
            this.mask = new float[shape[0] * shape[2]];
            Arrays.fill(mask, 1f);
            this.written = new boolean[mask.length];
        }

        /**
         * Copies up to {@code length} frames of {@code reference} ({@code [C, T_ref, H, W]} or
         * {@code [1, C, T_ref, H, W]}) starting at its frame {@code referenceStart} into latent frames from
         * {@code targetStart} of sample {@code sample}, with mask value {@code editRatio}. Negative starts count
         * from the end (−1 = the last frame). The count is cut to what fits in both, as the reference does.
         *
         * @throws IllegalArgumentException for a start outside the frames, a size mismatch or a bad ratio
         */
        public Builder copy(int sample, Tensor reference, int referenceStart, int targetStart, int length,
                double editRatio) {
            int refFrames = reference.dim(reference.rank() - 3);
            int rs = referenceStart < 0 ? refFrames + referenceStart : referenceStart;
            int ts = targetStart < 0 ? shape[2] + targetStart : targetStart;
            return copy(sample, reference, rs, ts, length, editRatio, "reference of sample " + sample);
        }

        Builder copy(int sample, Tensor ref, int rs, int ts, int length, double editRatio, String what) {
            if (sample < 0 || sample >= shape[0]) {
                throw new IllegalArgumentException(what + ": sample " + sample + " is outside the batch of "
                        + shape[0]);
            }
            boolean five = ref.rank() == 5 && ref.dim(0) == 1;
            if (!(ref.rank() == 4 || five) || ref.dim(ref.rank() - 4) != shape[1]
                    || ref.dim(ref.rank() - 2) != shape[3] || ref.dim(ref.rank() - 1) != shape[4]) {
                throw new IllegalArgumentException(what + ": reference latent " + ref.shapeString()
                        + " does not match the latent's channels and size [C=" + shape[1] + ", T_ref, H=" + shape[3]
                        + ", W=" + shape[4] + "]");
            }
            int refFrames = ref.dim(ref.rank() - 3);
            if (ts < 0 || ts >= shape[2]) {
                throw new IllegalArgumentException(what + ": target frame " + ts + " is outside the " + shape[2]
                        + " latent frames (allowed 0.." + (shape[2] - 1) + ", or -" + shape[2] + "..-1 from the end)");
            }
            if (rs < 0 || rs >= refFrames) {
                throw new IllegalArgumentException(what + ": reference frame " + rs + " is outside the reference's "
                        + refFrames + " frames (allowed 0.." + (refFrames - 1) + ", or -" + refFrames
                        + "..-1 from the end)");
            }
            if (length < 0) {
                throw new IllegalArgumentException(what + ": length must be >= 0, found " + length);
            }
            if (!(editRatio >= 0 && editRatio <= 1)) {
                throw new IllegalArgumentException(what + ": edit ratio must be in [0, 1], found " + editRatio);
            }
            int n = Math.min(length, Math.min(shape[2] - ts, refFrames - rs));
            if (values == null && n > 0) {
                values = new float[shape[0] * shape[1] * shape[2] * shape[3] * shape[4]];
            }
            int hw = shape[3] * shape[4];
            float[] frame = new float[hw];
            for (int k = 0; k < n; k++) {
                for (int c = 0; c < shape[1]; c++) {
                    ref.read(((long) c * refFrames + rs + k) * hw, frame, 0, hw);
                    System.arraycopy(frame, 0, values, ((sample * shape[1] + c) * shape[2] + ts + k) * hw, hw);
                }
                mask[sample * shape[2] + ts + k] = (float) editRatio;    // the reference's float32 mask
                written[sample * shape[2] + ts + k] = true;
            }
            return this;
        }

        /** The immutable conditioning. */
        public FrameConditioning build() {
            return new FrameConditioning(shape.clone(), mask.clone(), written.clone(),
                    values == null ? null : values.clone());
        }
    }
}
