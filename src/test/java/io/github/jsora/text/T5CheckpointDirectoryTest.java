package io.github.jsora.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.DType;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.SafetensorsFile;
import io.github.jsora.weights.SafetensorsWriter;
import io.github.jsora.weights.WeightFormatException;

/**
 * The real checkpoint layout: a directory with config.json, spiece.model, two BF16 shards and
 * model.safetensors.index.json (plus decoder tensors that must be ignored), built from the golden T5 weights, loads
 * through {@link T5TextEncoder} and gives the output of a float32 run on the same BF16-rounded weights.
 */
class T5CheckpointDirectoryTest {

    static final Path GOLDEN = Path.of(Golden.DEFAULT_DIR);
    static final Path CASE = GOLDEN.resolve("t5_encoder_fwd.safetensors");

    static float[] bf16Round(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = DType.bf16ToFloat(DType.floatToBf16(a[i]));
        }
        return r;
    }

    /** Writes the T5 checkpoint directory; {@code embeddingNames} chooses which embedding keys are stored. */
    static Path buildDirectory(Path dir, DType dtype, String... embeddingNames) throws IOException {
        try (SafetensorsFile c = SafetensorsFile.open(CASE);
                SafetensorsFile w = SafetensorsFile.open(GOLDEN.resolve(c.metadata().get("weights")))) {
            Files.writeString(dir.resolve("config.json"), c.metadata().get("config"));
            Files.copy(GOLDEN.resolve("t5_spm_tiny_v800.model"), dir.resolve("spiece.model"));
            SafetensorsWriter s1 = new SafetensorsWriter().metadata("format", "pt");
            SafetensorsWriter s2 = new SafetensorsWriter().metadata("format", "pt");
            Map<String, String> weightMap = new LinkedHashMap<>();
            List<String> keep = new ArrayList<>(List.of(embeddingNames));
            for (String name : w.names()) {
                boolean emb = name.equals(T5Encoder.SHARED) || name.equals(T5Encoder.EMBED_TOKENS);
                if (emb && !keep.contains(name)) {
                    continue;
                }
                boolean first = emb || name.startsWith("encoder.block.0.");
                try (Tensor t = w.load(name)) {
                    (first ? s1 : s2).add(name, t, dtype);
                }
                weightMap.put(name, first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
            }
            // decoder tensors of a full T5 checkpoint: present in the files, ignored by the encoder
            s2.add("decoder.final_layer_norm.weight", new float[48], new int[] {48}, dtype);
            weightMap.put("decoder.final_layer_norm.weight", "model-00002-of-00002.safetensors");
            s1.write(dir.resolve("model-00001-of-00002.safetensors"), false);
            s2.write(dir.resolve("model-00002-of-00002.safetensors"), false);
            StringBuilder idx = new StringBuilder("{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
            String sep = "";
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                idx.append(sep).append('"').append(e.getKey()).append("\": \"").append(e.getValue()).append('"');
                sep = ", ";
            }
            Files.writeString(dir.resolve("model.safetensors.index.json"), idx.append("}}").toString());
        }
        return dir;
    }

    @Test
    void shardedBf16DirectoryMatchesFloat32RunOnRoundedWeights(@TempDir Path tmp) throws IOException {
        Path dir = buildDirectory(Files.createDirectory(tmp.resolve("t5")), DType.BF16, T5Encoder.SHARED,
                T5Encoder.EMBED_TOKENS);
        try (SafetensorsFile c = SafetensorsFile.open(CASE);
                SafetensorsFile w = SafetensorsFile.open(GOLDEN.resolve(c.metadata().get("weights")));
                T5TextEncoder te = T5TextEncoder.open(dir, T5Tokenizer.Options.huggingFace(16), T5TextEncoder.RESIDENT)) {
            int[][] ids = Golden.intRows(c, "in.input_ids");
            int[][] mask = Golden.intRows(c, "in.attention_mask");
            // reference: the same float32 code on BF16-rounded weights held in float32 tensors
            T5Config cfg = te.config();
            BlockLayout layout = T5Encoder.layoutFor(cfg, w);
            try (Tensor out = te.encoder().forward(ids, mask);
                    Tensor full = c.load("out.last_hidden_state");
                    BlockSource ref = bf16RoundedSource(layout, w)) {
                try (Tensor expected = new T5Encoder(cfg, ref).forward(ids, mask)) {
                    double err = Golden.maxAbsErr(expected.toArray(), out.toArray());
                    System.out.printf("t5 sharded BF16 directory vs float32 run on BF16-rounded weights: "
                            + "max_abs_err=%.3e (tol 1e-6)%n", err);
                    assertTrue(err <= 1e-6, "sharded BF16 checkpoint differs from the rounded-weight run by " + err);
                }
                // informational: distance to the full-precision reference, bounded by BF16's 2^-9 relative step
                double drift = Golden.maxAbsErr(full.toArray(), out.toArray());
                double maxRef = 0;
                for (float f : full.toArray()) {
                    maxRef = Math.max(maxRef, Math.abs(f));
                }
                System.out.printf("t5 sharded BF16 directory vs float32 golden: max_abs_err=%.3e (max |ref| %.2f)%n",
                        drift, maxRef);
                assertTrue(drift < 0.05 * maxRef, "BF16 drift " + drift + " is beyond 5% of max |ref|");
            }
            // prompt path end to end: tokenizer + encoder give y [B, 1, L, d] and mask [B, L]
            List<String> prompts = new ArrayList<>();
            for (Object o : (List<?>) io.github.jsora.weights.Json.parse(c.metadata().get("prompts"))) {
                prompts.add((String) o);
            }
            try (TextEmbedding e = te.encode(prompts)) {
                assertTrue(e.y().hasShape(3, 1, 16, 48), e.y().shapeString());
                assertTrue(e.mask().hasShape(3, 16), e.mask().shapeString());
                for (int b = 0; b < 3; b++) {
                    assertEquals(java.util.Arrays.toString(ids[b]), java.util.Arrays.toString(e.tokens().ids(b)));
                }
            }
        }
    }

    @Test
    void embedTokensKeyAloneIsAccepted(@TempDir Path tmp) throws IOException {
        Path dir = buildDirectory(Files.createDirectory(tmp.resolve("t5")), DType.F32, T5Encoder.EMBED_TOKENS);
        try (SafetensorsFile c = SafetensorsFile.open(CASE);
                T5TextEncoder te = T5TextEncoder.open(dir, T5Tokenizer.Options.huggingFace(16), T5TextEncoder.RESIDENT);
                Tensor out = te.encoder().forward(Golden.intRows(c, "in.input_ids"), Golden.intRows(c, "in.attention_mask"));
                Tensor expected = c.load("out.last_hidden_state")) {
            Golden.check("t5_encoder_fwd", CASE, "via encoder.embed_tokens.weight directory", expected, out, 1e-5);
        }
    }

    @Test
    void missingEmbeddingAndMissingFilesFailClearly(@TempDir Path tmp) throws IOException {
        Path dir = buildDirectory(Files.createDirectory(tmp.resolve("t5")), DType.F32);
        WeightFormatException e = assertThrows(WeightFormatException.class,
                () -> T5TextEncoder.open(dir, T5Tokenizer.Options.huggingFace(16), T5TextEncoder.RESIDENT));
        assertTrue(e.getMessage().contains("shared.weight"), e.getMessage());
        Files.delete(dir.resolve("spiece.model"));
        e = assertThrows(WeightFormatException.class, () -> T5TextEncoder.open(dir));
        assertTrue(e.getMessage().contains("spiece.model"), e.getMessage());
    }

    @Test
    void blockLoopAcquiresInLayoutOrderAndReleasesEveryBlock() {
        try (SafetensorsFile c = SafetensorsFile.open(CASE);
                Checkpoint w = Checkpoint.open(GOLDEN.resolve(c.metadata().get("weights")))) {
            T5Config cfg = T5Config.from(io.github.jsora.weights.ModelConfig.parse("cfg", c.metadata().get("config")));
            BlockLayout layout = T5Encoder.layoutFor(cfg, w);
            List<String> events = new ArrayList<>();
            try (ResidentBlockSource inner = new ResidentBlockSource(w, layout)) {
                BlockSource recording = new BlockSource() {
                    @Override
                    public BlockLayout layout() {
                        return inner.layout();
                    }

                    @Override
                    public Block acquire(String blockName) {
                        events.add("+" + blockName);
                        return inner.acquire(blockName);
                    }

                    @Override
                    public void release(Block block) {
                        events.add("-" + block.name());
                    }

                    @Override
                    public void close() {
                    }
                };
                try (Tensor out = new T5Encoder(cfg, recording).forward(Golden.intRows(c, "in.input_ids"),
                        Golden.intRows(c, "in.attention_mask"))) {
                    assertEquals(List.of("+embedding", "-embedding", "+block.0", "-block.0", "+block.1", "-block.1",
                            "+final_norm", "-final_norm"), events);
                }
            }
        }
    }

    /** A resident block source over BF16-rounded float32 copies of a checkpoint's tensors (closing frees them). */
    static ResidentBlockSource bf16RoundedSource(BlockLayout layout, Checkpoint ckpt) {
        Map<String, ResidentBlockSource.MaterialBlock> blocks = new LinkedHashMap<>();
        for (BlockLayout.BlockSpec spec : layout.blocks()) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (String name : spec.tensors().keySet()) {
                try (Tensor t = ckpt.load(name)) {
                    m.put(name, Tensor.of(bf16Round(t.toArray()), t.shape()));
                }
            }
            blocks.put(spec.name(), new ResidentBlockSource.MaterialBlock(spec.name(), m));
        }
        return new ResidentBlockSource(layout, blocks);
    }
}
