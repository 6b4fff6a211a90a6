package io.github.jsora.sampling;

import java.time.Duration;
import java.util.OptionalDouble;

/**
 * What happened in one finished sampling step.
 *
 * @param step       0-based step index
 * @param totalSteps the schedule's step count K (a leap ends the run before K)
 * @param timestep   the transformed timestep fed to the model (0…N scale)
 * @param stepTime   wall time of the step (model call, guidance and update)
 * @param elapsed    wall time since the run started
 * @param leapt      true when this step leapt to time 0 (it is then the last step)
 * @param similarity the dynamic-leap similarity measured at this step, empty when none was measured
 */
public record StepProgress(int step, int totalSteps, float timestep, Duration stepTime, Duration elapsed,
        boolean leapt, OptionalDouble similarity) {
}
