package io.github.jsora;

import java.util.Locale;

/**
 * The arithmetic of the transformers' (STDiT3 and T5) matrix products, set with
 * {@link GeneratorOptions.Builder#computePrecision}.
 *
 * <ul>
 * <li>{@link #FP32}: float32 products and kernels (the reference's results; with {@code bf16} weights they are
 * expanded to float32 block by block).</li>
 * <li>{@link #BF16}: bf16 products with float32 accumulation (oneDNN), weights kept packed in bf16 (this implies
 * {@code bf16} weights for t5 and dit) and the fast float32 kernels between the products. Used only where the CPU
 * computes bf16 natively and faster (the log says what was chosen); elsewhere the weights stay bf16 and the products
 * run in float32.</li>
 * <li>{@link #AUTO} (the default): {@link #BF16} for a model whose weights are {@code bf16}, else {@link #FP32}.</li>
 * </ul>
 */
public enum ComputePrecision {
    /** float32 compute. */
    FP32,
    /** bf16 products (float32 accumulation) where the CPU has native bf16. */
    BF16,
    /** bf16 compute for models with bf16 weights, float32 otherwise. */
    AUTO;

    /**
     * The precision named by {@code text}: {@code fp32} (or {@code f32}, {@code float32}), {@code bf16},
     * {@code auto} (case and surrounding blanks ignored).
     *
     * @param text the name
     * @return the precision
     * @throws IllegalArgumentException naming the value and the allowed ones
     */
    public static ComputePrecision parse(String text) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        return switch (t) {
            case "fp32", "f32", "float32" -> FP32;
            case "bf16" -> BF16;
            case "auto" -> AUTO;
            default -> throw new IllegalArgumentException("unknown compute precision \"" + text + "\": allowed are "
                    + "fp32, bf16, auto");
        };
    }

    /**
     * The short name {@link #parse} accepts.
     *
     * @return {@code fp32}, {@code bf16} or {@code auto}
     */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return label();
    }
}
