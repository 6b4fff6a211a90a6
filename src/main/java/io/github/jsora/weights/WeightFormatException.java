package io.github.jsora.weights;

import java.nio.file.Path;

/**
 * A checkpoint or config file that cannot be used: malformed, truncated, inconsistent, or missing a tensor or a
 * shard. The message names the file and the fault.
 */
public class WeightFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public WeightFormatException(String message) {
        super(message);
    }

    public WeightFormatException(String message, Throwable cause) {
        super(message, cause);
    }

    public WeightFormatException(Path file, String fault) {
        super(file + ": " + fault);
    }

    public WeightFormatException(Path file, String fault, Throwable cause) {
        super(file + ": " + fault, cause);
    }
}
