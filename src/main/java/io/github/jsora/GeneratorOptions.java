package io.github.jsora;

import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

import io.github.jsora.weights.WeightPrecision;

/**
 * How a {@link VideoGenerator} opens its model: the component folder names and optional caches. Immutable; build
 * with {@link #builder()}.
 */
public final class GeneratorOptions {

    /** Folder names {@code stdit}, {@code vae}, {@code t5} and no disk cache. */
    public static final GeneratorOptions DEFAULT = builder().build();

    /** The three models, for per-model settings. */
    public enum Model {
        /** The T5 text encoder. */
        T5,
        /** The STDiT3 diffusion transformer. */
        DIT,
        /** The video VAE. */
        VAE
    }

    private final VideoGenerator.Folders folders;
    private final Path embeddingCache;
    private final Map<Model, WeightPrecision> precision;
    private final Path weightCache;
    private final ComputePrecision computePrecision;

    private GeneratorOptions(Builder b) {
        this.folders = b.folders;
        this.embeddingCache = b.embeddingCache;
        this.precision = new EnumMap<>(b.precision);
        this.weightCache = b.weightCache;
        this.computePrecision = b.computePrecision;
    }

    /**
     * A builder starting from {@link #DEFAULT}.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The component folder names.
     *
     * @return the component folder names
     */
    public VideoGenerator.Folders folders() {
        return folders;
    }

    /**
     * Directory of T5 outputs kept across processes, if set.
     *
     * @return the embedding cache
     */
    public Optional<Path> embeddingCache() {
        return Optional.ofNullable(embeddingCache);
    }

    /**
     * The precision a model's resident weights are kept in (default float32).
     *
     * @param m the model
     * @return the precision a model's resident weights are kept in (default float32)
     */
    public WeightPrecision precision(Model m) {
        return precision.getOrDefault(m, WeightPrecision.FLOAT32);
    }

    /**
     * Directory of converted T5 checkpoints (written once per precision), if set.
     *
     * @return the weight cache
     */
    public Optional<Path> weightCache() {
        return Optional.ofNullable(weightCache);
    }

    /**
     * The arithmetic of the transformers' products (default {@link ComputePrecision#AUTO}).
     *
     * @return the compute precision requested
     */
    public ComputePrecision computePrecision() {
        return computePrecision;
    }

    @Override
    public String toString() {
        return "GeneratorOptions[folders=" + folders + ", embeddingCache=" + embeddingCache + ", weights="
                + precision + ", weightCache=" + weightCache + ", compute=" + computePrecision + "]";
    }

    /** Builder; every setting has a default. */
    public static final class Builder {
        private VideoGenerator.Folders folders = VideoGenerator.Folders.DEFAULT;
        private Path embeddingCache;
        private final Map<Model, WeightPrecision> precision = new EnumMap<>(Model.class);
        private Path weightCache;
        private ComputePrecision computePrecision = ComputePrecision.AUTO;

        /**
         * The arithmetic of the STDiT3 and T5 matrix products: {@link ComputePrecision#BF16} (bf16 products with
         * float32 accumulation where the CPU has native bf16; implies bf16 weights for t5 and dit),
         * {@link ComputePrecision#FP32}, or {@link ComputePrecision#AUTO} (default: bf16 for a model with bf16
         * weights).
         *
         * @param p the compute precision
         * @return this builder
         */
        public Builder computePrecision(ComputePrecision p) {
            this.computePrecision = Objects.requireNonNull(p, "compute precision");
            return this;
        }

        /**
         * Keeps a model's resident weights in a lighter precision, expanded to float32 block by block when used:
         * {@link WeightPrecision#BF16} (half the memory; STDiT3 velocity within 4e-3 relative L2 of float32 on the
         * golden model) or {@link WeightPrecision#INT8} (weight-only, one scale per output channel; a quarter; within
         * 1.6e-2). T5's hidden state stays within cosine 0.99993 (bf16) and 0.9993 (int8).
         *
         * @param m the model
         * @param p the precision
         * @return this builder
         */
        public Builder precision(Model m, WeightPrecision p) {
            precision.put(Objects.requireNonNull(m, "model"), Objects.requireNonNull(p, "precision"));
            return this;
        }

        /**
         * Per-model precisions from a spec such as {@code t5=int8,dit=bf16} (models t5, dit, vae; precisions f32,
         * bf16, int8), or one precision for all ({@code bf16}).
         *
         * @throws IllegalArgumentException naming the part of the spec that is wrong
         * @param spec the specification
         * @return this builder
         */
        public Builder weights(String spec) {
            if (spec == null || spec.isBlank()) {
                throw new IllegalArgumentException("weights spec is empty (example: t5=int8,dit=bf16)");
            }
            for (String part : spec.split(",")) {
                String p = part.trim();
                int eq = p.indexOf('=');
                if (eq < 0) {
                    WeightPrecision all = WeightPrecision.parse(p);
                    for (Model m : Model.values()) {
                        precision.put(m, all);
                    }
                    continue;
                }
                String name = p.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                Model m = switch (name) {
                    case "t5", "text" -> Model.T5;
                    case "dit", "stdit", "stdit3" -> Model.DIT;
                    case "vae" -> Model.VAE;
                    default -> throw new IllegalArgumentException("weights spec \"" + spec + "\": unknown model \""
                            + name + "\" (t5, dit or vae)");
                };
                precision.put(m, WeightPrecision.parse(p.substring(eq + 1).trim()));
            }
            return this;
        }

        /**
         * Writes T5 in its lighter precision ({@link #precision}) once into this directory and reads that copy in
         * later runs instead of the 19 GB of float32 (rebuilt when the original changes; the original is never
         * modified).
         *
         * @param dir the directory
         * @return this builder
         */
        public Builder weightCache(Path dir) {
            this.weightCache = dir;
            return this;
        }

        /**
         * Names of the three component folders (default {@code stdit}, {@code vae}, {@code t5}).
         *
         * @param f the folder names
         * @return this builder
         */
        public Builder folders(VideoGenerator.Folders f) {
            this.folders = Objects.requireNonNull(f, "folders");
            return this;
        }

        /**
         * Keep T5 outputs in this directory (created if missing), keyed by the T5 checkpoint and the token ids, so a
         * prompt encoded once is never encoded again, in this process or a later one (default: memory only).
         *
         * @param dir the directory
         * @return this builder
         */
        public Builder embeddingCache(Path dir) {
            this.embeddingCache = dir;
            return this;
        }

        /**
         * The options.
         *
         * @return the options
         */
        public GeneratorOptions build() {
            return new GeneratorOptions(this);
        }
    }
}
