package io.github.jsora.text;

import io.github.jsora.weights.WeightFormatException;

/**
 * A SentencePiece {@code .model} file that cannot be used: not a protobuf, truncated, or describing a model this
 * implementation cannot run (no unknown piece, duplicate pieces, unsupported model type, corrupt character map).
 * The message names the source and, for wire-format faults, the byte offset. A {@link WeightFormatException}: a
 * broken tokenizer file is a broken model file (CLI exit code 3), not a bad argument.
 */
public class SentencePieceFormatException extends WeightFormatException {
    private static final long serialVersionUID = 1L;

    /**
     * An unusable SentencePiece model file.
     *
     * @param message the fault, naming the source and, for wire-format faults, the byte offset
     */
    public SentencePieceFormatException(String message) {
        super(message);
    }
}
