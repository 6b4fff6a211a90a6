package io.github.jsora;

import java.io.IOException;
import java.nio.file.Path;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.SafetensorsFile;
import io.github.jsora.weights.SafetensorsWriter;
import io.github.jsora.weights.WeightFormatException;

/**
 * The final latent of a denoising run with the request that produced it, so that decoding can be done (or redone)
 * later by {@link VideoGenerator#decode}. Saved as safetensors: tensor {@code latent} [1, C, T, H, W] (F32) and
 * metadata {@code jsora.frames}, {@code jsora.fps}, {@code jsora.request}.
 *
 * <p>Holds native memory: close it when done.
 */
public final class Latent implements AutoCloseable {

    private final Tensor z;
    private final int frames;
    private final double fps;
    private final String requestDescription;

    Latent(Tensor z, int frames, double fps, String requestDescription) {
        this.z = z;
        this.frames = frames;
        this.fps = fps;
        this.requestDescription = requestDescription;
    }

    /**
     * The latent, [1, C, T, H, W].
     *
     * @return the latent, [1, C, T, H, W]
     */
    public Tensor tensor() {
        return z;
    }

    /**
     * Pixel frames it decodes to.
     *
     * @return the frames
     */
    public int frames() {
        return frames;
    }

    /**
     * The frame rate of the request that made this latent.
     *
     * @return frames per second
     */
    public double fps() {
        return fps;
    }

    /**
     * Description of the request that produced it.
     *
     * @return the request
     */
    public String request() {
        return requestDescription;
    }

    /**
     * Saves to a safetensors file, created with the default permissions of new files (as videos are) and committed
     * without ever replacing a file that appears meanwhile; an existing file is replaced only when {@code overwrite}.
     *
     * @param file the file
     * @param overwrite replace an existing output
     * @throws IOException if reading or writing fails
     */
    public void save(Path file, boolean overwrite) throws IOException {
        new SafetensorsWriter().add("latent", z).metadata("jsora.frames", Integer.toString(frames))
                .metadata("jsora.fps", Double.toString(fps)).metadata("jsora.request", requestDescription)
                .write(file, overwrite);
    }

    /**
     * Loads a latent saved by {@link #save}.
     *
     * @param file the file
     * @return the latent read from the file
     * @throws WeightFormatException when the file is not one: no 5-D tensor {@code latent}, missing or invalid
     *                               {@code jsora.frames} / {@code jsora.fps}, or a NaN or infinite value (the
     *                               message names its index and latent frame)
     */
    public static Latent load(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            if (!f.contains("latent") || f.info("latent").shape().length != 5) {
                throw new WeightFormatException(file, "not a jsora latent: needs a tensor \"latent\" [1, C, T, H, W]");
            }
            String fr = f.metadata().get("jsora.frames");
            String fps = f.metadata().get("jsora.fps");
            if (fr == null || fps == null) {
                throw new WeightFormatException(file, "not a jsora latent: metadata jsora.frames / jsora.fps missing");
            }
            int frames;
            double rate;
            try {
                frames = Integer.parseInt(fr.trim());
                rate = Double.parseDouble(fps.trim());
            } catch (NumberFormatException e) {
                throw new WeightFormatException(file, "invalid jsora.frames / jsora.fps metadata");
            }
            if (frames < 1 || !(rate > 0) || !Double.isFinite(rate)) {
                throw new WeightFormatException(file, "invalid jsora.frames " + frames + " / jsora.fps " + rate
                        + " (frames must be >= 1, fps positive and finite)");
            }
            Tensor z = f.load("latent"); // only after the metadata is known good: nothing to leak on bad metadata
            try {
                String bad = firstNonFinite(z);
                if (bad != null) {
                    throw new WeightFormatException(file, "latent " + bad);
                }
                return new Latent(z, frames, rate, f.metadata().getOrDefault("jsora.request", ""));
            } catch (RuntimeException e) {
                z.close();
                throw e;
            }
        }
    }

    /**
     * Describes the first NaN or infinite value of a [B, C, T, H, W] latent ("value NaN at [0, 1, 2, 3, 4]
     * (sample 0, channel 1, latent frame 2)"), or returns null when all are finite.
     */
    static String firstNonFinite(Tensor z) {
        long n = z.size();
        float[] buf = new float[(int) Math.min(n, 1 << 16)];
        for (long i = 0; i < n; i += buf.length) {
            int len = (int) Math.min(buf.length, n - i);
            z.read(i, buf, 0, len);
            for (int j = 0; j < len; j++) {
                if (!Float.isFinite(buf[j])) {
                    int[] s = z.shape();
                    int[] idx = new int[s.length];
                    long r = i + j;
                    for (int d = s.length - 1; d >= 0; d--) {
                        idx[d] = (int) (r % s[d]);
                        r /= s[d];
                    }
                    String where = s.length == 5 ? " (sample " + idx[0] + ", channel " + idx[1] + ", latent frame "
                            + idx[2] + ")" : "";
                    return "value " + buf[j] + " at " + java.util.Arrays.toString(idx) + where
                            + ": a latent must be finite";
                }
            }
        }
        return null;
    }

    @Override
    public void close() {
        z.close();
    }
}
