package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.video.Frame;

/**
 * Reference frames through the facade on the embedded demo model: continuation of a previous latent (a green
 * square's clip continued with a red circle's prompt: the conditioned latent frames stay the previous clip's, and
 * the first decoded frame looks like the previous clip's frame at that place, green, while a free generation of
 * the same prompt and seed is red and does not), {@code --loop}-style chaining, and the request's validation of
 * conditioning inputs. (The demo VAE has an encoder, but image-to-video waits for jsora's encoder: the
 * continuation is the case with no encoder.)
 */
class ConditioningTest {

    static final String PROMPT = "a red circle moving left";
    static final String OTHER = "a green square moving down";
    static VideoGenerator gen;

    @BeforeAll
    static void open() {
        gen = VideoGenerator.openDefault();
    }

    @AfterAll
    static void close() {
        gen.close();
    }

    private static GenerationRequest.Builder quick(long seed) {
        return gen.requestBuilder(PROMPT).steps(10).seed(seed);
    }

    /** PSNR of two frames of the same size (8-bit RGB). */
    static double psnr(Frame a, Frame b) {
        byte[] x = a.toRgbBytes();
        byte[] y = b.toRgbBytes();
        double se = 0;
        for (int i = 0; i < x.length; i++) {
            double d = (x[i] & 0xff) - (y[i] & 0xff);
            se += d * d;
        }
        return 10 * Math.log10(255.0 * 255.0 / Math.max(se / x.length, 1e-12));
    }

    @Test
    void continuationKeepsTheOverlapAndStartsWhereThePreviousClipEnds() {
        int overlap = 2;
        try (Latent a = gen.denoise(quick(1).prompt(OTHER).build(), GenerationListener.NONE)) {
            Video clipA = gen.decode(a, GenerationListener.NONE);
            GenerationRequest rb = quick(2).extend(a, overlap).build();
            assertEquals(overlap, rb.overlap());
            try (Latent b = gen.denoise(rb, GenerationListener.NONE);
                    Latent free = gen.denoise(quick(2).build(), GenerationListener.NONE)) {
                Tensor za = a.tensor();
                Tensor zb = b.tensor();
                int t = za.dim(2);
                int frame = za.dim(3) * za.dim(4);
                for (int c = 0; c < za.dim(1); c++) {
                    for (int k = 0; k < overlap; k++) {
                        float[] want = new float[frame];
                        float[] got = new float[frame];
                        za.read(((long) c * t + t - overlap + k) * frame, want, 0, frame);
                        zb.read(((long) c * t + k) * frame, got, 0, frame);
                        assertArrayEquals(want, got, "latent frame " + k + " is the previous clip's frame "
                                + (t - overlap + k));
                    }
                }
                Frame first = gen.decode(b, GenerationListener.NONE).frames().get(0);
                Frame freeFirst = gen.decode(free, GenerationListener.NONE).frames().get(0);
                // latent frame T-overlap of the previous clip encodes its pixel frames up to 4·(T-overlap)
                Frame there = clipA.frames().get(4 * (t - overlap));
                double cont = psnr(first, there);
                double base = psnr(freeFirst, there);
                System.out.printf(java.util.Locale.ROOT, "continuation: first frame vs previous clip's frame %d: "
                        + "PSNR %.2f dB (free generation with the same seed: %.2f dB)%n", 4 * (t - overlap), cont, base);
                assertTrue(cont >= MIN_PSNR, "first frame of the continuation does not resemble the previous clip: "
                        + cont + " dB");
                assertTrue(cont >= base + MIN_GAIN, "a free generation resembles the previous clip as much: " + cont
                        + " vs " + base + " dB");
                // the previous clip is a green shape, this prompt a red one: the continuation starts green
                System.out.printf(java.util.Locale.ROOT, "continuation: mean G-R of the first frame %.1f (free "
                        + "generation %.1f, previous clip's frame %.1f)%n", green(first), green(freeFirst), green(there));
                assertTrue(green(first) > 5 && green(freeFirst) < -5, "first frame G-R " + green(first)
                        + ", free generation " + green(freeFirst));
            }
        }
    }

    /** Mean of G − R over the frame (a green shape makes it positive, a red one negative). */
    static double green(Frame f) {
        double s = 0;
        for (int y = 0; y < f.height(); y++) {
            for (int x = 0; x < f.width(); x++) {
                s += f.channel(x, y, 1) - f.channel(x, y, 0);
            }
        }
        return s / (f.width() * f.height());
    }

    /**
     * Image-to-video on the demo model (its VAE has the encoder): a frame of a green square's clip as the reference
     * of latent frame 0 under a red circle's prompt; the first decoded frame resembles the picture (PSNR and
     * colour) while a free generation of the same prompt and seed does not. With "@last" the last frame does.
     */
    @Test
    void imageToVideoStartsFromTheReference(@TempDir Path dir) throws Exception {
        Frame ref = gen.generate(quick(1).prompt(OTHER).build()).frames().get(8);
        Path png = dir.resolve("green.png");
        javax.imageio.ImageIO.write(ref.toImage(), "png", png.toFile());
        Video v = gen.generate(quick(2).referenceImage(png).build());
        Video free = gen.generate(quick(2).build());
        double p = psnr(v.frames().get(0), ref);
        double base = psnr(free.frames().get(0), ref);
        System.out.printf(java.util.Locale.ROOT, "image-to-video: first frame vs the reference PSNR %.2f dB (free "
                + "generation %.2f dB); mean G-R %.1f (free %.1f, reference %.1f)%n", p, base,
                green(v.frames().get(0)), green(free.frames().get(0)), green(ref));
        assertTrue(p >= MIN_PSNR && p >= base + MIN_GAIN, "first frame " + p + " dB, free generation " + base);
        assertTrue(green(v.frames().get(0)) > 5 && green(free.frames().get(0)) < -5);
        Video last = gen.generate(quick(2).referenceImage(png, GenerationRequest.LAST_FRAME).build());
        Frame end = last.frames().get(last.frames().size() - 1);
        System.out.printf(java.util.Locale.ROOT, "image-to-video @last: last frame vs the reference PSNR %.2f dB "
                + "(free generation %.2f dB)%n", psnr(end, ref), psnr(free.frames().get(16), ref));
        assertTrue(green(end) > 5, "last frame G-R " + green(end));
    }

    /** Video-to-video: a green clip written by jsora as a GIF conditions the red prompt's frames; they start green. */
    @Test
    void referenceVideoConditionsTheFirstFrames(@TempDir Path dir) throws Exception {
        Path gif = dir.resolve("green.gif");
        gen.generate(quick(1).prompt(OTHER).build()).write(gif, false);
        Video v = gen.generate(quick(2).referenceVideo(gif).editRatio(0.2).build());
        System.out.printf(java.util.Locale.ROOT, "video-to-video: mean G-R of frames 0 and 16: %.1f %.1f%n",
                green(v.frames().get(0)), green(v.frames().get(16)));
        assertTrue(green(v.frames().get(0)) > 5, "first frame G-R " + green(v.frames().get(0)));
    }

    /**
     * The memory plan counts the reference's encode (encoder weights and activations): the minimum budget of an
     * image-to-video request is at least the plain one's, and a run at exactly that budget succeeds.
     */
    @Test
    void imageToVideoRunsWithinItsMinimumBudget(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("ref.png");
        javax.imageio.ImageIO.write(Frame.filled(64, 64, 0x20c040).toImage(), "png", png.toFile());
        GenerationRequest plain = quick(3).steps(2).build();
        GenerationRequest i2v = quick(3).steps(2).referenceImage(png).build();
        long a = gen.minimumBudget(plain);
        long b = gen.minimumBudget(i2v);
        System.out.println("minimum budget: text-to-video " + a + " B, image-to-video " + b + " B");
        assertTrue(b >= a, b + " < " + a);
        assertEquals(17, gen.generate(i2v.toBuilder().memoryBudget(b).build()).frames().size());
    }

    /** Measured 23.3 dB against 16.6 dB for a free generation (10 steps, seeds 1 and 2). */
    static final double MIN_PSNR = 21;
    static final double MIN_GAIN = 4;

    @Test
    void loopJoinsClipsWithoutTheRepeatedFrames() {
        GenerationRequest r = quick(5).steps(4).build();
        Video v = gen.generateLoop(r, 3, 2, GenerationListener.NONE);
        int per = 17;
        int drop = GenerationRequest.overlapPixelFrames(2);
        assertEquals(5, drop);
        assertEquals(per + 2 * (per - drop), v.frames().size());
        Video first = gen.generate(r);
        assertEquals(first.frames(), v.frames().subList(0, per), "the first clip is the plain generation");
        assertThrows(IllegalArgumentException.class, () -> gen.generateLoop(r, 2, 5, GenerationListener.NONE));
        assertThrows(IllegalArgumentException.class, () -> gen.generateLoop(r, 0, 2, GenerationListener.NONE));
    }

    @Test
    void refusesBadConditioningClearly(@TempDir Path dir) throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> quick(1).referenceImage(dir.resolve("cat.png")));
        assertTrue(e.getMessage().contains("cat.png") && e.getMessage().contains("not a readable file"),
                e.getMessage());
        Path png = dir.resolve("ref.png");
        javax.imageio.ImageIO.write(Frame.filled(64, 64, 0xff0000).toImage(), "png", png.toFile());
        e = assertThrows(IllegalArgumentException.class, () -> quick(1).referenceImage(png, 5).build());
        assertTrue(e.getMessage().contains("latent frame 5 is outside the 5 latent frames"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> quick(1).referenceImage(png, -6).build());
        assertTrue(e.getMessage().contains("-5..-1"), e.getMessage());
        quick(1).referenceImage(png, GenerationRequest.LAST_FRAME).build();
        e = assertThrows(IllegalArgumentException.class, () -> quick(1).editRatio(0.5).build());
        assertTrue(e.getMessage().contains("edit ratio"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> quick(1).editRatio(1.5));
        Path junk = dir.resolve("junk.png");
        Files.writeString(junk, "not an image");
        e = assertThrows(IllegalArgumentException.class, () -> io.github.jsora.video.ImageInput.read(junk));
        assertTrue(e.getMessage().contains("junk.png"), e.getMessage());
        try (Latent a = gen.denoise(quick(1).steps(1).build(), GenerationListener.NONE)) {
            e = assertThrows(IllegalArgumentException.class, () -> quick(1).extend(a, 6));
            assertTrue(e.getMessage().contains("overlap must be in [1, 5]"), e.getMessage());
            GenerationRequest wide = quick(1).size(128, 64).extend(a, 2).build();
            e = assertThrows(IllegalArgumentException.class, () -> gen.denoise(wide, GenerationListener.NONE));
            assertTrue(e.getMessage().contains("size mismatch"), e.getMessage());
        }
    }
}
