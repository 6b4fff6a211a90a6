package io.github.jsora;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

import io.github.jsora.tensor.NativeMemory;
import io.github.jsora.weights.BlockStore;

/**
 * The single residency decision of one request: how a process budget is shared by the three models' blocks and
 * the activations of the stage running, decided before any work.
 *
 * <h2>Rule</h2>
 * Each stage s (text, denoise, decode) needs, while it runs: its activations {@code a_s} (the stage's own bound),
 * the tensors carried between stages {@code c}, a slack {@code S} for the slab allocator's partly used slabs, and
 * block memory. A model is <em>kept</em> (all blocks resident, across stages and requests) when every stage still
 * fits with it: for each stage, the kept models' full sizes, plus {@code a_s + c + S}, plus — when s itself is not
 * kept — the smallest block budget s can stream with while prefetching one block, stay within the budget. Models are tried in the order STDiT3
 * (used every step), VAE, T5. A stage that is not kept gets a streaming {@link BlockStore} whose budget is what is
 * left when it starts: the budget minus what jsora holds then, minus the not yet loaded part of kept models,
 * minus {@code a_s + S}; it is closed when the stage ends. Prefetch (one block ahead) is used when the budget has
 * room for it, else blocks load in the compute thread.
 *
 * <p>Immutable.
 */
final class MemoryPlan {

    /** Room for slabs of the tensor allocator that are partly used (two 64 MiB slabs). */
    static final long SLACK_BYTES = 128L << 20;

    /** What the plan knows of one stage's model. */
    record StageNeeds(String model, long totalBytes, long minBudgetPrefetch, long minBudgetNoPrefetch,
            long activationBytes) {
    }

    private final long budget;
    private final long carried;
    private final Map<Stage, StageNeeds> needs;
    private final Map<Stage, Boolean> kept = new EnumMap<>(Stage.class);

    private MemoryPlan(long budget, long carried, Map<Stage, StageNeeds> needs) {
        this.budget = budget;
        this.carried = carried;
        this.needs = needs;
    }

    /**
     * Plans a request.
     *
     * @throws MemoryBudgetException when a stage cannot run within the budget even streaming one block at a time
     *                               (the message names the stage, the model and the bytes needed)
     */
    static MemoryPlan plan(long budget, long carriedBytes, Map<Stage, StageNeeds> needs) {
        MemoryPlan p = new MemoryPlan(budget, carriedBytes, new EnumMap<>(needs));
        for (Stage s : needs.keySet()) {
            p.kept.put(s, false);
        }
        for (Stage s : needs.keySet()) {
            long need = p.stageNeed(s, false);
            if (need > budget) {
                StageNeeds n = needs.get(s);
                throw new MemoryBudgetException(budget, need, "the " + s.name().toLowerCase(Locale.ROOT)
                        + " stage (" + n.model() + ") needs at least " + need + " bytes (" + NativeMemory.mib(need)
                        + "): its largest block " + NativeMemory.mib(n.minBudgetNoPrefetch()) + ", activations "
                        + NativeMemory.mib(n.activationBytes()) + ", tensors carried between stages "
                        + NativeMemory.mib(carriedBytes) + " and allocator slack " + NativeMemory.mib(SLACK_BYTES));
            }
        }
        for (Stage s : new Stage[] {Stage.DENOISE, Stage.DECODE, Stage.TEXT}) {
            if (!needs.containsKey(s)) {
                continue;
            }
            p.kept.put(s, true);
            boolean fits = true;
            for (Stage t : needs.keySet()) {
                fits &= p.stageNeed(t, true) <= budget; // the others keep their prefetch
            }
            if (!fits) {
                p.kept.put(s, false);
            }
        }
        return p;
    }

    /** Bytes stage s needs at least with the current keep set (streaming with prefetch when asked). */
    private long stageNeed(Stage s, boolean prefetch) {
        StageNeeds n = needs.get(s);
        long need = n.activationBytes() + carried + SLACK_BYTES;
        for (Map.Entry<Stage, Boolean> e : kept.entrySet()) {
            if (e.getValue()) {
                need += needs.get(e.getKey()).totalBytes();
            }
        }
        if (!kept.get(s)) {
            need += prefetch ? n.minBudgetPrefetch() : n.minBudgetNoPrefetch();
        }
        return need;
    }

    long budget() {
        return budget;
    }

    /** The smallest budget with which every stage runs, each streaming its model one block at a time. */
    static long minimumBudget(long carriedBytes, Map<Stage, StageNeeds> needs) {
        long m = 0;
        for (StageNeeds n : needs.values()) {
            m = Math.max(m, n.activationBytes() + carriedBytes + SLACK_BYTES + n.minBudgetNoPrefetch());
        }
        return m;
    }

    /** True when the stage's model stays resident (across stages and requests). */
    boolean kept(Stage s) {
        return kept.getOrDefault(s, false);
    }

    /**
     * The block store options for stage {@code s} starting now.
     *
     * @param liveNow          {@link NativeMemory#liveBytes()} now
     * @param unloadedKeptBytes bytes of kept models of other stages that are not loaded yet
     * @param ownResidentBytes block bytes the stage's own store already holds (counted in liveNow)
     */
    BlockStore.Options storeOptions(Stage s, long liveNow, long unloadedKeptBytes, long ownResidentBytes) {
        StageNeeds n = needs.get(s);
        if (kept(s)) {
            return BlockStore.Options.unlimited();
        }
        long blocks = budget - (liveNow - ownResidentBytes) - unloadedKeptBytes - n.activationBytes() - SLACK_BYTES;
        BlockStore.Options o;
        if (blocks >= n.minBudgetPrefetch()) {
            o = BlockStore.Options.budget(blocks);
        } else if (blocks >= n.minBudgetNoPrefetch()) {
            o = BlockStore.Options.budget(blocks).withoutPrefetch();
        } else {
            throw new MemoryBudgetException(budget, budget + n.minBudgetNoPrefetch() - blocks, "the "
                    + s.name().toLowerCase(Locale.ROOT) + " stage (" + n.model() + ") has " + Math.max(0, blocks)
                    + " bytes left for blocks when it starts and needs " + n.minBudgetNoPrefetch() + " (jsora holds "
                    + NativeMemory.mib(liveNow) + ")");
        }
        return s == Stage.TEXT ? o.singlePass() : o;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("memory plan: budget " + NativeMemory.mib(budget));
        for (Map.Entry<Stage, StageNeeds> e : needs.entrySet()) {
            StageNeeds n = e.getValue();
            b.append("; ").append(n.model()).append(' ').append(NativeMemory.mib(n.totalBytes()))
                    .append(kept(e.getKey()) ? " resident" : " streamed").append(" (activations ")
                    .append(NativeMemory.mib(n.activationBytes())).append(')');
        }
        return b.toString();
    }
}
