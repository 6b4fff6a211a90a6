package io.github.jsora;

/**
 * Receives progress of a generation on the generating thread. Keep it quick; throwing from it aborts the generation
 * with that exception.
 */
@FunctionalInterface
public interface GenerationListener {

    /** A listener that ignores every event. */
    GenerationListener NONE = p -> {
    };

    /**
     * Called on the generating thread at each unit of work; keep it short.
     *
     * @param progress the event
     */
    void onProgress(Progress progress);
}
