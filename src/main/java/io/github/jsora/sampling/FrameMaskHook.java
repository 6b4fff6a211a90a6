package io.github.jsora.sampling;

import java.util.Arrays;

import io.github.jsora.tensor.Tensor;

/**
 * The per-run state of Open-Sora's frame-mask sampling ({@code RFLOW.sample(..., mask=m)}), the one place it lives:
 * the sampler asks it, at every step, which frames the step generates and lets it re-noise the frames that become
 * generated. Text-to-video as the inference script runs it (a mask of ones) is the case with no reference frame.
 *
 * <p>Per step {@code i} with timestep {@code t} (float32, as the reference): {@code upper = mask·N ≥ t} per
 * sample and frame; a frame with {@code upper} and not yet noised ({@code noised} starts as {@code mask == 1}, then
 * is the previous step's {@code upper}) is replaced by {@code (1 − t/N)·z + (1 − (1 − t/N))·ε}, ε this step's
 * draw; the model sees {@code upper} as its frame mask; the update applies to {@code upper} frames only (the
 * others keep the value they had at the start of the step, which is the reference's reset to {@code x0}).
 *
 * <p>The reference draws {@code randn_like(z)} from its global generator at every step. Every draw is taken up to
 * the last step that uses one (so the used ones are exactly the reference's); the later ones cannot matter and
 * are skipped. Not thread-safe; one instance per run.
 */
final class FrameMaskHook {

    private final int batch;
    private final int frames;
    private final long frameSize;          // H·W
    private final int channels;
    private final boolean[][] upper;       // [step][B·T]
    private final boolean[][] renoise;     // [step][B·T]
    private final boolean[] allUpper;      // [step]
    private final boolean[] anyUpper;      // [step]
    private final int lastDrawStep;        // -1: no draw used
    private final int numTimesteps;
    private final TorchCpuRandom random;   // the reference's global generator, null when no draw is used
    private final float[] draw;            // [B·C·T·H·W] this run's slice of the step's draw
    private final long drawTotal;          // elements of one reference draw (the whole reference batch)
    private final long drawOffset;         // where this run's slice starts
    private final float[] buf;

    private FrameMaskHook(float[] mask, int[] shape, RflowSchedule schedule, SamplerOptions options, int block) {
        this.batch = shape[0];
        this.channels = shape[1];
        this.frames = shape[2];
        this.frameSize = (long) shape[3] * shape[4];
        this.numTimesteps = options.numTimesteps();
        int steps = schedule.steps();
        upper = new boolean[steps][mask.length];
        renoise = new boolean[steps][mask.length];
        allUpper = new boolean[steps];
        anyUpper = new boolean[steps];
        float scale = numTimesteps;
        boolean[] noised = new boolean[mask.length];
        for (int k = 0; k < mask.length; k++) {
            noised[k] = mask[k] == 1f;
        }
        int last = -1;
        for (int i = 0; i < steps; i++) {
            float t = schedule.timestep(i);
            boolean all = true;
            boolean any = false;
            for (int k = 0; k < mask.length; k++) {
                boolean u = mask[k] * scale >= t;            // mask_t_upper, float32
                upper[i][k] = u;
                renoise[i][k] = u && !noised[k];
                noised[k] = u;
                all &= u;
                any |= u;
                if (renoise[i][k]) {
                    last = i;
                }
            }
            allUpper[i] = all;
            anyUpper[i] = any;
        }
        lastDrawStep = last;
        long n = (long) batch * channels * frames * frameSize;
        if (last >= 0) {
            if (options.inferenceScriptMask().isEmpty()) {
                throw new IllegalArgumentException("frame conditioning re-noises frames at step " + last
                        + " (an edit ratio, or a first timestep above " + numTimesteps + "), which needs the "
                        + "reference's random draws: set SamplerOptions.Builder.inferenceScriptMask(globalSeed)");
            }
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("frame conditioning: latent " + Arrays.toString(shape)
                        + " has more than 2^31-1 elements");
            }
            random = new TorchCpuRandom(options.inferenceScriptMask().getAsLong());
            draw = new float[(int) n];
            drawTotal = n * options.batchSize();
            drawOffset = n * options.batchIndex();
        } else {
            random = null;
            draw = null;
            drawTotal = 0;
            drawOffset = 0;
        }
        buf = new float[block];
    }

    /**
     * The hook of a run, or null for the plain sampler (the reference called with {@code mask=None}): made from
     * {@code conditioning} when given, else, when the options ask for the inference script's emulation, from a
     * mask of ones.
     */
    static FrameMaskHook create(FrameConditioning conditioning, int[] shape, RflowSchedule schedule,
            SamplerOptions options, int block) {
        if (conditioning == null) {
            if (options.inferenceScriptMask().isEmpty()) {
                return null;
            }
            conditioning = FrameConditioning.none(shape);
        } else if (!Arrays.equals(conditioning.latentShape(), shape)) {
            throw new IllegalArgumentException("frame conditioning is for a latent "
                    + Arrays.toString(conditioning.latentShape()) + ", found " + Arrays.toString(shape));
        }
        return new FrameMaskHook(conditioning.maskValues(), shape, schedule, options, block);
    }

    /** Takes step {@code i}'s draw when a draw at this step or later is used. Returns the draw or null. */
    float[] draw(int i) {
        if (i > lastDrawStep) {
            return null;
        }
        random.fillNormalSlice(draw, drawTotal, drawOffset);
        return draw;
    }

    /** Re-noises the frames that become generated at step {@code i} (timestep {@code t}) in place. */
    void renoise(int i, float t, Tensor z) {
        if (i > lastDrawStep) {
            return;
        }
        float keep = 1f - t / numTimesteps;
        float fresh = 1f - keep;
        for (int b = 0; b < batch; b++) {
            for (int f = 0; f < frames; f++) {
                if (!renoise[i][b * frames + f]) {
                    continue;
                }
                for (int c = 0; c < channels; c++) {
                    long base = (((long) b * channels + c) * frames + f) * frameSize;
                    for (long p = 0; p < frameSize; p += buf.length) {
                        int len = (int) Math.min(buf.length, frameSize - p);
                        z.read(base + p, buf, 0, len);
                        for (int k = 0; k < len; k++) {
                            buf[k] = keep * buf[k] + fresh * draw[(int) (base + p) + k];
                        }
                        z.write(base + p, buf, 0, len);
                    }
                }
            }
        }
    }

    /** True when every frame is generated at step {@code i} (the model needs no frame mask). */
    boolean allGenerated(int i) {
        return allUpper[i];
    }

    /** True when some frame is generated at step {@code i} (else the step's update is thrown away). */
    boolean anyGenerated(int i) {
        return anyUpper[i];
    }

    /** The model's frame mask of step {@code i}: {@code [B·T]}, true = generated (a copy). */
    boolean[] generated(int i) {
        return upper[i].clone();
    }

    /** Whether frame {@code f} of sample {@code b} is generated (updated) at step {@code i}. */
    boolean generated(int i, int b, int f) {
        return upper[i][b * frames + f];
    }
}
