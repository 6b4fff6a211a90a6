package io.github.jsora.weights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Which blocks of a model stay resident across passes and which are streamed (loaded for each pass and freed after
 * use), computed from the measured size of every block, a byte budget and a prefetch depth.
 *
 * <h2>Rule</h2>
 * A forward pass uses the blocks in layout order, cyclically (one pass per denoising step). Streamed blocks need a
 * <em>reserve</em>: room for the block computing plus {@code prefetchDepth} streamed blocks loading ahead of it.
 * The reserve is the sum of the {@code 1 + prefetchDepth} largest streamed blocks, so it holds whichever streamed
 * blocks happen to be in flight together. Resident blocks are then chosen <em>first-fit in layout order</em>:
 * block i becomes resident when the resident bytes so far, plus block i, plus the reserve of the blocks still
 * streamed, fit the budget. The plan therefore keeps at least the prefix that the authors' app and
 * stable-diffusion.cpp keep, and additionally any later block that still fits (typically a model's small final
 * layer, which a pure prefix would reload every pass).
 *
 * <p>Invariant: {@code residentBytes() + reserveBytes() <= budgetBytes()}. The smallest budget that works is the
 * sum of the {@code 1 + prefetchDepth} largest blocks ({@link #requiredBudget}); a smaller one is rejected.
 *
 * <p>Immutable.
 */
public final class ResidencyPlan {

    private final long budgetBytes;
    private final int prefetchDepth;
    private final List<String> names;
    private final long[] sizes;
    private final boolean[] resident;
    private final long residentBytes;
    private final long streamedBytes;
    private final long reserveBytes;
    private final long[] workingSizes; // null: blocks are used as held (float32)
    private final long workingBytes;   // largest working copy, 0 without working copies

    private ResidencyPlan(long budgetBytes, int prefetchDepth, List<String> names, long[] sizes, boolean[] resident) {
        this(budgetBytes, prefetchDepth, names, sizes, resident, null);
    }

    private ResidencyPlan(long budgetBytes, int prefetchDepth, List<String> names, long[] sizes, boolean[] resident,
            long[] workingSizes) {
        this.budgetBytes = budgetBytes;
        this.workingSizes = workingSizes == null ? null : workingSizes.clone();
        this.workingBytes = workingSizes == null ? 0 : max(workingSizes);
        this.prefetchDepth = prefetchDepth;
        this.names = Collections.unmodifiableList(new ArrayList<>(names));
        this.sizes = sizes.clone();
        this.resident = resident.clone();
        long r = 0;
        long s = 0;
        List<Long> streamed = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            if (resident[i]) {
                r += sizes[i];
            } else {
                s += sizes[i];
                streamed.add(sizes[i]);
            }
        }
        this.residentBytes = r;
        this.streamedBytes = s;
        this.reserveBytes = workingSizes == null ? largestSum(streamed, prefetchDepth + 1)
                : workingBytes + largestSum(streamed, prefetchDepth);
    }

    /**
     * Plans residency.
     *
     * @param names         block names in layout order
     * @param sizes         bytes of each block once materialised
     * @param budgetBytes   hard limit on block memory
     * @param prefetchDepth streamed blocks that may load while one computes (0: no prefetch)
     * @throws IllegalArgumentException when the budget is below {@link #requiredBudget} (the message gives the bytes
     *                                  needed), or on negative sizes / depth
     */
    public static ResidencyPlan plan(List<String> names, long[] sizes, long budgetBytes, int prefetchDepth) {
        if (names.size() != sizes.length) {
            throw new IllegalArgumentException(names.size() + " names for " + sizes.length + " sizes");
        }
        if (prefetchDepth < 0) {
            throw new IllegalArgumentException("prefetch depth must be >= 0, found " + prefetchDepth);
        }
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] < 0) {
                throw new IllegalArgumentException("block " + names.get(i) + " has negative size " + sizes[i]);
            }
        }
        long need = requiredBudget(sizes, prefetchDepth);
        if (budgetBytes < need) {
            throw new IllegalArgumentException("block budget of " + budgetBytes + " bytes (" + mib(budgetBytes)
                    + ") is too small: the largest block" + (prefetchDepth > 0 ? " plus " + prefetchDepth
                    + " prefetched block" + (prefetchDepth > 1 ? "s" : "") : "") + " need " + need + " bytes ("
                    + mib(need) + "; largest block " + names.get(argMax(sizes)) + " = " + max(sizes)
                    + " bytes). Raise the budget to at least " + need + " bytes"
                    + (prefetchDepth > 0 ? " or disable prefetch (needs " + max(sizes) + " bytes)" : ""));
        }
        boolean[] resident = firstFit(sizes, sizes, 0, prefetchDepth + 1, budgetBytes);
        return new ResidencyPlan(budgetBytes, prefetchDepth, names, sizes, resident);
    }

    /**
     * Plans residency for blocks kept <em>packed</em> while resident and used through a float32 working copy
     * ({@link WeightPrecision#BF16}, {@link WeightPrecision#INT8}): a resident block costs its packed size, a
     * streamed block its float32 size, and the reserve holds the block computing in float32 (the largest working
     * copy of any block) plus {@code prefetchDepth} streamed blocks loading ahead:
     * {@code reserve = max(workingSizes) + the prefetchDepth largest streamed float32 sizes}. Residents are chosen
     * first-fit in layout order as in {@link #plan(List, long[], long, int)}; the invariant
     * {@code residentBytes() + reserveBytes() <= budgetBytes()} holds with this reserve.
     *
     * @param packedSizes  bytes of each block kept resident (packed)
     * @param workingSizes bytes of each block in float32 (streamed, or as a working copy)
     * @throws IllegalArgumentException when the budget is below the largest working copy plus
     *                                  {@code prefetchDepth} largest float32 blocks (the message gives the bytes)
     */
    public static ResidencyPlan planPacked(List<String> names, long[] packedSizes, long[] workingSizes,
            long budgetBytes, int prefetchDepth) {
        if (names.size() != packedSizes.length || names.size() != workingSizes.length) {
            throw new IllegalArgumentException(names.size() + " names for " + packedSizes.length + " packed and "
                    + workingSizes.length + " float32 sizes");
        }
        if (prefetchDepth < 0) {
            throw new IllegalArgumentException("prefetch depth must be >= 0, found " + prefetchDepth);
        }
        int n = packedSizes.length;
        for (int i = 0; i < n; i++) {
            if (packedSizes[i] < 0 || workingSizes[i] < packedSizes[i]) {
                throw new IllegalArgumentException("block " + names.get(i) + ": packed size " + packedSizes[i]
                        + " must be in [0, float32 size " + workingSizes[i] + "]");
            }
        }
        long maxWorking = max(workingSizes);
        List<Long> all = new ArrayList<>();
        for (long w : workingSizes) {
            all.add(w);
        }
        long need = maxWorking + largestSum(all, prefetchDepth);
        if (budgetBytes < need) {
            throw new IllegalArgumentException("block budget of " + budgetBytes + " bytes (" + mib(budgetBytes)
                    + ") is too small: the largest block in float32 (" + names.get(argMax(workingSizes)) + " = "
                    + maxWorking + " bytes)" + (prefetchDepth > 0 ? " plus " + prefetchDepth + " prefetched" : "")
                    + " need " + need + " bytes (" + mib(need) + "). Raise the budget to at least " + need
                    + " bytes");
        }
        boolean[] resident = firstFit(packedSizes, workingSizes, maxWorking, prefetchDepth, budgetBytes);
        long[] sizes = new long[n];
        for (int i = 0; i < n; i++) {
            sizes[i] = resident[i] ? packedSizes[i] : workingSizes[i];
        }
        return new ResidencyPlan(budgetBytes, prefetchDepth, names, sizes, resident, workingSizes);
    }

    /**
     * First fit in layout order: block i becomes resident (costing {@code residentCost[i]}) when the resident blocks
     * so far, plus block i, plus the reserve for the blocks still streamed ({@code fixedReserve} plus the
     * {@code streamedInReserve} largest {@code streamedCost} of the other streamed blocks) fit the budget.
     */
    private static boolean[] firstFit(long[] residentCost, long[] streamedCost, long fixedReserve,
            int streamedInReserve, long budgetBytes) {
        int n = residentCost.length;
        boolean[] resident = new boolean[n];
        long residentSum = 0;
        for (int i = 0; i < n; i++) {
            List<Long> streamedAfter = new ArrayList<>();
            for (int j = 0; j < n; j++) {
                if (j != i && !resident[j]) {
                    streamedAfter.add(streamedCost[j]);
                }
            }
            long reserve = fixedReserve + largestSum(streamedAfter, streamedInReserve);
            if (residentSum + residentCost[i] + reserve <= budgetBytes) {
                resident[i] = true;
                residentSum += residentCost[i];
            }
        }
        return resident;
    }

    /** The smallest budget a plan accepts: the {@code 1 + prefetchDepth} largest blocks together. */
    public static long requiredBudget(long[] sizes, int prefetchDepth) {
        List<Long> all = new ArrayList<>();
        for (long s : sizes) {
            all.add(s);
        }
        return largestSum(all, prefetchDepth + 1);
    }

    private static long largestSum(List<Long> values, int k) {
        List<Long> v = new ArrayList<>(values);
        v.sort(Collections.reverseOrder());
        long s = 0;
        for (int i = 0; i < Math.min(k, v.size()); i++) {
            s += v.get(i);
        }
        return s;
    }

    private static int argMax(long[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    private static long max(long[] a) {
        return a.length == 0 ? 0 : a[argMax(a)];
    }

    static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / (1024.0 * 1024.0));
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    public int prefetchDepth() {
        return prefetchDepth;
    }

    /** Number of blocks. */
    public int size() {
        return sizes.length;
    }

    /** Block names in layout order. */
    public List<String> names() {
        return names;
    }

    /** Bytes block {@code i} occupies while loaded (layout order): packed size if resident in a packed plan. */
    public long blockBytes(int i) {
        return sizes[i];
    }

    /** True for a plan of packed resident blocks with float32 working copies ({@link #planPacked}). */
    public boolean packed() {
        return workingSizes != null;
    }

    /** Bytes of block {@code i} in float32 (its working copy in a packed plan; else {@link #blockBytes(int)}). */
    public long workingBytes(int i) {
        return workingSizes == null ? sizes[i] : workingSizes[i];
    }

    /** True when block {@code i} stays resident once loaded. */
    public boolean isResident(int i) {
        return resident[i];
    }

    /** Number of resident blocks. */
    public int residentCount() {
        int c = 0;
        for (boolean r : resident) {
            c += r ? 1 : 0;
        }
        return c;
    }

    /** Bytes of the resident blocks. */
    public long residentBytes() {
        return residentBytes;
    }

    /** Bytes of the streamed blocks: what one full pass loads once the resident blocks are in. */
    public long streamedBytes() {
        return streamedBytes;
    }

    /**
     * Room kept for streamed blocks in flight (the block computing plus the prefetched ones); in a packed plan the
     * block computing is the largest float32 working copy.
     */
    public long reserveBytes() {
        return reserveBytes;
    }

    /** Bytes the streamed blocks may occupy together: the budget minus the resident blocks (≥ the reserve). */
    public long streamingCapacity() {
        return budgetBytes - residentBytes;
    }

    /** One line for the log: budget, resident and streamed blocks with their bytes, reserve. */
    @Override
    public String toString() {
        List<String> res = new ArrayList<>();
        List<String> str = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            (resident[i] ? res : str).add(names.get(i));
        }
        return String.format("budget %s: %d of %d blocks resident (%s%s) %s, %d streamed (%s per pass) %s, "
                + "reserve %s for 1 computing + %d prefetched", budgetBytes == Long.MAX_VALUE ? "unlimited"
                : mib(budgetBytes), res.size(), sizes.length, mib(residentBytes), workingSizes == null ? "" : ", packed",
                ranges(res), str.size(),
                mib(streamedBytes), ranges(str), mib(reserveBytes), prefetchDepth);
    }

    /** Names, abbreviated to first..last when long. */
    private static String ranges(List<String> names) {
        if (names.size() <= 6) {
            return names.toString();
        }
        return "[" + String.join(", ", names.subList(0, 3)) + ", ..., "
                + String.join(", ", names.subList(names.size() - 2, names.size())) + "]";
    }

    /** Sizes of all blocks in layout order (a copy). */
    public long[] blockBytes() {
        return Arrays.copyOf(sizes, sizes.length);
    }
}
