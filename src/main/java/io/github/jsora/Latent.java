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
     * Saves to a safetensors file; an existing file is replaced only when {@code overwrite}.
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
     * Loads a latent saved by {@link #save}. @throws WeightFormatException when the file is not one
     *
     * @param file the file
     * @return the latent read from the file
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
            try {
                return new Latent(f.load("latent"), Integer.parseInt(fr), Double.parseDouble(fps),
                        f.metadata().getOrDefault("jsora.request", ""));
            } catch (NumberFormatException e) {
                throw new WeightFormatException(file, "invalid jsora.frames / jsora.fps metadata");
            }
        }
    }

    @Override
    public void close() {
        z.close();
    }
}
