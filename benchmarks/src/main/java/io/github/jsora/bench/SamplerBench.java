package io.github.jsora.bench;

import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.dit.TokenMerging;
import io.github.jsora.sampling.DenoisingModel;
import io.github.jsora.sampling.TorchCpuRandom;
import io.github.jsora.sampling.LeapStrategy;
import io.github.jsora.sampling.RflowSampler;
import io.github.jsora.sampling.SampleResult;
import io.github.jsora.sampling.SamplerOptions;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.RandomModel;

/**
 * A full guided sample (30 steps, cfg 7) on a mid-size random STDiT3 (hidden 384, depth 4, 6 heads, T5-XXL-width
 * captions of 300 tokens with 24 valid) for a latent [1, 4, 8, 16, 16], with LPL off, fixed at step 15 (16 of 30
 * model evaluations) and dynamic (authors' defaults). One op = one whole generation; the aux counter
 * {@code modelCalls} gives the evaluations per op. Each evaluation runs the 2-sample guidance batch.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgs = {"-Xmx4g", "--add-modules=jdk.incubator.vector"})
public class SamplerBench {

    @Param({"off", "fixed16of30", "dynamic"})
    public String leap;

    private static final int STEPS = 30;
    private static final int PROMPT_TOKENS = 24;

    private BlockSource weights;
    private Stdit3 model;
    private Tensor noise;   // [1, 4, 8, 16, 16]
    private Tensor y2;      // [2, 1, 300, 4096]
    private Tensor mask;    // [1, 300]
    private Tensor out;     // [2, 8, 8, 16, 16]
    private SamplerOptions options;
    private DenoisingModel denoiser;
    private final RflowSampler sampler = new RflowSampler();
    private int lastCalls;
    private int lastLeap = -1;
    private long forwardNanos;      // model time of the current generation
    private long lastForwardNanos;  // model time of the last generation
    private long lastTotalNanos;    // sampler wall time of the last generation

    /** Model evaluations per generation (reported next to the time). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Calls {
        public long modelCalls;
    }

    @Setup(Level.Trial)
    public void setup() {
        Stdit3Config cfg = new Stdit3Config(384, 4, 6, 4.0, 1, 2, 2, 4, 4096, 300, true, true, 512, 0.1);
        weights = RandomModel.seeded(7).source(Stdit3.layout(cfg, true));
        model = Stdit3.withSource(cfg, weights);
        noise = TorchCpuRandom.randn(42, 1, 4, 8, 16, 16);
        SplittableRandom rnd = new SplittableRandom(3);
        float[] y = new float[300 * 4096];
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        y2 = Tensor.zeros(2, 1, 300, 4096);
        y2.write(0, y, 0, y.length);
        try (Tensor nul = model.nullCaption()) {
            y2.slice(1, 2).copyFrom(nul);
        }
        float[] m = new float[300];
        for (int i = 0; i < PROMPT_TOKENS; i++) {
            m[i] = 1f;
        }
        mask = Tensor.of(m, 1, 300);
        out = Tensor.zeros(2, 8, 8, 16, 16);
        float[] fps = {24f};
        denoiser = (x, ts, step) -> {
            long t0 = System.nanoTime();
            model.forward(Stdit3Input.of(x, ts, y2, mask, fps, 128f, 128f), TokenMerging.off().mergeAt(step), out);
            forwardNanos += System.nanoTime() - t0;
            return out.reshape(out.shape());   // a view: the sampler's close() leaves the buffer alone
        };
        LeapStrategy strategy = switch (leap) {
            case "off" -> LeapStrategy.off();
            case "fixed16of30" -> LeapStrategy.fixed(15);
            case "dynamic" -> LeapStrategy.dynamic();
            default -> throw new IllegalArgumentException("unknown leap " + leap);
        };
        options = SamplerOptions.builder().steps(STEPS).cfgScale(7.0).videoSize(128, 128).numFrames(29)
                .leap(strategy).build();
    }

    @Benchmark
    public float sample(Calls calls) {
        forwardNanos = 0;
        try (SampleResult r = sampler.sample(denoiser, noise, options)) {
            calls.modelCalls += r.modelCalls();
            lastCalls = r.modelCalls();
            lastLeap = r.leapStep().orElse(-1);
            lastForwardNanos = forwardNanos;
            lastTotalNanos = r.totalTime().toNanos();
            return r.latent().get(0);
        }
    }

    @TearDown(Level.Iteration)
    public void report() {
        double gflop = linearGflopPerCall() * lastCalls;
        System.out.printf(Locale.ROOT, "%n  leap=%s: %d model calls, leap step %s; sampler %.0f ms of which model "
                + "%.0f ms (loop overhead %.2f%%); linear layers %.1f GFLOP per generation = %.1f GFLOP/s in the "
                + "model; last forward: %s%n", leap, lastCalls, lastLeap < 0 ? "none" : lastLeap, lastTotalNanos / 1e6,
                lastForwardNanos / 1e6, 100.0 * (lastTotalNanos - lastForwardNanos) / lastTotalNanos, gflop,
                gflop / (lastForwardNanos / 1e9), model.lastStats());
    }

    /** FLOPs of the linear layers of one guidance-batch forward (2 samples), in GFLOP (attention excluded). */
    private static double linearGflopPerCall() {
        double c = 384, n = 8 * 8 * 8, l = 300, lValid = PROMPT_TOKENS, samples = 2;
        double perBlock = 2 * n * c * (3 * c + c + c + c + 8 * c) + 2 * lValid * c * 2 * c;
        double blocks = 8 * perBlock;
        double embed = 2 * l * (4096 * c + c * c) + 2 * n * c * 16 + 2 * n * c * 32;
        return samples * (blocks + embed) / 1e9;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        model.close();
        weights.close();
        noise.close();
        y2.close();
        mask.close();
        out.close();
    }
}
