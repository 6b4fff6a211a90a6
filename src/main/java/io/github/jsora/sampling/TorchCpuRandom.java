package io.github.jsora.sampling;

import io.github.jsora.tensor.Tensor;

/**
 * The random stream of PyTorch's CPU generator, so that a seed means the same noise in jsora as in a PyTorch run on
 * CPU: {@code torch.randn(shape, generator=torch.Generator().manual_seed(seed))} in float32, and the later draws of
 * the same generator ({@code torch.manual_seed(seed)} followed by {@code torch.randn_like} calls).
 *
 * <p>What it reproduces (PyTorch's CPU generator and {@code normal_} kernel, checked against tensors drawn by PyTorch
 * 1.13 in {@code TorchCpuRandomTest}):
 * <ul>
 *   <li>the generator is MT19937 seeded with the low 32 bits of the seed (the classic initialisation);</li>
 *   <li>a float32 uniform in [0, 1) is the low 24 bits of one 32-bit output times 2⁻²⁴;</li>
 *   <li>a float32 normal tensor of at least 16 elements is first filled with uniforms, then transformed 16 at a
 *       time by Box–Muller: with {@code u1 = 1 − x[j]} and {@code u2 = x[j+8]} (j &lt; 8),
 *       {@code x[j] = √(−2 ln u1)·cos(2π u2)} and {@code x[j+8] = √(−2 ln u1)·sin(2π u2)}; when the size is not a
 *       multiple of 16, the last 16 elements are drawn again and transformed once more;</li>
 *   <li>a smaller tensor takes the scalar path, {@link #nextNormalDouble()} per element (rounded to float32), whose
 *       spare value is kept in the generator like PyTorch keeps it.</li>
 * </ul>
 * PyTorch evaluates the 16-wide transform with vectorised single-precision {@code log}, {@code sin} and
 * {@code cos}; this class uses {@link StrictMath} in double precision and rounds, so values may differ from
 * PyTorch's by an ulp or two (measured: at most 2.4e-7 absolute over the stored reference draws), and are
 * bit-identical on every JVM and machine.
 *
 * <p>Not thread-safe: one instance is one stream, like a {@code torch.Generator}.
 */
public final class TorchCpuRandom {

    private static final int N = 624;
    private static final int M = 397;
    private static final float TWO_POW_M24 = 0x1.0p-24f;

    private final int[] state = new int[N];
    private int next = N;
    private double cachedNormal = Double.NaN;   // PyTorch's next_double_normal_sample

    /** A generator in the state {@code torch.Generator().manual_seed(seed)} leaves it in. */
    public TorchCpuRandom(long seed) {
        state[0] = (int) seed;
        for (int j = 1; j < N; j++) {
            int prev = state[j - 1];
            state[j] = 1812433253 * (prev ^ (prev >>> 30)) + j;
        }
    }

    /** The next 32-bit output of the Mersenne Twister, as an unsigned value in an {@code int}. */
    public int nextInt() {
        if (next >= N) {
            twist();
        }
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9D2C5680;
        y ^= (y << 15) & 0xEFC60000;
        y ^= y >>> 18;
        return y;
    }

    /**
     * Advances the stream by {@code outputs} 32-bit outputs, as drawing that many float32 uniforms would. A float32
     * normal tensor of at least 16 elements, and a multiple of 16, consumes one output per element, so skipping
     * {@code k·n} outputs before drawing {@code n} values gives sample {@code k} of a batch drawn at once.
     */
    public void skip(long outputs) {
        if (outputs < 0) {
            throw new IllegalArgumentException("cannot skip a negative number of outputs: " + outputs);
        }
        long left = outputs;
        while (left > 0) {
            if (next >= N) {
                twist();
            }
            int step = (int) Math.min(left, N - next);
            next += step;
            left -= step;
        }
    }

    /** Two outputs as one 64-bit word, the first in the high half (PyTorch's {@code random64}). */
    public long nextLong() {
        long hi = nextInt() & 0xFFFFFFFFL;
        long lo = nextInt() & 0xFFFFFFFFL;
        return (hi << 32) | lo;
    }

    /** A double uniform in [0, 1) from the low 53 bits of {@link #nextLong()}. */
    public double nextUniformDouble() {
        return (nextLong() & ((1L << 53) - 1)) * 0x1.0p-53;
    }

    /**
     * One standard normal value of PyTorch's scalar path (used for tensors of fewer than 16 elements): Box–Muller
     * in double on two uniforms, returning the cosine branch and keeping the sine branch for the next call.
     */
    public double nextNormalDouble() {
        if (!Double.isNaN(cachedNormal)) {
            double v = cachedNormal;
            cachedNormal = Double.NaN;
            return v;
        }
        double u1 = nextUniformDouble();
        double u2 = nextUniformDouble();
        double r = StrictMath.sqrt(-2.0 * StrictMath.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * StrictMath.sin(theta);
        return r * StrictMath.cos(theta);
    }

    /** A float32 uniform in [0, 1), as PyTorch draws it for a float tensor. */
    public float nextUniform() {
        return (nextInt() & 0xFFFFFF) * TWO_POW_M24;
    }

    /**
     * Overwrites all of {@code x} (C order) with the standard normal values {@code torch.randn} would draw from this
     * generator for a float32 tensor of {@code x.length} elements, advancing the stream the same way.
     */
    public void fillNormal(float[] x) {
        fillNormalSlice(x, x.length, 0);
    }

    /**
     * Elements {@code [offset, offset + x.length)} of the float32 normal tensor of {@code total} elements that
     * {@code torch.randn} would draw from this generator, leaving the generator where that whole draw leaves it.
     * With {@code total = B·n} and {@code offset = k·n} this is sample {@code k} of a batch of {@code B} drawn at
     * once, which is how a reference run that generated several videos together drew their noise. Costs
     * {@code O(x.length)} work plus a cheap skip over the rest of the stream.
     *
     * @throws IllegalArgumentException if the slice is not inside {@code [0, total)}
     */
    public void fillNormalSlice(float[] x, long total, long offset) {
        int len = x.length;
        if (offset < 0 || total < 0 || offset > total - len) {
            throw new IllegalArgumentException("normal slice [" + offset + ", " + (offset + len)
                    + ") is not inside a draw of " + total + " elements");
        }
        if (total < 16) {                       // PyTorch's scalar path: one double normal per element
            for (int e = 0; e < total; e++) {
                float v = (float) nextNormalDouble();
                if (e >= offset && e < offset + len) {
                    x[(int) (e - offset)] = v;
                }
            }
            return;
        }
        long tailStart = total % 16 == 0 ? total : total - 16;   // from here on the last 16 are drawn again
        float[] block = new float[16];
        long consumed = 0;                                         // outputs of the main draw used so far
        long mainEnd = Math.min(offset + len, tailStart);
        for (long b = (offset / 16) * 16; b < mainEnd; b += 16) {
            skip(b - consumed);
            for (int i = 0; i < 16; i++) {
                block[i] = nextUniform();
            }
            consumed = b + 16;
            boxMuller16(block, 0);
            copyOverlap(block, b, x, offset);
        }
        skip(total - consumed);                                    // the rest of the uniforms
        if (tailStart < total) {
            for (int i = 0; i < 16; i++) {
                block[i] = nextUniform();
            }
            boxMuller16(block, 0);
            copyOverlap(block, tailStart, x, offset);
        }
    }

    /** Copies the part of a 16-element block starting at element {@code blockStart} that falls inside the slice. */
    private static void copyOverlap(float[] block, long blockStart, float[] x, long offset) {
        long from = Math.max(blockStart, offset);
        long to = Math.min(blockStart + 16, offset + x.length);
        for (long e = from; e < to; e++) {
            x[(int) (e - offset)] = block[(int) (e - blockStart)];
        }
    }

    /** A new {@code shape} tensor of {@code torch.randn(shape, generator=torch.Generator().manual_seed(seed))}. */
    public static Tensor randn(long seed, int... shape) {
        return randnOfBatch(seed, 0, 1, shape);
    }

    /**
     * Sample {@code index} of {@code torch.randn(batchSize, *shape, generator=torch.Generator().manual_seed(seed))}:
     * a new {@code shape} tensor holding that sample's slice of the batch draw (see {@link #fillNormalSlice}).
     *
     * @throws IllegalArgumentException if {@code index} is outside [0, batchSize) or the tensor has more than
     *                                  2³¹−1 elements
     */
    public static Tensor randnOfBatch(long seed, int index, int batchSize, int... shape) {
        if (index < 0 || index >= batchSize) {
            throw new IllegalArgumentException("batch index " + index + " outside [0, " + batchSize + ")");
        }
        Tensor t = Tensor.zeros(shape);
        try {
            long n = t.size();
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("torch-compatible normal noise: tensor " + t.shapeString()
                        + " has more than 2^31-1 elements");
            }
            float[] x = new float[(int) n];
            new TorchCpuRandom(seed).fillNormalSlice(x, n * batchSize, n * index);
            t.write(0, x, 0, x.length);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private static void boxMuller16(float[] x, int off) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - x[off + j];
            float u2 = x[off + j + 8];
            float radius = (float) StrictMath.sqrt(-2f * (float) StrictMath.log(u1));
            float theta = (float) (2.0 * Math.PI) * u2;
            x[off + j] = radius * (float) StrictMath.cos(theta);
            x[off + j + 8] = radius * (float) StrictMath.sin(theta);
        }
    }

    private void twist() {
        for (int k = 0; k < N; k++) {
            int y = (state[k] & 0x80000000) | (state[(k + 1) % N] & 0x7FFFFFFF);
            int v = state[(k + M) % N] ^ (y >>> 1);
            state[k] = (y & 1) != 0 ? v ^ 0x9908B0DF : v;
        }
        next = 0;
    }
}
