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
 * @param xMask     per-frame mask [B, Tp] (Tp = latent frames / patch_t) or null: a zero entry marks a conditioning
 *                  frame, which is modulated with the embedding of timestep 0 instead of {@code timestep}
 * @param fps       frame-rate conditioning per sample [B] (or one value for all)
 * @param height    video height in pixels (drives only the position-embedding scale)
 * @param width     video width in pixels
 */
public record Stdit3Input(Tensor x, float[] timestep, Tensor y, Tensor mask, Tensor xMask, float[] fps, float height,
        float width) {

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
