package io.github.jsora;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * How a {@link VideoGenerator} opens its model: the component folder names and optional caches. Immutable; build
 * with {@link #builder()}.
 */
public final class GeneratorOptions {

    /** Folder names {@code stdit}, {@code vae}, {@code t5} and no disk cache. */
    public static final GeneratorOptions DEFAULT = builder().build();

    private final VideoGenerator.Folders folders;
    private final Path embeddingCache;

    private GeneratorOptions(Builder b) {
        this.folders = b.folders;
        this.embeddingCache = b.embeddingCache;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The component folder names. */
    public VideoGenerator.Folders folders() {
        return folders;
    }

    /** Directory of T5 outputs kept across processes, if set. */
    public Optional<Path> embeddingCache() {
        return Optional.ofNullable(embeddingCache);
    }

    @Override
    public String toString() {
        return "GeneratorOptions[folders=" + folders + ", embeddingCache=" + embeddingCache + "]";
    }

    /** Builder; every setting has a default. */
    public static final class Builder {
        private VideoGenerator.Folders folders = VideoGenerator.Folders.DEFAULT;
        private Path embeddingCache;

        /** Names of the three component folders (default {@code stdit}, {@code vae}, {@code t5}). */
        public Builder folders(VideoGenerator.Folders f) {
            this.folders = Objects.requireNonNull(f, "folders");
            return this;
        }

        /**
         * Keep T5 outputs in this directory (created if missing), keyed by the T5 checkpoint and the token ids, so a
         * prompt encoded once is never encoded again, in this process or a later one (default: memory only).
         */
        public Builder embeddingCache(Path dir) {
            this.embeddingCache = dir;
            return this;
        }

        public GeneratorOptions build() {
            return new GeneratorOptions(this);
        }
    }
}
