package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.golden.Golden;
import io.github.jsora.text.T5Config;
import io.github.jsora.text.T5Encoder;
import io.github.jsora.weights.DType;
import io.github.jsora.weights.RandomModel;
import io.github.jsora.weights.SafetensorsFile;

/**
 * A model directory in the layout users download, built from the golden tiny weights: {@code stdit/} (config.json +
 * model.safetensors of the golden STDiT3), {@code vae/} (the golden VAE decoder), {@code t5/} (config.json, two BF16
 * shards with model.safetensors.index.json, the golden spiece.model; random encoder weights with d_model equal to
 * the STDiT3's caption channels, since the golden T5 is 48 wide and the golden STDiT3 reads 32).
 */
class RealLayoutDirectoryTest {

    @TempDir
    Path dir;

    private static final int D = 32;
    private static final int HEADS = 4;
    private static final int DKV = 8;
    private static final int DFF = 64;
    private static final int LAYERS = 2;
    private static final int VOCAB = 800;

    @Test
    void generatesFromARealLayoutDirectory() throws IOException {
        Path golden = Golden.dir();
        Path model = dir.resolve("model");
        copyWithConfig(golden.resolve("stdit3_tiny_G_weights.safetensors"), model.resolve("stdit"));
        copyWithConfig(golden.resolve("vae_v12_tiny_G_decoder_weights.safetensors"), model.resolve("vae"));
        writeShardedT5(model.resolve("t5"), golden.resolve("t5_spm_tiny_v800.model"));

        try (VideoGenerator gen = VideoGenerator.open(model)) {
            GenerationRequest r = gen.requestBuilder("GNU General Public License").size(32, 24).frames(17).steps(3)
                    .seed(9).preparePrompt(false).build();
            Video a = gen.generate(r);
            assertEquals(17, a.frames().size());
            assertEquals(32, a.width());
            assertEquals(24, a.height());
            assertEquals(3, a.stats().modelEvaluations());
            IllegalArgumentException small = org.junit.jupiter.api.Assertions.assertThrows(
                    IllegalArgumentException.class, () -> gen.generate(r.toBuilder().memoryBudget(1L << 20).build()));
            org.junit.jupiter.api.Assertions.assertTrue(small.getMessage().contains("1048576"), small.getMessage());
            GenerationRequest streamed = r.toBuilder().leapAt(1).tdtmSteps(1).build();
            Video b = gen.generate(streamed.toBuilder().memoryBudget(gen.minimumBudget(streamed)).build());
            org.junit.jupiter.api.Assertions.assertTrue(b.stats().peakNativeBytes() <= gen.minimumBudget(streamed),
                    "jsora's count stays within the budget: " + b.stats());
            assertEquals(2, b.stats().modelEvaluations());
            Video c = gen.generate(r);
            assertArrayEquals(a.frames().get(16).toRgbBytes(), c.frames().get(16).toRgbBytes());
        }
    }

    private static void copyWithConfig(Path weights, Path target) throws IOException {
        Files.createDirectories(target);
        Files.copy(weights, target.resolve("model.safetensors"));
        try (SafetensorsFile f = SafetensorsFile.open(weights)) {
            Files.writeString(target.resolve("config.json"), f.metadata().get("config"));
        }
    }

    private static void writeShardedT5(Path t5, Path spiece) throws IOException {
        Files.createDirectories(t5);
        Files.copy(spiece, t5.resolve("spiece.model"));
        Files.writeString(t5.resolve("config.json"), "{\"architectures\": [\"T5EncoderModel\"], \"d_model\": " + D
                + ", \"d_kv\": " + DKV + ", \"num_heads\": " + HEADS + ", \"d_ff\": " + DFF + ", \"num_layers\": "
                + LAYERS + ", \"vocab_size\": " + VOCAB + ", \"relative_attention_num_buckets\": 32, "
                + "\"relative_attention_max_distance\": 128, \"layer_norm_epsilon\": 1e-06, "
                + "\"feed_forward_proj\": \"gated-gelu\", \"dense_act_fn\": \"gelu_new\", \"is_gated_act\": true}");
        // BF16, two shards like the real download: the embedding and block 0 in the first, the rest in the second
        T5Config cfg = T5Config.read(t5.resolve("config.json"));
        assertEquals(2, RandomModel.seeded(5).writeSharded(t5, RandomModel.tensors(T5Encoder.layout(cfg,
                T5Encoder.SHARED)), RandomModel.Format.of(DType.BF16).metadata("format", "pt"), 72 * 1024).size());
    }
}
