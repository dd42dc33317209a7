using System.Globalization;
using System.Text;
using DeepTrain.Backends;
using DeepTrain.Modeling;

namespace DeepTrain.Training;

/// <summary>Summary of one tensor: mean, standard deviation, fraction of exact zeros (dead ReLUs), largest magnitude.</summary>
public readonly record struct TensorSummary(double Mean, double Std, double ZeroFraction, double MaxAbs)
{
    /// <summary>Summarises <paramref name="values"/> (accumulated in double).</summary>
    public static TensorSummary Of(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return default;
        double sum = 0, sq = 0, max = 0;
        long zeros = 0;
        foreach (float v in values)
        {
            sum += v; sq += (double)v * v;
            if (v == 0) zeros++;
            max = Math.Max(max, Math.Abs(v));
        }
        double mean = sum / values.Length;
        return new TensorSummary(mean, Math.Sqrt(Math.Max(0, sq / values.Length - mean * mean)), zeros / (double)values.Length, max);
    }
}

/// <summary>
/// The debugging statistics the course notes teach to watch: per layer, the output's mean, spread and
/// fraction of zeros (saturation, dead units); per parameter, the gradient's norm and the ratio of one
/// update to the weights (about 1e-3 is healthy for SGD). Collected on request only: it copies every
/// tensor to the host.
/// </summary>
public static class LayerStatistics
{
    /// <summary>Runs the plan's forward layer by layer and summarises each output.</summary>
    public static IReadOnlyList<(string Layer, string Kind, TensorSummary Output)> Activations(Plan plan)
    {
        var rows = new List<(string, string, TensorSummary)>();
        plan.ForwardObserved((step, output) => rows.Add((step.Layer.Name, step.Layer.Kind, TensorSummary.Of(output))));
        return rows;
    }

    /// <summary>
    /// For every parameter: ‖w‖₂, ‖g‖₂ and lr·‖g‖/‖w‖ (the relative size of a plain SGD update), from the
    /// gradients the last backward left in the flat buffer.
    /// </summary>
    public static IReadOnlyList<(string Parameter, double WeightNorm, double GradNorm, double UpdateRatio)> Gradients(Model model, float lr)
    {
        var rows = new List<(string, double, double, double)>();
        foreach (var e in model.Parameters.InGraphOrder)
        {
            var w = model.Backend.ReadFloats(e.Value);
            var g = model.Backend.ReadFloats(e.Grad);
            double wn = Math.Sqrt(w.Sum(x => (double)x * x)), gn = Math.Sqrt(g.Sum(x => (double)x * x));
            rows.Add((e.Name, wn, gn, wn > 0 ? lr * gn / wn : double.NaN));
        }
        return rows;
    }

    /// <summary>Both tables as text.</summary>
    public static string Format(IReadOnlyList<(string Layer, string Kind, TensorSummary Output)> activations,
        IReadOnlyList<(string Parameter, double WeightNorm, double GradNorm, double UpdateRatio)> gradients)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"{"layer",-24} {"kind",-18} {"mean",10} {"std",10} {"zeros",7} {"max |x|",10}\n");
        foreach (var (name, kind, s) in activations)
            sb.Append(inv, $"{name,-24} {kind,-18} {s.Mean,10:G3} {s.Std,10:G3} {s.ZeroFraction,7:P0} {s.MaxAbs,10:G3}\n");
        sb.Append(inv, $"\n{"parameter",-30} {"‖w‖",10} {"‖g‖",10} {"lr·‖g‖/‖w‖",12}\n");
        foreach (var (name, wn, gn, ratio) in gradients)
            sb.Append(inv, $"{name,-30} {wn,10:G3} {gn,10:G3} {ratio,12:G3}\n");
        return sb.ToString();
    }
}
