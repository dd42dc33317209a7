using DeepTrain.Graph;

namespace DeepTrain.Training;

/// <summary>One compared derivative: the parameter, the element, and both values.</summary>
public sealed record GradientSample(string Parameter, int Index, double Analytic, double Numeric)
{
    /// <summary>|analytic − numeric|.</summary>
    public double Error => Math.Abs(Analytic - Numeric);
}

/// <summary>
/// The finite-difference gradient checker (as Caffe's GradientChecker): for a training plan whose input
/// and target are loaded, compares every sampled parameter derivative from <see cref="Plan.Backward"/>
/// with the central difference (L(w + h) − L(w − h)) / 2h of the loss. Use it to verify a layer or loss of
/// your own: build a small model around it and call <see cref="Check"/>. The model is fp32, so choose h
/// around 1e-3 (rounding error ε·L/h against truncation h²·L‴) and keep inputs away from kinks (ReLU at 0,
/// max-pool ties), where central differences are wrong by construction. Parameters are restored.
/// </summary>
public static class GradientChecker
{
    /// <summary>
    /// Samples up to <paramref name="perParameter"/> elements of every parameter (spread by a stride coprime
    /// with the size) and returns analytic and numeric derivatives for each.
    /// </summary>
    /// <exception cref="InvalidOperationException">The plan is not a training plan.</exception>
    public static IReadOnlyList<GradientSample> Check(Plan plan, int perParameter = 6, float h = 1e-3f)
    {
        if (!plan.Memory.Training) throw new InvalidOperationException($"model '{plan.Model.Name}': the gradient check needs a training plan");
        ArgumentOutOfRangeException.ThrowIfLessThan(perParameter, 1);
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
            var w = new float[e.Value.Elements];
            var g = new float[e.Value.Elements];
            backend.CopyToHost<float>(e.Value, w);
            backend.CopyToHost<float>(e.Grad, g);
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
}
