using DeepTrain.Backends;
using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// 2-D convolution, torch.nn.Conv2d: y[n, k] = Σ_c w[k, c] ⋆ x[n, c] (+ b[k]).
/// x (N, C, H, W) → y (N, K, OH, OW); weight (K, C/groups, KH, KW).
/// Backward needs x (for the weight gradient) and the weight.
/// </summary>
public sealed class Conv2d : Layer
{
    private readonly IReadOnlyList<ParamSpec> _params;

    /// <summary>Creates a convolution; defaults as PyTorch's (stride 1, no padding, bias, PyTorch's default init).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive or channels are not divisible by groups.</exception>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1,
        bool bias = true, Init? weightInit = null, Init? biasInit = null, int kernelW = 0, int strideW = 0, int paddingW = -1, int dilationW = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        ArgumentOutOfRangeException.ThrowIfLessThan(dilation, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), $"Conv2d: in_channels {inChannels} and out_channels {outChannels} must both be divisible by groups {groups}");
        InChannels = inChannels; OutChannels = outChannels;
        KernelH = kernelSize; KernelW = kernelW > 0 ? kernelW : kernelSize;
        Spec = new ConvSpec(stride, strideW > 0 ? strideW : stride, padding, paddingW >= 0 ? paddingW : padding,
            dilation, dilationW > 0 ? dilationW : dilation, groups);
        HasBias = bias;
        int fanIn = inChannels / groups * KernelH * KernelW, fanOut = outChannels / groups * KernelH * KernelW;
        var ps = new List<ParamSpec> { new("weight", Shape.Of(outChannels, inChannels / groups, KernelH, KernelW), weightInit ?? Init.PyTorchDefaultWeight, fanIn, fanOut, Decay: true) };
        if (bias) ps.Add(new ParamSpec("bias", Shape.Of(outChannels), biasInit ?? new Init.FanInUniform(), fanIn, fanOut, Decay: false));
        _params = ps;
    }

    /// <summary>Input channels C.</summary>
    public int InChannels { get; }
    /// <summary>Output channels K.</summary>
    public int OutChannels { get; }
    /// <summary>Kernel height.</summary>
    public int KernelH { get; }
    /// <summary>Kernel width.</summary>
    public int KernelW { get; }
    /// <summary>Stride, padding, dilation, groups.</summary>
    public ConvSpec Spec { get; }
    /// <summary>Whether a bias is added.</summary>
    public bool HasBias { get; }

    /// <inheritdoc />
    public override IReadOnlyList<ParamSpec> Parameters => _params;

    /// <inheritdoc />
    public override bool UsesWorkingCopy => true;

    /// <inheritdoc />
    public override int InputCount => FusedResidual ? 2 : 1;

    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        ExpectRank(inputs, 4);
        var x = inputs[0];
        if (x.C != InChannels) throw ShapeError($"input has {x.C} channels, expected {InChannels} (input shape {x})");
        int oh = Spec.OutH(x.H, KernelH), ow = Spec.OutW(x.W, KernelW);
        if (oh < 1 || ow < 1) throw ShapeError($"input {x} is smaller than the {KernelH}x{KernelW} kernel with padding {Spec.PadH}");
        var y = Shape.Of(x.N, OutChannels, oh, ow);
        if (FusedResidual && inputs[1] != y) throw ShapeError($"residual has shape {inputs[1]}, expected the output's {y}");
        return y;
    }

    /// <summary>
    /// Set only on the folded convolutions of an inference model (<see cref="Inference.InferenceFusion"/>): the layer also applies
    /// ReLU to its output, in the convolution's epilogue on the CPU, as a second in-place pass elsewhere.
    /// </summary>
    internal bool FusedRelu { get; init; }

    /// <summary>
    /// Set only on the folded convolutions of an inference model (<see cref="Inference.InferenceFusion"/>) that absorbed the
    /// residual Add after them: the layer takes a second input, the residual r, and computes (conv + bias) + r (then the ReLU
    /// when <see cref="FusedRelu"/> is set), in the convolution's epilogue on the CPU, as separate passes elsewhere.
    /// </summary>
    internal bool FusedResidual { get; init; }

    /// <summary>
    /// Set only by an inference session on the CPU, for the model it owns (whose weights never change): the weights' Winograd
    /// transform, made once at load and read by every context, so a forward pass does not redo it.
    /// </summary>
    internal Backends.Cpu.CpuWinogradWeights? WinogradWeights { get; set; }

    /// <summary>
    /// Set only by an inference session on the CPU, as <see cref="WinogradWeights"/>: the weights packed once into the im2col
    /// GEMM's layout, so a forward pass that takes that path does not re-pack them.
    /// </summary>
    internal Backends.Cpu.CpuGemmWeights? GemmWeights { get; set; }

    /// <summary>
    /// Set only by an inference session on the CPU, as <see cref="WinogradWeights"/>: the weights laid out for the direct kernel
    /// (<see cref="Backends.Cpu.CpuDirectConv"/>), which small calls take.
    /// </summary>
    internal Backends.Cpu.CpuDirectWeights? DirectWeights { get; set; }

    /// <inheritdoc />
    public override void Forward(Step s)
    {
        var bias = HasBias ? s.Param(1) : null;
        var residual = FusedResidual ? s.In(1) : null;
        if (s.Backend is Backends.Cpu.CpuBackend cpu)
        {
            cpu.Conv2dForward(s.In(0), s.Param(0), bias, s.Out(), Spec, FusedRelu, WinogradWeights, GemmWeights, DirectWeights, residual);
            return;
        }
        s.Backend.Conv2dForward(s.In(0), s.Param(0), bias, s.Out(), Spec);
        if (residual is not null) s.Backend.Add(s.Out(), residual, s.Out());
        if (FusedRelu) s.Backend.Activation(ActivationKind.Relu, 0f, s.Out(), s.Out());
    }

    /// <inheritdoc />
    public override void Backward(Step s)
    {
        if (FusedRelu || FusedResidual)
            throw new InvalidOperationException($"Conv2d '{Name}': a convolution fused with its ReLU or residual add for inference has no backward");
        s.Backend.Conv2dBackwardFilter(s.In(0), s.GradOut(), s.Grad(0), HasBias ? s.Grad(1) : null, Spec, s.AccumulateParamGrads);
        if (s.GradIn(0) is { } dx) s.Backend.Conv2dBackwardData(s.GradOut(), s.Param(0), dx, Spec, s.AccumulateGradIn(0));
    }
}
