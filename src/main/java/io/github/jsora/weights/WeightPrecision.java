package io.github.jsora.weights;

import java.util.Locale;

import io.github.jsora.tensor.PackedWeight;

/**
 * The form a model's weights are kept in while resident. Compute always runs in float32: a block is expanded to
 * float32 when it is used.
 *
 * <ul>
 * <li>{@link #FLOAT32}: as stored, converted to float32 (the default; results are those of the reference).</li>
 * <li>{@link #BF16}: every weight of rank ≥ 2 rounded to bfloat16 (round to nearest even, as PyTorch's
 * {@code .to(torch.bfloat16)}), half the float32 size.</li>
 * <li>{@link #INT8}: every weight of rank ≥ 2 quantised to int8, symmetric, one float32 scale per row of
 * dimension 0 (per output channel), about a quarter of the float32 size.</li>
 * </ul>
 * Tensors of rank below 2 (biases, norm gains, embeddings of one row) stay float32 in every precision. The
 * precision changes the values a model computes with, wherever a block lives: a streamed block is rounded the
 * same way as a resident one, so results do not depend on the memory budget.
 */
public enum WeightPrecision {
    /** Weights kept as float32, label {@code f32}: the default, with the reference's results. */
    FLOAT32("f32", null),
    /** Weights of rank ≥ 2 rounded to bfloat16 (round to nearest even), label {@code bf16}: half the float32 size. */
    BF16("bf16", PackedWeight.Format.BF16),
    /** Weights of rank ≥ 2 quantised to symmetric int8 with one float32 scale per row, label {@code int8}. */
    INT8("int8", PackedWeight.Format.INT8);

    private final String label;
    private final PackedWeight.Format format;

    WeightPrecision(String label, PackedWeight.Format format) {
        this.label = label;
        this.format = format;
    }

    /**
     * The precision named by {@code text}: {@code f32}, {@code fp32} or {@code float32}; {@code bf16};
     * {@code int8} (case and surrounding blanks ignored).
     *
     * @param text the name to parse; null is treated as empty and rejected
     * @return the precision named
     * @throws IllegalArgumentException naming the value and the allowed ones
     */
    public static WeightPrecision parse(String text) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        return switch (t) {
            case "f32", "fp32", "float32" -> FLOAT32;
            case "bf16" -> BF16;
            case "int8" -> INT8;
            default -> throw new IllegalArgumentException("unknown weight precision \"" + text + "\": allowed are "
                    + "f32 (or fp32, float32), bf16, int8");
        };
    }

    /**
     * The short name {@link #parse} accepts: {@code f32}, {@code bf16} or {@code int8}.
     *
     * @return this precision's label
     */
    public String label() {
        return label;
    }

    /** The packed form of weights of rank ≥ 2, or null for {@link #FLOAT32}. */
    PackedWeight.Format format() {
        return format;
    }

    /**
     * Whether a tensor of this shape is kept packed in this precision (rank ≥ 2, at least one element).
     *
     * @param shape the tensor's dimensions
     * @return true if the tensor is stored packed, false if it stays float32
     */
    public boolean packs(int[] shape) {
        if (format == null || shape.length < 2) {
            return false;
        }
        for (int d : shape) {
            if (d == 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Native bytes a tensor of {@code shape} takes resident in this precision.
     *
     * @param shape the tensor's dimensions
     * @return the resident size in bytes, packed or float32 (at least one element's worth)
     */
    public long residentBytes(int[] shape) {
        if (packs(shape)) {
            return format.bytes(shape);
        }
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return Math.max(1, n) * Float.BYTES; // a tensor allocates at least one element
    }

    @Override
    public String toString() {
        return label;
    }
}
