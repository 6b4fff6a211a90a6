package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.NativeMemory;
import io.github.jsora.video.Frame;

/**
 * The process budget on the demo model: what jsora counts never passes the budget, frames are bit-identical under
 * every budget, a second request with the same prompt skips T5, and a budget below the minimum fails before work.
 */
class MemoryBudgetTest {

    private static final String PROMPT = "a blue square moving up";
    private static VideoGenerator gen;

    @BeforeAll
    static void open() {
        gen = VideoGenerator.openDefault();
    }

    @AfterAll
    static void close() {
        gen.close();
    }

    private static GenerationRequest.Builder quick() {
        return gen.requestBuilder(PROMPT).steps(3).seed(21);
    }

    private static List<byte[]> pixels(Video v) {
        List<byte[]> out = new ArrayList<>();
        for (Frame f : v.frames()) {
            out.add(f.toRgbBytes());
        }
        return out;
    }

    @Test
    void countedMemoryStaysWithinEveryBudgetAndFramesAreIdentical() {
        GenerationRequest base = quick().build();
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
    void diskCacheServesAnotherGeneratorAndIgnoresABrokenEntry(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws java.io.IOException {
        java.nio.file.Path cache = dir.resolve("emb");
        java.nio.file.Path model = gen.modelDirectory();
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
        GenerationRequest r = quick().build();
        long min = gen.minimumBudget(r);
        List<Stage> stages = new ArrayList<>();
        MemoryBudgetException e = assertThrows(MemoryBudgetException.class,
                () -> gen.generate(r.toBuilder().memoryBudget(min - 1).build(), p -> stages.add(p.stage())));
        assertTrue(e.getMessage().contains(Long.toString(min - 1)), e.getMessage());
        assertTrue(e.neededBytes() >= min, e.getMessage());
        assertTrue(stages.isEmpty(), "no stage started: " + stages);
        assertEquals(17, gen.generate(r.toBuilder().memoryBudget(min).build()).frames().size(), "usable afterwards");
    }
}
