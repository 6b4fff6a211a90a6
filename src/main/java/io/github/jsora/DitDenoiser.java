package io.github.jsora;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.dit.TokenMerging;
import io.github.jsora.sampling.DenoisingModel;
import io.github.jsora.tensor.Tensor;

/**
 * The glue between the sampler and the diffusion transformer: an {@link Stdit3} with its conditioning bound, as a
 * {@link DenoisingModel}. Captions {@code y2} are [2B, 1, L, Cc] (the prompt, then the null caption or a negative
 * prompt), the mask [b, L] with 2B a multiple of b (a one-row mask makes the null caption use the prompt's token
 * count, as the reference does). The output buffer is allocated once and reused across steps; the sampler gets a
 * view of it.
 */
final class DitDenoiser implements DenoisingModel, AutoCloseable {

    private final Stdit3 model;
    private final Tensor y2;        // [2B, 1, L, Cc]
    private final Tensor mask;      // [b, L]
    private final float[] fps;      // [1]: STDiT3 tiles it to 2B
    private final float height;
    private final float width;
    private final TokenMerging merging;
    private final Probe probe;
    private Tensor out;             // [2B, 2C, T, H, W], reused

    DitDenoiser(Stdit3 model, Tensor y2, Tensor mask, float fps, int height, int width, TokenMerging merging,
            Probe probe) {
        this.probe = probe;
        this.model = model;
        this.y2 = y2;
        this.mask = mask;
        this.fps = new float[] {fps};
        this.height = height;
        this.width = width;
        this.merging = merging;
    }

    @Override
    public Tensor forward(Tensor x, float[] timesteps, int step) {
        return run(x, timesteps, step, null);
    }

    /**
     * The reference's x_mask: the sampler's rows {@code [B, T]} (true = generated), which STDiT3 tiles to the 2B
     * rows of the guidance batch as the reference's {@code repeat(2, 1)} does. A mask of all conditioning frames
     * is given per patch frame ({@code [B, T/patch_t]}); a mixed one needs {@code patch_t = 1}, as the reference's.
     */
    @Override
    public Tensor forward(Tensor x, float[] timesteps, boolean[] generated, int step) {
        int b = x.dim(0) / 2;
        int t = x.dim(2);
        if (generated.length != b * t) {
            throw new IllegalArgumentException("frame mask of " + generated.length + " values does not fit [B=" + b
                    + ", T=" + t + "]");
        }
        boolean any = false;
        for (boolean g : generated) {
            any |= g;
        }
        int pt = model.config().patchT();
        if (any && pt != 1) {
            throw new IllegalArgumentException("a frame mask with generated and conditioning frames needs patch_t 1, "
                    + "the model has patch_t " + pt);
        }
        int tp = (t + pt - 1) / pt;
        float[] rows = new float[b * tp];
        if (any) {
            for (int k = 0; k < rows.length; k++) {
                rows[k] = generated[k] ? 1f : 0f;
            }
        }
        try (Tensor xMask = Tensor.of(rows, b, tp)) {
            return run(x, timesteps, step, xMask);
        }
    }

    private Tensor run(Tensor x, float[] timesteps, int step, Tensor xMask) {
        Stdit3Input in = new Stdit3Input(x, timesteps, y2, mask, xMask, fps, height, width);
        int[] shape = model.outputShape(in);
        if (out == null || !out.hasShape(shape)) {
            if (out != null) {
                out.close();
            }
            out = Tensor.zeros(shape);
        }
        model.forward(in, merging.mergeAt(step), out);                 // TDTM decided here, per step
        probe.step(step, x, timesteps, out);
        return out.reshape(shape);
    }

    @Override
    public void close() {
        if (out != null) {
            out.close();
            out = null;
        }
    }
}
