package io.github.jsora.text;

/**
 * A SentencePiece {@code .model} file that cannot be used: not a protobuf, truncated, or describing a model this
 * implementation cannot run (no unknown piece, duplicate pieces, unsupported model type, corrupt character map).
 * The message names the source and, for wire-format faults, the byte offset.
 */
public class SentencePieceFormatException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public SentencePieceFormatException(String message) {
        super(message);
    }
}
