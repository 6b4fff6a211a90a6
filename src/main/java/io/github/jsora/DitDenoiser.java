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
    private final float[] fps;      // [1]
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

    /** The reference's x_mask of all-false rows [2B, T/patch_t]: timestep-0 modulation everywhere. */
    @Override
    public Tensor forwardAllConditioning(Tensor x, float[] timesteps, int step) {
        int tp = (x.dim(2) + model.config().patchT() - 1) / model.config().patchT();
        try (Tensor xMask = Tensor.zeros(x.dim(0), tp)) {
            return run(x, timesteps, step, xMask);
        }
    }

    private Tensor run(Tensor x, float[] timesteps, int step, Tensor xMask) {
        float[] f = new float[x.dim(0)];
        java.util.Arrays.fill(f, fps[0]);
        Stdit3Input in = new Stdit3Input(x, timesteps, y2, mask, xMask, f, height, width);
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
