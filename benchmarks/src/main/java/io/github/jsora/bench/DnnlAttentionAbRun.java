package io.github.jsora.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.matmul;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.stream;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.indexer.Bfloat16Indexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tensor;

/**
 * STDiT3-XL's spatial self-attention of one forward (B·T = 40 frames of S = 256 tokens, 16 heads of 72, on the
 * in-place qkv rows [B·T·S, 3C]) two ways, alternated round by round in one process:
 * <ul>
 * <li><b>jsora</b>: {@link Attention#sdpa} on the strided heads, {@link Attention.Schedule#PER_THREAD}, fast softmax,
 * float32 OpenBLAS products (what bf16 compute runs today);</li>
 * <li><b>oneDNN bf16</b>: qkv rounded to bf16 and permuted to dense heads [3][B·T, H, S, D] once (ND4J's cast), then
 * per chunk of frames a 4-D batched oneDNN matmul [F, H, S, D]·[F, H, D, S] → float32 scores, the same fast softmax in Java writing bf16
 * probabilities, and a second batched matmul [F, H, S, S]·[F, H, S, D] → float32 straight into the output rows;
 * oneDNN 2.5.2 of the JavaCPP presets (AMX brgemm where granted), primitives made once.</li>
 * </ul>
 * Prints per round both times (the oneDNN one split into the permuting cast, scores, softmax and values), the
 * relative L2 difference of the outputs, and the oneDNN implementation names; then the MLP's first product through
 * the presets with a float32 and with a bf16 output. oneDNN's AMX kernel takes the dense
 * heads only: on the in-place strided heads it picks {@code gemm:jit}, and a value product written straight into the
 * output rows does too; {@code -DdenseOut=true} writes the values densely instead (heads not merged back, so that
 * variant's output is not compared). A measurement for a possible route, not used by the library.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.DnnlAttentionAbRun [rounds=5] [framesPerChunk=2]}.
 */
public final class DnnlAttentionAbRun {

    private static final int FRAMES = 40;
    private static final int S = 256;
    private static final int H = 16;
    private static final int D = 72;
    private static final int C = H * D;

    private DnnlAttentionAbRun() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int fc = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        if (FRAMES % fc != 0) {
            throw new IllegalArgumentException("framesPerChunk must divide " + FRAMES + ", found " + fc);
        }
        int rows = FRAMES * S;
        float scale = (float) (1 / Math.sqrt(D));
        SplittableRandom rnd = new SplittableRandom(5);
        float[] init = new float[3 * C];
        try (Tensor qkv = Tensor.zeros(rows, 3 * C); Tensor ref = Tensor.zeros(rows, C); Tensor got = Tensor.zeros(rows, C);
                Tensor scratch = Tensor.zeros(2 * Parallel.threads() * 65536);
                Tensor qkvB = Tensor.zeros(rows * 3 * C / 2);
                Tensor scores = Tensor.zeros(fc * H * S * S);
                Tensor probs = Tensor.zeros(fc * H * S * S / 2)) {
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < init.length; i++) {
                    init[i] = (float) (rnd.nextGaussian() * 1.5);
                }
                qkv.write((long) r * 3 * C, init, 0, init.length);
            }
            // jsora's strided operands: matrix (f, h)
            long[] qo = new long[FRAMES * H];
            long[] ko = new long[FRAMES * H];
            long[] vo = new long[FRAMES * H];
            long[] oo = new long[FRAMES * H];
            for (int f = 0; f < FRAMES; f++) {
                for (int h = 0; h < H; h++) {
                    qo[f * H + h] = (long) f * S * 3 * C + h * D;
                    ko[f * H + h] = qo[f * H + h] + C;
                    vo[f * H + h] = qo[f * H + h] + 2 * C;
                    oo[f * H + h] = (long) f * S * C + h * D;
                }
            }
            Attention.Strided q = new Attention.Strided(qkv, qo, 3 * C);
            Attention.Strided k = new Attention.Strided(qkv, ko, 3 * C);
            Attention.Strided v = new Attention.Strided(qkv, vo, 3 * C);
            Attention.Strided out = new Attention.Strided(ref, oo, C);

            engine eng = new engine(engine.kind.cpu, 0);
            stream st = new stream(eng);
            // dense heads [3][F, H, S, D] in bf16 (q, k, v), made by one permuting cast
            long hsd = (long) H * S * D;
            memory.desc qd = desc(new long[] {fc, H, S, D}, memory.data_type.bf16, new long[] {hsd, (long) S * D, D, 1});
            memory.desc kd = desc(new long[] {fc, H, D, S}, memory.data_type.bf16, new long[] {hsd, (long) S * D, 1, D});
            memory.desc sd = desc(new long[] {fc, H, S, S}, memory.data_type.f32, new long[] {(long) H * S * S, (long) S * S, S, 1});
            memory.desc pd = desc(new long[] {fc, H, S, S}, memory.data_type.bf16, new long[] {(long) H * S * S, (long) S * S, S, 1});
            memory.desc vd = desc(new long[] {fc, H, S, D}, memory.data_type.bf16, new long[] {hsd, (long) S * D, D, 1});
            boolean denseOut = Boolean.getBoolean("denseOut");
            memory.desc od = denseOut
                    ? desc(new long[] {fc, H, S, D}, memory.data_type.f32, new long[] {hsd, (long) S * D, D, 1})
                    : desc(new long[] {fc, H, S, D}, memory.data_type.f32, new long[] {(long) S * C, D, C, 1});
            matmul.primitive_desc scorePd = new matmul.primitive_desc(new matmul.desc(qd, kd, sd), eng);
            matmul.primitive_desc valuePd = new matmul.primitive_desc(new matmul.desc(pd, vd, od), eng);
            System.out.printf("oneDNN: scores %s, values %s; %d frames a chunk%n", scorePd.impl_info_str().getString(),
                    valuePd.impl_info_str().getString(), fc);
            matmul scoreMm = new matmul(scorePd);
            matmul valueMm = new matmul(valuePd);
            INDArray heads = bf16(addr(qkvB), rows, 3 * C).reshape(3, FRAMES, H, S, D);
            INDArray permutedSource = qkv.nd4j().reshape(FRAMES, S, 3, H, D).permute(2, 0, 3, 1, 4);
            long plane = 2L * FRAMES * hsd; // bytes of one of q, k, v
            double[][] ms = new double[2][rounds];
            double[] cast = new double[rounds];
            for (int round = -1; round < rounds; round++) {
                long t0 = System.nanoTime();
                Attention.sdpa(q, k, v, S, S, D, D, scale, scratch, out, Attention.Softmax.FAST, Attention.Schedule.PER_THREAD);
                long t1 = System.nanoTime();
                long[] parts = new long[3];
                long c0 = System.nanoTime();
                heads.assign(permutedSource);
                cast[Math.max(0, round)] = (System.nanoTime() - c0) / 1e6;
                for (int f0 = 0; f0 < FRAMES; f0 += fc) {
                    long base = addr(qkvB) + 2L * f0 * hsd;
                    IntMemoryMap a = new IntMemoryMap();
                    a.put(dnnl.DNNL_ARG_SRC, new memory(qd, eng, new PagedPointer(base)));
                    a.put(dnnl.DNNL_ARG_WEIGHTS, new memory(kd, eng, new PagedPointer(base + plane)));
                    a.put(dnnl.DNNL_ARG_DST, new memory(sd, eng, new PagedPointer(addr(scores))));
                    long a0 = System.nanoTime();
                    scoreMm.execute(st, a);
                    st._wait();
                    long a1 = System.nanoTime();
                    softmaxToBf16(scores, probs, fc * H * S, S, scale);
                    long a2 = System.nanoTime();
                    parts[0] += a1 - a0;
                    parts[1] += a2 - a1;
                    IntMemoryMap b = new IntMemoryMap();
                    b.put(dnnl.DNNL_ARG_SRC, new memory(pd, eng, new PagedPointer(addr(probs))));
                    b.put(dnnl.DNNL_ARG_WEIGHTS, new memory(vd, eng, new PagedPointer(base + 2 * plane)));
                    b.put(dnnl.DNNL_ARG_DST, new memory(od, eng, new PagedPointer(addr(got) + 4L * f0 * S * C)));
                    long b0 = System.nanoTime();
                    valueMm.execute(st, b);
                    st._wait();
                    parts[2] += System.nanoTime() - b0;
                }
                long t2 = System.nanoTime();
                if (round >= 0) {
                    ms[0][round] = (t1 - t0) / 1e6;
                    ms[1][round] = (t2 - t1) / 1e6;
                }
                System.out.printf(Locale.ROOT, "round %d: jsora %.1f ms, oneDNN bf16 %.1f ms (of it the permuting cast %.1f, scores %.1f, softmax %.1f, values %.1f); relative L2 difference %s%n",
                        round, (t1 - t0) / 1e6, (t2 - t1) / 1e6, cast[Math.max(0, round)], parts[0] / 1e6, parts[1] / 1e6, parts[2] / 1e6,
                        denseOut ? "n/a (dense output, heads not merged)"
                                : String.format(Locale.ROOT, "%.2e", relL2(got.toArray(), ref.toArray())));
            }
            System.out.printf(Locale.ROOT, "median: jsora %.1f ms, oneDNN bf16 %.1f ms%n", Medians.of(ms[0]),
                    Medians.of(ms[1]));
            linearOutputs(eng, st, rounds);
        }
    }

    /**
     * The MLP's first product [10240, 1152]·[4608, 1152]ᵀ in bf16 through the presets, with a float32 output and with
     * a bf16 one (which ND4J's op forces and jsora then widens), alternated.
     */
    private static void linearOutputs(engine eng, stream st, int rounds) {
        long m = 10240;
        long k = 1152;
        long n = 4608;
        try (Tensor x = Tensor.zeros(Math.toIntExact(m * k / 2)); Tensor w = Tensor.zeros(Math.toIntExact(n * k / 2));
                Tensor out32 = Tensor.zeros(Math.toIntExact(m * n)); Tensor out16 = Tensor.zeros(Math.toIntExact(m * n / 2))) {
            memory.desc src = desc(new long[] {m, k}, memory.data_type.bf16, new long[] {k, 1});
            memory.desc wei = desc(new long[] {k, n}, memory.data_type.bf16, new long[] {1, k});
            matmul[] mm = new matmul[2];
            IntMemoryMap[] args = new IntMemoryMap[2];
            memory.data_type[] types = {memory.data_type.f32, memory.data_type.bf16};
            Tensor[] outs = {out32, out16};
            for (int i = 0; i < 2; i++) {
                memory.desc dst = desc(new long[] {m, n}, types[i], new long[] {n, 1});
                matmul.primitive_desc pd = new matmul.primitive_desc(new matmul.desc(src, wei, dst), eng);
                System.out.printf("linear %dx%dx%d, %s output: %s%n", m, k, n, i == 0 ? "float32" : "bf16",
                        pd.impl_info_str().getString());
                mm[i] = new matmul(pd);
                args[i] = new IntMemoryMap();
                args[i].put(dnnl.DNNL_ARG_SRC, new memory(src, eng, new PagedPointer(addr(x))));
                args[i].put(dnnl.DNNL_ARG_WEIGHTS, new memory(wei, eng, new PagedPointer(addr(w))));
                args[i].put(dnnl.DNNL_ARG_DST, new memory(dst, eng, new PagedPointer(addr(outs[i]))));
            }
            double gflop = 2.0 * m * k * n / 1e9;
            for (int r = -1; r < rounds; r++) {
                double[] rate = new double[2];
                for (int i = 0; i < 2; i++) {
                    long t0 = System.nanoTime();
                    mm[i].execute(st, args[i]);
                    st._wait();
                    rate[i] = gflop / ((System.nanoTime() - t0) / 1e9);
                }
                System.out.printf(Locale.ROOT, "round %d: linear float32 output %.0f GFLOP/s, bf16 output %.0f GFLOP/s%n",
                        r, rate[0], rate[1]);
            }
        }
    }

    /** Native address of a tensor's first element (through its ND4J view). */
    private static long addr(Tensor t) {
        INDArray a = t.nd4j();
        return a.data().address() + a.offset() * Float.BYTES;
    }

    private static memory.desc desc(long[] dims, memory.data_type type, long[] strides) {
        return new memory.desc(dims, type, strides);
    }

    /** C-order BFLOAT16 ND4J view of rows·cols values at a native address. */
    private static INDArray bf16(long address, int rows, int cols) {
        long n = (long) rows * cols;
        ShortPointer sp = new ShortPointer(new PagedPointer(address)).capacity(n).limit(n);
        DataBuffer db = Nd4j.createBuffer(new PagedPointer(address), DataType.BFLOAT16, n, Bfloat16Indexer.create(sp));
        return Nd4j.create(db, new long[] {rows, cols}, new long[] {cols, 1}, 0, 'c', DataType.BFLOAT16);
    }

    /** probs (bf16, round to nearest even) = fast softmax of scale·scores, row by row, in parallel. */
    private static void softmaxToBf16(Tensor scores, Tensor probs, int rows, int n, float scale) {
        Parallel.forRange(rows, 8L * n, (from, to) -> {
            float[] row = new float[n];
            short[] h = new short[n];
            java.nio.ShortBuffer pb = new ShortPointer(new PagedPointer(addr(probs) + 2L * from * n))
                    .capacity((long) (to - from) * n).limit((long) (to - from) * n).asBuffer();
            for (int r = from; r < to; r++) {
                scores.read((long) r * n, row, 0, n);
                Ops.softmaxRowsFast(row, 0, 1, n, scale);
                for (int i = 0; i < n; i++) {
                    int bits = Float.floatToRawIntBits(row[i]);
                    h[i] = (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
                }
                pb.put((r - from) * n, h, 0, n);
            }
        });
    }

    private static double relL2(float[] a, float[] b) {
        double e = 0;
        double r = 0;
        for (int i = 0; i < a.length; i++) {
            e += (a[i] - b[i]) * (double) (a[i] - b[i]);
            r += (double) b[i] * b[i];
        }
        return Math.sqrt(e / r);
    }
}
