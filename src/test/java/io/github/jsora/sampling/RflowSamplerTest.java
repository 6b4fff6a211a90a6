package io.github.jsora.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.Tensor;

/** The Euler loop, guidance, LPL, progress and cancellation, with fake models. */
class RflowSamplerTest {

    private final RflowSampler sampler = new RflowSampler();

    private static SamplerOptions.Builder opts(int steps) {
        return SamplerOptions.builder().steps(steps).cfgScale(7.0).videoSize(240, 426).numFrames(51);
    }

    /** The loop written out plainly on arrays: z ← z + (u + s(c − u))·dt, float32 in the reference's order. */
    private static float[] naiveSample(FakeModels.Analytic model, float[] noise, int[] shape, SamplerOptions o,
            int leapAt) {
        float[] ts = RflowSchedule.of(o).timesteps();
        int b = shape[0], c = shape[1];
        int per = shape[2] * shape[3] * shape[4];
        float[] z = noise.clone();
        float n = o.numTimesteps();
        for (int i = 0; i < ts.length; i++) {
            float[] x = new float[2 * z.length];
            System.arraycopy(z, 0, x, 0, z.length);
            System.arraycopy(z, 0, x, z.length, z.length);
            float[] t2 = new float[2 * b];
            java.util.Arrays.fill(t2, ts[i]);
            try (Tensor out = model.forward(Tensor.of(x, 2 * b, c, shape[2], shape[3], shape[4]), t2, i)) {
                float[] ov = out.toArray();
                int cOut = out.dim(1);
                boolean leap = i == leapAt;
                float dt = (leap || i == ts.length - 1 ? ts[i] : ts[i] - ts[i + 1]) / n;
                for (int bb = 0; bb < b; bb++) {
                    for (int k = 0; k < c * per; k++) {
                        float cond = ov[bb * cOut * per + k];
                        float unc = ov[(b + bb) * cOut * per + k];
                        float v = unc + o.cfgScale() * (cond - unc);
                        z[bb * c * per + k] = z[bb * c * per + k] + v * dt;
                    }
                }
                if (leap) {
                    break;
                }
            }
        }
        return z;
    }

    @Test
    void eulerLoopMatchesNaiveTwinBitForBitAndIgnoresExtraChannels() {
        int[] shape = {2, 3, 2, 3, 5};
        SamplerOptions o = opts(6).build();
        try (Tensor noise = TorchCpuRandom.randn(5, shape)) {
            FakeModels.Analytic m = new FakeModels.Analytic(3);   // extra channels are NaN
            float[] expected = naiveSample(new FakeModels.Analytic(3), noise.toArray(), shape, o, -1);
            try (SampleResult r = sampler.sample(m, noise, o)) {
                assertArrayEquals(expected, r.latent().toArray());
                assertEquals(6, r.modelCalls());
                assertEquals(6, r.stepTimes().size());
                assertTrue(r.leapStep().isEmpty());
                float[] ts = RflowSchedule.of(o).timesteps();
                for (int i = 0; i < 6; i++) {
                    assertEquals(i, m.steps.get(i));
                    assertArrayEquals(new float[] {ts[i], ts[i], ts[i], ts[i]}, m.timesteps.get(i));
                    // the model input is [z; z]
                    float[] in = m.inputs.get(i);
                    int half = in.length / 2;
                    assertArrayEquals(java.util.Arrays.copyOfRange(in, 0, half),
                            java.util.Arrays.copyOfRange(in, half, in.length));
                }
                assertArrayEquals(noise.toArray(), java.util.Arrays.copyOfRange(m.inputs.get(0), 0,
                        (int) noise.size()), "step 0 sees the noise; the noise tensor is not modified");
            }
        }
    }

    @Test
    void fixedLeapIsTheClosedFormWithNPlusOneCalls() {
        int[] shape = {1, 4, 3, 4, 4};
        for (int n : new int[] {0, 3, 9}) {
            SamplerOptions o = opts(10).leap(LeapStrategy.fixed(n)).build();
            RflowSchedule sched = RflowSchedule.of(o);
            try (Tensor noise = TorchCpuRandom.randn(11, shape)) {
                FakeModels.Analytic m = new FakeModels.Analytic(4);
                List<StepProgress> progress = new ArrayList<>();
                try (SampleResult r = sampler.sample(m, noise, o, progress::add, new CancellationToken())) {
                    assertEquals(n + 1, r.modelCalls(), "model calls for leap at " + n);
                    assertEquals(n + 1, m.calls());
                    assertEquals(n, r.leapStep().getAsInt());
                    // closed form: z_n + v_n · t'_n / 1000, z_n = the latent fed at step n
                    float[] zn = m.inputs.get(n);
                    float[] out = m.outputs.get(n);
                    int per = 3 * 4 * 4 * 4;
                    float dt = sched.timestep(n) / 1000f;
                    float[] expected = new float[per];
                    for (int k = 0; k < per; k++) {
                        float c = out[k];
                        float u = out[2 * per + k];   // uncond row starts after the cond row (C' = 8 channels)
                        float v = u + 7f * (c - u);
                        expected[k] = zn[k] + v * dt;
                    }
                    assertArrayEquals(expected, r.latent().toArray());
                    assertEquals(n + 1, progress.size());
                    for (int i = 0; i <= n; i++) {
                        assertEquals(i, progress.get(i).step());
                        assertEquals(10, progress.get(i).totalSteps());
                        assertEquals(sched.timestep(i), progress.get(i).timestep());
                        assertEquals(i == n, progress.get(i).leapt());
                    }
                }
                // the same with the naive twin
                float[] twin = naiveSample(new FakeModels.Analytic(4), noise.toArray(), shape, o, n);
                try (SampleResult r = sampler.sample(new FakeModels.Analytic(4), noise, o)) {
                    assertArrayEquals(twin, r.latent().toArray());
                }
            }
        }
    }

    /** Similarity script: index i = wanted cos(v_i, v_{i−1}); entries before the minimum step are irrelevant. */
    private static double[] script(int steps, double fill, double... fromStep14) {
        double[] s = new double[steps];
        java.util.Arrays.fill(s, fill);
        System.arraycopy(fromStep14, 0, s, 14, fromStep14.length);
        return s;
    }

    @Test
    void dynamicLeapFiresWhereTheScriptSays() {
        int[] shape = {1, 4, 3, 6, 5};
        // defaults: minStep 14, tol 1e-3, patience 3
        // 14: 0.90 best=0.90 | 15: 0.95 best | 16: 0.9505 (+5e-4 <= tol) left 2 | 17: 0.96 best, left 3 |
        // 18: 0.96 left 2 | 19: 0.5 left 1 | 20: 0.9605 left 0 -> leap at 20 (21 calls)
        double[] sims = script(30, 0.3, 0.90, 0.95, 0.9505, 0.96, 0.96, 0.5, 0.9605, 0.99, 0.99, 0.99);
        SamplerOptions o = opts(30).leap(LeapStrategy.dynamic()).build();
        try (Tensor noise = TorchCpuRandom.randn(3, shape)) {
            FakeModels.Scripted m = new FakeModels.Scripted(sims, 0, 0, 0);
            List<StepProgress> progress = new ArrayList<>();
            try (SampleResult r = sampler.sample(m, noise, o, progress::add, new CancellationToken())) {
                assertEquals(20, r.leapStep().getAsInt());
                assertEquals(21, r.modelCalls());
                assertEquals(21, m.calls);
                for (StepProgress p : progress) {
                    assertEquals(p.step() >= 14, p.similarity().isPresent(), "similarity measured at " + p.step());
                    if (p.step() >= 14) {
                        assertEquals(sims[p.step()], p.similarity().getAsDouble(), 1e-5);
                    }
                }
            }
            // earliest leap with a fresh state and no improvement after step 14: step 17 (18 calls)
            double[] flat = script(30, 0.3, 0.8, 0.8, 0.8, 0.8, 0.8);
            try (SampleResult r = sampler.sample(new FakeModels.Scripted(flat, 0, 0, 0), noise, o)) {
                assertEquals(17, r.leapStep().getAsInt());
                assertEquals(18, r.modelCalls());
            }
            // steadily improving similarities: never leaps, all 30 steps
            double[] rising = new double[30];
            for (int i = 0; i < 30; i++) {
                rising[i] = 0.5 + 0.015 * i;
            }
            try (SampleResult r = sampler.sample(new FakeModels.Scripted(rising, 0, 0, 0), noise, o)) {
                assertTrue(r.leapStep().isEmpty());
                assertEquals(30, r.modelCalls());
            }
        }
    }

    @Test
    void dynamicLeapParametersAndSliceAreHonoured() {
        int[] shape = {2, 3, 4, 5, 6};
        // measured on [batch 1, channel 2, frame 3]; the rest of the velocity is fresh noise every step
        double[] sims = new double[12];
        java.util.Arrays.fill(sims, 0.7);
        sims[3] = 0.6;   // step 3 (minStep): best 0.6; then 0.7 best (step 4), then no gain: 5 -> left 1 -> leap at 5
        LeapStrategy.Dynamic rule = LeapStrategy.dynamic().withMinStep(3).withPatience(1).withTolerance(0.05)
                .withSlice(1, 2, 3);
        SamplerOptions o = opts(12).leap(rule).build();
        try (Tensor noise = TorchCpuRandom.randn(9, shape);
                SampleResult r = sampler.sample(new FakeModels.Scripted(sims, 1, 2, 3), noise, o)) {
            assertEquals(5, r.leapStep().getAsInt());
            assertEquals(6, r.modelCalls());
        }
    }

    @Test
    void noStateLeaksBetweenGenerations() {
        int[] shape = {1, 2, 2, 4, 4};
        SamplerOptions o = opts(30).leap(LeapStrategy.dynamic()).build();
        // run A never leaps and ends with a best similarity of ~0.98: in the reference that state would carry over
        // and make run B leap at step 16 instead of 20
        double[] a = new double[30];
        for (int i = 0; i < 30; i++) {
            a[i] = 0.5 + 0.0165 * i;
        }
        double[] b = script(30, 0.3, 0.8, 0.81, 0.82, 0.83, 0.83, 0.83, 0.83, 0.83);   // alone: leap at 20
        try (Tensor noise = TorchCpuRandom.randn(1, shape)) {
            float[] alone;
            try (SampleResult r = new RflowSampler().sample(new FakeModels.Scripted(b, 0, 0, 0), noise, o)) {
                assertEquals(20, r.leapStep().getAsInt());
                alone = r.latent().toArray();
            }
            for (int rep = 0; rep < 2; rep++) {
                try (SampleResult ra = sampler.sample(new FakeModels.Scripted(a, 0, 0, 0), noise, o)) {
                    assertTrue(ra.leapStep().isEmpty(), "run A: always improving, no leap");
                    assertEquals(30, ra.modelCalls());
                }
                try (SampleResult rb = sampler.sample(new FakeModels.Scripted(b, 0, 0, 0), noise, o)) {
                    assertEquals(20, rb.leapStep().getAsInt(), "run B after run A");
                    assertArrayEquals(alone, rb.latent().toArray());
                }
            }
            // an interrupted run (exception from the listener) does not influence the next one either
            assertThrows(IllegalStateException.class, () -> sampler.sample(new FakeModels.Scripted(a, 0, 0, 0),
                    noise, o, p -> {
                        if (p.step() == 16) {
                            throw new IllegalStateException("stop");
                        }
                    }, new CancellationToken()));
            try (SampleResult rb = sampler.sample(new FakeModels.Scripted(b, 0, 0, 0), noise, o)) {
                assertArrayEquals(alone, rb.latent().toArray());
            }
        }
    }

    private static void badOption(String mustMention, Consumer<SamplerOptions.Builder> change) {
        SamplerOptions.Builder b = opts(30);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            change.accept(b);
            b.build();
        });
        assertTrue(e.getMessage().contains(mustMention), "message '" + e.getMessage() + "' names " + mustMention);
    }

    @Test
    void badOptionsAreRejectedWithTheOptionNamed() {
        badOption("steps", b -> b.steps(0));
        badOption("steps", b -> b.steps(-3));
        badOption("cfgScale", b -> b.cfgScale(Double.NaN));
        badOption("cfgScale", b -> b.cfgScale(-0.5));
        badOption("cfgScale", b -> b.cfgScale(Double.POSITIVE_INFINITY));
        badOption("cfgScale", b -> b.cfgScale(1e300));
        badOption("leap step", b -> b.leap(LeapStrategy.fixed(30)));
        badOption("[0, steps=30)", b -> b.steps(30).leap(LeapStrategy.fixed(31)));
        badOption("leap step", b -> b.leap(LeapStrategy.fixed(-1)));
        badOption("numFrames", b -> b.numFrames(0));
        badOption("height", b -> b.videoSize(0, 426));
        badOption("width", b -> b.videoSize(240, -1));
        badOption("height", b -> SamplerOptions.builder().build());   // geometry unset with the transform on
        badOption("numTimesteps", b -> b.numTimesteps(0));
        badOption("discrete", b -> b.steps(1001).discreteTimesteps(true));
        badOption("patience", b -> b.leap(LeapStrategy.dynamic().withPatience(0)));
        badOption("tolerance", b -> b.leap(LeapStrategy.dynamic().withTolerance(Double.NaN)));
        badOption("minStep", b -> b.leap(LeapStrategy.dynamic().withMinStep(-1)));
        badOption("slice", b -> b.leap(LeapStrategy.dynamic().withSlice(0, -1, 0)));
        badOption("leap", b -> b.leap(null));
        // a schedule that cannot be strictly decreasing in float32 (huge shift, many steps)
        badOption("strictly decreasing", b -> b.steps(100_000).videoSize(65_536, 65_536).numFrames(1 << 20));
        // without the transform the geometry is not needed
        assertEquals(30, SamplerOptions.builder().timestepTransform(false).build().steps());
    }

    @Test
    void badInputsFailBeforeTheFirstModelCall() {
        SamplerOptions o = opts(5).build();
        try (Tensor rank4 = Tensor.zeros(1, 4, 8, 8)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> sampler.sample(FakeModels.never(), rank4, o));
            assertTrue(e.getMessage().contains("noise"), e.getMessage());
        }
        try (Tensor empty = Tensor.zeros(1, 4, 0, 8, 8)) {
            assertThrows(IllegalArgumentException.class, () -> sampler.sample(FakeModels.never(), empty, o));
        }
        SamplerOptions slice = opts(5).leap(LeapStrategy.dynamic().withSlice(0, 4, 0)).build();
        try (Tensor z = Tensor.zeros(1, 4, 2, 8, 8)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> sampler.sample(FakeModels.never(), z, slice));
            assertTrue(e.getMessage().contains("channel < 4"), e.getMessage());
        }
        SamplerOptions frame = opts(5).leap(LeapStrategy.dynamic().withSlice(0, 0, 2)).build();
        try (Tensor z = Tensor.zeros(1, 4, 2, 8, 8)) {
            assertThrows(IllegalArgumentException.class, () -> sampler.sample(FakeModels.never(), z, frame));
        }
    }

    @Test
    void badModelOutputsStopTheRunNamingTheStep() {
        SamplerOptions o = opts(5).build();
        try (Tensor z = TorchCpuRandom.randn(2, 1, 4, 2, 4, 4)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> sampler.sample((x, ts, step) -> Tensor.zeros(1, 8, 2, 4, 4), z, o));
            assertTrue(e.getMessage().contains("step 0") && e.getMessage().contains("[1, 8, 2, 4, 4]"),
                    e.getMessage());
            assertThrows(IllegalStateException.class,
                    () -> sampler.sample((x, ts, step) -> Tensor.zeros(2, 3, 2, 4, 4), z, o));
            e = assertThrows(IllegalStateException.class, () -> sampler.sample((x, ts, step) -> {
                Tensor out = Tensor.zeros(2, 4, 2, 4, 4);
                if (step == 2) {
                    out.set(7, Float.NaN);
                }
                return out;
            }, z, o));
            assertTrue(e.getMessage().contains("step 2") && e.getMessage().contains("non-finite"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> sampler.sample((x, ts, step) -> x, z, o));
        }
    }

    @Test
    void cancellationBeforeAndBetweenSteps() throws Exception {
        SamplerOptions o = opts(8).build();
        try (Tensor z = TorchCpuRandom.randn(4, 1, 4, 2, 4, 4)) {
            CancellationToken pre = new CancellationToken();
            pre.cancel();
            SamplingCancelledException e = assertThrows(SamplingCancelledException.class,
                    () -> sampler.sample(FakeModels.never(), z, o, ProgressListener.NONE, pre));
            assertEquals(0, e.completedSteps());
            assertTrue(e instanceof CancellationException);

            // from the listener thread itself after step 2: steps 0..2 done, no further model call
            CancellationToken t = new CancellationToken();
            FakeModels.Analytic m = new FakeModels.Analytic(0);
            e = assertThrows(SamplingCancelledException.class, () -> sampler.sample(m, z, o, p -> {
                if (p.step() == 2) {
                    t.cancel();
                }
            }, t));
            assertEquals(3, e.completedSteps());
            assertEquals(3, m.calls());

            // from another thread while the model is running step 1: the step finishes, then the run stops
            CancellationToken other = new CancellationToken();
            CountDownLatch inStep1 = new CountDownLatch(1);
            CountDownLatch cancelled = new CountDownLatch(1);
            FakeModels.Analytic inner = new FakeModels.Analytic(0);
            DenoisingModel slow = (x, ts, step) -> {
                if (step == 1) {
                    inStep1.countDown();
                    try {
                        assertTrue(cancelled.await(10, TimeUnit.SECONDS));
                    } catch (InterruptedException ex) {
                        throw new AssertionError(ex);
                    }
                }
                return inner.forward(x, ts, step);
            };
            Thread canceller = new Thread(() -> {
                try {
                    inStep1.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException ex) {
                    return;
                }
                other.cancel();
                cancelled.countDown();
            });
            canceller.start();
            e = assertThrows(SamplingCancelledException.class,
                    () -> sampler.sample(slow, z, o, ProgressListener.NONE, other));
            canceller.join(10_000);
            assertEquals(2, e.completedSteps());
            assertEquals(2, inner.calls());
        }
    }

    @Test
    void progressReportsEveryStep() {
        SamplerOptions o = opts(4).cfgScale(1.5).build();
        List<StepProgress> ps = new ArrayList<>();
        try (Tensor z = TorchCpuRandom.randn(8, 1, 4, 2, 4, 4);
                SampleResult r = sampler.sample(new FakeModels.Analytic(4), z, o, ps::add, new CancellationToken())) {
            assertEquals(4, ps.size());
            float[] ts = r.timesteps();
            for (int i = 0; i < 4; i++) {
                StepProgress p = ps.get(i);
                assertEquals(i, p.step());
                assertEquals(4, p.totalSteps());
                assertEquals(ts[i], p.timestep());
                assertFalse(p.leapt());
                assertTrue(p.similarity().isEmpty());
                assertFalse(p.stepTime().isNegative());
                assertTrue(i == 0 || p.elapsed().compareTo(ps.get(i - 1).elapsed()) >= 0);
            }
        }
    }

    /** At real sizes the first timestep is exactly 1000, so the inference-script path is the plain one, bit for bit. */
    @Test
    void inferenceScriptMaskChangesNothingWhenTheFirstTimestepIsN() {
        int[] shape = {1, 4, 3, 4, 4};
        SamplerOptions plain = opts(8).build();
        SamplerOptions script = opts(8).inferenceScriptMask(1001, 3, 5).build();
        assertEquals(1000f, RflowSchedule.of(plain).timestep(0));
        try (Tensor noise = TorchCpuRandom.randn(2, shape);
                SampleResult a = sampler.sample(new FakeModels.Analytic(4), noise, plain);
                SampleResult b = sampler.sample(new FakeModels.Analytic(4), noise, script)) {
            assertArrayEquals(a.latent().toArray(), b.latent().toArray());
            assertEquals(a.modelCalls(), b.modelCalls());
        }
    }

    /**
     * 64×64, 17 frames: the first timestep rounds to 1000.0001 > N. Step 0 runs with every frame conditioning and is
     * thrown away; step 1 starts from (1 − t₁/N)·noise + (t₁/N)·ε with ε the second draw of the global generator (this
     * run's slice of it); then plain Euler steps.
     */
    @Test
    void inferenceScriptMaskDiscardsStepZeroAndRenoisesAtStepOne() {
        int[] shape = {1, 4, 5, 8, 8};
        int n = 4 * 5 * 8 * 8;
        SamplerOptions o = SamplerOptions.builder().steps(6).cfgScale(7.0).videoSize(64, 64).numFrames(17)
                .inferenceScriptMask(77, 1, 3).build();
        RflowSchedule sched = RflowSchedule.of(o);
        assertTrue(sched.timestep(0) > 1000f);
        List<Integer> conditioningCalls = new ArrayList<>();
        FakeModels.Analytic m = new FakeModels.Analytic(0) {
            @Override
            public Tensor forward(Tensor x, float[] ts, boolean[] generated, int step) {
                assertArrayEquals(new boolean[generated.length], generated, "every frame conditioning");
                conditioningCalls.add(step);
                return super.forward(x, ts, generated, step);
            }
        };
        try (Tensor noise = TorchCpuRandom.randn(5, shape); SampleResult r = sampler.sample(m, noise, o)) {
            assertEquals(List.of(0), conditioningCalls);
            assertEquals(6, r.modelCalls());
            assertArrayEquals(new float[2], m.timesteps.get(0), "the default all-conditioning call is timestep 0");
            // the reference's draws: randn_like of the whole batch of 3 at every step; sample 1's slice of the second
            TorchCpuRandom global = new TorchCpuRandom(77);
            float[] draw = new float[n];
            global.fillNormalSlice(draw, 3L * n, n);
            global.fillNormalSlice(draw, 3L * n, n);
            float t1 = sched.timestep(1);
            float keep = 1f - t1 / 1000f;
            float fresh = 1f - keep;
            float[] z0 = noise.toArray();
            float[] z1 = new float[n];
            for (int k = 0; k < n; k++) {
                z1[k] = keep * z0[k] + fresh * draw[k];
            }
            assertArrayEquals(z1, java.util.Arrays.copyOfRange(m.inputs.get(1), 0, n), "step 1 input");
            // from step 1 on, the plain sampler on the remaining schedule
            float[] z = z1.clone();
            for (int i = 1; i < 6; i++) {
                float[] out = m.outputs.get(i);
                float dt = sched.dt(i);
                for (int k = 0; k < n; k++) {
                    float u = out[n + k];
                    z[k] = z[k] + (u + 7f * (out[k] - u)) * dt;
                }
            }
            assertArrayEquals(z, r.latent().toArray());
        }
    }

    @Test
    void inferenceScriptBatchPositionIsValidated() {
        assertThrows(IllegalArgumentException.class, () -> opts(4).inferenceScriptMask(1, 3, 3).build());
        assertThrows(IllegalArgumentException.class, () -> opts(4).inferenceScriptMask(1, -1, 3).build());
        assertThrows(IllegalArgumentException.class, () -> opts(4).inferenceScriptMask(1, 0, 0).build());
        // at 64×64×17 step 0 is thrown away, so a leap there would silently never happen
        SamplerOptions.Builder small = SamplerOptions.builder().steps(6).videoSize(64, 64).numFrames(17);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> small.leap(LeapStrategy.fixed(0)).inferenceScriptMask(1).build());
        assertTrue(e.getMessage().contains("leap step 0"), e.getMessage());
        small.leap(LeapStrategy.fixed(1)).build();
        small.leap(LeapStrategy.fixed(0)).noInferenceScriptMask().build();
    }
}
