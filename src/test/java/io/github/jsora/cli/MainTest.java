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

import io.github.jsora.video.VideoReaders;

/** The command line: exit codes and messages for good and bad input. */
class MainTest {

    @TempDir
    Path dir;

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void helpSaysWhatTheDemoModelCanDraw() {
        Result r = run("--help");
        assertEquals(Main.OK, r.code());
        assertTrue(r.out().contains("a red circle moving left") && r.out().contains("--model DIR"), r.out());
        assertEquals(Main.USAGE_ERROR, run().code());
    }

    @Test
    void usageErrors() {
        String out = dir.resolve("x.gif").toString();
        assertEquals(Main.USAGE_ERROR, run("generate", "--out", out).code(), "no prompt");
        assertEquals(Main.USAGE_ERROR, run("generate", "a cat").code(), "no --out");
        assertEquals(Main.USAGE_ERROR, run("generate", "a cat", "--out", out, "--bogus", "1").code());
        assertEquals(Main.USAGE_ERROR, run("generate", "a cat", "--out", out, "--steps", "many").code());
        assertEquals(Main.USAGE_ERROR, run("generate", "a cat", "--out", out, "--budget", "lots").code());
        assertEquals(Main.USAGE_ERROR, run("generate", "a cat", "--out", dir.resolve("x.webm").toString()).code());
        Result unknown = run("generate", "a cat", "--out", out, "--resolution", "999p");
        assertEquals(Main.USAGE_ERROR, unknown.code());
        assertTrue(unknown.err().contains("999p"), unknown.err());
        Result frames = run("generate", "a cat", "--out", out, "--frames", "100000");
        assertEquals(Main.USAGE_ERROR, frames.code());
        assertTrue(frames.err().contains("frames"), frames.err());
        assertEquals(Main.USAGE_ERROR, run("generate", "  ", "--out", out).code(), "empty prompt");
        assertEquals(Main.USAGE_ERROR, run("generate", "a cat", "--out", out, "--size", "10").code());
        assertEquals(Main.USAGE_ERROR, run("generate", "a cat", "--out", out, "--lpl", "40").code(),
                "leap step beyond the steps");
        for (String bad : new String[] {"3", "72/72", "-1/4", "a/b", "1/0", "3/5/"}) {
            Result rb = run("generate", "a cat", "--out", out, "--reference-batch", bad);
            assertEquals(Main.USAGE_ERROR, rb.code(), "--reference-batch " + bad);
            assertTrue(rb.err().contains("reference batch") || rb.err().contains("--reference-batch"), rb.err());
        }
        assertEquals(Main.USAGE_ERROR, run("generate", "a cat", "--out", out, "--script-seed", "x").code());
        assertTrue(Files.notExists(dir.resolve("x.gif")));
    }

    @Test
    void outputErrorsBeforeAnyWork() throws Exception {
        Result missingDir = run("generate", "a cat", "--out", dir.resolve("no/such/dir/x.gif").toString());
        assertEquals(Main.OUTPUT_ERROR, missingDir.code());
        assertTrue(missingDir.err().contains("does not exist"), missingDir.err());
        Path existing = Files.writeString(dir.resolve("old.gif"), "keep me");
        Result exists = run("generate", "a cat", "--out", existing.toString());
        assertEquals(Main.OUTPUT_ERROR, exists.code());
        assertTrue(exists.err().contains("--overwrite"), exists.err());
        assertEquals("keep me", Files.readString(existing), "an existing file is not touched");
        Path file = Files.writeString(dir.resolve("plain"), "x");
        assertEquals(Main.OUTPUT_ERROR, run("generate", "a cat", "--out", file.resolve("x.gif").toString()).code());
    }

    @Test
    void modelErrors() throws Exception {
        String out = dir.resolve("x.gif").toString();
        Result missing = run("generate", "a cat", "--out", out, "--model", dir.resolve("nomodel").toString());
        assertEquals(Main.MODEL_ERROR, missing.code());
        assertTrue(missing.err().contains("nomodel"), missing.err());
        Path model = dir.resolve("broken");
        Files.createDirectories(model.resolve("stdit"));
        Files.createDirectories(model.resolve("vae"));
        Files.createDirectories(model.resolve("t5"));
        Files.writeString(model.resolve("stdit/config.json"), "{\"hidden_size\": ");
        Result corrupt = run("generate", "a cat", "--out", out, "--model", model.toString());
        assertEquals(Main.MODEL_ERROR, corrupt.code());
        assertTrue(corrupt.err().contains("config.json"), corrupt.err());
        assertEquals(Main.MODEL_ERROR, run("decode", dir.resolve("none.safetensors").toString(), "--out", out)
                .code());
    }

    @Test
    void generateWithSavedLatentThenDecodeIt() throws Exception {
        Path gif = dir.resolve("a.gif");
        Path latent = dir.resolve("a.safetensors");
        Result r = run("generate", "a blue square moving up", "--out", gif.toString(), "--steps", "2", "--seed",
                "4", "--lpl", "1", "--reference-batch", "3/5", "--script-seed", "9", "--save-latent",
                latent.toString());
        assertEquals(Main.OK, r.code(), r.err());
        assertEquals(17, VideoReaders.read(gif).frameCount());
        assertTrue(Files.size(latent) > 0);
        try (io.github.jsora.weights.SafetensorsFile f = io.github.jsora.weights.SafetensorsFile.open(latent)) {
            String req = f.metadata().get("jsora.request");
            assertTrue(req.contains("seed=4") && req.contains("referenceBatch=3/5") && req.contains(
                    "inferenceScriptMask=9"), req);
        }
        Path avi = dir.resolve("a.avi");
        Result d = run("decode", latent.toString(), "--out", avi.toString());
        assertEquals(Main.OK, d.code(), d.err());
        assertEquals(17, VideoReaders.read(avi).frameCount());
        assertEquals(Main.OUTPUT_ERROR, run("decode", latent.toString(), "--out", avi.toString()).code());
    }
}
