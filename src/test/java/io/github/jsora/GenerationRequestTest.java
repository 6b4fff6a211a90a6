package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Consumer;
import java.util.function.Function;

import io.github.jsora.sampling.GuidanceInterval;
import io.github.jsora.sampling.LeapStrategy;
import io.github.jsora.sampling.SamplerOptions;
import io.github.jsora.sampling.StepCaching;

import org.junit.jupiter.api.Test;

/** The request holds one {@link SamplerOptions}: its sampler settings are set and validated there. */
class GenerationRequestTest {

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder("a red circle moving left");
    }

    @Test
    void defaultsAreTheSamplerOptionsOfTheRequest() {
        GenerationRequest r = request().build();
        SamplerOptions o = r.sampler();
        assertEquals(30, o.steps());
        assertEquals(7f, o.cfgScale());
        assertEquals(240, o.height());
        assertEquals(426, o.width());
        assertEquals(51, o.numFrames());
        assertEquals(1000, o.numTimesteps());
        assertTrue(o.timestepTransform());
        assertEquals(LeapStrategy.off(), o.leap());
        assertEquals(0, o.tdtmSteps());
        assertEquals(StepCaching.off(), o.stepCaching());
        assertEquals(GuidanceInterval.always(), o.cfgInterval());
        assertTrue(o.inferenceScriptMask().isEmpty());
        assertEquals(0, o.batchIndex());
        assertEquals(1, o.batchSize());
        assertEquals(GenerationRequest.LeapMode.OFF, r.leapMode());
        assertEquals(-1, r.leapStep());
    }

    @Test
    void builderSettersLandInTheSamplerOptions() {
        StepCaching caching = StepCaching.modulatedInput(0.1);
        GenerationRequest r = request().steps(12).cfgScale(4.5).frames(5).size(64, 32).leapAt(7).tdtmSteps(3)
                .stepCaching(caching).cfgInterval(100, 800).referenceBatch(2, 3).inferenceScriptMask(9).build();
        SamplerOptions o = r.sampler();
        assertEquals(12, o.steps());
        assertEquals(4.5f, o.cfgScale());
        assertEquals(17, o.numFrames(), "2-16 frames round up to 17, in the sampler's geometry too");
        assertEquals(32, o.height());
        assertEquals(64, o.width());
        assertEquals(LeapStrategy.fixed(7), o.leap());
        assertEquals(7, o.fixedLeapStep());
        assertEquals(3, o.tdtmSteps());
        assertEquals(caching, o.stepCaching());
        assertEquals(new GuidanceInterval(100, 800), o.cfgInterval());
        assertEquals(9, o.inferenceScriptMask().getAsLong());
        assertEquals(2, o.batchIndex());
        assertEquals(3, o.batchSize());
        // the request's accessors read the same values
        assertEquals(12, r.steps());
        assertEquals(4.5, r.cfgScale());
        assertEquals(17, r.frames());
        assertEquals(32, r.height());
        assertEquals(64, r.width());
        assertEquals(GenerationRequest.LeapMode.FIXED, r.leapMode());
        assertEquals(7, r.leapStep());
        assertEquals(o.leap(), r.leapStrategy());
        assertEquals(3, r.tdtmSteps());
        assertEquals(caching, r.stepCaching());
        assertEquals(o.cfgInterval(), r.cfgInterval());
        assertEquals(9, r.inferenceScriptMask().getAsLong());
        assertEquals(2, r.batchIndex());
        assertEquals(3, r.batchSize());
        GenerationRequest again = r.toBuilder().build();
        assertEquals(r.toString(), again.toString());
        assertEquals(o.toString(), again.sampler().toString());
        assertEquals(GenerationRequest.LeapMode.DYNAMIC,
                request().dynamicLeap(2, 0.01, 4).stepCaching(StepCaching.off()).build().leapMode());
    }

    @Test
    void theReferenceBatchDoesNotDependOnTheInferenceScriptMask() {
        GenerationRequest a = request().referenceBatch(1, 4).inferenceScriptMask(5).build();
        GenerationRequest b = request().inferenceScriptMask(5).referenceBatch(1, 4).build();
        assertEquals(a.toString(), b.toString());
        assertEquals(1, a.batchIndex());
        GenerationRequest plain = a.toBuilder().noInferenceScriptMask().build();
        assertTrue(plain.inferenceScriptMask().isEmpty());
        assertEquals(4, plain.batchSize(), "the batch position of the noise stays");
    }

    private static void sameError(Consumer<GenerationRequest.Builder> onRequest,
            Function<SamplerOptions.Builder, SamplerOptions.Builder> onOptions, String mustMention) {
        IllegalArgumentException viaRequest = assertThrows(IllegalArgumentException.class,
                () -> onRequest.accept(request()));
        IllegalArgumentException direct = assertThrows(IllegalArgumentException.class,
                () -> onOptions.apply(SamplerOptions.builder().videoSize(240, 426).numFrames(51)).build());
        assertEquals(direct.getMessage(), viaRequest.getMessage(), "one validation, one message");
        assertTrue(direct.getMessage().contains(mustMention), direct.getMessage());
    }

    @Test
    void samplerSettingsAreValidatedOnceBySamplerOptions() {
        sameError(b -> b.steps(0), o -> o.steps(0), "steps");
        sameError(b -> b.cfgScale(Double.NaN), o -> o.cfgScale(Double.NaN), "cfgScale");
        sameError(b -> b.cfgScale(-1), o -> o.cfgScale(-1), "cfgScale");
        sameError(b -> b.steps(10).leapAt(10).build(), o -> o.steps(10).leap(LeapStrategy.fixed(10)), "leap step");
        sameError(b -> b.leapAt(-1), o -> o.leap(LeapStrategy.fixed(-1)), "leap step");
        sameError(b -> b.tdtmSteps(-1), o -> o.tdtmSteps(-1), "tdtm");
        sameError(b -> b.steps(4).tdtmSteps(5).build(), o -> o.steps(4).tdtmSteps(5), "tdtm steps");
        sameError(b -> b.dynamicLeap().stepCaching(StepCaching.modulatedInput(0.1)).build(),
                o -> o.leap(LeapStrategy.dynamic()).stepCaching(StepCaching.modulatedInput(0.1)), "dynamic leap");
        sameError(b -> b.referenceBatch(3, 3), o -> o.referenceBatch(3, 3), "reference batch index");
        sameError(b -> b.referenceBatch(0, GenerationRequest.MAX_REFERENCE_BATCH + 1),
                o -> o.referenceBatch(0, SamplerOptions.MAX_BATCH + 1), "reference batch size");
        // the bounds kept are SamplerOptions': any finite guidance scale >= 0 (the reference's --cfg-scale is a
        // plain float), steps up to SamplerOptions.MAX_STEPS
        assertEquals(150f, request().cfgScale(150).build().sampler().cfgScale());
        assertEquals(1001, request().steps(1001).build().steps());
    }

    @Test
    void samplerOptionsAreImmutable() {
        SamplerOptions o = request().steps(8).build().sampler();
        SamplerOptions changed = o.toBuilder().steps(9).tdtmSteps(2).build();
        assertEquals(8, o.steps());
        assertEquals(0, o.tdtmSteps());
        assertEquals(9, changed.steps());
        assertEquals(2, changed.tdtmSteps());
    }

    @Test
    void wholeSamplerOptionsReachTheRequestUnderItsLimits() {
        LeapStrategy.Dynamic leap = LeapStrategy.dynamic().withMinStep(6).withTolerance(0.02).withPatience(3)
                .withSlice(1, 2, 0);
        SamplerOptions o = SamplerOptions.builder().steps(20).cfgScale(4.5).numTimesteps(500)
                .discreteTimesteps(false).videoSize(64, 96).numFrames(17).leap(leap).build();
        SamplerOptions got = request().steps(3).sampler(o).build().sampler();
        assertEquals(20, got.steps());
        assertEquals(4.5f, got.cfgScale());
        assertEquals(500, got.numTimesteps());
        assertEquals(false, got.discreteTimesteps());
        assertEquals(64, got.height());
        assertEquals(96, got.width());
        assertEquals(leap, got.leap());
        // the request's own limits apply to the options' values, and a refused call changes nothing
        GenerationRequest.Builder b = request().steps(7);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.sampler(SamplerOptions.builder().videoSize(4, 96).numFrames(17).build()));
        assertTrue(e.getMessage().contains("size must be between 8"), e.getMessage());
        assertEquals(7, b.build().steps());
        assertEquals(17, request().sampler(SamplerOptions.builder().videoSize(64, 64).numFrames(5).build()).build().frames());
    }
}
