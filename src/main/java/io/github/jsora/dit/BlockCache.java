package io.github.jsora.dit;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tensor;

/**
 * Step caching for STDiT3: between neighbouring sampling steps, reuse the residual of the block stack (output minus
 * input) instead of recomputing it, when a cheap signal says the step changed little. One cache serves one sampling
 * run; {@link Stdit3#forward(Stdit3Input, boolean, Tensor, io.github.jsora.tensor.Tap, BlockCache, boolean)} consults
 * it.
 *
 * <p>Two criteria (the field's TeaCache and FirstBlockCache ideas):
 * <ul>
 *   <li>{@link Criterion#MODULATED_INPUT}: the relative L1 change of the first block's timestep-modulated input,
 *       {@code LN(x)·(1 + scale_msa) + shift_msa} of {@code spatial_blocks.0}, accumulated over the steps since the
 *       last computed one. While the sum stays below the threshold the whole stack is skipped:
 *       {@code x_out = x_in + residual}.</li>
 *   <li>{@link Criterion#FIRST_BLOCK_RESIDUAL}: block pair 0 always runs; when the relative L1 change of its residual
 *       from the last computed step's is below the threshold, pairs 1 … depth−1 are skipped and their last residual
 *       is added.</li>
 * </ul>
 * The relative L1 change of a from b is Σ|a − b| / Σ|b|. A forward that changes the token count or batch (another
 * geometry, a half-batch guidance step) always computes and restarts the cache.
 *
 * <p>Holds native memory (two or three tensors the size of the token stream [B, T·S, C]); close it after the run.
 */
public final class BlockCache implements AutoCloseable {

    /** What decides whether a step may reuse the cached residual. */
    public enum Criterion {
        /** Accumulated relative L1 change of the first block's modulated input (TeaCache). */
        MODULATED_INPUT,
        /** Relative L1 change of the first block pair's residual (FirstBlockCache). */
        FIRST_BLOCK_RESIDUAL
    }

    private final Criterion criterion;
    private final double threshold;
    private Tensor previous;        // [B, T·S, C] last modulated input, or last first-pair residual
    private Tensor residual;        // [B, T·S, C] residual of the skipped span at the last computed step
    private Tensor scratch;         // [B, T·S, C] first-pair input (FIRST_BLOCK_RESIDUAL)
    private boolean haveResidual;
    private double accumulated;
    private final List<Boolean> reused = new ArrayList<>();
    private final List<Double> distances = new ArrayList<>();

    /**
     * @param threshold reuse while the (accumulated) relative L1 change stays below this; must be positive and finite
     */
    public BlockCache(Criterion criterion, double threshold) {
        if (criterion == null) {
            throw new IllegalArgumentException("step cache criterion is null");
        }
        if (!(threshold > 0) || !Double.isFinite(threshold)) {
            throw new IllegalArgumentException("step cache threshold must be positive and finite, found " + threshold);
        }
        this.criterion = criterion;
        this.threshold = threshold;
    }

    public Criterion criterion() {
        return criterion;
    }

    public double threshold() {
        return threshold;
    }

    /** One entry per forward that consulted the cache, in order: true where the skipped span was reused. */
    public List<Boolean> decisions() {
        return List.copyOf(reused);
    }

    /** The change measured at each consulted forward (NaN where nothing could be compared), in order. */
    public List<Double> distances() {
        return List.copyOf(distances);
    }

    /** Forwards that reused the cached residual. */
    public int reusedForwards() {
        return (int) reused.stream().filter(b -> b).count();
    }

    /** Native bytes the cache holds at most for forwards on x [batch, in_channels, frames, height, width]. */
    public static long bytes(Criterion criterion, Stdit3Config cfg, int batch, int frames, int height, int width) {
        long tokens = (long) batch * InputGeometry.ceilDiv(frames, cfg.patchT())
                * InputGeometry.ceilDiv(height, cfg.patchH()) * InputGeometry.ceilDiv(width, cfg.patchW());
        long one = tokens * cfg.hiddenSize() * Float.BYTES;
        return criterion == Criterion.MODULATED_INPUT ? 2 * one : 3 * one;
    }

    // ------------------------------------------------------------------ used by Stdit3.forward

    /**
     * Offers this step's signal (the modulated input, or the first pair's residual) and decides.
     *
     * @param signal     [B, T·S, C] (any view of that many floats)
     * @param mayReuse   whether the caller allows a reuse at this step
     * @return true when the skipped span's residual is to be reused
     */
    boolean decide(Tensor signal, boolean mayReuse) {
        boolean sameShape = previous != null && previous.size() == signal.size();
        if (!sameShape) {
            closeIfOpen(previous);
            closeIfOpen(residual);
            previous = Tensor.zeros(Math.toIntExact(signal.size()));
            residual = Tensor.zeros(Math.toIntExact(signal.size()));
            haveResidual = false;
            accumulated = 0;
        }
        double d = sameShape ? relativeL1(signal, previous) : Double.NaN;
        distances.add(d);
        boolean reuse;
        if (criterion == Criterion.MODULATED_INPUT) {
            double acc = Double.isNaN(d) ? Double.POSITIVE_INFINITY : accumulated + d;
            reuse = mayReuse && haveResidual && acc < threshold;
            accumulated = reuse ? acc : 0;
        } else {
            reuse = mayReuse && haveResidual && d < threshold;
        }
        // TeaCache compares each step with the previous one; FirstBlockCache with the last computed step
        if (criterion == Criterion.MODULATED_INPUT || !reuse) {
            previous.copyFrom(signal.reshape(Math.toIntExact(signal.size())));
        }
        reused.add(reuse);
        return reuse;
    }

    /** x [B, T·S, C] += the cached residual of the skipped span. */
    void addResidual(Tensor x) {
        addTo(x, residual, 1f);
    }

    /** Remembers x [B, T·S, C] at the start of the span about to be computed. */
    void spanStart(Tensor x) {
        residual.copyFrom(x.reshape(Math.toIntExact(x.size())));
    }

    /** residual = x − (x at the span's start): the span's residual, for the following steps. */
    void spanEnd(Tensor x) {
        residualOf(x, residual);
        haveResidual = true;
    }

    /** The scratch tensor [B, T·S, C] for the first pair's input (FIRST_BLOCK_RESIDUAL). */
    Tensor scratch(long size) {
        if (scratch == null || scratch.size() != size) {
            if (scratch != null) {
                scratch.close();
            }
            scratch = Tensor.zeros(Math.toIntExact(size));
        }
        return scratch;
    }

    private static final int CHUNK = 1 << 12;

    private static int rowsOf(Tensor t) {
        return Math.toIntExact((t.size() + CHUNK - 1) / CHUNK);
    }

    /** a += s·b elementwise. */
    private static void addTo(Tensor a, Tensor b, float s) {
        Parallel.forRange(rowsOf(a), CHUNK, (from, to) -> {
            float[] x = new float[CHUNK];
            float[] y = new float[CHUNK];
            for (int r = from; r < to; r++) {
                long o = (long) r * CHUNK;
                int n = (int) Math.min(CHUNK, a.size() - o);
                a.read(o, x, 0, n);
                b.read(o, y, 0, n);
                for (int i = 0; i < n; i++) {
                    x[i] += s * y[i];
                }
                a.write(o, x, 0, n);
            }
        });
    }

    /** into = x − into elementwise (a residual, from the span's input stored in {@code into}). */
    static void residualOf(Tensor x, Tensor into) {
        Parallel.forRange(rowsOf(into), CHUNK, (from, to) -> {
            float[] a = new float[CHUNK];
            float[] b = new float[CHUNK];
            for (int r = from; r < to; r++) {
                long o = (long) r * CHUNK;
                int n = (int) Math.min(CHUNK, into.size() - o);
                x.read(o, a, 0, n);
                into.read(o, b, 0, n);
                for (int i = 0; i < n; i++) {
                    b[i] = a[i] - b[i];
                }
                into.write(o, b, 0, n);
            }
        });
    }

    /** Σ|a − b| / Σ|b| in double, in a fixed order (independent of the thread count). */
    static double relativeL1(Tensor a, Tensor b) {
        float[] x = new float[CHUNK];
        float[] y = new float[CHUNK];
        double num = 0;
        double den = 0;
        for (long o = 0; o < a.size(); o += CHUNK) {
            int n = (int) Math.min(CHUNK, a.size() - o);
            a.read(o, x, 0, n);
            b.read(o, y, 0, n);
            for (int i = 0; i < n; i++) {
                num += Math.abs(x[i] - y[i]);
                den += Math.abs(y[i]);
            }
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : num / den;
    }

    private static void closeIfOpen(Tensor t) {
        if (t != null) {
            t.close();
        }
    }

    private void closeTensors() {
        closeIfOpen(previous);
        closeIfOpen(residual);
        closeIfOpen(scratch);
        previous = null;
        residual = null;
        scratch = null;
    }

    @Override
    public void close() {
        closeTensors();
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "BlockCache[%s < %.3g: %d of %d forwards reused]", criterion, threshold,
                reusedForwards(), reused.size());
    }
}
