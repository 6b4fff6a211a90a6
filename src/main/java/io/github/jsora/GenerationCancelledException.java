package io.github.jsora;

import java.util.concurrent.CancellationException;

/** A generation was cancelled (from a progress event or {@link VideoGenerator#cancel()}); its memory was freed. */
public final class GenerationCancelledException extends CancellationException {
    private static final long serialVersionUID = 1L;

    /** The stage that was running. */
    private final Stage stage;

    /**
     * A cancellation during {@code stage}.
     *
     * @param stage  the stage that was running
     * @param detail what was done so far, or null
     */
    public GenerationCancelledException(Stage stage, String detail) {
        super("generation cancelled during " + stage + (detail == null ? "" : ": " + detail));
        this.stage = stage;
    }

    /**
     * The stage that was running when the cancellation took effect.
     *
     * @return the stage that was running when the cancellation took effect
     */
    public Stage stage() {
        return stage;
    }
}
