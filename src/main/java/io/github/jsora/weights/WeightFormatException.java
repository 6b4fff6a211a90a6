package io.github.jsora.weights;

import java.nio.file.Path;

/**
 * A checkpoint or config file that cannot be used: malformed, truncated, inconsistent, or missing a tensor or a
 * shard. The message names the file and the fault.
 */
public class WeightFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An unusable weight or config file, described by a complete message.
     *
     * @param message the fault, naming the file where known
     */
    public WeightFormatException(String message) {
        super(message);
    }

    /**
     * An unusable weight or config file, with the exception that revealed the fault.
     *
     * @param message the fault, naming the file where known
     * @param cause the underlying exception (for example an I/O or parse error)
     */
    public WeightFormatException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * An unusable file; the message is {@code file + ": " + fault}.
     *
     * @param file the file that cannot be used
     * @param fault what is wrong with it
     */
    public WeightFormatException(Path file, String fault) {
        super(file + ": " + fault);
    }

    /**
     * An unusable file, with the exception that revealed the fault; the message is {@code file + ": " + fault}.
     *
     * @param file the file that cannot be used
     * @param fault what is wrong with it
     * @param cause the underlying exception (for example an I/O or parse error)
     */
    public WeightFormatException(Path file, String fault, Throwable cause) {
        super(file + ": " + fault, cause);
    }
}
