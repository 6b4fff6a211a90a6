package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.RandomModel;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.SafetensorsWriter;
import io.github.jsora.weights.WeightFormatException;

/** Bad inputs and bad checkpoints fail with a clear message before any heavy work. */
class Stdit3BadInputTest {

    static final Stdit3Config CFG = Stdit3NaiveTest.A; // hidden 32, 2 heads, in 4, caption 24, max length 10
    static BlockSource src;
    static Stdit3 model;

    @BeforeAll
    static void setUp() {
        src = RandomModel.seeded(11).source(Stdit3.layout(CFG, true));
        model = Stdit3.withSource(CFG, src);
    }

    @AfterAll
    static void tearDown() {
        model.close();
        src.close();
    }

    /** A valid input for B=2, T=3, 4x4, L=6 with one field replaced. */
    private static void expectFailure(String mustMention, Function<Stdit3Input, Stdit3Input> spoil) {
        List<Tensor> owned = new ArrayList<>();
        try {
            Tensor x = own(owned, Tensor.zeros(2, 4, 3, 4, 4));
            Tensor y = own(owned, Tensor.zeros(2, 1, 6, 24));
            Tensor mask = own(owned, Tensor.of(new float[] {1, 1, 0, 0, 0, 0}, 1, 6));
            Stdit3Input good = new Stdit3Input(x, new float[] {500, 500}, y, mask, null, new float[] {24, 24}, 64, 64);
            Stdit3Input bad = spoil.apply(good);
            model.releaseWorkspace();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
                try (Tensor out = Tensor.zeros(2, 8, 3, 4, 4)) {
                    model.forward(bad, false, out);
                }
            });
            assertTrue(e.getMessage().contains(mustMention), "message \"" + e.getMessage() + "\" should name "
                    + mustMention);
            assertEquals(0, model.workspaceBytes(), "no workspace may be allocated for a rejected input");
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    private static Tensor own(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }

    private static Stdit3Input withX(Stdit3Input in, Tensor x) {
        return new Stdit3Input(x, in.timestep(), in.y(), in.mask(), in.xMask(), in.fps(), in.height(), in.width());
    }

    private static Stdit3Input withY(Stdit3Input in, Tensor y, Tensor mask) {
        return new Stdit3Input(in.x(), in.timestep(), y, mask, in.xMask(), in.fps(), in.height(), in.width());
    }

    @Test
    void theValidBaseInputRuns() {
        try (Tensor x = Tensor.zeros(2, 4, 3, 4, 4); Tensor y = Tensor.zeros(2, 1, 6, 24);
                Tensor mask = Tensor.of(new float[] {1, 1, 0, 0, 0, 0}, 1, 6); Tensor out = Tensor.zeros(2, 8, 3, 4, 4)) {
            model.forward(new Stdit3Input(x, new float[] {500, 500}, y, mask, null, new float[] {24, 24}, 64, 64),
                    false, out);
        }
    }

    @Test
    void wrongRankOrChannels() {
        try (Tensor x4 = Tensor.zeros(2, 4, 3, 4); Tensor x3c = Tensor.zeros(2, 3, 3, 4, 4)) {
            expectFailure("[B, C, T, H, W]", in -> withX(in, x4));
            expectFailure("channels", in -> withX(in, x3c));
        }
    }

    @Test
    void zeroSizedVideo() {
        try (Tensor t0 = Tensor.zeros(2, 4, 0, 4, 4); Tensor h0 = Tensor.zeros(2, 4, 3, 0, 4);
                Tensor w0 = Tensor.zeros(2, 4, 3, 4, 0)) {
            expectFailure(">= 1", in -> withX(in, t0));
            expectFailure(">= 1", in -> withX(in, h0));
            expectFailure(">= 1", in -> withX(in, w0));
        }
    }

    @Test
    void mismatchedInputs() {
        expectFailure("timestep", in -> new Stdit3Input(in.x(), new float[] {1}, in.y(), in.mask(), null, in.fps(),
                64, 64));
        expectFailure("fps", in -> new Stdit3Input(in.x(), in.timestep(), in.y(), in.mask(), null,
                new float[] {24, 24, 24}, 64, 64));
        expectFailure("height", in -> new Stdit3Input(in.x(), in.timestep(), in.y(), in.mask(), null, in.fps(),
                0, 64));
        try (Tensor y3 = Tensor.zeros(3, 1, 6, 24); Tensor yCc = Tensor.zeros(2, 1, 6, 16);
                Tensor m5 = Tensor.of(new float[] {1, 0, 0, 0, 0}, 1, 5); Tensor m3 = Tensor.zeros(3, 6);
                Tensor xm = Tensor.zeros(2, 4)) {
            expectFailure("STDiT3 y", in -> withY(in, y3, in.mask()));
            expectFailure("24", in -> withY(in, yCc, in.mask()));
            expectFailure("mask", in -> withY(in, in.y(), m5));
            expectFailure("mask", in -> withY(in, in.y(), m3));
            expectFailure("x_mask", in -> new Stdit3Input(in.x(), in.timestep(), in.y(), in.mask(), xm, in.fps(),
                    64, 64));
        }
        try (Tensor x = Tensor.zeros(2, 4, 3, 4, 4); Tensor y = Tensor.zeros(2, 1, 6, 24);
                Tensor mask = Tensor.of(new float[] {1, 0, 0, 0, 0, 0}, 1, 6); Tensor out = Tensor.zeros(2, 4, 3, 4, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.forward(
                    new Stdit3Input(x, new float[] {1, 2}, y, mask, null, new float[] {24}, 64, 64), false, out));
            assertTrue(e.getMessage().contains("output"), e.getMessage());
        }
    }

    @Test
    void captionLongerThanModelMaxLength() {
        try (Tensor y = Tensor.zeros(2, 1, 11, 24); Tensor m = Tensor.zeros(1, 11)) {
            m.set(0, 1f);
            expectFailure("model_max_length", in -> withY(in, y, m));
        }
    }

    @Test
    void maskWithoutValidToken() {
        try (Tensor m = Tensor.of(new float[] {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 2, 6)) {
            expectFailure("no valid caption token", in -> withY(in, in.y(), m));
        }
    }

    @Test
    void nonFiniteValues() {
        try (Tensor x = Tensor.zeros(2, 4, 3, 4, 4); Tensor y = Tensor.zeros(2, 1, 6, 24)) {
            x.set(17, Float.NaN);
            y.set(5, Float.POSITIVE_INFINITY);
            expectFailure("non-finite", in -> withX(in, x));
            expectFailure("non-finite", in -> withY(in, y, in.mask()));
        }
        expectFailure("timestep", in -> new Stdit3Input(in.x(), new float[] {1, Float.NaN}, in.y(), in.mask(), null,
                in.fps(), 64, 64));
    }

    // ------------------------------------------------------------------ checkpoints

    private static Path writeCheckpoint(Path dir, String drop, String extra, String reshape) throws IOException {
        SafetensorsWriter wr = new SafetensorsWriter();
        for (BlockLayout.BlockSpec spec : src.layout().blocks()) {
            Block b = src.acquire(spec.name());
            for (Map.Entry<String, Tensor> e : b.tensors().entrySet()) {
                if (e.getKey().equals(drop)) {
                    continue;
                }
                if (e.getKey().equals(reshape)) {
                    float[] v = e.getValue().toArray();
                    wr.add(e.getKey(), new float[v.length + 1], new int[] {v.length + 1},
                            io.github.jsora.weights.DType.F32);
                    continue;
                }
                wr.add(e.getKey(), e.getValue());
            }
            src.release(b);
        }
        if (extra != null) {
            wr.add(extra, new float[] {1f}, new int[] {1}, io.github.jsora.weights.DType.F32);
        }
        Path p = dir.resolve("model.safetensors");
        wr.write(p, true);
        return p;
    }

    @Test
    void checkpointRoundTripLoads(@TempDir Path dir) throws IOException {
        try (Checkpoint ck = Checkpoint.open(writeCheckpoint(dir, null, null, null)); Stdit3 m = Stdit3.load(CFG, ck)) {
            assertEquals(CFG, m.config());
            try (Tensor nul = m.nullCaption()) {
                assertTrue(nul.hasShape(1, 1, 10, 24));
            }
        }
    }

    @Test
    void missingExtraOrMisShapedTensorsNameTheTensor(@TempDir Path dir) throws IOException {
        String t = "temporal_blocks.1.attn.k_norm.weight";
        try (Checkpoint ck = Checkpoint.open(writeCheckpoint(dir, t, null, null))) {
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> Stdit3.load(CFG, ck));
            assertTrue(e.getMessage().contains(t) && e.getMessage().contains("missing"), e.getMessage());
        }
        try (Checkpoint ck = Checkpoint.open(writeCheckpoint(dir, null, "spatial_blocks.7.attn.qkv.weight", null))) {
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> Stdit3.load(CFG, ck));
            assertTrue(e.getMessage().contains("spatial_blocks.7.attn.qkv.weight"), e.getMessage());
        }
        String r = "spatial_blocks.0.mlp.fc1.weight";
        try (Checkpoint ck = Checkpoint.open(writeCheckpoint(dir, null, null, r))) {
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> Stdit3.load(CFG, ck));
            assertTrue(e.getMessage().contains(r) && e.getMessage().contains("[128, 32]")
                    && e.getMessage().contains("[4097]"), e.getMessage());
        }
    }

    @Test
    void blockSourceOfAnotherConfigIsRejected() {
        try (BlockSource other = RandomModel.seeded(3).source(Stdit3.layout(Stdit3NaiveTest.B, false))) {
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> Stdit3.withSource(CFG, other));
            assertTrue(e.getMessage().contains("block source"), e.getMessage());
        }
    }
}
