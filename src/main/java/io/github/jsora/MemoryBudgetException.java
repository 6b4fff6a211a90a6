package io.github.jsora;

/**
 * A request cannot run within its memory budget: thrown before any work when the budget is below what a stage
 * needs (the message names the stage, the model and the bytes), or during a run when an allocation would take
 * jsora's native memory past the budget (cause: the allocator's
 * {@link io.github.jsora.tensor.MemoryBudgetExceededException}). Nothing of the run is kept; the generator stays
 * usable. An {@link IllegalArgumentException}: the budget given (or chosen by default) is too small for the
 * request.
 */
public final class MemoryBudgetException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** The budget in force, in bytes. */
    private final long budgetBytes;
    /** The bytes the request needs. */
    private final long neededBytes;

    MemoryBudgetException(long budgetBytes, long neededBytes, String detail) {
        super("memory budget of " + budgetBytes + " bytes is too small: " + detail);
        this.budgetBytes = budgetBytes;
        this.neededBytes = neededBytes;
    }

    MemoryBudgetException(long budgetBytes, RuntimeException cause) {
        super("memory budget of " + budgetBytes + " bytes exceeded during generation: " + cause.getMessage(), cause);
        this.budgetBytes = budgetBytes;
        this.neededBytes = -1;
    }

    /**
     * The budget in force.
     *
     * @return the budget in force
     */
    public long budgetBytes() {
        return budgetBytes;
    }

    /**
     * Bytes the request needs at least, or -1 when the budget was exceeded during the run.
     *
     * @return the bytes the request needs
     */
    public long neededBytes() {
        return neededBytes;
    }
}
