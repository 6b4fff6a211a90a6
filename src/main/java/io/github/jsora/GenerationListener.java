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

    void onProgress(Progress progress);
}
