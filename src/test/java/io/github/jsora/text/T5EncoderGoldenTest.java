package io.github.jsora.text;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.ModelConfig;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.SafetensorsFile;

/**
 * Golden kind {@code t5_encoder_fwd}: the encoder's last hidden state within 1e-5 of the reference, and every
 * stored intermediate ({@code act.hidden_states.*}, {@code act.last_block_out_before_final_norm},
 * {@code act.position_bias_block0}) and the relative-position bucket table ({@code rel_bucket.*}, exact).
 */
class T5EncoderGoldenTest {

    static final String KIND = "t5_encoder_fwd";
    static final double TOL = 1e-5;

    @TestFactory
    Stream<DynamicTest> t5EncoderForward() {
        return Golden.tests(KIND, T5EncoderGoldenTest::runCase);
    }

    static void runCase(Path file) {
        try (SafetensorsFile c = Golden.open(file);
                Checkpoint weights = Checkpoint.open(Golden.resource(file, c, "weights"))) {
            String configJson = c.metadata().get("config");
            assertTrue(configJson != null, file.getFileName() + ": metadata has no \"config\"");
            T5Config config = T5Config.from(ModelConfig.parse(file + " config", configJson));
            BlockLayout layout = T5Encoder.layoutFor(config, weights);
            int[][] ids = Golden.intRows(c, "in.input_ids");
            int[][] mask = Golden.intRows(c, "in.attention_mask");
            checkPromptTokenization(file, c, ids, mask);

            // relative-position bucket table (float32 log formula), exact
            if (c.contains("rel_bucket.relative_position")) {
                long[] rp = c.loadLongs("rel_bucket.relative_position");
                long[] expected = c.loadLongs("rel_bucket.bucket");
                float[] e = new float[rp.length];
                float[] a = new float[rp.length];
                for (int i = 0; i < rp.length; i++) {
                    e[i] = expected[i];
                    a[i] = T5Encoder.relativePositionBucket((int) rp[i], true, config.relativeAttentionNumBuckets(),
                            config.relativeAttentionMaxDistance());
                }
                Golden.check(KIND, file, "rel_bucket.bucket", e, a, 0);
            }

            Map<String, Tensor> acts = new HashMap<>();
            try (ResidentBlockSource source = new ResidentBlockSource(weights, layout)) {
                T5Encoder enc = new T5Encoder(config, source);
                try (Tensor out = enc.forward(ids, mask, (name, t, index) -> acts.put(name, t.copy()))) {
                    for (int i = 0; i <= config.numLayers(); i++) {
                        compare(c, file, "act.hidden_states." + i, acts.get("hidden_states." + i), TOL);
                    }
                    compare(c, file, "act.last_block_out_before_final_norm",
                            acts.get("last_block_out_before_final_norm"), TOL);
                    if (c.contains("act.position_bias_block0")) {
                        Tensor pb = acts.get("position_bias");
                        int[] s = pb.shape();
                        compare(c, file, "act.position_bias_block0", pb.reshape(1, s[0], s[1], s[2]), 0);
                    }
                    compare(c, file, "out.last_hidden_state", out, TOL);
                }
            } finally {
                acts.values().forEach(Tensor::close);
            }
        }
    }

    /**
     * When the case names its prompts and tokenizer (metadata "prompts" and "tokenizer", whose first word is a
     * .model file beside the case), the Hugging Face convention at the case's length must give the stored ids.
     */
    private static void checkPromptTokenization(Path file, SafetensorsFile c, int[][] ids, int[][] mask) {
        String prompts = c.metadata().get("prompts");
        String tok = c.metadata().get("tokenizer");
        if (prompts == null || tok == null) {
            return;
        }
        Path model = file.toAbsolutePath().getParent().resolve(tok.trim().split("\\s+")[0]);
        if (!java.nio.file.Files.isRegularFile(model)) {
            return;
        }
        java.util.List<String> list = new java.util.ArrayList<>();
        for (Object o : (java.util.List<?>) io.github.jsora.weights.Json.parse(prompts)) {
            list.add((String) o);
        }
        T5Tokenizer t5 = new T5Tokenizer(SentencePieceTokenizer.load(model),
                T5Tokenizer.Options.huggingFace(ids[0].length));
        TokenizedBatch batch = t5.encode(list);
        int bad = 0;
        for (int b = 0; b < ids.length; b++) {
            if (!java.util.Arrays.equals(ids[b], batch.ids(b)) || !java.util.Arrays.equals(mask[b], batch.mask(b))) {
                bad++;
            }
        }
        System.out.printf("golden %s %s in.input_ids from prompts: %d/%d rows exact %s%n", KIND, file.getFileName(),
                ids.length - bad, ids.length, bad == 0 ? "PASS" : "FAIL");
        org.junit.jupiter.api.Assertions.assertEquals(0, bad, "prompt rows tokenized differently");
    }

    private static void compare(SafetensorsFile c, Path file, String name, Tensor actual, double tol) {
        if (!c.contains(name)) {
            return;
        }
        assertTrue(actual != null, name + " was not produced");
        try (Tensor expected = c.load(name)) {
            Golden.check(KIND, file, name, expected, actual, tol);
        }
    }
}
