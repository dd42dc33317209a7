using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Adagrad and RMSProp over flat buffers, element by element in PyTorch's order (torch.optim, foreach=False).
// Scalar loops: these optimizers run once per step over ~10⁵–10⁷ floats, far from the convolutions' cost.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is below 1.</exception>
    public void AdagradStep(Tensor w, Tensor g, Tensor sum, AdagradArgs a, long step)
    {
        const string op = "AdagradStep";
        var ws = F32(op, "w", w); var gs = F32(op, "g", g); var ss = F32(op, "sum", sum);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "sum", sum);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        float clr = a.LearningRate / (1f + (step - 1) * a.LrDecay);
        for (int i = 0; i < ws.Length; i++)
        {
            float gi = gs[i] + a.WeightDecay * ws[i];
            float si = ss[i] + gi * gi;
            ss[i] = si;
            ws[i] -= clr * gi / (MathF.Sqrt(si) + a.Eps);
        }
    }

    /// <inheritdoc />
    public void RmsPropStep(Tensor w, Tensor g, Tensor v, Tensor? momentum, Tensor? gradAvg, RmsPropArgs a)
    {
        const string op = "RmsPropStep";
        var ws = F32(op, "w", w); var gs = F32(op, "g", g); var vs = F32(op, "v", v);
        OperandChecks.RmsPropBuffers(op, w, g, v, momentum, gradAvg, a);
        Span<float> bs = a.Momentum > 0 ? F32(op, "momentum", momentum!) : default;
        Span<float> avg = a.Centered ? F32(op, "gradAvg", gradAvg!) : default;
        float alpha = a.Alpha, beta = 1f - a.Alpha;
        for (int i = 0; i < ws.Length; i++)
        {
            float gi = gs[i] + a.WeightDecay * ws[i];
            float vi = alpha * vs[i] + beta * gi * gi;
            vs[i] = vi;
            float d;
            if (a.Centered)
            {
                float m = alpha * avg[i] + beta * gi;
                avg[i] = m;
                d = MathF.Sqrt(vi - m * m) + a.Eps;
            }
            else d = MathF.Sqrt(vi) + a.Eps;
            if (a.Momentum > 0)
            {
                float b = a.Momentum * bs[i] + gi / d;
                bs[i] = b;
                ws[i] -= a.LearningRate * b;
            }
            else ws[i] -= a.LearningRate * gi / d;
        }
    }
}
