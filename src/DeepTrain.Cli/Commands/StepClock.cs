using System.Diagnostics;
using DeepTrain.Backends;
using DeepTrain.Backends.Cuda;
using DeepTrain.Interop;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// Time marks between steps on a backend. On a <see cref="CudaBackend"/> each mark is a CUDA event recorded on the
/// backend's stream, so marking never makes the host wait and the intervals are the GPU's own; elsewhere a mark
/// synchronises the backend (a no-op for the CPU, whose operations return when done) and reads the host clock.
/// Make one clock per timed run: the marks are preallocated and <see cref="Mark"/> allocates nothing.
/// </summary>
internal sealed class StepClock : IDisposable
{
    private readonly IBackend _backend;
    private readonly CudaBackend? _cuda;
    private readonly CudaEvent[] _events;
    private readonly long[] _ticks;
    private int _count;

    /// <summary>Prepares <paramref name="marks"/> marks (intervals: one fewer).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 2 marks.</exception>
    public StepClock(IBackend backend, int marks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(marks, 2);
        _backend = backend;
        _cuda = backend as CudaBackend;
        _ticks = new long[marks];
        _events = new CudaEvent[_cuda is null ? 0 : marks];
        try
        {
            for (int i = 0; i < _events.Length; i++)
            {
                Check(Cudart.cudaEventCreateWithFlags(out var e, 0));   // flags 0: cudaEventDefault, timing on
                _events[i] = e;
            }
        }
        catch { Dispose(); throw; }
    }

    /// <summary>Where this clock reads time: "cuda events" or "host clock".</summary>
    public string Source => _cuda is null ? "host clock" : "cuda events";

    /// <summary>Marks the current end of the backend's work.</summary>
    /// <exception cref="InvalidOperationException">Every prepared mark is used.</exception>
    public void Mark()
    {
        if (_count == _ticks.Length) throw new InvalidOperationException($"step clock: all {_ticks.Length} marks are used");
        if (_cuda is not null) Check(Cudart.cudaEventRecord(_events[_count], _cuda.Stream));
        else { _backend.Synchronize(); _ticks[_count] = Stopwatch.GetTimestamp(); }
        _count++;
    }

    /// <summary>Milliseconds between consecutive marks (waits for the last one on the GPU).</summary>
    public double[] IntervalsMs()
    {
        var ms = new double[Math.Max(_count - 1, 0)];
        if (_cuda is not null && _count > 0) Check(Cudart.cudaEventSynchronize(_events[_count - 1]));
        for (int i = 0; i < ms.Length; i++)
        {
            if (_cuda is null) ms[i] = Stopwatch.GetElapsedTime(_ticks[i], _ticks[i + 1]).TotalMilliseconds;
            else
            {
                Check(Cudart.cudaEventElapsedTime(out float e, _events[i], _events[i + 1]));
                ms[i] = e;
            }
        }
        return ms;
    }

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    /// <exception cref="ArgumentException">No values.</exception>
    public static double Median(IReadOnlyList<double> values) => Quantile(values, 0.5);

    /// <summary>
    /// The <paramref name="q"/>-quantile of <paramref name="values"/> by linear interpolation between the sorted values
    /// at (n − 1)·q (numpy.percentile's default): q = 0.5 is the median, q = 0.9 the 90th percentile.
    /// </summary>
    /// <exception cref="ArgumentException">No values, or q outside [0, 1].</exception>
    public static double Quantile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0) throw new ArgumentException("quantile of no values", nameof(values));
        if (!(q >= 0 && q <= 1)) throw new ArgumentException($"quantile {q} is outside [0, 1]", nameof(q));
        var sorted = values.Order().ToArray();
        double at = (sorted.Length - 1) * q;
        int lo = (int)Math.Floor(at), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var e in _events) e?.Dispose();
    }
}
