package io.github.jsora.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import io.github.jsora.VideoGenerator;
import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.text.T5Config;
import io.github.jsora.text.T5Encoder;
import io.github.jsora.vae.VaeConfig;
import io.github.jsora.vae.VaeLayout;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.RandomModel;
import io.github.jsora.weights.TensorInfo;

/**
 * Writes a model directory that looks like the real Open-Sora v1.2 download (same folders, file names, config
 * files, tensor names, shapes, dtype and, for the VAE, the exact file size) but holds random weights, so memory and
 * I/O can be measured at real sizes without the real checkpoints. Not a JMH benchmark.
 *
 * <pre>
 *   java -cp ... io.github.jsora.bench.LookAlikeModel DIR [--seed N] [--parts stdit,vae,t5]
 *   java -cp ... io.github.jsora.bench.LookAlikeModel --check-vae FILE
 * </pre>
 *
 * <ul>
 *   <li>{@code DIR/stdit}: {@code config.json} of {@code hpcai-tech/OpenSora-STDiT-v3} (STDiT3-XL/2) and
 *       {@code model.safetensors}, F32, every tensor of {@link Stdit3#layout} including {@code rope.freqs}
 *       (≈ 4.84 GB).</li>
 *   <li>{@code DIR/vae}: the published {@code config.json} and {@code model.safetensors}, F32, the complete
 *       {@code VideoAutoencoderPipeline} state dict: the decoder ({@link VaeLayout}) plus the encoders and
 *       quant_convs ({@link VaeLayout#encoder}), names sorted, {@code format: pt} metadata: 1,573,430,548 bytes like
 *       the real file.</li>
 *   <li>{@code DIR/t5}: {@code config.json} of {@code DeepFloyd/t5-v1_1-xxl}, the encoder ({@link T5Encoder#layout}
 *       with {@code shared.weight}), F32, in two shards of 9.45 and 9.60 GB like the real ones, the index, and the demo
 *       model's {@code spiece.model} (its ids lie inside the 32,128-token vocabulary).</li>
 * </ul>
 * Values: {@link RandomModel}'s rules by tensor name (weights scaled by 1/√fan_in, so activations stay of order 1
 * and a forward pass stays finite; {@code rope.freqs} the rotary frequencies), with the VAE's {@code scale}/
 * {@code shift} set to the real config's constants. {@code --check-vae} compares the names and shapes
 * {@link #vaeTensors} derives for a safetensors file's own VAE config (its metadata or config.json) with the file's
 * tensors, e.g. on a complete tiny state dict.
 */
public final class LookAlikeModel {

    /** {@code config.json} of hpcai-tech/OpenSora-STDiT-v3 (the keys of the published file). */
    static final String STDIT_CONFIG = """
            {
              "architectures": [
                "STDiT3"
              ],
              "caption_channels": 4096,
              "class_dropout_prob": 0.1,
              "depth": 28,
              "drop_path": 0.0,
              "enable_flash_attn": false,
              "enable_layernorm_kernel": false,
              "freeze_y_embedder": true,
              "hidden_size": 1152,
              "in_channels": 4,
              "input_size": [
                null,
                null,
                null
              ],
              "input_sq_size": 512,
              "mlp_ratio": 4.0,
              "model_max_length": 300,
              "model_type": "STDiT3",
              "num_heads": 16,
              "only_train_temporal": false,
              "patch_size": [
                1,
                2,
                2
              ],
              "pred_sigma": true,
              "qk_norm": true,
              "skip_y_embedder": false,
              "torch_dtype": "float32",
              "transformers_version": "4.36.2"
            }
            """;

    /** {@code config.json} of hpcai-tech/OpenSora-VAE-v1.2 (as the test resource opensora_vae_v12_config.json). */
    static final String VAE_CONFIG = """
            {
              "architectures": [
                "VideoAutoencoderPipeline"
              ],
              "cal_loss": false,
              "freeze_vae_2d": false,
              "micro_frame_size": 17,
              "model_type": "VideoAutoencoderPipeline",
              "scale": [
                3.85,
                2.32,
                2.33,
                3.06
              ],
              "shift": [
                -0.1,
                0.34,
                0.27,
                0.98
              ],
              "torch_dtype": "float32",
              "transformers_version": "4.36.2",
              "vae_2d": {
                "from_pretrained": "PixArt-alpha/pixart_sigma_sdxlvae_T5_diffusers",
                "local_files_only": false,
                "micro_batch_size": 4,
                "subfolder": "vae",
                "type": "VideoAutoencoderKL"
              },
              "vae_temporal": {
                "from_pretrained": null,
                "type": "VAE_Temporal_SD"
              }
            }
            """;

    /** {@code config.json} of DeepFloyd/t5-v1_1-xxl (T5 v1.1 XXL, SPEC 6.2). */
    static final String T5_CONFIG = """
            {
              "architectures": [
                "T5EncoderModel"
              ],
              "d_ff": 10240,
              "d_kv": 64,
              "d_model": 4096,
              "decoder_start_token_id": 0,
              "dense_act_fn": "gelu_new",
              "dropout_rate": 0.1,
              "eos_token_id": 1,
              "feed_forward_proj": "gated-gelu",
              "initializer_factor": 1.0,
              "is_encoder_decoder": true,
              "is_gated_act": true,
              "layer_norm_epsilon": 1e-06,
              "model_type": "t5",
              "num_decoder_layers": 24,
              "num_heads": 64,
              "num_layers": 24,
              "pad_token_id": 0,
              "relative_attention_max_distance": 128,
              "relative_attention_num_buckets": 32,
              "tie_word_embeddings": false,
              "torch_dtype": "float32",
              "transformers_version": "4.36.2",
              "use_cache": true,
              "vocab_size": 32128
            }
            """;

    /** Size of the published VAE model.safetensors (SPEC 5.6). */
    static final long REAL_VAE_BYTES = 1_573_430_548L;

    /**
     * Largest T5 shard (tensor bytes), filled in state-dict order: gives two shards of 9.45 GB and 9.60 GB, the
     * split of the real download.
     */
    static final long T5_SHARD_BYTES = 9_600_000_000L;

    private static final String DEMO_SPIECE = "/io/github/jsora/demo-model/t5/spiece.model";

    private LookAlikeModel() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length == 2 && args[0].equals("--check-vae")) {
            System.exit(checkVae(Path.of(args[1])) ? 0 : 1);
        }
        if (args.length < 1 || args[0].startsWith("--")) {
            usage("missing DIR");
        }
        Path dir = Path.of(args[0]);
        long seed = 1;
        Set<String> parts = new TreeSet<>(List.of("stdit", "vae", "t5"));
        for (int i = 1; i < args.length; i++) {
            String opt = args[i];
            if (i + 1 >= args.length) {
                usage(opt + " needs a value");
            }
            String v = args[++i];
            switch (opt) {
                case "--seed" -> seed = Long.parseLong(v);
                case "--parts" -> {
                    parts = new TreeSet<>(Arrays.asList(v.split(",")));
                    if (!Set.of("stdit", "vae", "t5").containsAll(parts)) {
                        usage("--parts takes a comma list of stdit, vae, t5; found " + v);
                    }
                }
                default -> usage("unknown option " + opt);
            }
        }
        Files.createDirectories(dir);
        long need = 0;
        if (parts.contains("stdit")) {
            need += 4L * Stdit3Config.xl2().parameterCount();
        }
        if (parts.contains("vae")) {
            need += REAL_VAE_BYTES;
        }
        if (parts.contains("t5")) {
            need += T5Encoder.layout(T5Config.t5v11Xxl(), T5Encoder.SHARED).float32Bytes();
        }
        long free = Files.getFileStore(dir).getUsableSpace();
        if (free < need + (1L << 30)) {
            throw new IOException(String.format(Locale.ROOT, "%s has %.1f GB free; the look-alike needs %.1f GB "
                    + "(+1 GB margin)", dir, free / 1e9, need / 1e9));
        }
        long t0 = System.nanoTime();
        if (parts.contains("stdit")) {
            writeStdit(dir.resolve("stdit"), seed);
        }
        if (parts.contains("vae")) {
            writeVae(dir.resolve("vae"), seed);
        }
        if (parts.contains("t5")) {
            writeT5(dir.resolve("t5"), seed);
        }
        System.out.printf(Locale.ROOT, "wrote %s in %.1f s%n", dir, (System.nanoTime() - t0) / 1e9);
        if (parts.size() == 3) {
            verify(dir);
        }
    }

    private static void usage(String why) {
        System.err.println("LookAlikeModel: " + why + "\nusage: LookAlikeModel DIR [--seed N] [--parts stdit,vae,t5]"
                + "\n       LookAlikeModel --check-vae FILE");
        System.exit(2);
    }

    // ------------------------------------------------------------------ components

    static void writeStdit(Path d, long seed) throws IOException {
        Files.createDirectories(d);
        Files.writeString(d.resolve("config.json"), STDIT_CONFIG, StandardCharsets.UTF_8);
        Stdit3Config cfg = Stdit3Config.read(d.resolve("config.json"));
        timed(d.resolve("model.safetensors"), RandomModel.tensors(Stdit3.layout(cfg, true)), RandomModel.seeded(seed));
    }

    static void writeVae(Path d, long seed) throws IOException {
        Files.createDirectories(d);
        Files.writeString(d.resolve("config.json"), VAE_CONFIG, StandardCharsets.UTF_8);
        VaeConfig cfg = VaeConfig.read(d.resolve("config.json"));
        Path file = d.resolve("model.safetensors");
        timed(file, vaeTensors(cfg), RandomModel.vae(cfg, seed));
        long size = Files.size(file);
        System.out.printf(Locale.ROOT, "  VAE file %,d B; the real file %,d B (difference %+d B)%n", size,
                REAL_VAE_BYTES, size - REAL_VAE_BYTES);
    }

    static void writeT5(Path d, long seed) throws IOException {
        Files.createDirectories(d);
        Files.writeString(d.resolve("config.json"), T5_CONFIG, StandardCharsets.UTF_8);
        T5Config cfg = T5Config.read(d.resolve("config.json"));
        long t0 = System.nanoTime();
        List<Path> shards = RandomModel.seeded(seed).writeSharded(d, RandomModel.tensors(T5Encoder.layout(cfg,
                T5Encoder.SHARED)), RandomModel.Format.pretrained(), T5_SHARD_BYTES);
        double s = (System.nanoTime() - t0) / 1e9;
        long total = 0;
        for (Path p : shards) {
            System.out.printf(Locale.ROOT, "  %s: %,d B%n", p, Files.size(p));
            total += Files.size(p);
        }
        System.out.printf(Locale.ROOT, "  T5: %.2f GB in %.1f s (%.0f MB/s)%n", total / 1e9, s, total / 1e6 / s);
        try (InputStream in = LookAlikeModel.class.getResourceAsStream(DEMO_SPIECE)) {
            if (in == null) {
                throw new IOException("resource " + DEMO_SPIECE + " missing from the class path");
            }
            Files.copy(in, d.resolve("spiece.model"), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void timed(Path file, Map<String, int[]> tensors, RandomModel m) throws IOException {
        long t0 = System.nanoTime();
        long size = m.write(file, tensors, RandomModel.Format.pretrained());
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "  %s: %,d B, %d tensors, in %.1f s (%.0f MB/s)%n", file, size,
                tensors.size(), s, size / 1e6 / s);
    }

    /** Opens the directory as jsora does and checks the T5 checkpoint against its layout. */
    static void verify(Path dir) {
        long t0 = System.nanoTime();
        try (VideoGenerator g = VideoGenerator.open(dir)) {
            System.out.println("VideoGenerator.open: OK (" + g.modelInfo() + ")");
        }
        T5Config tc = T5Config.read(dir.resolve("t5").resolve("config.json"));
        try (Checkpoint ck = Checkpoint.open(dir.resolve("t5"))) {
            T5Encoder.layoutFor(tc, ck);
            System.out.println("T5 layout: OK (" + ck.names().size() + " tensors)");
        }
        System.out.printf(Locale.ROOT, "verified in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    // ------------------------------------------------------------------ VAE state dict

    /**
     * The complete {@code VideoAutoencoderPipeline} state dict: the decode-path layout ({@link VaeLayout#of}) plus the
     * encode path ({@link VaeLayout#encoder}: the encoders and their quant_convs).
     */
    static Map<String, int[]> vaeTensors(VaeConfig cfg) {
        return RandomModel.tensors(VaeLayout.of(cfg), VaeLayout.encoder(cfg));
    }

    /** Compares {@link #vaeTensors} for a file's own config with the file's tensors; prints the differences. */
    static boolean checkVae(Path file) {
        try (Checkpoint ck = Checkpoint.open(file)) {
            Map<String, int[]> want = vaeTensors(VaeConfig.of(ck));
            int bad = 0;
            for (Map.Entry<String, int[]> w : want.entrySet()) {
                if (!ck.contains(w.getKey())) {
                    System.out.println("missing in file: " + w.getKey() + " " + Arrays.toString(w.getValue()));
                    bad++;
                } else {
                    TensorInfo info = ck.info(w.getKey());
                    if (!Arrays.equals(info.shape(), w.getValue())) {
                        System.out.println("shape of " + w.getKey() + ": file " + info.shapeString() + ", derived "
                                + Arrays.toString(w.getValue()));
                        bad++;
                    }
                }
            }
            for (String n : ck.names()) {
                if (!want.containsKey(n)) {
                    System.out.println("not derived: " + n + " " + ck.info(n).shapeString());
                    bad++;
                }
            }
            System.out.println(file + ": " + ck.names().size() + " tensors in the file, " + want.size()
                    + " derived, " + bad + " differences");
            return bad == 0;
        }
    }
}
