package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.NativeMemory;
import io.github.jsora.video.DecodedVideo;
import io.github.jsora.video.Frame;
import io.github.jsora.video.VideoReaders;

/**
 * End-to-end behaviour of the facade on the embedded demo model (short runs: few steps), including the process
 * memory budget: what jsora counts never passes it, frames are bit-identical under every budget, a second request
 * with the same prompt skips T5 (memory and disk cache), and a budget below the minimum fails before work.
 */
class VideoGeneratorTest {

    private static final String PROMPT = "a red circle moving left";
    private static VideoGenerator gen;

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        gen = VideoGenerator.openDefault();
    }

    @AfterAll
    static void close() {
        Path unpacked = gen.modelDirectory();
        gen.close();
        assertTrue(Files.isDirectory(unpacked), "the demo model stays unpacked in its cache for the next process");
    }

    private static GenerationRequest.Builder quick(long seed) {
        return gen.requestBuilder(PROMPT).steps(4).seed(seed);
    }

    private static List<byte[]> pixels(Video v) {
        List<byte[]> out = new ArrayList<>();
        for (Frame f : v.frames()) {
            out.add(f.toRgbBytes());
        }
        return out;
    }

    @Test
    void sameSeedSameFramesOtherSeedOtherFrames() {
        Video a = gen.generate(quick(7).build());
        Video b = gen.generate(quick(7).build());
        Video c = gen.generate(quick(8).build());
        assertEquals(17, a.frames().size());
        assertEquals(64, a.width());
        assertEquals(64, a.height());
        List<byte[]> pa = pixels(a);
        List<byte[]> pb = pixels(b);
        for (int i = 0; i < pa.size(); i++) {
            assertArrayEquals(pa.get(i), pb.get(i), "frame " + i + " differs between two runs with one seed");
        }
        boolean differs = false;
        List<byte[]> pc = pixels(c);
        for (int i = 0; i < pa.size(); i++) {
            differs |= !java.util.Arrays.equals(pa.get(i), pc.get(i));
        }
        assertTrue(differs, "seeds 7 and 8 gave identical videos");
        assertEquals(7L, a.request().seed().getAsLong());
        assertEquals(4, a.stats().modelEvaluations());
    }

    /** A seed is PyTorch's CPU noise for that seed; a reference batch position is that sample's slice of it. */
    @Test
    void seedIsTorchNoiseAndReferenceBatchIsItsSlice() {
        int n = 4 * 5 * 8 * 8;
        float[] batch = new float[3 * n];
        new io.github.jsora.sampling.TorchCpuRandom(21).fillNormal(batch);
        for (int k = 0; k < 3; k++) {
            GenerationRequest seeded = quick(21).referenceBatch(k, 3).build();
            try (io.github.jsora.tensor.Tensor given = io.github.jsora.tensor.Tensor.of(
                    java.util.Arrays.copyOfRange(batch, k * n, (k + 1) * n), 1, 4, 5, 8, 8);
                    Latent a = gen.denoise(seeded, GenerationListener.NONE);
                    Latent b = gen.denoise(seeded, given, GenerationListener.NONE)) {
                assertArrayEquals(b.tensor().toArray(), a.tensor().toArray(), "batch index " + k);
            }
        }
        assertTrue(quick(21).referenceBatch(2, 3).build().toString().contains("referenceBatch=2/3"));
        assertThrows(IllegalArgumentException.class, () -> quick(1).referenceBatch(3, 3));
        assertThrows(IllegalArgumentException.class, () -> quick(1).referenceBatch(-1, 3));
        assertThrows(IllegalArgumentException.class, () -> quick(1).referenceBatch(0, 0));
        assertThrows(IllegalArgumentException.class,
                () -> quick(1).referenceBatch(0, GenerationRequest.MAX_REFERENCE_BATCH + 1));
    }

    @Test
    void randomSeedIsDrawnAndReported() {
        Video v = gen.generate(gen.requestBuilder(PROMPT).steps(1).build());
        assertTrue(v.request().seed().isPresent());
        Video again = gen.generate(v.request());
        assertArrayEquals(pixels(v).get(5), pixels(again).get(5), "the reported seed reproduces the video");
    }

    @Test
    void progressEventsInOrder() {
        List<Progress> events = new ArrayList<>();
        gen.generate(quick(1).leapAt(2).build(), events::add);
        List<String> seen = new ArrayList<>();
        for (Progress p : events) {
            seen.add(p.stage() + ":" + p.step());
        }
        assertEquals("TEXT:0", seen.get(0));
        assertEquals(List.of("DENOISE:0", "DENOISE:1", "DENOISE:2"), seen.subList(1, 4));
        assertTrue(events.get(3).leapt(), "the leap step is flagged");
        assertEquals(Stage.DECODE, events.get(4).stage());
        assertEquals("DECODE:16", seen.get(seen.size() - 1));
        for (int i = 1; i < events.size(); i++) {
            assertTrue(events.get(i).stage().ordinal() >= events.get(i - 1).stage().ordinal(), "stages in order");
            assertTrue(events.get(i).elapsed().compareTo(events.get(i - 1).elapsed()) >= 0, "time moves forward");
        }
    }

    @Test
    void cancellationFromAnotherThreadIsPromptAndTheGeneratorStaysUsable() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        ExecutorService ex = Executors.newSingleThreadExecutor();
        try {
            Future<Video> f = ex.submit(() -> gen.generate(gen.requestBuilder(PROMPT).steps(30).seed(3).build(),
                    p -> {
                        if (p.stage() == Stage.DENOISE) {
                            started.countDown();
                        }
                    }));
            assertTrue(started.await(60, java.util.concurrent.TimeUnit.SECONDS));
            long t0 = System.nanoTime();
            gen.cancel();
            java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> f.get(30, java.util.concurrent.TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof GenerationCancelledException, e.getCause().toString());
            assertEquals(Stage.DENOISE, ((GenerationCancelledException) e.getCause()).stage());
            assertTrue((System.nanoTime() - t0) / 1e9 < 30, "cancellation returned promptly");
        } finally {
            ex.shutdownNow();
        }
        // cancelling from the progress handle, with a budgeted block store that must be closed on the way out
        GenerationCancelledException c = assertThrows(GenerationCancelledException.class, () -> gen.generate(
                quick(2).memoryBudget(gen.minimumBudget(quick(2).build())).build(), p -> {
                    if (p.stage() == Stage.DENOISE && p.step() == 1) {
                        p.cancel().cancel();
                    }
                }));
        assertEquals(Stage.DENOISE, c.stage());
        assertEquals(17, gen.generate(quick(2).steps(1).build()).frames().size(), "usable after cancellation");
    }

    @Test
    void budgetedRunMatchesResidentRunAndReportsBlockTraffic() {
        Video resident = gen.generate(quick(5).build());
        long min = gen.minimumBudget(quick(5).build());
        Video budget = gen.generate(quick(5).memoryBudget(min).build());
        List<byte[]> a = pixels(resident);
        List<byte[]> b = pixels(budget);
        for (int i = 0; i < a.size(); i++) {
            assertArrayEquals(a.get(i), b.get(i), "frame " + i);
        }
        assertTrue(budget.stats().bytesLoaded() > 0, budget.stats().toString());
        assertTrue(budget.stats().peakResidentBytes() <= min, budget.stats().toString());
        assertTrue(budget.stats().peakNativeBytes() <= min, budget.stats().toString());
        assertEquals(min, budget.stats().budgetBytes());
    }

    @Test
    void writesGifPngAndAviThatReadBack() throws Exception {
        GenerationRequest r = quick(11).steps(2).build();
        Video v = gen.generate(r);
        for (String name : new String[] {"v.gif", "v.avi", "v.mp4", "frames"}) {
            Path p = dir.resolve(name);
            if (name.equals("frames")) { // a PNG directory is asked for explicitly
                v.write(io.github.jsora.video.VideoFormat.PNG_SEQUENCE, p, false);
            } else {
                v.write(p, false);
            }
            DecodedVideo d = VideoReaders.read(p);
            assertEquals(17, d.frameCount(), name);
            assertEquals(64, d.width(), name);
            assertEquals(64, d.height(), name);
            assertEquals(17 / 24.0, d.durationSeconds(), 0.011, name + " duration");
        }
        // streaming straight into the file gives the same GIF
        Path streamed = dir.resolve("streamed.gif");
        Video meta = gen.generateTo(r, streamed, false, GenerationListener.NONE);
        assertTrue(meta.frames().isEmpty());
        assertEquals(17, VideoReaders.read(streamed).frameCount());
        assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> v.write(streamed, false));
    }

    @Test
    void latentSavedAndDecodedLaterGivesTheSameFrames() throws Exception {
        GenerationRequest r = quick(21).steps(2).build();
        Video direct = gen.generate(r);
        Path file = dir.resolve("latent.safetensors");
        try (Latent l = gen.denoise(r, GenerationListener.NONE)) {
            l.save(file, false);
        }
        try (Latent l = Latent.load(file)) {
            assertEquals(17, l.frames());
            Video later = gen.decode(l, GenerationListener.NONE);
            assertArrayEquals(pixels(direct).get(9), pixels(later).get(9));
        }
    }

    @Test
    void badRequestsFailBeforeHeavyWork() {
        assertThrows(IllegalArgumentException.class, () -> gen.requestBuilder(" "));
        assertThrows(IllegalArgumentException.class, () -> gen.requestBuilder(PROMPT).steps(0));
        assertThrows(IllegalArgumentException.class, () -> gen.requestBuilder(PROMPT).cfgScale(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> gen.requestBuilder(PROMPT).frames(0));
        assertThrows(IllegalArgumentException.class, () -> gen.requestBuilder(PROMPT).size(4, 64));
        assertThrows(IllegalArgumentException.class, () -> gen.requestBuilder(PROMPT).resolution("999p", "9:16"));
        assertThrows(IllegalArgumentException.class, () -> gen.requestBuilder(PROMPT).steps(10).leapAt(10).build());
        assertEquals(17, gen.requestBuilder(PROMPT).frames(5).build().frames(), "2-16 frames round up to 17");
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> assertThrows(RuntimeException.class,
                () -> gen.denoise(quick(1).build(), io.github.jsora.tensor.Tensor.zeros(1, 4, 3, 8, 8),
                        GenerationListener.NONE)));
    }

    @Test
    void missingOrCorruptModelDirectoriesNameTheProblem() throws Exception {
        io.github.jsora.weights.WeightFormatException e = assertThrows(
                io.github.jsora.weights.WeightFormatException.class,
                () -> VideoGenerator.open(dir.resolve("nope")));
        assertTrue(e.getMessage().contains("nope"), e.getMessage());
        Path copy = dir.resolve("model");
        for (String sub : new String[] {"stdit", "vae", "t5"}) {
            Files.createDirectories(copy.resolve(sub));
            try (var s = Files.list(gen.modelDirectory().resolve(sub))) {
                for (Path p : s.toList()) {
                    Files.copy(p, copy.resolve(sub).resolve(p.getFileName()));
                }
            }
        }
        Files.write(copy.resolve("stdit/model.safetensors"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        e = assertThrows(io.github.jsora.weights.WeightFormatException.class, () -> VideoGenerator.open(copy));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        Files.delete(copy.resolve("t5/spiece.model"));
        Files.delete(copy.resolve("stdit/model.safetensors"));
        assertThrows(io.github.jsora.weights.WeightFormatException.class, () -> VideoGenerator.open(copy));
    }

    // ------------------------------------------------------------------ the process memory budget

    private static GenerationRequest.Builder budgetRequest() {
        return gen.requestBuilder("a blue square moving up").steps(3).seed(21);
    }

    @Test
    void countedMemoryStaysWithinEveryBudgetAndFramesAreIdentical() {
        GenerationRequest base = budgetRequest().build();
        long min = gen.minimumBudget(base);
        Video reference = gen.generate(base);                        // default budget: everything resident
        assertEquals(gen.defaultBudget(), reference.stats().budgetBytes(), reference.stats().toString());
        assertTrue(reference.stats().peakNativeBytes() <= gen.defaultBudget(), reference.stats().toString());
        List<byte[]> want = pixels(reference);
        for (long budget : new long[] {min, min + (min >> 3), 2 * min, 4 * min}) {
            Video v = gen.generate(base.toBuilder().memoryBudget(budget).build());
            GenerationStats s = v.stats();
            assertEquals(budget, s.budgetBytes());
            assertTrue(s.peakNativeBytes() > 0 && s.peakNativeBytes() <= budget,
                    "budget " + budget + ": " + s);
            assertTrue(s.peakResidentBytes() <= budget, "budget " + budget + ": " + s);
            List<byte[]> got = pixels(v);
            for (int i = 0; i < want.size(); i++) {
                assertArrayEquals(want.get(i), got.get(i), "budget " + budget + ", frame " + i);
            }
        }
        assertTrue(NativeMemory.liveBytes() <= gen.defaultBudget(), "after the runs: " + NativeMemory.liveBytes());
    }

    @Test
    void secondRequestWithTheSamePromptSkipsTheTextEncoder() {
        GenerationRequest r = gen.requestBuilder("a white triangle moving right").steps(2).seed(5).build();
        Video first = gen.generate(r);
        Video second = gen.generate(r.toBuilder().seed(5).build());
        assertFalse(first.stats().textFromCache(), first.stats().toString());
        assertTrue(second.stats().textFromCache(), second.stats().toString());
        List<byte[]> a = pixels(first);
        List<byte[]> b = pixels(second);
        for (int i = 0; i < a.size(); i++) {
            assertArrayEquals(a.get(i), b.get(i), "frame " + i);
        }
        // another prompt, or the same prompt with a negative prompt, runs T5 again
        Video other = gen.generate(r.toBuilder().negativePrompt("blurry").build());
        assertFalse(other.stats().textFromCache(), other.stats().toString());
        // the cache survives a streamed request: the same captions, the same frames
        Video streamed = gen.generate(r.toBuilder().memoryBudget(gen.minimumBudget(r)).build());
        assertTrue(streamed.stats().textFromCache(), streamed.stats().toString());
        assertArrayEquals(a.get(16), pixels(streamed).get(16));
    }

    @Test
    void diskCacheServesAnotherGeneratorAndIgnoresABrokenEntry(@TempDir Path cacheRoot)
            throws java.io.IOException {
        Path cache = cacheRoot.resolve("emb");
        Path model = gen.modelDirectory();
        GenerationRequest r = gen.requestBuilder("a green circle moving down").steps(2).seed(8).build();
        List<byte[]> want = pixels(gen.generate(r));
        GeneratorOptions o = GeneratorOptions.builder().embeddingCache(cache).build();
        try (VideoGenerator a = VideoGenerator.open(model, o)) {
            assertFalse(a.generate(r).stats().textFromCache(), "first use of the cache encodes");
        }
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(cache)) {
            assertEquals(1, files.count(), "one entry written");
        }
        try (VideoGenerator b = VideoGenerator.openDefault(o)) {                  // another unpacked copy
            Video v = b.generate(r);
            assertTrue(v.stats().textFromCache(), "a new generator on a copy of the model reads the entry: "
                    + v.stats());
            List<byte[]> got = pixels(v);
            for (int i = 0; i < want.size(); i++) {
                assertArrayEquals(want.get(i), got.get(i), "frame " + i);
            }
        }
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(cache)) {
            for (java.nio.file.Path f : files.toList()) {
                java.nio.file.Files.write(f, new byte[] {1, 2, 3});
            }
        }
        try (VideoGenerator c = VideoGenerator.open(model, o)) {
            Video v = c.generate(r);
            assertFalse(v.stats().textFromCache(), "a broken entry is a miss");
            assertArrayEquals(want.get(16), pixels(v).get(16));
        }
    }

    @Test
    void budgetBelowTheMinimumFailsBeforeAnyWorkNamingTheBytes() {
        GenerationRequest r = budgetRequest().build();
        long min = gen.minimumBudget(r);
        List<Stage> stages = new ArrayList<>();
        MemoryBudgetException e = assertThrows(MemoryBudgetException.class,
                () -> gen.generate(r.toBuilder().memoryBudget(min - 1).build(), p -> stages.add(p.stage())));
        assertTrue(e.getMessage().contains(Long.toString(min - 1)), e.getMessage());
        assertTrue(e.neededBytes() >= min, e.getMessage());
        assertTrue(stages.isEmpty(), "no stage started: " + stages);
        assertEquals(17, gen.generate(r.toBuilder().memoryBudget(min).build()).frames().size(), "usable afterwards");
    }

    @Test
    void lighterWeightsKeepLessResidentAndStayCloseToFloat32() {
        GenerationRequest r = budgetRequest().build();
        List<byte[]> f32 = pixels(gen.generate(r));
        for (String spec : new String[] {"bf16", "int8"}) {
            try (VideoGenerator g = VideoGenerator.openDefault(GeneratorOptions.builder().weights(spec).build())) {
                assertTrue(g.modelInfo().totalBytes() < gen.modelInfo().totalBytes(), spec + ": " + g.modelInfo());
                Video v = g.generate(g.requestBuilder("a blue square moving up").steps(3).seed(21).build());
                assertTrue(v.stats().peakNativeBytes() <= v.stats().budgetBytes(), v.stats().toString());
                double se = 0;
                long n = 0;
                List<byte[]> got = pixels(v);
                for (int f = 0; f < got.size(); f++) {
                    for (int k = 0; k < got.get(f).length; k++) {
                        double d = (got.get(f)[k] & 0xFF) - (f32.get(f)[k] & 0xFF);
                        se += d * d;
                        n++;
                    }
                }
                double psnr = 10 * Math.log10(255.0 * 255.0 / Math.max(se / n, 1e-12));
                assertTrue(psnr >= ("bf16".equals(spec) ? BF16_MIN_PSNR : INT8_MIN_PSNR), spec + ": PSNR " + psnr);
            }
        }
    }

    /** Measured on the demo model (3 steps, seed 21, 2 threads): bf16 60.8 dB, int8 54.6 dB; floors 3 dB below. */
    private static final double BF16_MIN_PSNR = 57.8;
    private static final double INT8_MIN_PSNR = 51.6;

    @Test
    void dynamicLeapParametersReachTheSampler() {
        // tolerance 1: no similarity can improve on 0 by more than 1, so with patience 1 the rule leaps at the first
        // step that has a predecessor (step 1): 2 evaluations
        Video eager = gen.generate(quick(3).steps(6).dynamicLeap(0, 1.0, 1).build());
        assertEquals(2, eager.stats().modelEvaluations(), eager.stats().toString());
        assertEquals(1, eager.stats().leapStep().getAsInt());
        // the authors' defaults start at step 14: a 6-step run never leaps
        Video defaults = gen.generate(quick(3).steps(6).dynamicLeap().build());
        assertEquals(6, defaults.stats().modelEvaluations(), defaults.stats().toString());
        assertThrows(IllegalArgumentException.class, () -> quick(3).dynamicLeap(-1, 1e-3, 3));
        assertTrue(quick(3).dynamicLeap(2, 0.01, 4).build().toString().contains("dynamic(minStep 2"));
    }
}
