using DeepTrain.Backends;
using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// Max or average pooling over k×k windows (torch.nn.MaxPool2d / AvgPool2d, floor mode; stride defaults
/// to the kernel size as in PyTorch). Max pooling's backward reads x and y to find each window's maximum.
/// </summary>
public class Pool2d : Layer
{
    private readonly int _kernel, _stride, _padding;
    private readonly PoolMode _mode;

    /// <summary>Creates a pooling layer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range (padding must be at most half the kernel, as in PyTorch).</exception>
    protected Pool2d(PoolMode mode, int kernelSize, int? stride, int padding)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        if (stride is < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, "pooling: stride must be ≥ 1");
        if (padding < 0 || padding > kernelSize / 2) throw new ArgumentOutOfRangeException(nameof(padding), padding, $"pooling: padding must be in [0, {kernelSize / 2}] (half the kernel)");
        (_mode, _kernel, _stride, _padding) = (mode, kernelSize, stride ?? kernelSize, padding);
    }

    /// <summary>The pooling geometry.</summary>
    public PoolSpec Spec => new(_mode, _kernel, _kernel, _stride, _stride, _padding, _padding);

    /// <inheritdoc />
    public override Saved Saves => _mode == PoolMode.Max ? Saved.Inputs | Saved.Output : Saved.None;

    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        ExpectRank(inputs, 4);
        var x = inputs[0];
        int oh = Spec.OutH(x.H), ow = Spec.OutW(x.W);
        if (oh < 1 || ow < 1) throw ShapeError($"input {x} is smaller than the {_kernel}x{_kernel} window");
        return Shape.Of(x.N, x.C, oh, ow);
    }

    /// <inheritdoc />
    public override void Forward(Step s) => s.Backend.Pool2dForward(Spec, s.In(0), s.Out());

    /// <inheritdoc />
    public override void Backward(Step s)
    {
        if (s.GradIn(0) is { } dx) s.Backend.Pool2dBackward(Spec, s.In(0), s.Out(), s.GradOut(), dx, s.AccumulateGradIn(0));
    }
}

/// <summary>torch.nn.MaxPool2d(kernel_size, stride = kernel_size, padding = 0).</summary>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : Pool2d(PoolMode.Max, kernelSize, stride, padding);

/// <summary>torch.nn.AvgPool2d(kernel_size, stride = kernel_size, padding = 0, count_include_pad = True).</summary>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0, bool countIncludePad = true)
    : Pool2d(countIncludePad ? PoolMode.AverageIncludePad : PoolMode.AverageExcludePad, kernelSize, stride, padding);

/// <summary>
/// Global average pooling, torch.nn.AdaptiveAvgPool2d(1): (N, C, H, W) → (N, C, 1, 1).
/// </summary>
public sealed class GlobalAvgPool2d : Layer
{
    /// <inheritdoc />
    public override string Kind => "AdaptiveAvgPool2d";
    /// <inheritdoc />
    public override Saved Saves => Saved.None;
    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        ExpectRank(inputs, 4);
        return Shape.Of(inputs[0].N, inputs[0].C, 1, 1);
    }
    private static PoolSpec SpecFor(Tensor x) => new(PoolMode.AverageIncludePad, x.Shape.H, x.Shape.W, x.Shape.H, x.Shape.W);
    /// <inheritdoc />
    public override void Forward(Step s) => s.Backend.Pool2dForward(SpecFor(s.In(0)), s.In(0), s.Out());
    /// <inheritdoc />
    public override void Backward(Step s)
    {
        if (s.GradIn(0) is { } dx) s.Backend.Pool2dBackward(SpecFor(s.In(0)), s.In(0), s.Out(), s.GradOut(), dx, s.AccumulateGradIn(0));
    }
}
