using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Mixed;

/// <summary>
/// Clipping by global norm, torch.nn.utils.clip_grad_norm_: with n = ‖g‖₂ over every gradient of the model,
/// g ← g·min(1, max/(n + 10⁻⁶)). Under loss scaling it runs after the unscale, so the threshold applies to the
/// true gradients. The norm stays on the device; <see cref="ReadNorm"/> fetches it for logging. The flat gradient
/// buffer's padding is zero and adds nothing; gradients of frozen groups count too (they are zero unless computed).
/// </summary>
public sealed class GradientClipper : IDisposable
{
    private readonly IBackend _backend;
    private readonly DeviceBuffer _buffer;
    private readonly float[] _host = new float[1];

    /// <summary>Creates a clipper to <paramref name="maxNorm"/> on <paramref name="backend"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not finite and positive.</exception>
    public GradientClipper(IBackend backend, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (!(maxNorm > 0) || float.IsInfinity(maxNorm)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "Trainer.ClipGradNorm (the clipping norm) must be a finite number > 0");
        _backend = backend;
        MaxNorm = maxNorm;
        _buffer = backend.Allocate(sizeof(float));
        NormSquared = new Tensor(_buffer, 0, Shape.Of(1));
    }

    /// <summary>The threshold.</summary>
    public float MaxNorm { get; }

    /// <summary>‖g‖² of the last <see cref="Clip"/>, before clipping (one fp32 on the device).</summary>
    public Tensor NormSquared { get; }

    /// <summary>Computes the global norm of the flat gradient buffer and scales it down to <see cref="MaxNorm"/> if above.</summary>
    public void Clip(ParameterSet parameters)
    {
        var g = parameters.AllGrads;
        _backend.GlobalNormSquared(g, NormSquared);
        _backend.ScaleByNorm(g, NormSquared, MaxNorm);
    }

    /// <summary>The norm before the last clip (synchronises the device).</summary>
    public double ReadNorm()
    {
        _backend.CopyToHost<float>(NormSquared, _host);
        return Math.Sqrt(_host[0]);
    }

    /// <inheritdoc />
    public void Dispose() => _buffer.Dispose();
}
