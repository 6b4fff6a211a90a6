package io.github.jsora.tensor;

/**
 * A tap on the intermediate tensors of a computation (the reference's forward hooks), for tests and diagnostics:
 * the one observation interface of every jsora stage. Each stage documents the names it captures and their shapes.
 *
 * <p>The tensor is a view of the stage's working memory that is valid only during the call: copy what you keep.
 * {@code index} locates a capture that repeats (a step, a chunk, a frame); stages document what each position means
 * and pass none for a capture that happens once.
 */
@FunctionalInterface
public interface Tap {

    /** Captures nothing. */
    Tap NONE = (name, value, index) -> {
    };

    /**
     * @param name  what is captured, as the stage documents it
     * @param value the tensor, valid only during the call
     * @param index where the capture repeats (step, sample, chunk, frame…), as the stage documents it
     */
    void capture(String name, Tensor value, int... index);

    /** Whether this tap captures anything (so a stage can skip building a tensor only a tap would see). */
    default boolean active() {
        return this != NONE;
    }
}
