package io.github.jsora.bench;

import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

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

import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.Conv2D;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;

import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.vae.VaeConfig;
import io.github.jsora.vae.VaeLayout;
import io.github.jsora.vae.VideoVae;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.RandomModel;

/**
 * The real-width Open-Sora v1.2 VAE decoder ({@link VaeConfig#openSoraV12()}: SD-XL spatial decoder 128/256/512/512,
 * 2 layers per block, 32 groups; VAE_Temporal_SD filters 128, multipliers 1/2/2/4, 4 ResBlocks) on random weights,
 * decoding one chunk of 5 latent frames at 32×32 into 17 frames of 256×256, frame by frame. One decode takes
 * minutes on 2 cores, so it runs as single shots: {@code benchmarks/run VaeBench -f 1 -wi 0 -i 1}.
 *
 * <p>{@code gemmCeiling} measures the matrix product ceiling in the same run, on the product a 512-channel 3×3
 * convolution at 64×64 is made of ([512, 4608]·[4608, 4096]). The tear-down prints the decode's FLOP count, the
 * temporal / spatial split and GFLOP/s, and (like the encode) the decode's rate as a fraction of the ceiling product
 * timed in the same fork right before and right after it: {@code benchmarks/run 'VaeBench.decode' -f 1 -wi 0 -i 1}.
 *
 * <p>{@code encodeChunk17Frames256} is the way back on the same random model (encoder weights included): 17 frames
 * of 256×256 through the SD-XL image encoder frame by frame, then the temporal encoder on the one chunk, into 5
 * latent frames of 32×32 (mode path). Its fork also times the ceiling product right before and right after the
 * encode and prints the encode's GFLOP/s as a fraction of their mean:
 * {@code benchmarks/run 'VaeBench.encode' -f 1 -wi 0 -i 1}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@Fork(value = 1, jvmArgs = {"-Xmx12g", "--add-modules=jdk.incubator.vector"})
public class VaeBench {

    static final int LATENT_FRAMES = 5;
    static final int FRAMES = 17;
    static final int LATENT_HW = 32;

    private VaeConfig cfg;
    private BlockSource weights;
    private BlockSource encoderWeights;
    private VideoVae vae;
    private Tensor z;
    private Tensor video;
    private long encodeStart;
    private long encodeSpatialDone;
    private long encodeEnd;
    private long encodePeak;
    private double[] ceilingBefore;
    private long encodeCpu;
    private Tensor a;
    private Tensor b;
    private Tensor c;
    private long decodeStart;
    private long temporalDone;
    private long decodeEnd;
    private long decodeCpu;

    @Setup(Level.Trial)
    public void setup() {
        cfg = VaeConfig.openSoraV12();
        weights = RandomModel.vae(cfg, 42).source(VaeLayout.of(cfg));
        encoderWeights = RandomModel.vae(cfg, 42).source(VaeLayout.encoder(cfg));
        vae = new VideoVae(cfg, weights, encoderWeights, 1);
        z = random(new SplittableRandom(7), 1f, 1, 4, LATENT_FRAMES, LATENT_HW, LATENT_HW);
        video = random(new SplittableRandom(8), 0.5f, 1, 3, FRAMES, LATENT_HW * 8, LATENT_HW * 8);
        SplittableRandom r = new SplittableRandom(1);
        a = random(r, 0.05f, 512, 4608);
        b = random(r, 0.05f, 4608, 4096);
        c = Tensor.zeros(512, 4096);
        ceilingBefore = ceilingGflops();
    }

    /**
     * GFLOP/s of the ceiling product, mean of 10 calls after one warm-up call: {wall-clock rate, rate per CPU-second
     * of the process} (the second is what a loaded machine changes least).
     */
    private double[] ceilingGflops() {
        Gemm.matmul(a, false, b, false, c, 1f, 0f);
        long cpu0 = processCpuNanos();
        long t0 = System.nanoTime();
        for (int i = 0; i < 10; i++) {
            Gemm.matmul(a, false, b, false, c, 1f, 0f);
        }
        double flop = 10 * 2.0 * 512 * 4608 * 4096;
        return new double[] {flop / (System.nanoTime() - t0), flop / (processCpuNanos() - cpu0)};
    }

    /** CPU time of this process (all threads, native ones included), in nanoseconds. */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (decodeEnd > 0) {
            double total = (decodeEnd - decodeStart) / 1e9;
            double temporal = (temporalDone - decodeStart) / 1e9;
            double spatial = total - temporal;
            double tf = temporalFlops(cfg, LATENT_FRAMES, LATENT_HW, LATENT_HW);
            double sf = FRAMES * spatialFlopsPerFrame(cfg, LATENT_HW, LATENT_HW);
            System.out.printf(Locale.ROOT, "%nVAE decode 1×5 latent frames %d×%d → %d frames %d×%d: %.1f s, %.0f GFLOP, "
                    + "%.1f GFLOP/s%n  temporal: %.1f s, %.0f GFLOP, %.1f GFLOP/s%n  spatial:  %.1f s (%.2f s/frame), "
                    + "%.0f GFLOP, %.1f GFLOP/s%n  %s%n", LATENT_HW, LATENT_HW, FRAMES, LATENT_HW * 8, LATENT_HW * 8,
                    total, (tf + sf) / 1e9, (tf + sf) / total / 1e9, temporal, tf / 1e9, tf / temporal / 1e9, spatial,
                    spatial / FRAMES, sf / 1e9, sf / spatial / 1e9, vae.meter());
            double[] after = ceilingGflops();
            double gflops = (tf + sf) / total / 1e9;
            double ceiling = (ceilingBefore[0] + after[0]) / 2;
            double perCpu = (tf + sf) / decodeCpu;
            double ceilingPerCpu = (ceilingBefore[1] + after[1]) / 2;
            System.out.printf(Locale.ROOT, "  = %.2f of the ceiling product in this fork (%.1f GFLOP/s before, %.1f "
                    + "after); process CPU %.1f s = %.2f cores on average; per CPU-second: %.1f GFLOP vs the ceiling "
                    + "product's %.1f (%.1f before, %.1f after) = %.2f%n", gflops / ceiling, ceilingBefore[0], after[0],
                    decodeCpu / 1e9, decodeCpu / 1e9 / total, perCpu, ceilingPerCpu, ceilingBefore[1], after[1],
                    perCpu / ceilingPerCpu);
        }
        if (encodeEnd > 0) {
            double[] after = ceilingGflops();
            double total = (encodeEnd - encodeStart) / 1e9;
            double spatial = (encodeSpatialDone - encodeStart) / 1e9;
            double temporal = total - spatial;
            int px = LATENT_HW * 8;
            double sf = FRAMES * spatialEncoderFlopsPerFrame(cfg, px, px);
            double tf = temporalEncoderFlops(cfg, FRAMES, LATENT_HW, LATENT_HW);
            double gflops = (tf + sf) / total / 1e9;
            double ceiling = (ceilingBefore[0] + after[0]) / 2;
            double perCpu = (tf + sf) / encodeCpu;
            double ceilingPerCpu = (ceilingBefore[1] + after[1]) / 2;
            System.out.printf(Locale.ROOT, "%nVAE encode %d frames %d×%d → 1×5 latent frames %d×%d: %.1f s, %.0f GFLOP, "
                    + "%.1f GFLOP/s = %.0f %% of the ceiling product in this fork (%.1f GFLOP/s before, %.1f after)%n"
                    + "  spatial:  %.1f s (%.2f s/frame), %.0f GFLOP, %.1f GFLOP/s%n  temporal: %.1f s, %.0f GFLOP, "
                    + "%.1f GFLOP/s%n  activation peak %.1f MiB (bound encodeActivationBytes %.1f MiB); process CPU %.1f s "
                    + "= %.2f cores on average%n  per CPU-second: %.1f GFLOP vs the ceiling product's %.1f (%.1f before, "
                    + "%.1f after) = %.0f %%%n", FRAMES, px,
                    px, LATENT_HW, LATENT_HW, total, (tf + sf) / 1e9, gflops, 100 * gflops / ceiling, ceilingBefore[0],
                    after[0], spatial, spatial / FRAMES, sf / 1e9, sf / spatial / 1e9, temporal, tf / 1e9,
                    tf / temporal / 1e9, encodePeak / 1048576.0, vae.encodeActivationBytes(video.shape()) / 1048576.0,
                    encodeCpu / 1e9, encodeCpu / 1e9 / total, perCpu, ceilingPerCpu, ceilingBefore[1], after[1],
                    100 * perCpu / ceilingPerCpu);
        }
        vae.close();
        weights.close();
        encoderWeights.close();
        video.close();
        z.close();
        a.close();
        b.close();
        c.close();
    }

    @Benchmark
    public long decodeChunk17Frames256() {
        long[] sum = {0};
        long cpu0 = processCpuNanos();
        decodeStart = System.nanoTime();
        vae.meter().resetPeak();
        vae.decode(z, FRAMES, (s, f, frame) -> sum[0] += frame.size(), (name, x, index) -> {
            if (name.equals(VideoVae.TEMPORAL_OUTPUT)) {
                temporalDone = System.nanoTime();
            }
        });
        decodeEnd = System.nanoTime();
        decodeCpu = processCpuNanos() - cpu0;
        return sum[0];
    }

    /** One chunk back: 17 random frames of 256×256 → [1, 4, 5, 32, 32], mode path, frame by frame. */
    @Benchmark
    public float encodeChunk17Frames256() {
        long cpu0 = processCpuNanos();
        encodeStart = System.nanoTime();
        vae.meter().resetPeak();
        try (Tensor latent = vae.encode(video, null, (name, xz, index) -> {
            if (name.equals(VideoVae.SPATIAL_LATENT)) {
                encodeSpatialDone = System.nanoTime();
            }
        })) {
            encodeEnd = System.nanoTime();
            encodeCpu = processCpuNanos() - cpu0;
            encodePeak = vae.meter().peakBytes();
            return latent.get(0);
        }
    }

    /** 2·512·4608·4096 = 19.3 GFLOP; GFLOP/s = 19.3 / seconds. */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @Warmup(iterations = 2, time = 2)
    @Measurement(iterations = 3, time = 2)
    public Tensor gemmCeiling() {
        Gemm.matmul(a, false, b, false, c, 1f, 0f);
        return c;
    }

    /**
     * The decoder's largest convolution (512 → 512 channels, 3×3, 64×64) as ND4J runs it in the precision asked, and
     * the product ceiling of that precision in the same fork: the [512, 4608]·[4608, 4096] product the convolution
     * is made of, so both do 2·512·4608·4096 = 19.3 GFLOP and the ratio to the ceiling is the ceiling's time over
     * the convolution's. jsora's VAE runs float32; {@code bf16} shows whether a bf16 VAE would pay on this ND4J
     * (on ND4J 1.0.0-M2.1 it does not: its bf16 convolution is not handed to oneDNN).
     * {@code benchmarks/run 'VaeBench.ConvPrecision' -p precision=fp32,bf16}.
     */
    @State(Scope.Benchmark)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 1, time = 1)
    @Measurement(iterations = 3, time = 2)
    @Fork(value = 1, jvmArgs = {"-Xmx4g", "--add-modules=jdk.incubator.vector"})
    public static class ConvPrecision {
        /** fp32 or bf16 (bf16 inputs and weights; a bf16 product accumulates in float32). */
        @Param({"fp32", "bf16"})
        public String precision;

        private INDArray x;
        private INDArray w;
        private INDArray a;
        private INDArray b;
        private INDArray c;
        private Conv2DConfig conv;

        @Setup(Level.Trial)
        public void setup() {
            DataType dt = switch (precision) {
                case "fp32" -> DataType.FLOAT;
                case "bf16" -> DataType.BFLOAT16;
                default -> throw new IllegalArgumentException("precision must be fp32 or bf16, found " + precision);
            };
            Tensor.zeros(1).close(); // jsora's set-up (AMX request) before ND4J's first product
            try (INDArray xf = Nd4j.rand(DataType.FLOAT, 1, 512, 64, 64);
                    INDArray wf = Nd4j.rand(DataType.FLOAT, 3, 3, 512, 512).muli(0.01);
                    INDArray af = Nd4j.rand(DataType.FLOAT, 512, 4608);
                    INDArray bf = Nd4j.rand(DataType.FLOAT, 4608, 4096)) {
                x = copyAs(xf, dt);
                w = copyAs(wf, dt);
                a = copyAs(af, dt);
                b = copyAs(bf, dt);
            }
            c = Nd4j.create(dt, 512, 4096);
            conv = Conv2DConfig.builder().kH(3).kW(3).sH(1).sW(1).pH(1).pW(1).dH(1).dW(1).dataFormat("NCHW").build();
        }

        /** A new array (castTo returns the array itself when the type already matches). */
        private static INDArray copyAs(INDArray t, DataType dt) {
            return t.dataType() == dt ? t.dup() : t.castTo(dt);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            for (INDArray t : new INDArray[] {x, w, a, b, c}) {
                t.close();
            }
        }

        /** 19.3 GFLOP: GFLOP/s = 19.3 / seconds. */
        @Benchmark
        public double conv3x3Channels512At64() {
            try (INDArray out = Nd4j.exec(new Conv2D(new INDArray[] {x, w}, null, conv))[0]) {
                return out.getDouble(0);
            }
        }

        /** The same 19.3 GFLOP as one product in this precision. */
        @Benchmark
        public INDArray productCeiling() {
            Nd4j.exec(new Mmul(a, b, c, MMulTranspose.builder().build()));
            return c;
        }
    }

    // ------------------------------------------------------------------ FLOP counts (2 per multiply-add)

    static double conv(long in, long out, long k, long outputs) {
        return 2.0 * in * out * k * outputs;
    }

    /** Temporal decoder on one chunk of tz latent frames at h×w. */
    static double temporalFlops(VaeConfig cfg, int tz, int h, int w) {
        VaeConfig.Temporal t = cfg.temporal();
        long hw = (long) h * w;
        long frames = tz;
        int top = t.channels(t.levels() - 1);
        double f = conv(t.embedDim(), t.latentEmbedDim(), 1, frames * hw) + conv(t.latentEmbedDim(), top, 27, frames * hw);
        f += t.numResBlocks() * 2 * conv(top, top, 27, frames * hw);
        int prev = top;
        for (int level = t.levels() - 1; level >= 0; level--) {
            int ch = t.channels(level);
            for (int j = 0; j < t.numResBlocks(); j++) {
                f += conv(prev, ch, 27, frames * hw) + conv(ch, ch, 27, frames * hw);
                if (prev != ch) {
                    f += conv(prev, ch, 1, frames * hw);
                }
                prev = ch;
            }
            if (level > 0 && t.upsamplesTime(level)) {
                f += conv(prev, 2L * prev, 27, frames * hw);
                frames *= 2;
            }
        }
        return f + conv(prev, t.inOutChannels(), 27, frames * hw);
    }

    /** Spatial decoder on one frame of h×w latent pixels. */
    static double spatialFlopsPerFrame(VaeConfig cfg, int h, int w) {
        VaeConfig.Spatial s = cfg.spatial();
        long hw = (long) h * w;
        int top = s.upChannels(0);
        double f = conv(s.latentChannels(), s.latentChannels(), 1, hw) + conv(s.latentChannels(), top, 9, hw);
        f += 2 * 2 * conv(top, top, 9, hw);
        if (s.midAttention()) {
            f += 4 * conv(top, top, 1, hw) + 2 * conv(hw, top, 1, hw);
        }
        int prev = top;
        for (int i = 0; i < s.blocks(); i++) {
            int ch = s.upChannels(i);
            for (int j = 0; j <= s.layersPerBlock(); j++) {
                f += conv(prev, ch, 9, hw) + conv(ch, ch, 9, hw);
                if (prev != ch) {
                    f += conv(prev, ch, 1, hw);
                }
                prev = ch;
            }
            if (i < s.blocks() - 1) {
                hw *= 4;
                f += conv(ch, ch, 9, hw);
            }
        }
        return f + conv(prev, s.outChannels(), 9, hw);
    }

    /** Image encoder on one frame of h×w pixels (with quant_conv). */
    static double spatialEncoderFlopsPerFrame(VaeConfig cfg, int h, int w) {
        VaeConfig.Spatial s = cfg.spatial();
        long hw = (long) h * w;
        int prev = s.downChannels(0);
        double f = conv(s.outChannels(), prev, 9, hw);
        for (int i = 0; i < s.blocks(); i++) {
            int ch = s.downChannels(i);
            for (int j = 0; j < s.layersPerBlock(); j++) {
                f += conv(prev, ch, 9, hw) + conv(ch, ch, 9, hw);
                if (prev != ch) {
                    f += conv(prev, ch, 1, hw);
                }
                prev = ch;
            }
            if (i < s.blocks() - 1) {
                h /= 2;
                w /= 2;
                hw = (long) h * w;
                f += conv(ch, ch, 9, hw);
            }
        }
        f += 2 * 2 * conv(prev, prev, 9, hw);
        if (s.midAttention()) {
            f += 4 * conv(prev, prev, 1, hw) + 2 * conv(hw, prev, 1, hw);
        }
        int moments = 2 * s.latentChannels();
        return f + conv(prev, moments, 9, hw) + conv(moments, moments, 1, hw);
    }

    /** Temporal encoder on one chunk of {@code frames} frames (front-padded to a multiple of 4) at h×w (with quant_conv). */
    static double temporalEncoderFlops(VaeConfig cfg, int frames, int h, int w) {
        VaeConfig.Temporal t = cfg.temporal();
        long hw = (long) h * w;
        long tt = (long) Math.ceil(frames / (double) t.timeDownsample()) * t.timeDownsample();
        int prev = t.filters();
        double f = conv(t.inOutChannels(), prev, 27, tt * hw);
        for (int level = 0; level <= t.levels(); level++) {
            boolean top = level == t.levels();
            int ch = top ? prev : t.channels(level);
            for (int j = 0; j < t.numResBlocks(); j++) {
                f += conv(prev, ch, 27, tt * hw) + conv(ch, ch, 27, tt * hw);
                if (prev != ch) {
                    f += conv(prev, ch, 1, tt * hw);
                }
                prev = ch;
            }
            if (!top && t.downsamplesTime(level)) {
                tt /= 2;
                f += conv(prev, prev, 27, tt * hw);
            }
        }
        int moments = 2 * t.latentEmbedDim();
        return f + conv(prev, moments, 1, tt * hw) + conv(moments, 2L * t.embedDim(), 1, tt * hw);
    }

    // ------------------------------------------------------------------ random inputs

    static Tensor random(SplittableRandom rnd, float std, int... shape) {
        return GemmBench.random(rnd, std, shape);
    }
}
