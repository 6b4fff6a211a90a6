package io.github.jsora.sampling;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.dit.TokenMerging;
import io.github.jsora.tensor.Tensor;

/**
 * Test-scope glue: an {@link Stdit3} with its conditioning bound, as a {@link DenoisingModel}. The caption batch is
 * {@code y2 = cat(y, y_uncond)} ({@code [2B, 1, L, Cc]}: prompt embeddings, then the null caption or a negative
 * prompt's embedding), with the prompt's mask {@code [B, L]} (STDiT3 tiles it to 2B, so the unconditional half uses
 * the prompt's token count, like the reference). The output buffer is allocated once and returned as a view, so the
 * sampler's {@code close()} on it is a no-op; {@link #close()} frees it.
 */
final class Stdit3Denoiser implements DenoisingModel, AutoCloseable {

    private final Stdit3 model;
    private final Tensor y2;          // [2B, 1, L, Cc]
    private final Tensor mask;        // [B, L]
    private final float[] fps;        // [1] or [2B]
    private final float height;
    private final float width;
    private final TokenMerging merging;
    private Tensor out;               // [2B, C_out, T, H, W], reused

    Stdit3Denoiser(Stdit3 model, Tensor y2, Tensor mask, float[] fps, float height, float width,
            TokenMerging merging) {
        this.model = model;
        this.y2 = y2;
        this.mask = mask;
        this.fps = fps.clone();
        this.height = height;
        this.width = width;
        this.merging = merging;
    }

    @Override
    public Tensor forward(Tensor x, float[] timesteps, int step) {
        Stdit3Input in = Stdit3Input.of(x, timesteps, y2, mask, fps, height, width);
        int[] shape = model.outputShape(in);
        if (out == null || !out.hasShape(shape)) {
            if (out != null) {
                out.close();
            }
            out = Tensor.zeros(shape);
        }
        model.forward(in, merging.mergeAt(step), out);
        return out.reshape(shape);   // a view: closing it does not free the buffer
    }

    @Override
    public void close() {
        if (out != null) {
            out.close();
            out = null;
        }
    }
}
