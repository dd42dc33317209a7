using System.Diagnostics;
using DeepTrain.Layers;

namespace DeepTrain.Modeling;

/// <summary>Accumulated forward and backward time per layer of a plan (see <see cref="Plan.Profile"/>).</summary>
public sealed class LayerTimings(int layers)
{
    private readonly long[] _forward = new long[layers], _backward = new long[layers];
    private readonly Layer?[] _layers = new Layer?[layers];
    private readonly string?[] _kinds = new string?[layers];

    /// <remarks>
    /// A batch norm run fused with its ReLU (<see cref="TrainingFusion"/>) is timed as one layer of kind "BatchNorm2d+ReLU"
    /// under the batch norm's name; its ReLU, whose step then does nothing, is left out.
    /// </remarks>
    internal void Time(Step s, bool forward)
    {
        bool fused = s.FusionRuns;
        if (fused && s.FusedIntoProducer) return;
        long t0 = Stopwatch.GetTimestamp();
        if (forward) s.Layer.Forward(s); else s.Layer.Backward(s);
        s.Backend.Synchronize();
        (forward ? _forward : _backward)[s.Index] += Stopwatch.GetTimestamp() - t0;
        _layers[s.Index] = s.Layer;
        _kinds[s.Index] = fused ? s.Layer.Kind + "+ReLU" : s.Layer.Kind;
    }

    /// <summary>Total seconds per layer kind ("Conv2d", "BatchNorm2d", "BatchNorm2d+ReLU" for a fused pair, …), forward and backward, largest first.</summary>
    public IReadOnlyList<(string Kind, double Forward, double Backward)> ByKind()
        => Enumerable.Range(0, _layers.Length).Where(i => _layers[i] is not null)
            .GroupBy(i => _kinds[i]!)
            .Select(g => (g.Key, g.Sum(i => _forward[i]) / (double)Stopwatch.Frequency, g.Sum(i => _backward[i]) / (double)Stopwatch.Frequency))
            .OrderByDescending(t => t.Item2 + t.Item3).ToList();

    /// <summary>Seconds per layer, in forward order.</summary>
    public IReadOnlyList<(string Name, string Kind, double Forward, double Backward)> ByLayer()
        => Enumerable.Range(0, _layers.Length).Where(i => _layers[i] is not null)
            .Select(i => (_layers[i]!.Name, _kinds[i]!, _forward[i] / (double)Stopwatch.Frequency, _backward[i] / (double)Stopwatch.Frequency)).ToList();
}
