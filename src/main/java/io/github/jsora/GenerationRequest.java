package io.github.jsora;

import io.github.jsora.sampling.LeapStrategy;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * What to generate: an immutable request built with {@link #builder(String)}. Validated when built; every error
 * names the option and its allowed range.
 *
 * <p>Defaults are Open-Sora v1.2's: 30 steps, cfg 7.0, 51 frames, 240p at 9:16 (240×426), fps 24, no leap, no token
 * merging, prompt preparation on. {@link VideoGenerator#requestBuilder(String)} starts from the opened model's own
 * defaults instead (for the embedded demo model: 64×64, 17 frames, prompt preparation off).
 */
public final class GenerationRequest {

    /** Linear Proportional Leap: off, at a fixed step, or chosen at run time from velocity similarity. */
    public enum LeapMode { OFF, FIXED, DYNAMIC }

    /** Largest frame count accepted (16 × 51, Open-Sora's longest setting). */
    public static final int MAX_FRAMES = 816;
    /** Largest reference batch accepted by {@link Builder#referenceBatch}. */
    public static final int MAX_REFERENCE_BATCH = 4096;
    /** Largest height or width in pixels accepted. */
    public static final int MAX_SIDE = 2048;

    private final String prompt;
    private final String negativePrompt;
    private final Long seed;
    private final int steps;
    private final double cfgScale;
    private final int frames;
    private final int height;
    private final int width;
    private final double fps;
    private final LeapMode leapMode;
    private final int leapStep;
    private final LeapStrategy.Dynamic dynamicLeap;
    private final int tdtmSteps;
    private final long memoryBudgetBytes;
    private final int threads;
    private final boolean preparePrompt;
    private final Long inferenceScriptMask;
    private final int batchIndex;
    private final int batchSize;

    private GenerationRequest(Builder b) {
        this.prompt = b.prompt;
        this.negativePrompt = b.negativePrompt;
        this.seed = b.seed;
        this.steps = b.steps;
        this.cfgScale = b.cfgScale;
        this.frames = b.frames;
        this.height = b.height;
        this.width = b.width;
        this.fps = b.fps;
        this.leapMode = b.leapMode;
        this.leapStep = b.leapStep;
        this.dynamicLeap = b.dynamicLeap;
        this.tdtmSteps = b.tdtmSteps;
        this.memoryBudgetBytes = b.memoryBudgetBytes;
        this.threads = b.threads;
        this.preparePrompt = b.preparePrompt;
        this.inferenceScriptMask = b.inferenceScriptMask;
        this.batchIndex = b.batchIndex;
        this.batchSize = b.batchSize;
    }

    /** A builder with Open-Sora's defaults. */
    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    /** A builder holding this request's values. */
    public Builder toBuilder() {
        Builder b = new Builder(prompt);
        b.negativePrompt = negativePrompt;
        b.seed = seed;
        b.steps = steps;
        b.cfgScale = cfgScale;
        b.frames = frames;
        b.height = height;
        b.width = width;
        b.fps = fps;
        b.leapMode = leapMode;
        b.leapStep = leapStep;
        b.dynamicLeap = dynamicLeap;
        b.tdtmSteps = tdtmSteps;
        b.memoryBudgetBytes = memoryBudgetBytes;
        b.threads = threads;
        b.preparePrompt = preparePrompt;
        b.inferenceScriptMask = inferenceScriptMask;
        b.batchIndex = batchIndex;
        b.batchSize = batchSize;
        return b;
    }

    public String prompt() {
        return prompt;
    }

    /** Negative prompt, or null for the model's null caption. */
    public String negativePrompt() {
        return negativePrompt;
    }

    /** The seed, empty when a random one is to be drawn (the result reports the one used). */
    public OptionalLong seed() {
        return seed == null ? OptionalLong.empty() : OptionalLong.of(seed);
    }

    public int steps() {
        return steps;
    }

    public double cfgScale() {
        return cfgScale;
    }

    /** Pixel frames of the video. */
    public int frames() {
        return frames;
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    /** Frame rate, used both to condition the model and to time the output file. */
    public double fps() {
        return fps;
    }

    public LeapMode leapMode() {
        return leapMode;
    }

    /** The sampler's leap strategy for this request (the dynamic rule with its parameters when dynamic). */
    public LeapStrategy leapStrategy() {
        return switch (leapMode) {
            case OFF -> LeapStrategy.off();
            case FIXED -> LeapStrategy.fixed(leapStep);
            case DYNAMIC -> dynamicLeap;
        };
    }

    /** For {@link LeapMode#FIXED}: the 0-based step index at which the leap is taken. */
    public int leapStep() {
        return leapStep;
    }

    /** Number of first denoising steps run with temporal token merging (0 = off). */
    public int tdtmSteps() {
        return tdtmSteps;
    }

    /** Byte budget for resident model blocks (0 = unlimited: every block stays resident). */
    public long memoryBudgetBytes() {
        return memoryBudgetBytes;
    }

    /** Compute threads (0 = all available processors). */
    public int threads() {
        return threads;
    }

    /** Whether the prompt gets Open-Sora's aesthetic-score suffix and caption cleaning. */
    public boolean preparePrompt() {
        return preparePrompt;
    }

    /**
     * The seed of the inference-script emulation, empty (the default) for the plain sampler; see
     * {@link Builder#inferenceScriptMask(long)}.
     */
    public OptionalLong inferenceScriptMask() {
        return inferenceScriptMask == null ? OptionalLong.empty() : OptionalLong.of(inferenceScriptMask);
    }

    /** This video's index in the reference batch its noise is taken from (default 0); see {@link Builder#referenceBatch}. */
    public int batchIndex() {
        return batchIndex;
    }

    /** Size of the reference batch its noise is taken from (default 1). */
    public int batchSize() {
        return batchSize;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "prompt=\"%s\"%s seed=%s steps=%d cfg=%.2f frames=%d size=%dx%d fps=%s "
                + "lpl=%s tdtm=%d budget=%s threads=%s preparePrompt=%b%s", prompt,
                negativePrompt == null ? "" : " negative=\"" + negativePrompt + "\"",
                seed == null ? "random" : seed.toString(), steps, cfgScale, frames, width, height, fps,
                leapMode == LeapMode.FIXED ? "fixed@" + leapStep : leapMode == LeapMode.DYNAMIC
                        && !dynamicLeap.equals(LeapStrategy.dynamic()) ? "dynamic(minStep " + dynamicLeap.minStep()
                        + ", tolerance " + dynamicLeap.tolerance() + ", patience " + dynamicLeap.patience() + ")"
                        : leapMode.name().toLowerCase(Locale.ROOT),
                tdtmSteps, memoryBudgetBytes == 0 ? "default" : memoryBudgetBytes + "B",
                threads == 0 ? "auto" : Integer.toString(threads), preparePrompt,
                inferenceScriptMask == null ? "" : " inferenceScriptMask=" + inferenceScriptMask)
                + (batchSize == 1 ? "" : " referenceBatch=" + batchIndex + "/" + batchSize);
    }

    /**
     * Rounds a frame count to one the pipeline serves, as Open-Sora requires: 1 (a still image) or at least 17
     * (one full VAE chunk). Counts 2–16 become 17. Values outside [1, {@link #MAX_FRAMES}] are not rounded.
     */
    public static int roundFrames(int frames) {
        return frames >= 2 && frames < 17 ? 17 : frames;
    }

    /** Builder; all setters validate their argument, {@link #build()} validates the combination. */
    public static final class Builder {
        private String prompt;
        private String negativePrompt;
        private Long seed;
        private int steps = 30;
        private double cfgScale = 7.0;
        private int frames = 51;
        private int height = 240;
        private int width = 426;
        private double fps = 24;
        private LeapMode leapMode = LeapMode.OFF;
        private int leapStep = -1;
        private LeapStrategy.Dynamic dynamicLeap;
        private int tdtmSteps = 0;
        private long memoryBudgetBytes = 0;
        private int threads = 0;
        private boolean preparePrompt = true;
        private Long inferenceScriptMask;
        private int batchIndex = 0;
        private int batchSize = 1;
        private boolean framesRounded;

        private Builder(String prompt) {
            prompt(prompt);
        }

        public Builder prompt(String p) {
            Objects.requireNonNull(p, "prompt");
            if (p.codePoints().allMatch(c -> Character.isWhitespace(c) || Character.isSpaceChar(c)
                    || Character.getType(c) == Character.CONTROL || Character.getType(c) == Character.FORMAT)) {
                throw new IllegalArgumentException("prompt is empty (only whitespace, control or invisible "
                        + "format characters such as NUL or a zero-width space)");
            }
            this.prompt = p;
            return this;
        }

        /** Negative prompt (null or blank: none). */
        public Builder negativePrompt(String p) {
            this.negativePrompt = p == null || p.isBlank() ? null : p;
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** Draw a random seed at generation time. */
        public Builder randomSeed() {
            this.seed = null;
            return this;
        }

        public Builder steps(int n) {
            if (n < 1 || n > 1000) {
                throw new IllegalArgumentException("steps must be in [1, 1000], found " + n);
            }
            this.steps = n;
            return this;
        }

        public Builder cfgScale(double s) {
            if (!Double.isFinite(s) || s < 0 || s > 100) {
                throw new IllegalArgumentException("cfg scale must be a finite number in [0, 100], found " + s);
            }
            this.cfgScale = s;
            return this;
        }

        /** Pixel frames; 2–16 are rounded up to 17 (logged when the request is built). */
        public Builder frames(int n) {
            if (n < 1 || n > MAX_FRAMES) {
                throw new IllegalArgumentException("frames must be in [1, " + MAX_FRAMES + "], found " + n);
            }
            this.frames = roundFrames(n);
            this.framesRounded = this.frames != n;
            return this;
        }

        /** Explicit pixel size. */
        public Builder size(int width, int height) {
            if (width < 8 || height < 8 || width > MAX_SIDE || height > MAX_SIDE) {
                throw new IllegalArgumentException("size must be between 8 and " + MAX_SIDE + " pixels per side, found "
                        + width + "x" + height);
            }
            this.width = width;
            this.height = height;
            return this;
        }

        /** A named resolution (144p … 720p) at an aspect ratio height:width (e.g. "9:16"); see {@link Resolution}. */
        public Builder resolution(String name, String aspectRatio) {
            int[] hw = Resolution.size(name, aspectRatio);
            return size(hw[1], hw[0]);
        }

        public Builder fps(double f) {
            if (!Double.isFinite(f) || f <= 0 || f > 240) {
                throw new IllegalArgumentException("fps must be in (0, 240], found " + f);
            }
            this.fps = f;
            return this;
        }

        /**
         * Samples as Open-Sora's {@code scripts/inference.py} does (a frame mask of ones), with the sampler's own
         * random draws from a PyTorch-compatible generator seeded with {@code globalSeed}, the value of
         * {@code torch.manual_seed} before the reference's {@code RFLOW.sample}. This changes the result only when
         * the first timestep rounds above 1000 (the embedded demo model's 64×64, 17 frames): there the reference
         * throws the first step away and re-noises the latent at the second, and so does jsora with this option.
         * Use it to reproduce a reference video; the default (off) is the sampler with {@code mask=None}. The
         * thrown-away step counts as a step: {@link #tdtmSteps} includes it and a fixed leap may not be placed on
         * it. See
         * {@link io.github.jsora.sampling.SamplerOptions.Builder#inferenceScriptMask(long)}.
         */
        public Builder inferenceScriptMask(long globalSeed) {
            this.inferenceScriptMask = globalSeed;
            return this;
        }

        /**
         * Takes this video's noise as sample {@code index} of a batch of {@code size} videos drawn at once, as a
         * PyTorch run that sampled several prompts together drew it: the initial noise is that slice of
         * {@code torch.randn(size, C, T, H, W)} from the seed, and with {@link #inferenceScriptMask(long)} the
         * sampler's draws are sliced the same way. Default {@code (0, 1)}: one video alone. Only the noise
         * changes; the video is generated alone.
         */
        public Builder referenceBatch(int index, int size) {
            if (size < 1 || size > MAX_REFERENCE_BATCH) {
                throw new IllegalArgumentException("reference batch size must be in [1, " + MAX_REFERENCE_BATCH
                        + "], found " + size);
            }
            if (index < 0 || index >= size) {
                throw new IllegalArgumentException("reference batch index must be in [0, " + (size - 1)
                        + "], found " + index);
            }
            this.batchIndex = index;
            this.batchSize = size;
            return this;
        }

        /** The plain sampler (the default). */
        public Builder noInferenceScriptMask() {
            this.inferenceScriptMask = null;
            return this;
        }

        /** No leap: all steps run. */
        public Builder noLeap() {
            this.leapMode = LeapMode.OFF;
            this.leapStep = -1;
            this.dynamicLeap = null;
            return this;
        }

        /** Fixed LPL: leap at the 0-based step index {@code step} (step + 1 model evaluations). */
        public Builder leapAt(int step) {
            if (step < 0) {
                throw new IllegalArgumentException("leap step must be >= 0, found " + step);
            }
            this.leapMode = LeapMode.FIXED;
            this.leapStep = step;
            this.dynamicLeap = null;
            return this;
        }

        /** Dynamic LPL with the authors' defaults (minimum step 14, tolerance 1e-3, patience 3). */
        public Builder dynamicLeap() {
            return dynamicLeap(LeapStrategy.Dynamic.DEFAULT_MIN_STEP, LeapStrategy.Dynamic.DEFAULT_TOLERANCE,
                    LeapStrategy.Dynamic.DEFAULT_PATIENCE);
        }

        /**
         * Dynamic LPL: from step {@code minStep} on, leap once the similarity of successive velocities has not
         * improved by more than {@code tolerance} for {@code patience} steps (see {@link LeapStrategy.Dynamic}).
         *
         * @throws IllegalArgumentException for a negative step, a negative or non-finite tolerance, or patience < 1
         */
        public Builder dynamicLeap(int minStep, double tolerance, int patience) {
            this.dynamicLeap = new LeapStrategy.Dynamic(minStep, tolerance, patience, 0, 0, 0);
            this.leapMode = LeapMode.DYNAMIC;
            this.leapStep = -1;
            return this;
        }

        /** Temporal token merging for the first {@code k} steps (0 = off). */
        public Builder tdtmSteps(int k) {
            if (k < 0) {
                throw new IllegalArgumentException("tdtm steps must be >= 0, found " + k);
            }
            this.tdtmSteps = k;
            return this;
        }

        /**
         * Byte budget for everything jsora allocates during the request: the blocks of the three models, activations,
         * workspaces and caches (0 = the generator's default, chosen from the memory available when it was opened;
         * see {@link VideoGenerator#defaultBudget()}). Models stay resident as far as the budget allows and are
         * streamed block by block beyond that; a budget below {@link VideoGenerator#minimumBudget} fails before any
         * work with a {@link MemoryBudgetException}. The JVM itself (code, heap) is outside the budget.
         */
        public Builder memoryBudget(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("memory budget must be >= 0 bytes, found " + bytes);
            }
            this.memoryBudgetBytes = bytes;
            return this;
        }

        /** Compute threads (0 = all processors). */
        public Builder threads(int n) {
            if (n < 0 || n > 1024) {
                throw new IllegalArgumentException("threads must be in [0, 1024], found " + n);
            }
            this.threads = n;
            return this;
        }

        /** Open-Sora's prompt preparation (aesthetic-score suffix and caption cleaning); on by default. */
        public Builder preparePrompt(boolean on) {
            this.preparePrompt = on;
            return this;
        }

        public GenerationRequest build() {
            if (leapMode == LeapMode.FIXED && leapStep >= steps) {
                throw new IllegalArgumentException("leap step must be in [0, steps) = [0, " + steps + "), found "
                        + leapStep);
            }
            if (tdtmSteps > steps) {
                throw new IllegalArgumentException("tdtm steps must be in [0, steps] = [0, " + steps + "], found "
                        + tdtmSteps);
            }
            if (framesRounded) {
                org.slf4j.LoggerFactory.getLogger(GenerationRequest.class).warn(
                        "frame count rounded up to {}: the video VAE decodes 1 frame or at least one chunk of 17",
                        frames);
                framesRounded = false;
            }
            return new GenerationRequest(this);
        }
    }
}
