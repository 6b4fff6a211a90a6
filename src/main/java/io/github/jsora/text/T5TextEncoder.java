package io.github.jsora.text;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiFunction;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.WeightFormatException;

/**
 * Prompt strings to Open-Sora's text conditioning: {@link T5Tokenizer} then {@link T5Encoder}, from a checkpoint
 * directory in the layout of {@code DeepFloyd/t5-v1_1-xxl}: {@code config.json}, {@code spiece.model} and either
 * {@code model.safetensors.index.json} with its shards or a single {@code model.safetensors}. Only encoder tensors
 * are read ({@code decoder.*}, {@code lm_head.*} and the second name of the tied embedding are ignored).
 *
 * <p>The encoder's weights are served by a pluggable {@link BlockSource} built from the opened checkpoint and the
 * validated layout (default: {@link ResidentBlockSource}, everything loaded up front). The instance owns the
 * checkpoint and the block source and closes both. Not thread-safe.
 */
public final class T5TextEncoder implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(T5TextEncoder.class);

    /** Builds the block source for a checkpoint and its validated layout. */
    @FunctionalInterface
    public interface BlockSourceFactory extends BiFunction<Checkpoint, BlockLayout, BlockSource> {
    }

    /** Keeps every block resident (loads the whole encoder at open time). */
    public static final BlockSourceFactory RESIDENT = ResidentBlockSource::new;

    private final T5Config config;
    private final T5Tokenizer tokenizer;
    private final Checkpoint checkpoint;
    private final BlockSource source;
    private final T5Encoder encoder;

    private T5TextEncoder(T5Config config, T5Tokenizer tokenizer, Checkpoint checkpoint, BlockSource source) {
        this.config = config;
        this.tokenizer = tokenizer;
        this.checkpoint = checkpoint;
        this.source = source;
        this.encoder = new T5Encoder(config, source);
    }

    /** Opens a checkpoint directory with Open-Sora's tokenizer options and resident weights. */
    public static T5TextEncoder open(Path dir) {
        return open(dir, T5Tokenizer.Options.openSora(), RESIDENT);
    }

    /**
     * Opens a checkpoint directory.
     *
     * @param dir     directory with config.json, spiece.model and the safetensors weights
     * @param options tokenizer options (length, prompt preparation)
     * @param sources builds the block source for the checkpoint and layout (e.g. {@link #RESIDENT} or a streaming
     *                block store)
     * @throws WeightFormatException naming the file when a file is missing or the weights do not fit the config
     */
    public static T5TextEncoder open(Path dir, T5Tokenizer.Options options, BlockSourceFactory sources) {
        return open(dir, options, sources, Checkpoint::open);
    }

    /**
     * {@link #open(Path, T5Tokenizer.Options, BlockSourceFactory)} reading the weights through {@code weights} (for
     * example a converted copy in a lighter precision) instead of {@link Checkpoint#open} of the directory.
     */
    public static T5TextEncoder open(Path dir, T5Tokenizer.Options options, BlockSourceFactory sources,
            java.util.function.Function<Path, Checkpoint> weights) {
        if (!Files.isDirectory(dir)) {
            throw new WeightFormatException(dir, "not a directory (expected a T5 checkpoint directory with "
                    + "config.json, spiece.model and safetensors weights)");
        }
        Path configFile = dir.resolve("config.json");
        Path spiece = dir.resolve("spiece.model");
        for (Path p : new Path[] {configFile, spiece}) {
            if (!Files.isRegularFile(p)) {
                throw new WeightFormatException(p, "missing file of the T5 checkpoint directory");
            }
        }
        T5Config config = T5Config.read(configFile);
        T5Tokenizer tokenizer = new T5Tokenizer(SentencePieceTokenizer.load(spiece), options);
        if (tokenizer.idLimit() > config.vocabSize()) {
            LOG.info("tokenizer can emit ids up to {} but the encoder has {} embeddings; such ids are rejected",
                    tokenizer.idLimit() - 1, config.vocabSize());
        }
        Checkpoint ckpt = weights.apply(dir);
        BlockSource src = null;
        try {
            BlockLayout layout = T5Encoder.layoutFor(config, ckpt);
            StageTimer.Scope opening = StageTimer.start("block source");
            src = sources.apply(ckpt, layout);
            LOG.info("T5 encoder from {}: {} blocks, {} MB float32, block source ready in {} ms", dir,
                    layout.blocks().size(), layout.float32Bytes() >> 20, opening.millis());
            return new T5TextEncoder(config, tokenizer, ckpt, src);
        } catch (RuntimeException e) {
            if (src != null) {
                src.close();
            }
            ckpt.close();
            throw e;
        }
    }

    public T5Config config() {
        return config;
    }

    public T5Tokenizer tokenizer() {
        return tokenizer;
    }

    public T5Encoder encoder() {
        return encoder;
    }

    /** Tokenizes and encodes prompts: y [B, 1, L, d] and mask [B, L] (caller closes the result). */
    public TextEmbedding encode(List<String> prompts) {
        return encode(tokenizer.encode(prompts));
    }

    /** {@link #encode(List)} for an argument list. */
    public TextEmbedding encode(String... prompts) {
        return encode(Arrays.asList(prompts));
    }

    /** Encodes an already tokenized batch: y [B, 1, L, d] and mask [B, L]. */
    public TextEmbedding encode(TokenizedBatch tokens) {
        StageTimer.Scope encoding = StageTimer.start("encode");
        Tensor last = encoder.forward(tokens);                               // [B, L, d]
        Tensor y = last.reshape(tokens.batch(), 1, tokens.length(), config.dModel()); // [B, 1, L, d] view
        Tensor owned = y.copy();
        last.close();
        LOG.debug("T5 encode of {} prompts x {} tokens in {} ms", tokens.batch(), tokens.length(),
                encoding.millis());
        return new TextEmbedding(owned, tokens.maskTensor(), tokens);
    }

    @Override
    public void close() {
        try {
            source.close();
        } finally {
            checkpoint.close();
        }
    }
}
