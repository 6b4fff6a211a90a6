package io.github.jsora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
        assertEquals(Main.OUTPUT_ERROR, run("generate", "a cat", "--out", dir.resolve("x.xyz").toString()).code(),
                "an unknown output extension is an output error, as the help says");
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

    // ---- reliability (issue 15, defects 6, 7 and 11)

    /** Every row of the exit-code table: an exception of its type maps to its code, not an earlier row's. */
    @Test
    void everyRowOfTheExitCodeTable() throws Exception {
        java.util.Map<Class<?>, Throwable> samples = new java.util.HashMap<>();
        samples.put(Main.UsageException.class, new Main.UsageException("u"));
        samples.put(io.github.jsora.GenerationCancelledException.class,
                new io.github.jsora.GenerationCancelledException(io.github.jsora.Stage.DENOISE, null));
        var budgetCtor = io.github.jsora.MemoryBudgetException.class.getDeclaredConstructor(long.class, long.class,
                String.class);
        budgetCtor.setAccessible(true);
        samples.put(io.github.jsora.MemoryBudgetException.class, budgetCtor.newInstance(1L, 2L, "m"));
        samples.put(io.github.jsora.weights.WeightFormatException.class,
                new io.github.jsora.weights.WeightFormatException("w"));
        samples.put(io.github.jsora.weights.BlockLoadException.class, new io.github.jsora.weights.BlockLoadException(
                "blk.3", new io.github.jsora.weights.WeightFormatException("truncated after opening")));
        samples.put(Main.OutputFormatException.class, new Main.OutputFormatException("x.xyz"));
        samples.put(java.nio.file.FileAlreadyExistsException.class, new java.nio.file.FileAlreadyExistsException("f"));
        samples.put(java.nio.file.FileSystemException.class, new java.nio.file.FileSystemException("f"));
        samples.put(java.io.IOException.class, new java.io.IOException("io"));
        samples.put(IllegalArgumentException.class, new IllegalArgumentException("a"));
        samples.put(RuntimeException.class, new IllegalStateException("bug"));
        for (Main.ExitRule r : Main.EXIT_CODES) {
            Throwable e = samples.get(r.type());
            assertTrue(e != null, "no sample for row " + r.type());
            assertEquals(r.code(), Main.exitCode(e), r.type().getName());
        }
        assertEquals(Main.EXIT_CODES.size(), samples.size());
        // the rows the README documents, by the types that reach them
        assertEquals(Main.MODEL_ERROR, Main.exitCode(new io.github.jsora.text.SentencePieceFormatException("bad")),
                "a broken spiece.model is a model error, not a bad command line");
        assertEquals(Main.OUTPUT_ERROR, Main.exitCode(new java.nio.file.AccessDeniedException("d")));
        assertEquals(Main.FAILED, Main.exitCode(new NullPointerException()));
    }

    /** Copies the demo model (from its cache directory) so that a test can break one file of it. */
    private Path demoCopy() throws Exception {
        Path copy = dir.resolve("model");
        try (io.github.jsora.VideoGenerator g = io.github.jsora.VideoGenerator.openDefault()) { // copied while open
            for (String sub : new String[] {"stdit", "vae", "t5"}) {
                Files.createDirectories(copy.resolve(sub));
                try (var s = Files.list(g.modelDirectory().resolve(sub))) {
                    for (Path p : s.toList()) {
                        Files.copy(p, copy.resolve(sub).resolve(p.getFileName()));
                    }
                }
            }
        }
        return copy;
    }

    @Test
    void brokenTokenizerAndNanWeightsAreModelErrors() throws Exception {
        Path model = demoCopy();
        String out = dir.resolve("x.gif").toString();
        byte[] spiece = Files.readAllBytes(model.resolve("t5/spiece.model"));
        Files.write(model.resolve("t5/spiece.model"), java.util.Arrays.copyOf(spiece, spiece.length / 3));
        Result tok = run("generate", "a red circle moving left", "--out", out, "--model", model.toString(), "--steps",
                "1", "--size", "64x64", "--frames", "17", "--no-prepare");
        assertEquals(Main.MODEL_ERROR, tok.code(), tok.err());
        assertTrue(tok.err().contains("spiece.model"), tok.err());
        Files.write(model.resolve("t5/spiece.model"), spiece);
        // one NaN in the STDiT3 output layer
        Path st = model.resolve("stdit/model.safetensors");
        io.github.jsora.weights.SafetensorsWriter w = new io.github.jsora.weights.SafetensorsWriter();
        try (io.github.jsora.weights.SafetensorsFile f = io.github.jsora.weights.SafetensorsFile.open(st)) {
            f.metadata().forEach(w::metadata);
            for (io.github.jsora.weights.TensorInfo t : f.tensors()) {
                float[] v = f.loadFloats(t.name());
                if (t.name().startsWith("final_layer.linear.weight")) {
                    v[0] = Float.NaN;
                }
                w.add(t.name(), v, t.shape(), t.dtype());
            }
        }
        w.write(st, true);
        Result nan = run("generate", "a red circle moving left", "--out", out, "--model", model.toString(), "--steps",
                "1", "--size", "64x64", "--frames", "17", "--no-prepare");
        assertEquals(Main.MODEL_ERROR, nan.code(), nan.err());
        assertTrue(nan.err().contains("NaN"), nan.err());
        assertTrue(Files.notExists(Path.of(out)));
    }

    @Test
    void brokenLatentsAreModelErrors() throws Exception {
        String out = dir.resolve("x.gif").toString();
        Path garbage = Files.writeString(dir.resolve("garbage.safetensors"), "not a latent at all, just text");
        assertEquals(Main.MODEL_ERROR, run("decode", garbage.toString(), "--out", out).code());
        Path nan = dir.resolve("nan.safetensors");
        float[] v = new float[4 * 5 * 64];
        v[7] = Float.POSITIVE_INFINITY;
        new io.github.jsora.weights.SafetensorsWriter().add("latent", v, new int[] {1, 4, 5, 8, 8},
                io.github.jsora.weights.DType.F32).metadata("jsora.frames", "17").metadata("jsora.fps", "8")
                .write(nan, false);
        Result r = run("decode", nan.toString(), "--out", out);
        assertEquals(Main.MODEL_ERROR, r.code(), r.err());
        assertTrue(r.err().contains("Infinity") && r.err().contains("latent frame 0"), r.err());
        Path two = dir.resolve("two.safetensors");
        new io.github.jsora.weights.SafetensorsWriter().add("latent", new float[2 * 4 * 5 * 64],
                new int[] {2, 4, 5, 8, 8}, io.github.jsora.weights.DType.F32).metadata("jsora.frames", "17")
                .metadata("jsora.fps", "8").write(two, false);
        Result b = run("decode", two.toString(), "--out", out);
        assertEquals(Main.MODEL_ERROR, b.code(), b.err());
        assertTrue(b.err().contains("batch is 2"), b.err());
        assertTrue(Files.notExists(Path.of(out)));
    }

    @Test
    void controlCharactersOfThePromptAreNotEchoedRaw() {
        Result r = run("generate", "a red circle\u001b[2J moving left\u0007", "--out", dir.resolve("c.gif").toString(),
                "--steps", "1", "--seed", "1");
        assertEquals(Main.OK, r.code(), r.err());
        assertFalse(r.out().contains("\u001b") || r.out().contains("\u0007"), r.out());
        assertTrue(r.out().contains("\\u001b[2J"), r.out());
        assertEquals(Main.USAGE_ERROR, run("generate", "\u200b\u0000", "--out", dir.resolve("d.gif").toString()).code());
    }

    /** SIGTERM during a run: the hook cancels it and waits, so no partial output and no model copy are left. */
    @Test
    void aSignalLeavesNoPartialOutputAndTheDemoModelIsCached() throws Exception {
        Path cache = dir.resolve("cache");
        Path work = Files.createDirectories(dir.resolve("work"));
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        for (int round = 0; round < 2; round++) {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Djsora.cache.dir=" + cache, "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"),
                    Main.class.getName(), "generate", "a red circle moving left", "--out",
                    work.resolve("v" + round + ".gif").toString(), "--steps", "400", "--save-latent",
                    work.resolve("l" + round + ".safetensors").toString()).redirectErrorStream(true).start();
            StringBuilder log = new StringBuilder();
            java.io.InputStream in = p.getInputStream();
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (!log.toString().contains("denoise") && System.nanoTime() < deadline && p.isAlive()) {
                int c = in.read();
                if (c < 0) {
                    break;
                }
                log.append((char) c);
            }
            assertTrue(log.toString().contains("denoise"), log.toString());
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), log.toString());
            assertEquals(143, p.exitValue(), log.toString());
            assertEquals(java.util.List.of(), list(work), "nothing left in the output directory:\n" + log);
            assertEquals(java.util.List.of(), list(tmp), "no temporary demo-model copy");
            java.util.List<String> cached = list(cache);
            assertEquals(1, cached.size(), cached.toString());
            assertTrue(cached.get(0).startsWith("demo-model-"), cached.toString());
        }
    }

    private static java.util.List<String> list(Path d) throws java.io.IOException {
        try (var s = Files.list(d)) {
            return s.map(x -> x.getFileName().toString()).sorted().toList();
        }
    }
}
