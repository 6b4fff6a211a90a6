package io.github.jsora.sampling;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tensor;

/**
 * Open-Sora v1.2's rectified-flow sampler: a deterministic Euler ODE integration from noise (time N) to data
 * (time 0) with classifier-free guidance, and optional Linear Proportional Leap.
 *
 * <p>Per step {@code i} of the {@link RflowSchedule}:
 * <pre>
 *   out = model.forward([z; z], [t'_i]*2B, i)          // [2B, C', T, H, W]
 *   v   = u + s·(c − u)                                // c = out[0:B, 0:C], u = out[B:2B, 0:C]; [B, C, T, H, W]
 *   z   = z + v·dt_i                                   // dt_i = (t'_i − t'_{i+1})/N, last: t'_{K−1}/N
 * </pre>
 * in float32 in exactly that operation order (the reference's), with no noise injected. When the
 * {@link LeapStrategy} fires at step {@code i}, the update uses {@code dt = t'_i/N} (straight to time 0) and the run
 * ends: {@code i+1} model evaluations. A negative prompt needs nothing here: the glue binds its embedding as the
 * unconditional caption of the {@link DenoisingModel}.
 *
 * <p>With a {@link FrameConditioning} (image-to-video, continuation, editing), or with
 * {@link SamplerOptions.Builder#inferenceScriptMask(long)} alone (the inference script's mask of ones), the run is
 * Open-Sora's frame-mask sampling: the reference frames are written into the initial latent; at each step the
 * frames with {@code mask·N < t} are conditioning frames for the model ({@link DenoisingModel#forward(Tensor,
 * float[], boolean[], int)}) and keep their value through the update; a frame whose edit ratio releases it is
 * re-noised once with that step's draw of the reference generator. A step where no frame is generated (the
 * inference script's first step when float32 rounding puts its timestep above N) runs the model and throws the
 * update away. {@code FrameMaskHook} holds that logic.
 *
 * <p><b>Leap and TDTM with conditioning.</b> A leap ({@link LeapStrategy}) is an update like any other: it moves
 * only the frames generated at that step to time 0 and ends the run, so conditioned frames stay exactly at the
 * reference (a frame whose edit ratio has not released it yet also stays at the reference). The dynamic leap
 * measures its slice whatever the frame. Temporal token merging is the model's business: a conditioned frame keeps
 * its timestep-0 modulation and is averaged with its pair partner inside the attentions only; the sampler keeps its
 * value at the reference whether or not the step merged frames.
 *
 * <p>Everything is checked before the first model call (options at build time; the initial latent's shape and the
 * leap slice here); a model output of the wrong shape or with a non-finite velocity stops the run with an
 * {@link IllegalStateException} naming the step. The sampler is stateless and thread-safe; all per-run state
 * (including the dynamic leap's) lives in one {@code sample} call. Per run it allocates the latent, the 2B model
 * input and a few fixed scratch arrays once; the step loop allocates nothing proportional to the latent.
 */
public final class RflowSampler {

    private static final Logger LOG = LoggerFactory.getLogger(RflowSampler.class);

    /** Elements per block of the Java update loops. */
    private static final int BLOCK = 1 << 14;

    /** A sampler (stateless; one instance can serve any number of runs and threads). */
    public RflowSampler() {
    }

    /** {@link #sample(DenoisingModel, Tensor, SamplerOptions, ProgressListener, CancellationToken)} without progress or cancellation. */
    public SampleResult sample(DenoisingModel model, Tensor noise, SamplerOptions options) {
        return sample(model, noise, options, ProgressListener.NONE, CancellationToken.none());
    }

    /**
     * Samples from the initial latent {@code noise}.
     *
     * @param model    the denoiser with its conditioning bound
     * @param noise    initial latent {@code [B, C, T, H, W]} at time N (not modified; see {@link TorchCpuRandom})
     * @param options  validated options
     * @param listener called after every step (on this thread)
     * @param cancel   checked before every step
     * @return the final latent {@code [B, C, T, H, W]} and the run's counters
     * @throws IllegalArgumentException    for a bad latent or a leap slice outside it (before any model call)
     * @throws SamplingCancelledException  when {@code cancel} was cancelled
     * @throws IllegalStateException       when the model returns a wrong shape or a non-finite velocity
     */
    public SampleResult sample(DenoisingModel model, Tensor noise, SamplerOptions options, ProgressListener listener,
            CancellationToken cancel) {
        return sample(model, noise, options, null, listener, cancel, null);
    }

    /**
     * Samples from the initial latent {@code noise} with reference frames (Open-Sora's {@code apply_mask_strategy}
     * then {@code RFLOW.sample(..., mask)}): the run starts from {@code noise} with the conditioning's reference
     * frames written in. Re-noising a frame (an edit ratio, or the inference script's first step above N) uses the
     * reference generator of {@link SamplerOptions.Builder#inferenceScriptMask(long)}, which must then be set.
     *
     * @param conditioning the reference frames and frame mask for a latent of {@code noise}'s shape, or null for
     *                     {@link #sample(DenoisingModel, Tensor, SamplerOptions, ProgressListener, CancellationToken)}
     * @throws IllegalArgumentException also for a conditioning of another shape, or one that needs draws without
     *                                  a generator seed
     */
    public SampleResult sample(DenoisingModel model, Tensor noise, SamplerOptions options,
            FrameConditioning conditioning, ProgressListener listener, CancellationToken cancel) {
        return sample(model, noise, options, conditioning, listener, cancel, null);
    }

    /** What a run did at the start of a step (test seam: the latent before the model input, the step's draw). */
    interface StepTap {
        /** {@code z} the latent at the start of step {@code step}, {@code draw} its draw or null when not taken. */
        void stepStart(int step, Tensor z, float[] draw);
    }

    SampleResult sample(DenoisingModel model, Tensor noise, SamplerOptions options, FrameConditioning conditioning,
            ProgressListener listener, CancellationToken cancel, StepTap tap) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(noise, "noise");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancel, "cancel");
        int[] shape = noise.shape();   // [B, C, T, H, W]
        if (shape.length != 5 || Arrays.stream(shape).anyMatch(d -> d < 1)) {
            throw new IllegalArgumentException("noise: expected a latent [B, C, T, H, W] with all sizes >= 1, found "
                    + noise.shapeString());
        }
        if (noise.isClosed()) {
            throw new IllegalArgumentException("noise: tensor " + noise.shapeString() + " is closed");
        }
        RflowSchedule schedule = RflowSchedule.of(options);
        LeapDecider decider = LeapDecider.create(options.leap());
        decider.checkLatent(shape);
        FrameMaskHook hook = FrameMaskHook.create(conditioning, shape, schedule, options, BLOCK);
        if (cancel.isCancelled()) {
            throw new SamplingCancelledException(0, schedule.steps());
        }
        LOG.info("sampling latent {} with {}{}", noise.shapeString(), options,
                conditioning == null ? "" : " and " + conditioning);
        return new Run(model, noise, options, schedule, decider, listener, cancel, hook, conditioning, tap).execute();
    }

    /** State of one run. */
    private static final class Run {
        final DenoisingModel model;
        final Tensor noise;
        final RflowSchedule schedule;
        final LeapDecider decider;
        final ProgressListener listener;
        final CancellationToken cancel;
        final float cfg;
        final int batch;
        final int channels;
        final int frames;
        final long frameSize;     // H·W
        final long sampleSize;    // C·T·H·W
        final float[] bufA = new float[BLOCK];
        final float[] bufB = new float[BLOCK];
        final float[] bufZ = new float[BLOCK];
        final FrameMaskHook hook;                  // frame-mask sampling, null for the plain sampler
        final FrameConditioning conditioning;      // null: none
        final StepTap tap;                         // null: none
        float[] sliceU;           // [H·W] scratch of the dynamic leap's slice, made on first use

        Run(DenoisingModel model, Tensor noise, SamplerOptions options, RflowSchedule schedule, LeapDecider decider,
                ProgressListener listener, CancellationToken cancel, FrameMaskHook hook,
                FrameConditioning conditioning, StepTap tap) {
            this.model = model;
            this.noise = noise;
            this.schedule = schedule;
            this.decider = decider;
            this.listener = listener;
            this.cancel = cancel;
            this.cfg = options.cfgScale();
            this.batch = noise.dim(0);
            this.channels = noise.dim(1);
            this.frames = noise.dim(2);
            this.frameSize = (long) noise.dim(3) * noise.dim(4);
            this.sampleSize = (long) channels * frames * frameSize;
            this.hook = hook;
            this.conditioning = conditioning;
            this.tap = tap;
        }

        SampleResult execute() {
            int steps = schedule.steps();
            int[] s = noise.shape();
            Tensor z = noise.copy();                                               // [B, C, T, H, W]
            Tensor x = null;
            boolean ok = false;
            try {
                if (conditioning != null) {
                    conditioning.writeInto(z);                                     // apply_mask_strategy's write
                }
                x = Tensor.zeros(2 * s[0], s[1], s[2], s[3], s[4]);              // [2B, C, T, H, W]
                float[] ts = new float[2 * batch];                                 // [2B]
                List<Duration> times = new ArrayList<>(steps);
                StageTimer timer = new StageTimer();
                StageTimer.Scope sampling = timer.time("sample");              // the run, for elapsed times
                int leapStep = -1;
                for (int i = 0; i < steps; i++) {
                    if (cancel.isCancelled()) {
                        throw new SamplingCancelledException(i, steps);
                    }
                    StageTimer.Scope stepping = timer.time("step");
                    float t = schedule.timestep(i);
                    boolean all = hook == null || hook.allGenerated(i);
                    boolean update = hook == null || hook.anyGenerated(i);
                    if (hook != null) {
                        float[] draw = hook.draw(i);
                        if (tap != null) {
                            tap.stepStart(i, z, draw);
                        }
                        hook.renoise(i, t, z);
                    }
                    copyInto(z, x, 0);                                             // x[0:B]  = z
                    copyInto(z, x, z.size());                                      // x[B:2B] = z
                    Arrays.fill(ts, t);
                    boolean leap = false;
                    Tensor out = all ? model.forward(x, ts, i)                     // [2B, C', T, H, W]
                            : model.forward(x, ts, hook.generated(i), i);
                    if (out == x) {
                        throw new IllegalStateException("model returned its input tensor at step " + i);
                    }
                    try {
                        int outChannels = checkOutput(out, i);
                        if (update) {           // else the reference throws the update away: z stays
                            leap = decider.leapAt(i, (b, c, f, dst) -> guidedSlice(out, outChannels, b, c, f, dst));
                            float dt = leap ? schedule.leapDt(i) : schedule.dt(i);
                            eulerUpdate(out, outChannels, z, dt, i, t, all ? -1 : i);
                        }
                    } finally {
                        out.close();
                    }
                    stepping.close();
                    Duration stepTime = Duration.ofNanos(stepping.nanos());
                    times.add(stepTime);
                    double sim = decider.lastSimilarity();
                    StepProgress p = new StepProgress(i, steps, t, stepTime, Duration.ofNanos(sampling.nanos()), leap,
                            Double.isNaN(sim) ? OptionalDouble.empty() : OptionalDouble.of(sim));
                    if (LOG.isDebugEnabled()) {
                        LOG.debug("step {}/{} t={} dt={} {} ms{}{}", i + 1, steps, t,
                                leap ? schedule.leapDt(i) : schedule.dt(i), stepTime.toMillis(),
                                Double.isNaN(sim) ? "" : " similarity=" + sim, leap ? " LEAP" : "");
                    }
                    listener.onStep(p);
                    if (leap) {
                        leapStep = i;
                        break;
                    }
                }
                SampleResult r = new SampleResult(z, times.size(), leapStep, times, schedule.timesteps());
                sampling.close();
                LOG.info("sampled in {} ms: {} model calls of {} steps{}", sampling.millis(), times.size(), steps,
                        leapStep < 0 ? "" : ", leapt at step " + leapStep);
                ok = true;
                return r;
            } finally {
                if (x != null) {
                    x.close();
                }
                if (!ok) {
                    z.close();
                }
            }
        }

        /** dst[offset ..] = src (all of it), blockwise. */
        private void copyInto(Tensor src, Tensor dst, long offset) {
            long n = src.size();
            for (long p = 0; p < n; p += BLOCK) {
                int len = (int) Math.min(BLOCK, n - p);
                src.read(p, bufZ, 0, len);
                dst.write(offset + p, bufZ, 0, len);
            }
        }

        /** Checks the model output shape [2B, C' ≥ C, T, H, W]; returns C'. */
        private int checkOutput(Tensor out, int step) {
            int[] o = out.shape();
            int[] xs = noise.shape();
            boolean ok = o.length == 5 && o[0] == 2 * xs[0] && o[1] >= xs[1] && o[2] == xs[2] && o[3] == xs[3]
                    && o[4] == xs[4];
            if (!ok) {
                throw new IllegalStateException("model output at step " + step + ": expected [" + 2 * xs[0] + ", >="
                        + xs[1] + ", " + xs[2] + ", " + xs[3] + ", " + xs[4] + "], found " + out.shapeString());
            }
            return o[1];
        }

        /** Classifier-free guidance: {@code u + s·(c − u)} (the one place the formula is written). */
        private static float guided(float cond, float uncond, float scale) {
            return uncond + scale * (cond - uncond);
        }

        /** The guided velocity of slice [b, c, f] ([H, W]) into dst. */
        private void guidedSlice(Tensor out, int outChannels, int b, int c, int f, float[] dst) {
            long outSample = (long) outChannels * frames * frameSize;
            long inner = ((long) c * frames + f) * frameSize;
            int n = (int) frameSize;
            if (sliceU == null) {
                sliceU = new float[n];
            }
            float[] u = sliceU;
            out.read(b * outSample + inner, dst, 0, n);
            out.read((batch + b) * outSample + inner, u, 0, n);
            for (int k = 0; k < n; k++) {
                dst[k] = guided(dst[k], u[k], cfg);
            }
        }

        /**
         * z ← z + (u + s·(c − u))·dt over the first C channels of each guidance pair, on every frame or (with
         * {@code maskStep} ≥ 0) on the frames the hook generates at that step; fails on non-finite v.
         */
        private void eulerUpdate(Tensor out, int outChannels, Tensor z, float dt, int step, float t, int maskStep) {
            long outSample = (long) outChannels * frames * frameSize;
            boolean finite = true;
            // segments of one sample: the whole sample, or one [H, W] frame slice per (channel, frame)
            long segment = maskStep < 0 ? sampleSize : frameSize;
            for (int b = 0; b < batch; b++) {
                long condBase = b * outSample;
                long uncondBase = (batch + b) * outSample;
                long zBase = b * sampleSize;
                for (long q = 0; q < sampleSize; q += segment) {
                    if (maskStep >= 0 && !hook.generated(maskStep, b, (int) ((q / frameSize) % frames))) {
                        continue;       // a conditioning frame keeps its value (the reference's reset to x0)
                    }
                    for (long p = q; p < q + segment; p += BLOCK) {
                        int len = (int) Math.min(BLOCK, q + segment - p);
                        out.read(condBase + p, bufA, 0, len);
                        out.read(uncondBase + p, bufB, 0, len);
                        z.read(zBase + p, bufZ, 0, len);
                        for (int k = 0; k < len; k++) {
                            float u = bufB[k];
                            float v = guided(bufA[k], u, cfg);
                            finite &= Float.isFinite(v);
                            bufZ[k] = bufZ[k] + v * dt;
                        }
                        z.write(zBase + p, bufZ, 0, len);
                    }
                }
            }
            if (!finite) {
                throw new IllegalStateException("model output at step " + step + " (t=" + t
                        + ") gives a non-finite guided velocity");
            }
        }
    }
}
