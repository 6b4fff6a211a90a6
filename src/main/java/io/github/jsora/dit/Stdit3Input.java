package io.github.jsora.dit;

import java.util.Arrays;

import io.github.jsora.tensor.Tensor;

/**
 * Inputs of one STDiT3 forward pass (the reference {@code STDiT3.forward(x, timestep, y, mask, x_mask, fps,
 * height, width)}). The record only holds references; {@link Stdit3#forward} checks everything before any heavy
 * work.
 *
 * @param x         latent video [B, C, T, H, W] (C = in_channels)
 * @param timestep  diffusion time per sample [B] on the 0..1000 scale
 * @param y         caption embedding [B, 1, L, Cc] (T5 output space; L ≤ model_max_length)
 * @param mask      caption token mask [b, L] with B a multiple of b (rows are tiled to B as the reference
 *                  repeats them, so the null caption of a guidance batch uses the prompt's tokens); a non-zero
 *                  entry marks a real token; every row needs at least one
 * @param xMask     per-frame mask [b, Tp] (Tp = latent frames / patch_t) with B a multiple of b, or null: a zero
 *                  entry marks a conditioning frame, which is modulated with the embedding of timestep 0 instead of
 *                  {@code timestep}; rows are tiled to B like the caption mask (the sampler's {@code [N, T]} frame
 *                  mask of N prompts serves the 2N rows of a guidance batch)
 * @param fps       frame-rate conditioning [b] with B a multiple of b: one per sample, one per prompt of a guidance
 *                  batch, or one for all; tiled to B as the reference's size embedder repeats it
 * @param height    video height in pixels (drives only the position-embedding scale)
 * @param width     video width in pixels
 */
public record Stdit3Input(Tensor x, float[] timestep, Tensor y, Tensor mask, Tensor xMask, float[] fps, float height,
        float width) {

    /**
     * The reference's per-sample {@code height} and {@code width} tensors ([b] each, as
     * {@code prepare_multi_resolution_info} builds them for b prompts). STDiT3 reads only the first sample's size
     * ({@code height[0]}, {@code width[0]}), so every value must be the same; a batch with differing sizes is
     * refused here rather than silently sampled at the first sample's size.
     *
     * @throws IllegalArgumentException when an array is null or empty, or its values differ
     */
    public Stdit3Input(Tensor x, float[] timestep, Tensor y, Tensor mask, Tensor xMask, float[] fps, float[] height,
            float[] width) {
        this(x, timestep, y, mask, xMask, fps, single("height", height), single("width", width));
    }

    private static float single(String name, float[] v) {
        if (v == null || v.length == 0) {
            throw new IllegalArgumentException("STDiT3 " + name + " must have at least one value, found "
                    + (v == null ? "null" : "none"));
        }
        for (int i = 1; i < v.length; i++) {
            if (Float.compare(v[i], v[0]) != 0) {
                throw new IllegalArgumentException("STDiT3 " + name + " must be the same for every sample (the model "
                        + "reads only " + name + "[0]), found " + Arrays.toString(v));
            }
        }
        return v[0];
    }

    /** Convenience for plain text-to-video: no x_mask. */
    public static Stdit3Input of(Tensor x, float[] timestep, Tensor y, Tensor mask, float[] fps, float height,
            float width) {
        return new Stdit3Input(x, timestep, y, mask, null, fps, height, width);
    }

    /** A [rows, cols] mask tensor from integer 0/1 values (row-major). */
    public static Tensor maskOf(long[] values, int rows, int cols) {
        if ((long) rows * cols != values.length) {
            throw new IllegalArgumentException("mask of " + values.length + " values does not fit [" + rows + ", "
                    + cols + "]");
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = values[i] != 0 ? 1f : 0f;
        }
        return Tensor.of(f, rows, cols);
    }

    /** Batch size B. */
    public int batch() {
        return x.dim(0);
    }

    @Override
    public String toString() {
        return "Stdit3Input[x=" + x.shapeString() + ", timestep=" + Arrays.toString(timestep) + ", y="
                + y.shapeString() + ", mask=" + mask.shapeString() + ", xMask="
                + (xMask == null ? "none" : xMask.shapeString()) + ", fps=" + Arrays.toString(fps) + ", " + height
                + "x" + width + " px]";
    }
}
