package io.github.jsora.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
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

import io.github.jsora.GenerationRequest;
import io.github.jsora.Video;
import io.github.jsora.VideoGenerator;
import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.text.T5Config;
import io.github.jsora.text.T5Encoder;
import io.github.jsora.weights.DType;
import io.github.jsora.weights.ModelConfig;
import io.github.jsora.weights.RandomModel;

/**
 * Prompt to frames (and to a GIF) through {@link VideoGenerator}, 30 steps, cfg 7:
 * <ul>
 * <li>{@code demo}: the embedded demo model, 64×64, 17 frames;</li>
 * <li>{@code mid}: a random model in the real layout written by the benchmark (BF16 safetensors): STDiT3 hidden
 * 384, depth 4, 6 heads, caption 256; T5 d_model 256, 2 layers; the demo VAE; 128×128, 17 frames (5×16×16
 * latent, 1,280 tokens per sample).</li>
 * </ul>
 * with the techniques off, LPL 16/30, TDTM 15/30 and both. Secondary results give the per-stage seconds of the
 * last generation of each iteration (text, denoise, decode, write) and the model evaluations.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 2)
@Fork(value = 1, jvmArgs = {"-Xmx6g", "--add-modules=jdk.incubator.vector"})
public class EndToEndBench {

    @Param({"demo", "mid"})
    public String model;

    @Param({"off", "lpl16", "tdtm15", "both"})
    public String techniques;

    private Path dir;
    private VideoGenerator gen;
    private Path gif;

    /** Per-stage seconds of the measured generation, as JMH secondary results. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Stages {
        public double textSeconds;
        public double denoiseSeconds;
        public double decodeSeconds;
        public double writeSeconds;
        public double modelEvaluations;
    }

    @Setup(Level.Trial)
    public void setup() throws IOException {
        dir = Files.createTempDirectory("jsora-e2e-bench");
        gif = dir.resolve("out.gif");
        if (model.equals("demo")) {
            gen = VideoGenerator.openDefault();
        } else {
            Path m = dir.resolve("model");
            writeMidModel(m);
            gen = VideoGenerator.open(m);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        gen.close();
        TempDirs.deleteTree(dir);
    }

    private GenerationRequest request() {
        GenerationRequest.Builder b = gen.requestBuilder("a red circle moving left").seed(1000).steps(30);
        if (model.equals("mid")) {
            b.size(128, 128).frames(17).preparePrompt(false);
        }
        if (techniques.equals("lpl16") || techniques.equals("both")) {
            b.leapAt(15);
        }
        if (techniques.equals("tdtm15") || techniques.equals("both")) {
            b.tdtmSteps(15);
        }
        return b.build();
    }

    @Benchmark
    public Video promptToGif(Stages stages) throws IOException {
        Files.deleteIfExists(gif);
        Video v = gen.generateTo(request(), gif, true, null);
        stages.textSeconds = v.stats().textSeconds();
        stages.denoiseSeconds = v.stats().denoiseSeconds();
        stages.decodeSeconds = v.stats().decodeSeconds();
        stages.writeSeconds = v.stats().writeSeconds();
        stages.modelEvaluations = v.stats().modelEvaluations();
        return v;
    }

    /** Writes the mid-size random model directory (stdit/, t5/ random BF16; vae/ and spiece.model from the demo). */
    static void writeMidModel(Path m) throws IOException {
        Path stdit = Files.createDirectories(m.resolve("stdit"));
        String stditJson = "{\"architectures\": [\"STDiT3\"], \"model_type\": \"STDiT3\", \"hidden_size\": 384, "
                + "\"depth\": 4, \"num_heads\": 6, \"mlp_ratio\": 4.0, \"patch_size\": [1, 2, 2], \"in_channels\": 4, "
                + "\"caption_channels\": 256, \"model_max_length\": 32, \"pred_sigma\": true, \"qk_norm\": true, "
                + "\"class_dropout_prob\": 0.1, \"input_sq_size\": 512}";
        Files.writeString(stdit.resolve("config.json"), stditJson);
        Stdit3Config sc = Stdit3Config.parse("mid stdit", stditJson);
        RandomModel.seeded(1).write(stdit.resolve("model.safetensors"), Stdit3.layout(sc, true),
                RandomModel.Format.of(DType.BF16));

        Path t5 = Files.createDirectories(m.resolve("t5"));
        String t5Json = "{\"architectures\": [\"T5EncoderModel\"], \"d_model\": 256, \"d_kv\": 64, \"num_heads\": 4, "
                + "\"d_ff\": 512, \"num_layers\": 2, \"vocab_size\": 128, \"relative_attention_num_buckets\": 32, "
                + "\"relative_attention_max_distance\": 128, \"layer_norm_epsilon\": 1e-06, "
                + "\"feed_forward_proj\": \"gated-gelu\", \"dense_act_fn\": \"gelu_new\", \"is_gated_act\": true}";
        Files.writeString(t5.resolve("config.json"), t5Json);
        T5Config tc = T5Config.from(ModelConfig.parse("mid t5", t5Json));
        RandomModel.seeded(2).write(t5.resolve("model.safetensors"), T5Encoder.layout(tc, "shared.weight"),
                RandomModel.Format.of(DType.BF16));
        copyResource("t5/spiece.model", t5.resolve("spiece.model"));

        Path vae = Files.createDirectories(m.resolve("vae"));
        copyResource("vae/config.json", vae.resolve("config.json"));
        copyResource("vae/model.safetensors", vae.resolve("model.safetensors"));
    }

    private static void copyResource(String name, Path target) throws IOException {
        try (InputStream in = EndToEndBench.class.getResourceAsStream("/io/github/jsora/demo-model/" + name)) {
            if (in == null) {
                throw new IOException("demo model resource " + name + " missing");
            }
            Files.copy(in, target);
        }
    }
}
