package io.github.jsora.bench;

import java.util.Random;
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

import io.github.jsora.dit.ForwardStats;
import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.RandomModel;

/**
 * STDiT3 forward passes with random weights.
 *
 * <p>{@code shape = xl32 / xl24}: one spatial + temporal block pair at the real XL width (hidden 1152, 16 heads,
 * MLP 4608, caption width 4096, 300 caption tokens of which 20 are valid), B = 2 (the guidance batch), latent T = 20
 * at 32×32 (256×256 video, 2·20·16·16 = 10,240 tokens) or 24×24 (192×192 video, 5,760 tokens). It is the whole
 * forward of a depth-1 model, so it also holds the embedders and the final layer (under 1 % of its FLOPs).
 * {@code shape = tiny}: the whole forward of the demo model's configuration (hidden 128, depth 4, 4 heads, caption
 * 64×16) at its sampling shape B = 2, T = 5, 8×8.
 *
 * <p>FLOP count (2 per multiply-add; {@link #flops}), with N = B·T·S tokens (S = H/2·W/2 patches per frame),
 * C hidden, M MLP width, Σ valid caption tokens of the batch, per block:
 * {@code 2·N·C·(3C + C + C + C + 2M)} (qkv, projection, cross q, cross projection, MLP)
 * {@code + 2·Σ·C·2C} (caption keys and values) {@code + 4·N·S·C} (spatial attention: q·kᵀ and p·v) or
 * {@code + 4·N·T·C} (temporal attention) {@code + 4·T·S·Σ·C} (cross-attention); plus the embedders
 * {@code 2·N·Cin·4·C + 2·B·L·(Cc·C + C²) + 3B·2·(256·C + C²) + 2·2B·C·6C} and the final layer {@code 2·N·C·4·out}.
 * For xl32 that is 784.8 GFLOP per forward (block pair 776.3), for xl24 441.9 (433.9). GFLOP/s = FLOP / (ms/op · 1e6);
 * compare with {@code benchmarks/run GemmBench} (the raw matrix-product ceiling) run right before or after.
 *
 * <p>Because the machine is shared, each measurement iteration of an XL shape is followed (in its teardown, outside
 * the score) by the ceiling product of the same regime, [N, 1152]·[1152, 4608] (the MLP's first product), best of
 * two; the printed line "paired" gives the forward's GFLOP/s, the ceiling's and their ratio from the same minute.
 *
 * <p>{@code precision = fp32 / bf16}: float32 compute, or bf16 compute (the block products' weights packed to bf16,
 * {@link Bf16Gemm} on the native route, fast kernels). The ceiling is of the same precision: the float32 sgemm, or
 * the same product as a native {@link Bf16Gemm#linear} with a packed weight.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgs = {"-Xmx8g", "--add-modules=jdk.incubator.vector"})
public class Stdit3Bench {

    @Param({"xl32", "xl24", "tiny"})
    public String shape;

    @Param({"fp32", "bf16"})
    public String precision = "fp32";

    /** TDTM: attend on merged frame pairs (used by {@link TdtmBench}). */
    public boolean merge;

    private BlockSource weights;
    private Stdit3 model;
    private Stdit3Input input;
    private Tensor x;
    private Tensor y;
    private Tensor mask;
    private Tensor out;
    private Tensor ceilA;
    private Tensor ceilB;
    private Tensor ceilC;
    private PackedWeight ceilPacked; // bf16: the ceiling's weight
    private Tensor ceilScratch;

    /** A configuration and input geometry for a named shape. */
    record Geometry(Stdit3Config cfg, int b, int t, int h, int w, int l, int valid) {
    }

    static Geometry geometry(String shape) {
        Stdit3Config xl = Stdit3Config.xl2();
        Stdit3Config xlPair = new Stdit3Config(xl.hiddenSize(), 1, xl.numHeads(), xl.mlpRatio(), xl.patchT(),
                xl.patchH(), xl.patchW(), xl.inChannels(), xl.captionChannels(), xl.modelMaxLength(), xl.predSigma(),
                xl.qkNorm(), xl.inputSqSize(), xl.classDropoutProb());
        return switch (shape) {
            case "xl32" -> new Geometry(xlPair, 2, 20, 32, 32, 300, 20);
            case "xl24" -> new Geometry(xlPair, 2, 20, 24, 24, 300, 20);
            case "tiny" -> new Geometry(new Stdit3Config(128, 4, 4, 4.0, 1, 2, 2, 4, 64, 16, true, true, 512, 0.1),
                    2, 5, 8, 8, 16, 7);
            default -> throw new IllegalArgumentException("unknown shape " + shape);
        };
    }

    /** FLOPs of one forward (formula in the class comment); {@code merge} halves the attended frames. */
    static double flops(Geometry g, boolean merge) {
        Stdit3Config c = g.cfg();
        double hid = c.hiddenSize();
        double m = c.mlpHidden();
        int tp = g.t();
        int tq = merge ? (tp + 1) / 2 : tp;
        double s = (double) (g.h() / 2) * (g.w() / 2);
        double n = g.b() * tp * s;
        double nq = g.b() * tq * s;
        double sigma = (double) g.valid() * g.b();
        double block = 2 * nq * hid * (3 * hid + hid + hid + hid) + 2 * n * hid * 2 * m + 2 * sigma * hid * 2 * hid
                + 4 * tq * s * sigma * hid;
        double spatial = block + 4 * nq * s * hid;
        double temporal = block + 4 * nq * tq * hid;
        double embed = 2 * n * c.inChannels() * c.patchVolume() * hid
                + 2.0 * g.b() * g.l() * (c.captionChannels() * hid + hid * hid)
                + 3.0 * g.b() * 2 * (256 * hid + hid * hid) + 2.0 * 2 * g.b() * hid * 6 * hid;
        double fin = 2 * n * hid * c.patchVolume() * c.outChannels();
        return c.depth() * (spatial + temporal) + embed + fin;
    }

    @Setup(Level.Trial)
    public void setUp() {
        Geometry g = geometry(shape);
        boolean bf16 = precision.equals("bf16");
        if (!bf16 && !precision.equals("fp32")) {
            throw new IllegalArgumentException("precision must be fp32 or bf16, found " + precision);
        }
        BlockLayout layout = Stdit3.layout(g.cfg(), true);
        if (bf16) {
            Bf16Gemm.setRoute(Bf16Gemm.Route.NATIVE);
            weights = RandomModel.seeded(42).bf16ComputeSource(layout, Stdit3.BF16_PRODUCTS);
        } else {
            weights = RandomModel.seeded(42).source(layout);
        }
        model = Stdit3.withSource(g.cfg(), weights);
        Random rnd = new Random(7);
        x = GemmBench.random(rnd, g.b(), g.cfg().inChannels(), g.t(), g.h(), g.w());
        y = GemmBench.random(rnd, g.b(), 1, g.l(), g.cfg().captionChannels());
        float[] mk = new float[g.l()];
        for (int i = 0; i < g.valid(); i++) {
            mk[i] = 1f;
        }
        mask = Tensor.of(mk, 1, g.l());
        float[] ts = {900f, 900f};
        float[] fps = {24f, 24f};
        input = new Stdit3Input(x, ts, y, mask, null, fps, 8f * g.h(), 8f * g.w());
        out = Tensor.zeros(model.outputShape(input));
        if (g.cfg().hiddenSize() == 1152) {
            int tokens = g.b() * g.t() * (g.h() / 2) * (g.w() / 2);
            ceilA = GemmBench.random(rnd, tokens, 1152);
            ceilB = GemmBench.random(rnd, 4608, 1152);
            ceilC = Tensor.zeros(tokens, 4608);
            if (bf16) {
                ceilPacked = PackedWeight.pack(ceilB, PackedWeight.Format.BF16);
                ceilScratch = Tensor.zeros(Math.toIntExact(Bf16Gemm.scratchFloats(tokens, ceilPacked)));
            }
        }
        System.out.printf("%n%s %s: %.1f GFLOP per forward (merge=%b)%n", shape, precision, flops(g, merge) / 1e9,
                merge);
    }

    @TearDown(Level.Iteration)
    public void report() {
        ForwardStats st = model.lastStats();
        if (st == null) {
            return;
        }
        double gf = flops(geometry(shape), merge) / st.totalNanos();
        System.out.printf("%n%s merge=%b: last forward %.0f ms = %.1f GFLOP/s; %s%n", shape, merge,
                st.totalNanos() / 1e6, gf, st);
        if (ceilA != null) {
            double ceil = ceiling();
            System.out.printf("paired %s %s merge=%b: forward %.1f GFLOP/s, ceiling %s gemm %dx1152x4608 %.1f "
                    + "GFLOP/s, ratio %.2f%n", shape, precision, merge, gf, precision, ceilA.dim(0), ceil, gf / ceil);
        }
    }

    /** GFLOP/s of the ceiling product [N, 1152]·[1152, 4608], best of two (XL shapes only). */
    double ceiling() {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 2; i++) {
            long t0 = System.nanoTime();
            if (ceilPacked != null) {
                Bf16Gemm.linear(ceilA, ceilPacked, null, ceilC, ceilScratch, Bf16Gemm.Route.NATIVE);
            } else {
                Gemm.matmul(ceilA, false, ceilB, true, ceilC, 1f, 0f);
            }
            best = Math.min(best, System.nanoTime() - t0);
        }
        return 2.0 * ceilA.dim(0) * 1152 * 4608 / best;
    }

    /** The output of the last forward. */
    Tensor output() {
        return out;
    }

    /** Statistics of the last forward. */
    ForwardStats lastStats() {
        return model.lastStats();
    }

    /** Runs one forward outside the measurement and returns its wall time (for paired comparisons). */
    long timeOne(boolean mergeFrames) {
        long t0 = System.nanoTime();
        model.forward(input, mergeFrames, out);
        return System.nanoTime() - t0;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        model.close();
        weights.close();
        x.close();
        y.close();
        mask.close();
        out.close();
        if (ceilA != null) {
            ceilA.close();
            ceilB.close();
            ceilC.close();
        }
        if (ceilPacked != null) {
            ceilPacked.close();
            ceilScratch.close();
        }
        Bf16Gemm.setRoute(null);
    }

    @Benchmark
    public Tensor forward() {
        model.forward(input, merge, out);
        return out;
    }
}
