package io.github.jsora.tensor;

/**
 * Reusable per-thread float arrays for kernels that stage data on the Java heap. Each kernel family owns its own
 * instance, so two families never hand out the same array; within one family a slot is in use from {@code get}
 * until the kernel returns, and a kernel must not call another kernel of the same family while it holds a slot.
 * Arrays only grow and keep their old contents (callers overwrite what they read).
 */
public final class Scratch {

    private static final int MIN_LENGTH = 64;

    private final int slots;
    private final ThreadLocal<float[][]> arrays;

    /** A pool with {@code slots} arrays per thread. */
    public Scratch(int slots) {
        if (slots < 1) {
            throw new IllegalArgumentException("scratch pool needs at least one slot, got " + slots);
        }
        this.slots = slots;
        this.arrays = ThreadLocal.withInitial(() -> new float[slots][]);
    }

    /** This thread's array of slot {@code slot}, at least {@code n} floats long. */
    public float[] get(int slot, int n) {
        if (slot < 0 || slot >= slots) {
            throw new IllegalArgumentException("scratch slot " + slot + " outside [0, " + slots + ")");
        }
        float[][] s = arrays.get();
        if (s[slot] == null || s[slot].length < n) {
            s[slot] = new float[Math.max(n, MIN_LENGTH)];
        }
        return s[slot];
    }
}
