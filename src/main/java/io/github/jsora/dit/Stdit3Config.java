package io.github.jsora.dit;

import java.nio.file.Path;
import java.util.Locale;

import io.github.jsora.weights.ModelConfig;
import io.github.jsora.weights.WeightFormatException;

/**
 * Architecture of an STDiT3 diffusion transformer (Open-Sora v1.2), as stored in the {@code config.json} of
 * {@code hpcai-tech/OpenSora-STDiT-v3}.
 *
 * <p>Keys read: {@code hidden_size}, {@code depth}, {@code num_heads}, {@code mlp_ratio}, {@code patch_size},
 * {@code in_channels}, {@code caption_channels}, {@code model_max_length}, {@code pred_sigma}, {@code qk_norm},
 * {@code input_sq_size}, {@code class_dropout_prob}. A key that is absent takes the reference constructor's default
 * (the values of {@link #xl2()} except {@code qk_norm}, whose constructor default is false). Keys that only affect
 * training or fused kernels ({@code drop_path}, {@code enable_flash_attn}, {@code enable_layernorm_kernel},
 * {@code freeze_y_embedder}, {@code only_train_temporal}, {@code input_size}) do not change inference and are
 * ignored. {@code skip_y_embedder = true} and {@code enable_sequence_parallelism = true} are rejected.
 *
 * @param hiddenSize       token width C (1152 for XL)
 * @param depth            number of (spatial, temporal) block pairs (28)
 * @param numHeads         attention heads (16); head_dim = C / heads
 * @param mlpRatio         MLP hidden width = (int) (C · ratio)
 * @param patchT           patch size along time (1)
 * @param patchH           patch size along height (2)
 * @param patchW           patch size along width (2)
 * @param inChannels       latent channels (4)
 * @param captionChannels  text-encoder width Cc (4096)
 * @param modelMaxLength   caption tokens L of the null caption, the largest accepted L (300)
 * @param predSigma        output has 2·inChannels channels (learned variance) when true
 * @param qkNorm           RMSNorm on q and k per head in the self-attention
 * @param inputSqSize      reference resolution of the position-embedding scale (512)
 * @param classDropoutProb training caption dropout (informational only)
 */
public record Stdit3Config(int hiddenSize, int depth, int numHeads, double mlpRatio, int patchT, int patchH,
        int patchW, int inChannels, int captionChannels, int modelMaxLength, boolean predSigma, boolean qkNorm,
        int inputSqSize, double classDropoutProb) {

    /** Name of the shipped variant. */
    public static final String XL_2 = "STDiT3-XL/2";
    /** Name of the larger variant of the reference registry. */
    public static final String B3_2 = "STDiT3-3B/2";

    /** Largest {@code depth} accepted (the shipped models have 28). */
    public static final int MAX_DEPTH = 1024;
    /** Largest entry of {@code patch_size} accepted (the shipped models use 1×2×2). */
    public static final int MAX_PATCH = 64;

    public Stdit3Config {
        require(hiddenSize > 0, "hidden_size must be positive, found " + hiddenSize);
        require(depth >= 0 && depth <= MAX_DEPTH, "depth must be in [0, " + MAX_DEPTH + "], found " + depth);
        require(numHeads > 0 && hiddenSize % numHeads == 0,
                "hidden_size " + hiddenSize + " must be a positive multiple of num_heads " + numHeads);
        require((hiddenSize / numHeads) % 2 == 0, "head_dim " + hiddenSize / numHeads
                + " must be even (rotary embedding rotates pairs)");
        require(hiddenSize % 4 == 0, "hidden_size " + hiddenSize + " must be a multiple of 4 (2-D sin-cos embedding)");
        require(mlpRatio > 0 && (int) (hiddenSize * mlpRatio) > 0, "mlp_ratio must be positive, found " + mlpRatio);
        require(patchT > 0 && patchH > 0 && patchW > 0 && patchT <= MAX_PATCH && patchH <= MAX_PATCH
                && patchW <= MAX_PATCH, "patch_size entries must be in [1, " + MAX_PATCH + "], found [" + patchT + ", "
                + patchH + ", " + patchW + "]");
        require(inChannels > 0, "in_channels must be positive, found " + inChannels);
        require(captionChannels > 0, "caption_channels must be positive, found " + captionChannels);
        require(modelMaxLength > 0, "model_max_length must be positive, found " + modelMaxLength);
        require(inputSqSize > 0, "input_sq_size must be positive, found " + inputSqSize);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("STDiT3 config: " + message);
        }
    }

    /** The shipped {@code STDiT3-XL/2} (hidden 1152, depth 28, 16 heads, patch 1×2×2, T5-XXL captions of 300). */
    public static Stdit3Config xl2() {
        return new Stdit3Config(1152, 28, 16, 4.0, 1, 2, 2, 4, 4096, 300, true, true, 512, 0.1);
    }

    /** The reference registry's {@code STDiT3-3B/2} (hidden 1872, 26 heads), same other settings as XL/2. */
    public static Stdit3Config b3x2() {
        return new Stdit3Config(1872, 28, 26, 4.0, 1, 2, 2, 4, 4096, 300, true, true, 512, 0.1);
    }

    /** A named variant: {@value #XL_2} or {@value #B3_2}. */
    public static Stdit3Config named(String name) {
        return switch (name) {
            case XL_2 -> xl2();
            case B3_2 -> b3x2();
            default -> throw new IllegalArgumentException("unknown STDiT3 variant \"" + name + "\" (known: " + XL_2
                    + ", " + B3_2 + ")");
        };
    }

    /** Reads {@code config.json} (a file, or a directory holding one). */
    public static Stdit3Config read(Path path) {
        Path file = path.toFile().isDirectory() ? path.resolve("config.json") : path;
        return from(ModelConfig.read(file));
    }

    /** Parses config JSON text (e.g. the {@code "config"} entry of a safetensors file's metadata). */
    public static Stdit3Config parse(String source, String json) {
        return from(ModelConfig.parse(source, json));
    }

    /** Builds the record from a parsed config; absent keys take the reference constructor's defaults. */
    public static Stdit3Config from(ModelConfig c) {
        String type = c.getString("model_type", "STDiT3");
        if (!type.equals("STDiT3")) {
            throw new WeightFormatException(c.source() + ": model_type is \"" + type + "\", expected \"STDiT3\"");
        }
        if (c.getBoolean("skip_y_embedder", false)) {
            throw new WeightFormatException(c.source() + ": skip_y_embedder=true is not supported (captions must go "
                    + "through y_embedder)");
        }
        if (c.getBoolean("enable_sequence_parallelism", false)) {
            throw new WeightFormatException(c.source() + ": enable_sequence_parallelism=true is not supported");
        }
        Stdit3Config d = xl2();
        int[] patch = c.has("patch_size") ? c.getIntArray("patch_size") : new int[] {d.patchT, d.patchH, d.patchW};
        if (patch.length != 3) {
            throw new WeightFormatException(c.source() + ": patch_size must have 3 entries, found " + patch.length);
        }
        try {
            return new Stdit3Config(
                    c.getInt("hidden_size", d.hiddenSize),
                    c.getInt("depth", d.depth),
                    c.getInt("num_heads", d.numHeads),
                    c.getDouble("mlp_ratio", d.mlpRatio),
                    patch[0], patch[1], patch[2],
                    c.getInt("in_channels", d.inChannels),
                    c.getInt("caption_channels", d.captionChannels),
                    c.getInt("model_max_length", d.modelMaxLength),
                    c.getBoolean("pred_sigma", d.predSigma),
                    c.getBoolean("qk_norm", false),
                    c.getInt("input_sq_size", d.inputSqSize),
                    c.getDouble("class_dropout_prob", d.classDropoutProb));
        } catch (IllegalArgumentException e) {
            throw new WeightFormatException(c.source() + ": " + e.getMessage(), e);
        }
    }

    /** Per-head width C / heads. */
    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** MLP hidden width, {@code (int) (C · mlp_ratio)} as the reference. */
    public int mlpHidden() {
        return (int) (hiddenSize * mlpRatio);
    }

    /** Output channels: 2·in_channels with learned sigma, else in_channels. */
    public int outChannels() {
        return predSigma ? 2 * inChannels : inChannels;
    }

    /** Elements of one patch: patchT·patchH·patchW. */
    public int patchVolume() {
        return patchT * patchH * patchW;
    }

    /** Number of parameters of the model (without the optional stored rotary frequencies). */
    public long parameterCount() {
        long c = hiddenSize;
        long m = mlpHidden();
        long embed = c * inChannels * patchVolume() + c                       // x_embedder
                + 2 * (256 * c + c + c * c + c)                                // t_embedder, fps_embedder
                + 6 * c * c + 6 * c                                            // t_block
                + (long) modelMaxLength * captionChannels                       // y_embedding
                + (long) captionChannels * c + c + c * c + c;                  // y_proj
        long block = 6 * c + 3 * c * c + 3 * c + (qkNorm ? 2L * headDim() : 0) + c * c + c
                + c * c + c + 2 * c * c + 2 * c + c * c + c
                + m * c + m + c * m + c;
        long fin = 2 * c + (long) patchVolume() * outChannels() * c + (long) patchVolume() * outChannels();
        return embed + 2L * depth * block + fin;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "STDiT3[hidden=%d, depth=%d, heads=%d, mlp=%d, patch=%dx%dx%d, in=%d, "
                + "out=%d, caption=%dx%d, qk_norm=%b, input_sq=%d]", hiddenSize, depth, numHeads, mlpHidden(), patchT,
                patchH, patchW, inChannels, outChannels(), modelMaxLength, captionChannels, qkNorm, inputSqSize);
    }
}
