using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Modeling;

namespace DeepTrain.Training;

/// <summary>One compared derivative: the parameter, the element, and both values.</summary>
public sealed record GradientSample(string Parameter, int Index, double Analytic, double Numeric)
{
    /// <summary>|analytic − numeric|.</summary>
    public double Error => Math.Abs(Analytic - Numeric);

    /// <summary>How far the sample is outside |analytic − numeric| ≤ atol + rtol·|numeric| (≤ 0: inside).</summary>
    public double Excess(double atol, double rtol) => double.IsFinite(Analytic) ? Error - (atol + rtol * Math.Abs(Numeric)) : double.PositiveInfinity;
}


/// <summary>
/// The finite-difference gradient checker (as Caffe's GradientChecker), a public utility for verifying a layer
/// or loss of your own (docs/extending.md): for a training plan whose input and target are loaded, it
/// compares sampled parameter derivatives from <see cref="Plan.Backward"/> with the central difference
/// (L(w + h) − L(w − h)) / 2h of the loss. Build a small model around the new layer or loss, with a
/// parameterised layer (Linear, Conv2d) before it so its input gradient is checked through that layer's
/// weights, and call <see cref="Verify"/> (throws on a mismatch) or <see cref="Check"/> (returns every sample).
/// <para>
/// The model is fp32, so choose h around 1e-3 (rounding error ε·L/h against truncation h²·L‴, both about
/// 1e-4 for a loss near 1) and keep inputs away from kinks (ReLU at 0, max-pool ties, a hinge at 0), where
/// central differences are wrong by construction. Parameters are restored; the run is deterministic
/// (dropout masks are the same in every evaluation).
/// </para>
/// </summary>
public static class GradientChecker
{
    /// <summary>
    /// Samples up to <paramref name="perParameter"/> elements of every parameter (spread by a stride coprime
    /// with the size) and returns analytic and numeric derivatives for each.
    /// </summary>
    /// <exception cref="InvalidOperationException">The plan is not a training plan.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="perParameter"/> is below 1, or <paramref name="h"/> is not positive and finite.</exception>
    public static IReadOnlyList<GradientSample> Check(Plan plan, int perParameter = 6, float h = 1e-3f)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (!plan.Memory.Training) throw new InvalidOperationException($"model '{plan.Model.Name}': the gradient check needs a training plan");
        ArgumentOutOfRangeException.ThrowIfLessThan(perParameter, 1);
        if (!(h > 0) || float.IsInfinity(h)) throw new ArgumentOutOfRangeException(nameof(h), h, "the finite-difference step must be finite and > 0 (about 1e-3 for an fp32 model)");
        var backend = plan.Model.Backend;
        long iteration = plan.State.Iteration;   // dropout masks stay the same for every evaluation
        plan.Forward(); plan.ComputeLoss(); plan.Backward();
        var loss = new float[1];
        double Loss()
        {
            plan.Forward();
            plan.ComputeLoss();
            backend.CopyToHost<float>(plan.LossValue, loss);
            return loss[0];
        }
        var samples = new List<GradientSample>();
        foreach (var e in plan.Model.Parameters.Entries)
        {
            var w = backend.ReadFloats(e.Value);
            var g = backend.ReadFloats(e.Grad);
            int count = Math.Min(w.Length, perParameter);
            for (int k = 0; k < count; k++)
            {
                int i = (int)((long)k * 7919 % w.Length);
                float orig = w[i];
                w[i] = orig + h; backend.CopyFromHost<float>(w, e.Value); double plus = Loss();
                w[i] = orig - h; backend.CopyFromHost<float>(w, e.Value); double minus = Loss();
                w[i] = orig; backend.CopyFromHost<float>(w, e.Value);
                samples.Add(new GradientSample(e.Name, i, g[i], (plus - minus) / (2.0 * h)));
            }
        }
        plan.State.Iteration = iteration;
        return samples;
    }

    /// <summary>
    /// Runs <see cref="Check"/> and throws unless every sample satisfies |analytic − numeric| ≤ atol + rtol·|numeric|.
    /// The defaults suit an fp32 model with a loss near 1 and h = 1e-3.
    /// </summary>
    /// <returns>The samples, all within the tolerance.</returns>
    /// <exception cref="GradientCheckException">A sample is outside the tolerance; the message names the worst one.</exception>
    public static IReadOnlyList<GradientSample> Verify(Plan plan, double atol = 2e-3, double rtol = 3e-2, int perParameter = 6, float h = 1e-3f)
    {
        var samples = Check(plan, perParameter, h);
        var bad = samples.Where(s => !(s.Excess(atol, rtol) <= 0)).OrderByDescending(s => s.Excess(atol, rtol)).ToArray();
        if (bad.Length > 0)
        {
            var w = bad[0];
            throw new GradientCheckException(string.Create(CultureInfo.InvariantCulture,
                $"model '{plan.Model.Name}': {bad.Length} of {samples.Count} sampled derivatives differ from central differences (h = {h:G3}); worst: {w.Parameter}[{w.Index}] analytic {w.Analytic:G6}, numeric {w.Numeric:G6} (allowed |diff| {atol + rtol * Math.Abs(w.Numeric):G3})"), bad);
        }
        return samples;
    }
}
