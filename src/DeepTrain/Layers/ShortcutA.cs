using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// The parameter-free "option A" shortcut of He et al. 2015 §4.2: subsample by <c>stride</c> and pad
/// the new channels with zeros. As in the common PyTorch reproduction,
/// <c>F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))</c> with pad = (out − in)/2 on each side.
/// (N, C, H, W) → (N, C + 2·pad, ⌈H/stride⌉, ⌈W/stride⌉).
/// </summary>
public sealed class ShortcutA : Layer
{
    /// <summary>Creates the shortcut from <paramref name="inChannels"/> to <paramref name="outChannels"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">outChannels − inChannels is negative or odd.</exception>
    public ShortcutA(int inChannels, int outChannels, int stride = 2)
    {
        if (outChannels < inChannels || (outChannels - inChannels) % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(outChannels), $"ShortcutA: {inChannels} → {outChannels} channels: the increase must be even and non-negative");
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        (InChannels, OutChannels, Stride) = (inChannels, outChannels, stride);
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Output channels.</summary>
    public int OutChannels { get; }
    /// <summary>Subsampling stride.</summary>
    public int Stride { get; }
    private int Pad => (OutChannels - InChannels) / 2;
    /// <inheritdoc />
    public override Saved Saves => Saved.None;

    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        ExpectRank(inputs, 4);
        var x = inputs[0];
        if (x.C != InChannels) throw ShapeError($"input has {x.C} channels, expected {InChannels} (input shape {x})");
        return Shape.Of(x.N, OutChannels, (x.H + Stride - 1) / Stride, (x.W + Stride - 1) / Stride);
    }

    /// <inheritdoc />
    public override void Forward(Step s)
    {
        s.Backend.Fill(s.Out(), 0f);
        s.Backend.CopyChannels(s.In(0), 0, s.Out(), Pad, InChannels, Stride, accumulate: false);
    }

    /// <inheritdoc />
    public override void Backward(Step s)
    {
        if (s.GradIn(0) is not { } dx) return;
        if (!s.AccumulateGradIn(0)) s.Backend.Fill(dx, 0f);   // positions skipped by the stride get no gradient
        s.Backend.CopyChannelsBackward(s.GradOut(), Pad, dx, 0, InChannels, Stride, accumulate: true);
    }
}
