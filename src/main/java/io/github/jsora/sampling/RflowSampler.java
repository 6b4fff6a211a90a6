package io.github.jsora.sampling;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * <p>With {@link SamplerOptions.Builder#inferenceScriptMask(long)}, a step whose timestep is above N (float32
 * rounding of the first one at small sizes) calls {@link DenoisingModel#forwardAllConditioning} and keeps z
 * unchanged; the first step at or below N after it first replaces z by {@code (1 − t/N)·z + (1 − (1 − t/N))·ε},
 * ε this run's slice of the reference generator's draw for that step. That option also holds one latent-sized
 * array for the draws.
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
        if (cancel.isCancelled()) {
            throw new SamplingCancelledException(0, schedule.steps());
        }
        LOG.info("sampling latent {} with {}", noise.shapeString(), options);
        return new Run(model, noise, options, schedule, decider, listener, cancel).execute();
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
        final TorchCpuRandom scriptRandom;   // the reference's global generator, inference-script emulation only
        final float[] scriptDraw;             // [B·C·T·H·W] this run's slice of its per-step draw
        final long scriptDrawTotal;           // elements of one reference draw (the whole reference batch)
        final long scriptDrawOffset;          // where this run's slice starts
        final int numTimesteps;
        float[] sliceU;           // [H·W] scratch of the dynamic leap's slice, made on first use

        Run(DenoisingModel model, Tensor noise, SamplerOptions options, RflowSchedule schedule, LeapDecider decider,
                ProgressListener listener, CancellationToken cancel) {
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
            this.numTimesteps = options.numTimesteps();
            if (options.inferenceScriptMask().isPresent()) {
                long n = noise.size();
                if (n > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("inferenceScriptMask: latent " + noise.shapeString()
                            + " has more than 2^31-1 elements");
                }
                scriptRandom = new TorchCpuRandom(options.inferenceScriptMask().getAsLong());
                scriptDraw = new float[(int) n];
                scriptDrawTotal = n * options.batchSize();
                scriptDrawOffset = n * options.batchIndex();
            } else {
                scriptRandom = null;
                scriptDraw = null;
                scriptDrawTotal = 0;
                scriptDrawOffset = 0;
            }
        }

        SampleResult execute() {
            int steps = schedule.steps();
            int[] s = noise.shape();
            Tensor z = noise.copy();                                               // [B, C, T, H, W]
            Tensor x = null;
            boolean ok = false;
            try {
                x = Tensor.zeros(2 * s[0], s[1], s[2], s[3], s[4]);              // [2B, C, T, H, W]
                float[] ts = new float[2 * batch];                                 // [2B]
                List<Duration> times = new ArrayList<>(steps);
                long start = System.nanoTime();
                int leapStep = -1;
                boolean noiseAdded = true;     // inference-script emulation: the reference's noise_added
                for (int i = 0; i < steps; i++) {
                    if (cancel.isCancelled()) {
                        throw new SamplingCancelledException(i, steps);
                    }
                    long t0 = System.nanoTime();
                    float t = schedule.timestep(i);
                    // inference-script emulation: frames count as generated while mask·N >= t
                    boolean generated = true;
                    if (scriptRandom != null) {
                        generated = (float) numTimesteps >= t;
                        // the reference draws randn_like(z) of the whole batch at every step; the draws matter only
                        // up to the first kept step (timesteps decrease, so no later step re-noises): skip the rest
                        if (!(generated && noiseAdded)) {
                            scriptRandom.fillNormalSlice(scriptDraw, scriptDrawTotal, scriptDrawOffset);
                        }
                        if (generated && !noiseAdded) {
                            addNoise(z, t);
                        }
                        noiseAdded = generated;
                    }
                    copyInto(z, x, 0);                                             // x[0:B]  = z
                    copyInto(z, x, z.size());                                      // x[B:2B] = z
                    Arrays.fill(ts, t);
                    boolean leap = false;
                    Tensor out = generated ? model.forward(x, ts, i)               // [2B, C', T, H, W]
                            : model.forwardAllConditioning(x, ts, i);
                    if (out == x) {
                        throw new IllegalStateException("model returned its input tensor at step " + i);
                    }
                    try {
                        int outChannels = checkOutput(out, i);
                        if (generated) {        // else the reference throws the update away: z stays
                            leap = decider.leapAt(i, (b, c, f, dst) -> guidedSlice(out, outChannels, b, c, f, dst));
                            float dt = leap ? schedule.leapDt(i) : schedule.dt(i);
                            eulerUpdate(out, outChannels, z, dt, i, t);
                        }
                    } finally {
                        out.close();
                    }
                    long t1 = System.nanoTime();
                    Duration stepTime = Duration.ofNanos(t1 - t0);
                    times.add(stepTime);
                    double sim = decider.lastSimilarity();
                    StepProgress p = new StepProgress(i, steps, t, stepTime, Duration.ofNanos(t1 - start), leap,
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
                LOG.info("sampled in {} ms: {} model calls of {} steps{}", Duration.ofNanos(System.nanoTime() - start)
                        .toMillis(), times.size(), steps, leapStep < 0 ? "" : ", leapt at step " + leapStep);
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

        /** The reference's add_noise: z ← (1 − t/N)·z + (1 − (1 − t/N))·ε, ε the step's draw, in float32. */
        private void addNoise(Tensor z, float t) {
            float keep = 1f - t / numTimesteps;
            float fresh = 1f - keep;
            long n = z.size();
            for (long p = 0; p < n; p += BLOCK) {
                int len = (int) Math.min(BLOCK, n - p);
                z.read(p, bufZ, 0, len);
                for (int k = 0; k < len; k++) {
                    bufZ[k] = keep * bufZ[k] + fresh * scriptDraw[(int) p + k];
                }
                z.write(p, bufZ, 0, len);
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

        /** z ← z + (u + s·(c − u))·dt over the first C channels of each guidance pair; fails on non-finite v. */
        private void eulerUpdate(Tensor out, int outChannels, Tensor z, float dt, int step, float t) {
            long outSample = (long) outChannels * frames * frameSize;
            boolean finite = true;
            for (int b = 0; b < batch; b++) {
                long condBase = b * outSample;
                long uncondBase = (batch + b) * outSample;
                long zBase = b * sampleSize;
                for (long p = 0; p < sampleSize; p += BLOCK) {
                    int len = (int) Math.min(BLOCK, sampleSize - p);
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
            if (!finite) {
                throw new IllegalStateException("model output at step " + step + " (t=" + t
                        + ") gives a non-finite guided velocity");
            }
        }
    }
}
