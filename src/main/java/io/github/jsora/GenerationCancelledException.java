package io.github.jsora;

import java.util.concurrent.CancellationException;

/** A generation was cancelled (from a progress event or {@link VideoGenerator#cancel()}); its memory was freed. */
public final class GenerationCancelledException extends CancellationException {
    private static final long serialVersionUID = 1L;

    private final Stage stage;

    public GenerationCancelledException(Stage stage, String detail) {
        super("generation cancelled during " + stage + (detail == null ? "" : ": " + detail));
        this.stage = stage;
    }

    /** The stage that was running when the cancellation took effect. */
    public Stage stage() {
        return stage;
    }
}
