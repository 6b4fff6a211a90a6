package io.github.jsora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.video.Frame;

/** The reference-frame options of {@code generate}: what they refuse, with which exit code and message. */
class MainConditioningTest {

    @TempDir
    Path dir;

    private record Result(int code, String err) {
    }

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, err.toString(StandardCharsets.UTF_8));
    }

    private Result generate(String... extra) {
        String[] args = new String[4 + extra.length];
        args[0] = "generate";
        args[1] = "a red circle moving left";
        args[2] = "--out";
        args[3] = dir.resolve("out-" + System.nanoTime() + ".gif").toString();
        System.arraycopy(extra, 0, args, 4, extra.length);
        return run(args);
    }

    @Test
    void refusesBadReferencesClearly() throws Exception {
        Result r = generate("--image", dir.resolve("cat.png").toString());
        assertEquals(Main.USAGE_ERROR, r.code());
        assertTrue(r.err().contains("cat.png") && r.err().contains("not a readable file"), r.err());
        Path png = dir.resolve("ref.png");
        javax.imageio.ImageIO.write(Frame.filled(64, 64, 0x00ff00).toImage(), "png", png.toFile());
        r = generate("--image", png + "@9");
        assertEquals(Main.USAGE_ERROR, r.code());
        assertTrue(r.err().contains("latent frame 9 is outside the 5 latent frames"), r.err());
        r = generate("--image", png + "@first");
        assertEquals(Main.USAGE_ERROR, r.code());
        assertTrue(r.err().contains("--image FILE@N"), r.err());
        Path junk = dir.resolve("junk.png");
        Files.writeString(junk, "no picture");
        r = generate("--image", junk.toString(), "--steps", "1");
        assertEquals(Main.USAGE_ERROR, r.code());
        assertTrue(r.err().contains("junk.png") && r.err().contains("not a PNG or JPEG"), r.err());
        r = generate("--extend", dir.resolve("none.latent").toString());
        assertEquals(Main.MODEL_ERROR, r.code());
        assertTrue(r.err().contains("none.latent"), r.err());
        r = generate("--overlap", "2");
        assertEquals(Main.USAGE_ERROR, r.code());
        assertTrue(r.err().contains("--overlap goes with --extend or --loop"), r.err());
        r = generate("--edit-ratio", "0.5");
        assertEquals(Main.USAGE_ERROR, r.code());
        assertTrue(r.err().contains("edit ratio"), r.err());
        r = generate("--loop", "2", "--overlap", "5");
        assertEquals(Main.USAGE_ERROR, r.code());
        assertTrue(r.err().contains("loop overlap must be in [1, 4]"), r.err());
        r = generate("--loop", "2", "--save-latent", dir.resolve("x.latent").toString());
        assertEquals(Main.USAGE_ERROR, r.code());
        assertTrue(r.err().contains("--save-latent cannot be combined with --loop"), r.err());
    }

    @Test
    void extendRefusesALatentOfAnotherSize() {
        Path latent = dir.resolve("small.latent");
        assertEquals(Main.OK, generate("--steps", "1", "--save-latent", latent.toString()).code());
        Result r = generate("--steps", "1", "--extend", latent.toString(), "--overlap", "2", "--size", "128x64");
        assertEquals(Main.USAGE_ERROR, r.code());
        assertTrue(r.err().contains("size mismatch"), r.err());
        assertEquals(Main.OK, generate("--steps", "1", "--extend", latent.toString(), "--overlap", "2",
                "--edit-ratio", "0.5").code());
    }
}
