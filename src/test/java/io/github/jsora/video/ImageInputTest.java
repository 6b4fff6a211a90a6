package io.github.jsora.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.Tensor;

/** Reference pictures: resize-to-cover and centre crop, the bicubic filter's properties, frames of GIF/AVI/folders. */
class ImageInputTest {

    private static BufferedImage image(int w, int h, java.util.function.IntBinaryOperator rgb) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, rgb.applyAsInt(x, y));
            }
        }
        return img;
    }

    @Test
    void sameSizeIsExactAndMapsToMinusOneOne() {
        BufferedImage img = image(5, 3, (x, y) -> (x * 50) << 16 | (y * 100) << 8 | 255);
        float[] v = ImageInput.prepare(img, 3, 5);
        assertEquals(3 * 3 * 5, v.length);
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 5; x++) {
                assertEquals((x * 50 / 255f - 0.5f) / 0.5f, v[(0 * 3 + y) * 5 + x]);     // R plane
                assertEquals((y * 100 / 255f - 0.5f) / 0.5f, v[(1 * 3 + y) * 5 + x]);    // G plane
                assertEquals(1f, v[(2 * 3 + y) * 5 + x]);                               // B = 255
            }
        }
    }

    @Test
    void aConstantImageStaysConstantWhateverTheScale() {
        BufferedImage img = image(37, 23, (x, y) -> 0x7f3a10);
        for (int[] hw : new int[][] {{8, 8}, {64, 100}, {240, 426}, {5, 40}}) {
            float[] v = ImageInput.prepare(img, hw[0], hw[1]);
            int plane = hw[0] * hw[1];
            for (int i = 0; i < plane; i++) {
                assertEquals((0x7f / 255f - 0.5f) / 0.5f, v[i], "R at " + hw[0] + "x" + hw[1]);
                assertEquals((0x3a / 255f - 0.5f) / 0.5f, v[plane + i]);
                assertEquals((0x10 / 255f - 0.5f) / 0.5f, v[2 * plane + i]);
            }
        }
    }

    /**
     * resize_crop_to_fill: a 40×20 picture for a 10×10 video is scaled by max(10/20, 10/40) = 0.5 to 20×10 and the
     * middle 10 columns are kept: halving a picture of 2-pixel vertical stripes keeps the stripes, so the crop's
     * left column is the one of source column 10.
     */
    @Test
    void coversTheVideoAndCropsTheCentre() {
        BufferedImage img = image(40, 20, (x, y) -> x < 20 ? 0xff0000 : 0x0000ff);   // left red, right blue
        float[] v = ImageInput.prepare(img, 10, 10);
        // scaled 20×10: columns 0..9 red, 10..19 blue; crop j = round((20-10)/2) = 5: columns 5..14
        assertEquals(1f, v[0]);                      // R of crop column 0 (scaled column 5): red
        assertEquals(-1f, v[2 * 100]);               // its B
        assertEquals(-1f, v[9]);                     // R of crop column 9 (scaled 14): blue
        assertEquals(1f, v[2 * 100 + 9]);
        // a tall picture: scaled by the width ratio and cropped vertically
        BufferedImage tall = image(10, 30, (x, y) -> y < 15 ? 0xffffff : 0);
        float[] t = ImageInput.prepare(tall, 10, 10);   // 10×30 → crop rows 10..19
        assertEquals(1f, t[0]);
        assertEquals(-1f, t[9 * 10]);
    }

    @Test
    void bicubicShrinkAveragesAndStaysInRange() {
        int[] plane = new int[16];
        for (int i = 0; i < 16; i++) {
            plane[i] = i % 2 == 0 ? 0 : 255;            // alternating columns, 16×1
        }
        int[] half = ImageInput.resize(plane, 16, 1, 8, 1);
        for (int v : half) {
            assertTrue(v >= 100 && v <= 155, "antialiased shrink of alternating columns: " + v);
        }
        int[] up = ImageInput.resize(new int[] {0, 255}, 2, 1, 8, 1);
        for (int i = 1; i < up.length; i++) {
            assertTrue(up[i] >= up[i - 1] && up[i] >= 0 && up[i] <= 255, "monotone, clipped: " + java.util.Arrays
                    .toString(up));
        }
    }

    @Test
    void readsFramesOfFoldersGifsAndAvisJsoraWrote(@TempDir Path dir) throws Exception {
        Frame[] frames = {Frame.filled(16, 8, 0xff0000), Frame.filled(16, 8, 0x00ff00), Frame.filled(16, 8, 0x0000ff)};
        for (String name : new String[] {"clip.gif", "clip.avi", "frames/"}) {
            Path out = dir.resolve(name);
            if (name.endsWith("/")) {
                Files.createDirectories(out);
            }
            try (FrameSink sink = VideoWriters.forPath(out, false)) {
                sink.begin(16, 8, 8, frames.length, java.util.Map.of());
                for (Frame f : frames) {
                    sink.accept(f);
                }
                sink.finish();
            }
            try (Tensor v = ImageInput.video(out, 8, 16, 17)) {
                assertArrayEquals(new int[] {1, 3, 3, 8, 16}, v.shape(), name);
                float[] a = v.toArray();
                int plane = 8 * 16;
                for (int f = 0; f < 3; f++) {
                    for (int c = 0; c < 3; c++) {
                        float want = c == f ? 1f : -1f;
                        assertEquals(want, a[(c * 3 + f) * plane + 40], 0.1f, name + " frame " + f + " channel " + c);
                    }
                }
            }
            try (Tensor two = ImageInput.video(out, 8, 16, 2)) {
                assertEquals(2, two.dim(2), name + ": at most maxFrames");
            }
        }
    }

    @Test
    void refusesWhatItCannotRead(@TempDir Path dir) throws Exception {
        Path txt = dir.resolve("cat.png");
        Files.writeString(txt, "meow");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ImageInput.image(txt, 8, 8));
        assertTrue(e.getMessage().contains("cat.png") && e.getMessage().contains("not a PNG or JPEG"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ImageInput.image(dir.resolve("none.png"), 8, 8));
        assertTrue(e.getMessage().contains("not a readable file"), e.getMessage());
        Path empty = Files.createDirectories(dir.resolve("empty"));
        e = assertThrows(IllegalArgumentException.class, () -> ImageInput.video(empty, 8, 8, 5));
        assertTrue(e.getMessage().contains("no PNG or JPEG frames"), e.getMessage());
        Path avi = dir.resolve("bad.avi");
        Files.writeString(avi, "RIFF....AVI LIST");
        e = assertThrows(IllegalArgumentException.class, () -> ImageInput.video(avi, 8, 8, 5));
        assertTrue(e.getMessage().contains("bad.avi"), e.getMessage());
        Path mp4 = dir.resolve("clip.mp4");
        Files.writeString(mp4, "x");
        e = assertThrows(IllegalArgumentException.class, () -> ImageInput.video(mp4, 8, 8, 5));
        assertTrue(e.getMessage().contains("not a folder of frames"), e.getMessage());
        ImageIO.write(image(4, 4, (x, y) -> 0), "png", dir.resolve("ok.png").toFile());
        try (Tensor t = ImageInput.image(dir.resolve("ok.png"), 8, 8)) {
            assertArrayEquals(new int[] {1, 3, 1, 8, 8}, t.shape());
        }
    }
}
