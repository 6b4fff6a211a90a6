package io.github.jsora.text;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.SafetensorsFile;
import io.github.jsora.weights.SafetensorsWriter;

/**
 * T5 outputs kept on disk, so that a prompt encoded once (in any process) is not encoded again: one safetensors
 * file per tokenized batch, named by the SHA-256 of the encoder's identity and the token ids and masks, holding the
 * last hidden state {@code y} [b, 1, L, d]. The identity names the checkpoint (config and weight files with their
 * sizes and modification times), so a changed model never reads another model's entries. A file that does not hold
 * what its name promises (another identity or other tokens, a broken file) is a miss, never an error; files are
 * written to a temporary name and moved into place, so a reader never sees half an entry.
 */
public final class EmbeddingDiskCache {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddingDiskCache.class);

    private final Path dir;
    private final String identity;

    /**
     * @param dir      cache directory (created when missing)
     * @param identity what identifies the encoder's weights, see {@link #identityOf(Path)}
     */
    public EmbeddingDiskCache(Path dir, String identity) throws IOException {
        Files.createDirectories(dir);
        this.dir = dir;
        this.identity = identity;
    }

    /**
     * The identity of a T5 checkpoint directory: its config, tokenizer and weight files, each by its SHA-256 when
     * it is at most 64 MiB (a copy of the same model, such as the unpacked demo model, is the same model) and by
     * size and modification time otherwise (hashing 19 GB at every start would cost minutes).
     */
    public static String identityOf(Path t5Dir) throws IOException {
        StringBuilder b = new StringBuilder();
        try (var files = Files.list(t5Dir)) {
            for (Path p : files.sorted().toList()) {
                String n = p.getFileName().toString();
                if (n.equals("config.json") || n.endsWith(".safetensors") || n.endsWith(".json")
                        || n.equals("spiece.model")) {
                    long size = Files.size(p);
                    b.append(n).append(':').append(size).append(':');
                    if (size <= 64L << 20) {
                        b.append(sha256(Files.readAllBytes(p)));
                    } else {
                        b.append(Files.getLastModifiedTime(p).toMillis());
                    }
                    b.append(';');
                }
            }
        }
        return b.toString();
    }

    /** The cached hidden state for these tokens, or null. */
    public Tensor load(TokenizedBatch tokens, int dModel) {
        Path f = file(tokens);
        if (!Files.isRegularFile(f)) {
            return null;
        }
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            if (!identity.equals(st.metadata().get("identity")) || !tokens.key().equals(st.metadata().get("tokens"))
                    || !Arrays.equals(st.info("y").shape(), new int[] {tokens.batch(), 1, tokens.length(), dModel})) {
                LOG.debug("embedding cache entry {} is for another model or prompt; ignored", f);
                return null;
            }
            return st.load("y");
        } catch (RuntimeException e) {
            LOG.warn("embedding cache entry {} is unreadable ({}); encoding again", f, e.getMessage());
            return null;
        }
    }

    /** Stores a hidden state [b, 1, L, d] for these tokens (replacing a broken entry of the same name). */
    public void store(TokenizedBatch tokens, Tensor y) {
        Path f = file(tokens);
        try {
            new SafetensorsWriter().add("y", y).metadata("identity", identity).metadata("tokens", tokens.key())
                    .write(f, true);
        } catch (IOException e) {
            LOG.warn("cannot write embedding cache entry {}: {}", f, e.getMessage());
        }
    }

    private Path file(TokenizedBatch tokens) {
        return dir.resolve("t5-" + sha256((identity + tokens.key()).getBytes(StandardCharsets.UTF_8))
                + ".safetensors");
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
