package io.github.jsora;

import java.util.ArrayList;
import java.util.List;

import io.github.jsora.dit.BlockCache;
import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.dit.TokenMerging;
import io.github.jsora.sampling.DenoisingModel;
import io.github.jsora.sampling.GuidanceInterval;
import io.github.jsora.sampling.SamplerOptions;
import io.github.jsora.sampling.StepCacheSignal;
import io.github.jsora.sampling.StepCaching;
import io.github.jsora.tensor.Tap;
import io.github.jsora.tensor.Tensor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The glue between the sampler and the diffusion transformer: an {@link Stdit3} with its conditioning bound, as a
 * {@link DenoisingModel}. Captions {@code y2} are [2B, 1, L, Cc] (the prompt, then the null caption or a negative
 * prompt), the mask [b, L] with 2B a multiple of b (a one-row mask makes the null caption use the prompt's token
 * count, as the reference does). The output buffer is allocated once and reused across steps; the sampler gets a
 * view of it.
 *
 * <p>The per-step technique decisions live here: TDTM ({@link TokenMerging}), step caching ({@link StepCaching}, on a
 * {@link BlockCache}) and the guidance interval ({@link GuidanceInterval}: outside it only the prompt half runs, at
 * batch B, and its output is copied to the guidance half so that the sampler's guided velocity is the prompt's).
 */
final class DitDenoiser implements DenoisingModel, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DitDenoiser.class);

    private final Stdit3 model;
    private final Tensor y2;        // [2B, 1, L, Cc]
    private final Tensor mask;      // [b, L]
    private final float[] fps;      // [1]: STDiT3 tiles it to 2B
    private final float height;
    private final float width;
    private final TokenMerging merging;
    private final Tap probe;
    private final StepCaching caching;
    private final GuidanceInterval interval;
    private final int leapStep;     // the fixed leap's step (its velocity is always computed), or -1
    private final BlockCache cache; // null when step caching is off
    private final List<Integer> reusedSteps = new ArrayList<>();
    private double sampleEvaluations;
    private Tensor out;             // [2B, 2C, T, H, W], reused
    private Tensor half;            // [B, 2C, T, H, W] output of a prompt-only step, made on first use

    /**
     * The model with its conditioning, running the per-step techniques of {@code options} (the request's sampler
     * options, the one place they are set): TDTM steps, step caching, guidance interval, the fixed leap's step and
     * the pixel size the model is conditioned on.
     */
    DitDenoiser(Stdit3 model, Tensor y2, Tensor mask, float fps, SamplerOptions options, Tap probe) {
        this.probe = probe;
        this.caching = options.stepCaching();
        this.interval = options.cfgInterval();
        this.leapStep = options.fixedLeapStep();
        this.cache = caching.enabled() ? new BlockCache(criterion(caching), caching.threshold()) : null;
        this.model = model;
        this.y2 = y2;
        this.mask = mask;
        this.fps = new float[] {fps};
        this.height = options.height();
        this.width = options.width();
        this.merging = TokenMerging.firstSteps(options.tdtmSteps());
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

    /** The model-side criterion of a step-caching policy (which must be enabled). */
    static BlockCache.Criterion criterion(StepCaching caching) {
        return caching.signal() == StepCacheSignal.MODULATED_INPUT ? BlockCache.Criterion.MODULATED_INPUT
                : BlockCache.Criterion.FIRST_BLOCK_RESIDUAL;
    }

    private Tensor run(Tensor x, float[] timesteps, int step, Tensor xMask) {
        Stdit3Input in = new Stdit3Input(x, timesteps, y2, mask, xMask, fps, height, width);
        int[] shape = model.outputShape(in);
        if (out == null || !out.hasShape(shape)) {
            if (out != null) {
                out.close();
            }
            out = Tensor.zeros(shape);                                  // [2B, 2C, T, H, W]
        }
        boolean merge = merging.mergeAt(step);                          // TDTM decided here, per step
        boolean mayReuse = caching.mayReuse(step, step == leapStep, step > 0 && merging.mergeAt(step - 1) && !merge);
        int reusedBefore = cache == null ? 0 : cache.reusedForwards();
        int b2 = x.dim(0);
        if (b2 % 2 == 0 && !interval.guides(timesteps[0])) {
            runPromptHalf(x, timesteps, xMask, merge, mayReuse);
            sampleEvaluations += 0.5;
        } else {
            model.forward(in, merge, out, null, cache, mayReuse);
            sampleEvaluations += 1;
        }
        if (cache != null && cache.reusedForwards() > reusedBefore) {
            reusedSteps.add(step);
        }
        if (probe.active()) {
            try (Tensor t = Tensor.of(timesteps.clone(), timesteps.length)) {
                probe.capture(VideoGenerator.TAP_STEP_X, x, step);
                probe.capture(VideoGenerator.TAP_STEP_T, t, step);
                probe.capture(VideoGenerator.TAP_STEP_OUT, out, step);
            }
        }
        return out.reshape(shape);
    }

    /**
     * A step outside the guidance interval: the prompt half x[0, B) alone, its output copied to both halves of
     * {@code out}, so that uncond + s·(cond − uncond) = cond exactly.
     */
    private void runPromptHalf(Tensor x, float[] timesteps, Tensor xMask, boolean merge, boolean mayReuse) {
        int b = x.dim(0) / 2;
        Tensor xh = x.slice(0, b);                                      // [B, C, T, H, W]
        Tensor yh = y2.slice(0, b);                                     // [B, 1, L, Cc]
        Tensor mh = mask.dim(0) == 2 * b ? mask.slice(0, b) : mask;     // [B or 1, L]
        Tensor xmh = xMask == null || xMask.dim(0) == b ? xMask : xMask.slice(0, b);
        float[] th = java.util.Arrays.copyOf(timesteps, b);
        Stdit3Input in = new Stdit3Input(xh, th, yh, mh, xmh, fps, height, width);
        int[] hs = model.outputShape(in);
        if (half == null || !half.hasShape(hs)) {
            if (half != null) {
                half.close();
            }
            half = Tensor.zeros(hs);                                    // [B, 2C, T, H, W]
        }
        model.forward(in, merge, half, null, cache, mayReuse);
        out.slice(0, b).copyFrom(half);
        out.slice(b, 2 * b).copyFrom(half);
    }

    /** Steps whose block-stack work came from the step cache, in order. */
    List<Integer> reusedSteps() {
        return List.copyOf(reusedSteps);
    }

    /** Model evaluations in sample units: a full guided step counts 1, a prompt-only step ½. */
    double sampleEvaluations() {
        return sampleEvaluations;
    }

    @Override
    public void close() {
        if (out != null) {
            out.close();
            out = null;
        }
        if (half != null) {
            half.close();
            half = null;
        }
        if (cache != null) {
            LOG.debug("step cache {}: per-step change {}", cache, cache.distances());  // calibration (benchmarks)
            cache.close();
        }
    }
}
