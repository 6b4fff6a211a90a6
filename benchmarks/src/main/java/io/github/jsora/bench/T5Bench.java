package io.github.jsora.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.text.SentencePieceTokenizer;
import io.github.jsora.text.T5Config;
import io.github.jsora.text.T5Encoder;
import io.github.jsora.text.T5Tokenizer;
import io.github.jsora.text.TokenizedBatch;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.RandomModel;

/**
 * Text side throughput.
 *
 * <ul>
 * <li>{@code tokenizeRaw} / {@code tokenizeOpenSora}: one 200-character prompt through sentencepiece alone, and
 *     through the full T5 tokenizer with Open-Sora preparation (score + cleaning twice, 300 ids + mask). Model: the
 *     golden 800-piece unigram model with the nmt_nfkc map ({@code testdata/golden/t5_spm_tiny_v800.model}, or
 *     {@code -Djsora.spm=PATH}, e.g. a real {@code spiece.model}). Throughput mode: ops/s = prompts/s.</li>
 * <li>{@code t5BlockXxl}: the encoder with ONE block at T5 v1.1 XXL width (d 4096, 64 heads × 64, d_ff 10240,
 *     gated GELU), 300 tokens, batch 1, random weights (vocabulary cut to 1000 rows; embedding and final norm are
 *     negligible). FLOPs per block = 2·L·(4·d·H·dk + 3·d·d_ff) + 4·H·L²·dk = 117.24 GFLOP at L = 300;
 *     GFLOP/s = 117.24 / (seconds per op).</li>
 * <li>{@code gemmCeiling}: the block's largest product alone, {@code [300,4096]·[10240,4096]ᵀ} through
 *     {@link Gemm#linear} (25.17 GFLOP), the ceiling the block is compared with in the same run.</li>
 * <li>{@code t5BlockGemms}: the block's seven weight products alone (q, k, v, o, wi_0, wi_1, wo; 115.76 GFLOP):
 *     block time / this time = the share of the block that is not weight GEMM.</li>
 * </ul>
 * {@code precision = fp32 / bf16}: float32 compute, or bf16 compute (the seven products' weights packed to bf16,
 * {@link Bf16Gemm} on the native route, fast softmax and fused GELU·mul); {@code gemmCeiling} and
 * {@code t5BlockGemms} then run the same products as native {@link Bf16Gemm#linear} calls, so the block's ratio to
 * the ceiling of its own precision is {@code gemmCeiling time · 117.24 / (25.17 · t5BlockXxl time)}.
 */
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgs = {"-Xmx8g", "--add-modules=jdk.incubator.vector"})
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 3)
public class T5Bench {

    @Param({"fp32", "bf16"})
    public String precision;

    static final int L = 300;
    static final T5Config XXL_BLOCK = new T5Config(1000, 4096, 64, 64, 10240, 1, 32, 128, 1e-6, "gated-gelu");

    /** FLOPs of one XXL block at L tokens (the formula of the class comment). */
    public static double blockFlops(T5Config c, int l) {
        return 2.0 * l * (4.0 * c.dModel() * c.innerDim() + 3.0 * c.dModel() * c.dFf())
                + 4.0 * c.numHeads() * (double) l * l * c.dKv();
    }

    private SentencePieceTokenizer spm;
    private T5Tokenizer t5;
    private String prompt;
    private Map<String, Tensor> weights;
    private BlockSource source;
    private T5Encoder encoder;
    private int[][] ids;
    private int[][] mask;
    private Tensor x;
    private Tensor y;
    private Tensor q;
    private Tensor ff;
    private Tensor ff2;
    private Map<String, PackedWeight> packed; // bf16: the block's product weights
    private Tensor scratch;

    static Path findModel() {
        String p = System.getProperty("jsora.spm");
        if (p != null) {
            return Path.of(p);
        }
        for (String c : List.of("testdata/golden/t5_spm_tiny_v800.model", "../testdata/golden/t5_spm_tiny_v800.model")) {
            if (Files.isRegularFile(Path.of(c))) {
                return Path.of(c);
            }
        }
        throw new IllegalStateException("no tokenizer model found; run from the project root or set -Djsora.spm");
    }


    @Setup(Level.Trial)
    public void setup() {
        spm = SentencePieceTokenizer.load(findModel());
        t5 = new T5Tokenizer(spm, T5Tokenizer.Options.openSora());
        prompt = "A cinematic drone shot flies over a snowy mountain range at sunrise, golden light spilling across "
                + "the peaks while clouds drift slowly through the valleys below, 4K, highly detailed, calm mood.";
        prompt = (prompt + " " + prompt).substring(0, 200);

        Random rnd = new Random(1);
        BlockLayout layout = T5Encoder.layout(XXL_BLOCK, T5Encoder.SHARED);
        boolean bf16 = precision.equals("bf16");
        if (bf16) {
            Bf16Gemm.setRoute(Bf16Gemm.Route.NATIVE);
            source = RandomModel.seeded(1).bf16ComputeSource(layout, T5Encoder.BF16_PRODUCTS);
            packed = new LinkedHashMap<>();   // the product weights, held packed
        } else if (precision.equals("fp32")) {
            source = RandomModel.seeded(1).source(layout);
        } else {
            throw new IllegalArgumentException("precision must be fp32 or bf16, found " + precision);
        }
        weights = new LinkedHashMap<>();
        for (BlockLayout.BlockSpec spec : layout.blocks()) {
            Block blk = source.acquire(spec.name());
            for (String n : spec.tensors().keySet()) {
                if (blk.packed(n) != null) {
                    packed.put(n, blk.packed(n));
                } else {
                    weights.put(n, blk.get(n));
                }
            }
            source.release(blk);
        }
        if (bf16) {
            scratch = Tensor.zeros(Math.toIntExact(Bf16Gemm.scratchFloats(L,
                    packed.get("encoder.block.0.layer.1.DenseReluDense.wo.weight"))));
        }
        encoder = new T5Encoder(XXL_BLOCK, source);
        TokenizedBatch b = new T5Tokenizer(spm, T5Tokenizer.Options.openSora().withExtraIds(0)).encode(prompt);
        ids = b.inputIds();
        mask = b.attentionMask();
        x = GemmBench.random(rnd, 1f, L, 4096);
        y = Tensor.zeros(L, 10240);
        q = Tensor.zeros(L, 4096);
        ff = Tensor.zeros(L, 10240);
        ff2 = Tensor.zeros(L, 4096);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        source.close();   // frees every weight tensor
        x.close();
        y.close();
        q.close();
        ff.close();
        ff2.close();
        if (scratch != null) {
            scratch.close();
        }
        Bf16Gemm.setRoute(null);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public int[] tokenizeRaw() {
        return spm.encode(prompt);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public TokenizedBatch tokenizeOpenSora() {
        return t5.encode(prompt);
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public float t5BlockXxl() {
        try (Tensor out = encoder.forward(ids, mask)) {
            return out.get(0);
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public Tensor t5BlockGemms() {
        String p = "encoder.block.0.layer.";
        for (String n : new String[] {"0.SelfAttention.q.weight", "0.SelfAttention.k.weight", "0.SelfAttention.v.weight",
            "0.SelfAttention.o.weight"}) {
            product(x, p + n, q);
        }
        product(x, p + "1.DenseReluDense.wi_0.weight", ff);
        product(x, p + "1.DenseReluDense.wi_1.weight", ff);
        product(ff, p + "1.DenseReluDense.wo.weight", ff2);
        return ff2;
    }

    /** out = x·Wᵀ with a block-0 weight in this run's precision. */
    private void product(Tensor in, String name, Tensor out) {
        if (packed != null) {
            Bf16Gemm.linear(in, packed.get(name), null, out, scratch, Bf16Gemm.Route.NATIVE);
        } else {
            Gemm.linear(in, weights.get(name), null, out);
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public Tensor gemmCeiling() {
        product(x, "encoder.block.0.layer.1.DenseReluDense.wi_0.weight", y);
        return y;
    }
}
