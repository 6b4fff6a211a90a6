package io.github.jsora.tensor;

/**
 * Slow, obvious reference implementations of every tensor kernel, in double precision on heap arrays. Tests
 * compare the fast kernels against these.
 */
public final class Naive {

    /** n standard-normal floats from {@code rnd}. */
    public static float[] randn(java.util.Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    private Naive() {
    }

    /** c[m][n] = Σ_k op(a)[m][k]·op(b)[k][n]. a is [M,K] or [K,M] (transA); b is [K,N] or [N,K] (transB). */
    public static float[] matmul(float[] a, boolean transA, float[] b, boolean transB, int m, int k, int n) {
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = transA ? a[p * m + i] : a[i * k + p];
                    double bv = transB ? b[j * k + p] : b[p * n + j];
                    s += av * bv;
                }
                c[i * n + j] = (float) s;
            }
        }
        return c;
    }

    public static float[] linear(float[] x, int rows, int in, float[] w, int out, float[] bias) {
        float[] y = matmul(x, false, w, true, rows, in, out);
        if (bias != null) {
            for (int r = 0; r < rows; r++) {
                for (int o = 0; o < out; o++) {
                    y[r * out + o] += bias[o];
                }
            }
        }
        return y;
    }

    public static float[] layerNorm(float[] x, int c, double eps) {
        float[] y = new float[x.length];
        for (int r = 0; r < x.length / c; r++) {
            double mean = 0;
            for (int i = 0; i < c; i++) {
                mean += x[r * c + i];
            }
            mean /= c;
            double var = 0;
            for (int i = 0; i < c; i++) {
                double d = x[r * c + i] - mean;
                var += d * d;
            }
            var /= c;
            for (int i = 0; i < c; i++) {
                y[r * c + i] = (float) ((x[r * c + i] - mean) / Math.sqrt(var + eps));
            }
        }
        return y;
    }

    public static float[] rmsNorm(float[] x, float[] w, double eps) {
        int c = w.length;
        float[] y = new float[x.length];
        for (int r = 0; r < x.length / c; r++) {
            double ms = 0;
            for (int i = 0; i < c; i++) {
                ms += (double) x[r * c + i] * x[r * c + i];
            }
            ms /= c;
            for (int i = 0; i < c; i++) {
                y[r * c + i] = (float) (x[r * c + i] / Math.sqrt(ms + eps) * w[i]);
            }
        }
        return y;
    }

    /** x [N, C, S] flattened. */
    public static float[] groupNorm(float[] x, int n, int c, int groups, double eps, float[] w, float[] b) {
        int s = x.length / (n * c);
        int cg = c / groups;
        float[] y = new float[x.length];
        for (int i = 0; i < n; i++) {
            for (int g = 0; g < groups; g++) {
                double mean = 0;
                int cnt = cg * s;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    for (int p = 0; p < s; p++) {
                        mean += x[(i * c + ch) * s + p];
                    }
                }
                mean /= cnt;
                double var = 0;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    for (int p = 0; p < s; p++) {
                        double d = x[(i * c + ch) * s + p] - mean;
                        var += d * d;
                    }
                }
                var /= cnt;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    for (int p = 0; p < s; p++) {
                        int idx = (i * c + ch) * s + p;
                        double v = (x[idx] - mean) / Math.sqrt(var + eps);
                        y[idx] = (float) (v * (w == null ? 1 : w[ch]) + (b == null ? 0 : b[ch]));
                    }
                }
            }
        }
        return y;
    }

    public static float[] softmax(float[] x, int n, double scale, float[] mask) {
        float[] y = new float[x.length];
        for (int r = 0; r < x.length / n; r++) {
            double max = Double.NEGATIVE_INFINITY;
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = x[r * n + i] * scale + (mask == null ? 0 : mask[i]);
                max = Math.max(max, v[i]);
            }
            if (max == Double.NEGATIVE_INFINITY) {
                continue;
            }
            double sum = 0;
            for (int i = 0; i < n; i++) {
                v[i] = Math.exp(v[i] - max);
                sum += v[i];
            }
            for (int i = 0; i < n; i++) {
                y[r * n + i] = (float) (v[i] / sum);
            }
        }
        return y;
    }

    public static float gelu(double x) {
        return (float) (0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))));
    }

    public static float silu(double x) {
        return (float) (x / (1 + Math.exp(-x)));
    }

    /** softmax(scale·q·kᵀ + bias)·v for one batch row: q [M,d], k [N,d], v [N,dv]. */
    public static float[] attention(float[] q, float[] k, float[] v, int m, int n, int d, int dv, double scale,
            float[] bias) {
        float[] s = matmul(q, false, k, true, m, d, n);
        if (bias != null) {
            for (int i = 0; i < s.length; i++) {
                s[i] = (float) (s[i] * scale + bias[i]);
            }
            s = softmax(s, n, 1, null);
        } else {
            s = softmax(s, n, scale, null);
        }
        return matmul(s, false, v, false, m, n, dv);
    }
}
