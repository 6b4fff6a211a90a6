package io.github.jsora.text;

import java.nio.file.Path;
import java.util.Locale;

import io.github.jsora.weights.ModelConfig;
import io.github.jsora.weights.WeightFormatException;

/**
 * Configuration of a T5 encoder, read from a Hugging Face {@code config.json}.
 *
 * <p>Required keys: {@code vocab_size}, {@code d_model}, {@code d_kv}, {@code num_heads}, {@code d_ff},
 * {@code num_layers}. Optional with Hugging Face's defaults: {@code relative_attention_num_buckets} (32),
 * {@code relative_attention_max_distance} (128), {@code layer_norm_epsilon} (1e-6), {@code feed_forward_proj}
 * ("relu"). {@code feed_forward_proj} is {@code [gated-]ACT} with ACT one of {@code gelu} (meaning the tanh
 * approximation {@code gelu_new} when gated, as Hugging Face maps "gated-gelu"), {@code gelu_new}, {@code relu},
 * {@code silu}; plain (non-gated) exact-erf {@code gelu} is rejected.
 *
 * @param vocabSize                    rows of the embedding table
 * @param dModel                       hidden width d
 * @param dKv                          per-head width
 * @param numHeads                     attention heads H (inner width H·dKv may differ from d)
 * @param dFf                          feed-forward width
 * @param numLayers                    encoder blocks
 * @param relativeAttentionNumBuckets  relative-position buckets
 * @param relativeAttentionMaxDistance distance mapped to the last bucket
 * @param layerNormEpsilon             RMSNorm epsilon
 * @param feedForwardProj              e.g. "gated-gelu" (T5 v1.1) or "relu" (T5 v1.0)
 */
public record T5Config(int vocabSize, int dModel, int dKv, int numHeads, int dFf, int numLayers,
        int relativeAttentionNumBuckets, int relativeAttentionMaxDistance, double layerNormEpsilon,
        String feedForwardProj) {

    /** Feed-forward activations. */
    public enum Activation {
        /** tanh approximation 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
        GELU_TANH,
        RELU,
        SILU
    }

    /** Largest {@code num_layers} accepted (T5 v1.1 XXL has 24). */
    public static final int MAX_LAYERS = 1024;

    public T5Config {
        positive("vocab_size", vocabSize);
        positive("d_model", dModel);
        positive("d_kv", dKv);
        positive("num_heads", numHeads);
        positive("d_ff", dFf);
        if (numLayers < 0 || numLayers > MAX_LAYERS) {
            throw new IllegalArgumentException("num_layers must be in [0, " + MAX_LAYERS + "], found " + numLayers);
        }
        if (relativeAttentionNumBuckets < 4) {
            throw new IllegalArgumentException("relative_attention_num_buckets must be >= 4, found "
                    + relativeAttentionNumBuckets);
        }
        if (relativeAttentionMaxDistance <= relativeAttentionNumBuckets / 4) {
            throw new IllegalArgumentException("relative_attention_max_distance must exceed num_buckets/4 = "
                    + relativeAttentionNumBuckets / 4 + ", found " + relativeAttentionMaxDistance);
        }
        if (!(layerNormEpsilon > 0) || !Double.isFinite(layerNormEpsilon)) {
            throw new IllegalArgumentException("layer_norm_epsilon must be positive, found " + layerNormEpsilon);
        }
        if (feedForwardProj == null) {
            throw new IllegalArgumentException("feed_forward_proj is null");
        }
        parseActivation(feedForwardProj);
    }

    private static void positive(String key, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(key + " must be positive, found " + v);
        }
    }

    private static Activation parseActivation(String proj) {
        String p = proj.toLowerCase(Locale.ROOT);
        boolean gated = p.startsWith("gated-");
        String act = gated ? p.substring(6) : p;
        return switch (act) {
            case "gelu" -> {
                if (!gated) {
                    throw new IllegalArgumentException("feed_forward_proj \"" + proj
                            + "\" (exact erf GELU) is not supported; supported: [gated-]gelu_new, gated-gelu, "
                            + "[gated-]relu, [gated-]silu");
                }
                yield Activation.GELU_TANH;
            }
            case "gelu_new" -> Activation.GELU_TANH;
            case "relu" -> Activation.RELU;
            case "silu", "swish" -> Activation.SILU;
            default -> throw new IllegalArgumentException("feed_forward_proj \"" + proj + "\" is not supported; "
                    + "supported: [gated-]gelu_new, gated-gelu, [gated-]relu, [gated-]silu");
        };
    }

    /** True for the gated feed-forward {@code wo(act(wi_0 x) · wi_1 x)}; false for {@code wo(act(wi x))}. */
    public boolean gated() {
        return feedForwardProj.toLowerCase(Locale.ROOT).startsWith("gated-");
    }

    public Activation activation() {
        return parseActivation(feedForwardProj);
    }

    /** Attention inner width H·dKv. */
    public int innerDim() {
        return numHeads * dKv;
    }

    /** Builds the config from parsed {@code config.json} values. */
    public static T5Config from(ModelConfig c) {
        try {
            return new T5Config(c.getInt("vocab_size"), c.getInt("d_model"), c.getInt("d_kv"), c.getInt("num_heads"),
                    c.getInt("d_ff"), c.getInt("num_layers"), c.getInt("relative_attention_num_buckets", 32),
                    c.getInt("relative_attention_max_distance", 128), c.getDouble("layer_norm_epsilon", 1e-6),
                    c.getString("feed_forward_proj", "relu"));
        } catch (IllegalArgumentException e) {
            throw new WeightFormatException(c.source() + ": " + e.getMessage(), e);
        }
    }

    /** Reads a {@code config.json} file. */
    public static T5Config read(Path configJson) {
        return from(ModelConfig.read(configJson));
    }

    /** T5 v1.1 XXL (DeepFloyd/t5-v1_1-xxl, the Open-Sora v1.2 text encoder). */
    public static T5Config t5v11Xxl() {
        return new T5Config(32128, 4096, 64, 64, 10240, 24, 32, 128, 1e-6, "gated-gelu");
    }
}
