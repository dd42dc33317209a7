using System.Runtime.InteropServices;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// The optimizer family over flat parameter, gradient and state buffers, simple to complex: SGD, Adam/AdamW, Adagrad,
// RMSProp, and the elastic-net penalty gradient. The update rules are in CpuKernels.Optim.cs; the CUDA twins are in
// CudaBackend.Optim.cs and native/src/optim.cu. Work is split into contiguous chunks across CpuParallel's threads.
// SGD and Adam take the mixed-precision operands of dt_sgd_f32 / dt_adam_f32 (a 16-bit working copy written in the same
// pass, and a LossScalerState whose found-inf flag skips the step and whose step count gives t) as optional arguments.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    /// <remarks>As PyTorch, Nesterov momentum needs μ &gt; 0 and zero dampening; <paramref name="momentum"/> is ignored when μ = 0.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is below 1.</exception>
    public void SgdStep(Tensor w, Tensor g, Tensor momentum, SgdArgs args, long step, Tensor? workingCopy = null, Tensor? scalerState = null)
    {
        const string op = "SgdStep";
        if (!BeginMixedStep(op, w, workingCopy, scalerState, ref step)) return;
        F32(op, "w", w); F32(op, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        OperandChecks.Sgd(op, args);
        bool useMomentum = args.Momentum != 0f;
        if (useMomentum) { F32(op, "momentum", momentum); ThrowHelper.CheckSameElements(op, "w", w, "momentum", momentum); }
        CpuParallel.For(checked((int)w.Elements), 4, new SgdBody(w, g, useMomentum ? momentum : null, args, FirstStep: step == 1));
        EndMixedStep(w, workingCopy);
    }

    private readonly record struct SgdBody(Tensor W, Tensor G, Tensor? Momentum, SgdArgs Args, bool FirstStep) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.SgdStep(
            W.AsSpan<float>()[s..e], G.AsSpan<float>()[s..e], Momentum is null ? default : Momentum.AsSpan<float>()[s..e], Args, FirstStep);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is below 1.</exception>
    public void AdamStep(Tensor w, Tensor g, Tensor m, Tensor v, AdamArgs args, long step, Tensor? workingCopy = null, Tensor? scalerState = null)
    {
        const string op = "AdamStep";
        if (!BeginMixedStep(op, w, workingCopy, scalerState, ref step)) return;
        F32(op, "w", w); F32(op, "g", g); F32(op, "m", m); F32(op, "v", v);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "m", m);
        ThrowHelper.CheckSameElements(op, "w", w, "v", v);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        CpuParallel.For(checked((int)w.Elements), 8, new AdamBody(w, g, m, v, args, step));
        EndMixedStep(w, workingCopy);
    }

    private readonly record struct AdamBody(Tensor W, Tensor G, Tensor M, Tensor V, AdamArgs Args, long Step) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.AdamStep(
            W.AsSpan<float>()[s..e], G.AsSpan<float>()[s..e], M.AsSpan<float>()[s..e], V.AsSpan<float>()[s..e], Args, Step);
    }

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

    /// <inheritdoc />
    public void PenaltyGradient(Tensor w, Tensor g, float l1, float l2)
    {
        const string op = "PenaltyGradient";
        F32(op, "w", w); F32(op, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        OperandChecks.PenaltyCoefficients(op, l1, l2);
        CpuParallel.For(checked((int)w.Elements), 2, new PenaltyBody(w, g, l1, l2));
    }

    private readonly struct PenaltyBody(Tensor w, Tensor g, float l1, float l2) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.PenaltyGradient(w.AsSpan<float>()[s..e], g.AsSpan<float>()[s..e], l1, l2);
    }



    /// <summary>Validates the extra operands; false when the found-inf flag says to skip; takes t from the state.</summary>
    private static bool BeginMixedStep(string op, Tensor w, Tensor? workingCopy, Tensor? scalerState, ref long step)
    {
        OperandChecks.WorkingCopy(op, w, workingCopy);
        if (scalerState is null) return true;
        var s = LossScalerState.Fields.Read(StateBytes(op, scalerState));
        if (s.FoundInf != 0) return false;
        step = s.StepCount + 1;
        return true;
    }

    private static void EndMixedStep(Tensor w, Tensor? workingCopy)
    {
        if (workingCopy is not null) ReducedFloat.Narrow(w.AsSpan<float>(), workingCopy.AsSpan<ushort>(), workingCopy.DType);
    }
}
