package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.NativeMemory;
import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.video.VideoReaders;
import io.github.jsora.weights.SafetensorsWriter;
import io.github.jsora.weights.WeightFormatException;

/**
 * Issue 15 defects 2, 3, 7 (demo cache), 8, 9 and 11 (prompts, latent leak) on the demo model, and issue 16's
 * quiet exit.
 */
class GeneratorReliabilityTest {

    /** The demo model, shared by the tests and closed after them. */
    private static VideoGenerator gen;

    @TempDir
    Path dir;

    @BeforeAll
    static void openTheDemoModel() {
        gen = VideoGenerator.openDefault();
    }

    @AfterAll
    static void closeIt() {
        gen.close();
    }

    private static GenerationRequest.Builder quick(long seed) {
        return gen.requestBuilder("a red circle moving left").steps(1).seed(seed);
    }

    @Test
    void aNonFiniteLatentIsRefusedWhenLoadedAndWhenDecoded() throws IOException {
        Path file = dir.resolve("nan.safetensors");
        try (Latent l = gen.denoise(quick(1).build(), GenerationListener.NONE)) {
            l.tensor().set(l.tensor().flatIndex(0, 2, 3, 4, 5), Float.NaN);
            IllegalArgumentException d = assertThrows(IllegalArgumentException.class,
                    () -> gen.decode(l, GenerationListener.NONE));
            assertTrue(d.getMessage().contains("NaN") && d.getMessage().contains("[0, 2, 3, 4, 5]")
                    && d.getMessage().contains("latent frame 3"), d.getMessage());
            l.save(file, false);
        }
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> Latent.load(file));
        assertTrue(e.getMessage().contains("NaN") && e.getMessage().contains("latent frame 3")
                && e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void decodeChecksSizeAndBatchBeforeAnyWork() {
        int[][] bad = {{1, 4, 5, 300, 8}, {0, 4, 5, 8, 8}, {2, 4, 5, 8, 8}, {1, 3, 5, 8, 8}, {1, 4, 4, 8, 8}};
        String[] says = {"2048", "batch is 0", "batch is 2", "channels", "latent frames"};
        for (int i = 0; i < bad.length; i++) {
            try (Latent l = new Latent(Tensor.zeros(bad[i]), 17, 8, "")) {
                long t0 = System.nanoTime();
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> gen.decodeTo(l, dir.resolve("x.gif"), false, GenerationListener.NONE));
                assertTrue(e.getMessage().contains(says[i]), e.getMessage());
                assertTrue((System.nanoTime() - t0) / 1e9 < 2, "refused before work");
            }
        }
        assertTrue(Files.notExists(dir.resolve("x.gif")));
    }

    @Test
    void badLatentMetadataLeaksNoTensor() throws IOException {
        Path file = dir.resolve("meta.safetensors");
        new SafetensorsWriter().add("latent", new float[4 * 5 * 64], new int[] {1, 4, 5, 8, 8},
                io.github.jsora.weights.DType.F32).metadata("jsora.frames", "seventeen").metadata("jsora.fps", "8")
                .write(file, false);
        long before = NativeMemory.tensorBytes();
        for (int i = 0; i < 3; i++) {
            assertThrows(WeightFormatException.class, () -> Latent.load(file));
        }
        assertEquals(before, NativeMemory.tensorBytes(), "no tensor left behind");
    }

    @Test
    void promptsEmptyInEffectAreRefused() {
        for (String p : new String[] {"\0\0", "\u200b", " \u200b\t\u2060", "\ufeff", "\u3000"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GenerationRequest.builder(p), "prompt " + p.codePoints().boxed().toList());
            assertTrue(e.getMessage().contains("prompt is empty"), e.getMessage());
        }
        assertEquals("a\u200bb", GenerationRequest.builder("a\u200bb").build().prompt());
    }

    @Test
    void aSizeOffTheVaeGridGivesTruthfulMetadata() throws IOException {
        Path gif = dir.resolve("odd.gif");
        gen.generateTo(quick(3).size(65, 65).build(), gif, false, GenerationListener.NONE);
        io.github.jsora.video.DecodedVideo v = VideoReaders.read(gif);
        assertEquals(64, v.width());
        assertEquals("64x64", v.metadata().get("jsora.frameSize"), v.metadata().toString());
    }

    @Test
    void closeWaitsForTheRunningGenerationInsteadOfCancellingIt() throws Exception {
        VideoGenerator own = VideoGenerator.openDefault();
        CountDownLatch denoising = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean lastFrameDecoded = new java.util.concurrent.atomic.AtomicBoolean();
        ExecutorService ex = Executors.newSingleThreadExecutor();
        try {
            Future<Video> f = ex.submit(() -> own.generate(own.requestBuilder("a blue square moving up").steps(6)
                    .seed(2).build(), p -> {
                        if (p.stage() == Stage.DENOISE) {
                            denoising.countDown();
                        }
                        if (p.stage() == Stage.DECODE && p.step() == p.total() - 1) {
                            lastFrameDecoded.set(true);
                        }
                    }));
            assertTrue(denoising.await(60, TimeUnit.SECONDS));
            own.close();
            // Future.isDone can lag the end of generate() by the executor's bookkeeping: ask the generation itself
            assertTrue(lastFrameDecoded.get(), "close returned only after the generation decoded its last frame");
            assertEquals(17, f.get(60, TimeUnit.SECONDS).frames().size(), "the running generation completed");
            assertThrows(IllegalStateException.class, () -> own.generate("a red circle moving left"));
        } finally {
            ex.shutdownNow();
            own.close();
        }
    }

    @Test
    void anInterruptOfTheGeneratingThreadCancelsLikeCancel() {
        GenerationCancelledException e = assertThrows(GenerationCancelledException.class,
                () -> gen.generate(quick(4).steps(10).build(), p -> {
                    if (p.stage() == Stage.DENOISE && p.step() == 1) {
                        Thread.currentThread().interrupt();
                    }
                }));
        assertEquals(Stage.DENOISE, e.stage());
        assertTrue(Thread.interrupted(), "the interrupt status is kept for the caller");
        assertEquals(17, gen.generate(quick(4).build()).frames().size(), "usable afterwards");
    }

    @Test
    void conflictingThreadCountsAreRefusedClearly() {
        int other = Parallel.threads() == 1 ? 2 : 1;
        try (Parallel.Lease held = Parallel.lease(Parallel.threads())) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> gen.generate(quick(5).threads(other).build()));
            assertTrue(e.getMessage().contains("conflict"), e.getMessage());
        }
        assertEquals(17, gen.generate(quick(5).threads(other).build()).frames().size(), "alone, any count runs");
        assertEquals(other, Parallel.threads());
        gen.generate(quick(5).build());
        assertEquals(Parallel.defaultThreads(), Parallel.threads(), "0 means the default count again");
    }

    @Test
    void theDemoModelIsUnpackedOncePerVersionEvenWhenProcessesRace() throws Exception {
        String old = System.getProperty("jsora.cache.dir");
        System.setProperty("jsora.cache.dir", dir.resolve("cache").toString());
        ExecutorService ex = Executors.newFixedThreadPool(3);
        try {
            List<Future<Path>> fs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                fs.add(ex.submit(VideoGenerator.DemoCache::directory));
            }
            Path first = fs.get(0).get();
            for (Future<Path> f : fs) {
                assertEquals(first, f.get());
            }
            assertEquals(List.of(first.getFileName().toString()), names(dir.resolve("cache")), "one copy, no temps");
            assertTrue(Files.size(first.resolve("stdit/model.safetensors")) > 0);
            assertEquals(first, VideoGenerator.DemoCache.directory(), "reused");
        } finally {
            ex.shutdownNow();
            if (old == null) {
                System.clearProperty("jsora.cache.dir");
            } else {
                System.setProperty("jsora.cache.dir", old);
            }
        }
    }

    /** Issue 16: a program that opens and closes a generator exits promptly, also under {@code mvn exec:java}. */
    @Test
    void aProgramThatClosesItsGeneratorExitsPromptly() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), QuietExitChild.class.getName()).redirectErrorStream(true)
                .start();
        long closedAt = 0;
        StringBuilder log = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                log.append(line).append('\n');
                if (line.equals("closed")) {
                    closedAt = System.nanoTime();
                }
            }
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), log.toString());
        double after = (System.nanoTime() - closedAt) / 1e9;
        assertTrue(closedAt != 0, log.toString());
        assertEquals(0, p.exitValue(), log.toString());
        assertTrue(after < 2, "exited " + after + " s after close:\n" + log);
    }

    private static List<String> names(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(x -> x.getFileName().toString()).sorted().toList();
        }
    }

    /**
     * The child program: opens the demo model, generates, closes, then waits for the compute threads as
     * {@code mvn exec:java} does (it interrupts and joins the threads the program started, 15 s at most).
     */
    static final class QuietExitChild {
        public static void main(String[] args) throws InterruptedException {
            try (VideoGenerator g = VideoGenerator.openDefault()) {
                g.generate(g.requestBuilder("a red circle moving left").steps(1).seed(1).build());
            }
            System.out.println("closed");
            System.out.flush();
            long deadline = System.nanoTime() + 15_000_000_000L;
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().startsWith("jsora-compute") || t.getName().startsWith("ForkJoinPool-")) {
                    t.interrupt();
                    t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                }
            }
        }
    }
}
