using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cuda;

// Batch normalisation on cuDNN's plain batch-norm calls (cudnn_ops.h) in CUDNN_BATCHNORM_SPATIAL mode: one value per
// channel, statistics over N·H·W (rank-2 (N, C) input is described as (N, C, 1, 1), PyTorch's BatchNorm1d).
//
// Conventions, checked against the CPU reference by CudaVsCpuTests:
// - cuDNN's running update is runningMean = newMean·factor + runningMean·(1 − factor), "factor applied in the same way"
//   to the running variance (cudnn_ops.h, cudnnBatchNormalizationForwardTraining), so PyTorch's momentum m is passed
//   as exponentialAverageFactor unchanged. The variance cuDNN folds into the running average is the unbiased batch
//   variance σ²_B·M/(M − 1), as PyTorch's (PyTorch's CUDA path relies on exactly this); the normalisation itself uses
//   the biased σ²_B. That matches IBackend's contract and the CPU backend.
// - resultSaveMean / resultSaveInvVariance are μ_B and 1/√(σ²_B + ε): the same saved values as the CPU's saveMean and
//   saveInvStd, so a forward on one backend and a backward on the other agree.
// - ε may be any value ≥ CUDNN_BN_MIN_EPSILON, which is 0.0 in cuDNN 9.6's header.
// - Scale, bias, mean and variance are fp32 whatever x's storage type (the header: "type = (typeOf(x) == double) ?
//   double : float"), so fp16/bf16 activations keep fp32 statistics.
// Why not SPATIAL_PERSISTENT: the header warns it "imposes some limits on the range of values" (it can overflow for
// large activations and then needs cudnnQueryRuntimeError), and it is the fast path for fp16 NHWC only. Why not the Ex
// forms: their reserve space would have to travel from forward to backward, which IBackend does not carry.
// Aliasing: the CPU backend lets y alias x (forward, training and inference) and dx alias dy (backward); cuDNN documents
// none of these, so an aliased input is first copied into the workspace.
public sealed unsafe partial class CudaBackend
{
    private const cudnnBatchNormMode_t BnMode = cudnnBatchNormMode_t.CUDNN_BATCHNORM_SPATIAL;

    /// <inheritdoc />
    /// <exception cref="CudaOperationException">cuDNN rejected the shapes or failed.</exception>
    public void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar,
        Tensor saveMean, Tensor saveInvStd, double momentum, double eps)
    {
        const string op = "BatchNormForwardTraining";
        if (StorageRoutes.BatchNorm(x.DType, y.DType, null, [gamma.DType, beta.DType, runningMean.DType, runningVar.DType, saveMean.DType, saveInvStd.DType]) == StorageRoute.Widened)
        {
            OnThisDevice(op, ("x", x), ("gamma", gamma), ("beta", beta), ("y", y), ("runningMean", runningMean), ("runningVar", runningVar), ("saveMean", saveMean), ("saveInvStd", saveInvStd));
            using var h = new Widened(this);
            BatchNormForwardTraining(h.In(x), h.In(gamma), h.In(beta), h.Out(y), h.Out(runningMean), h.Out(runningVar), h.Out(saveMean), h.Out(saveInvStd), momentum, eps);
            return;
        }
        var g = CheckBatchNorm(op, x, "y", y, out nint xp, out nint yp);
        float* gp = PerChannelF32(op, "gamma", gamma, g.C), bp = PerChannelF32(op, "beta", beta, g.C);
        float* rm = PerChannelF32(op, "runningMean", runningMean, g.C), rv = PerChannelF32(op, "runningVar", runningVar, g.C);
        float* sm = PerChannelF32(op, "saveMean", saveMean, g.C), si = PerChannelF32(op, "saveInvStd", saveInvStd, g.C);
        if (g.PerChannel < 2) ThrowHelper.Invalid(op, $"expected more than 1 value per channel when training, got x of shape {x.Shape}");
        if (Overlaps(x, y)) xp = StageCopy(op, x, xp);
        DescribeBatchNorm(op, x);
        float alpha = 1f, zero = 0f;
        Dnn(Cudnn.cudnnBatchNormalizationForwardTraining(_cudnn, BnMode, &alpha, &zero, _t0, (void*)xp, _t0, (void*)yp, _t1,
            gp, bp, momentum, rm, rv, eps, sm, si), op, x, gamma);
    }

    /// <inheritdoc />
    /// <exception cref="CudaOperationException">cuDNN rejected the shapes or failed.</exception>
    public void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar, double eps)
    {
        const string op = "BatchNormForwardInference";
        if (StorageRoutes.BatchNorm(x.DType, y.DType, null, [gamma.DType, beta.DType, runningMean.DType, runningVar.DType]) == StorageRoute.Widened)
        {
            OnThisDevice(op, ("x", x), ("gamma", gamma), ("beta", beta), ("y", y), ("runningMean", runningMean), ("runningVar", runningVar));
            using var h = new Widened(this);
            BatchNormForwardInference(h.In(x), h.In(gamma), h.In(beta), h.Out(y), h.In(runningMean), h.In(runningVar), eps);
            return;
        }
        var g = CheckBatchNorm(op, x, "y", y, out nint xp, out nint yp);
        float* gp = PerChannelF32(op, "gamma", gamma, g.C), bp = PerChannelF32(op, "beta", beta, g.C);
        float* rm = PerChannelF32(op, "runningMean", runningMean, g.C), rv = PerChannelF32(op, "runningVar", runningVar, g.C);
        if (x.Elements == 0) return;
        // cudnn_ops.h does not say whether y may alias x (element-wise per channel, but the kernels' read/write order is
        // cuDNN's business): staged as in training, a copy of x per in-place call.
        if (Overlaps(x, y)) xp = StageCopy(op, x, xp);
        DescribeBatchNorm(op, x);
        float alpha = 1f, zero = 0f;
        Dnn(Cudnn.cudnnBatchNormalizationForwardInference(_cudnn, BnMode, &alpha, &zero, _t0, (void*)xp, _t0, (void*)yp, _t1,
            gp, bp, rm, rv, eps), op, x, gamma);
    }

    /// <inheritdoc />
    /// <remarks>
    /// dx = αd·∂x + βd·dx with βd = 1 when <paramref name="accumulateDx"/>; dγ, dβ = αp·∂ + βp·previous with βp = 1 when
    /// <paramref name="accumulateParams"/>. <paramref name="eps"/> goes to cuDNN unchanged: cudnn_ops.h documents the
    /// backward's epsilon as "Same epsilon as forward pass" (the saved 1/√(σ²_B + ε) holds it too, but the header does not
    /// say cuDNN ignores the argument when the saved values are given).
    /// </remarks>
    /// <exception cref="CudaOperationException">cuDNN rejected the shapes or failed.</exception>
    public void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, double eps,
        Tensor dx, Tensor dgamma, Tensor dbeta, bool accumulateDx, bool accumulateParams)
    {
        const string op = "BatchNormBackward";
        if (StorageRoutes.BatchNorm(x.DType, dy.DType, dx.DType, [gamma.DType, saveMean.DType, saveInvStd.DType, dgamma.DType, dbeta.DType]) == StorageRoute.Widened)
        {
            OnThisDevice(op, ("x", x), ("dy", dy), ("gamma", gamma), ("saveMean", saveMean), ("saveInvStd", saveInvStd), ("dx", dx), ("dgamma", dgamma), ("dbeta", dbeta));
            using var h = new Widened(this);
            BatchNormBackward(h.In(x), h.In(dy), h.In(gamma), h.In(saveMean), h.In(saveInvStd), eps, h.Out(dx), h.Out(dgamma), h.Out(dbeta), accumulateDx, accumulateParams);
            return;
        }
        var g = CheckBatchNorm(op, x, "dy", dy, out nint xp, out nint dyp);
        nint dxp = Ptr(op, "dx", dx);
        SameDType(op, "x", x, "dx", dx);
        OperandChecks.SameGeometry(op, "x", x, "dx", dx);
        float* gp = PerChannelF32(op, "gamma", gamma, g.C), dgp = PerChannelF32(op, "dgamma", dgamma, g.C), dbp = PerChannelF32(op, "dbeta", dbeta, g.C);
        float* sm = PerChannelF32(op, "saveMean", saveMean, g.C), si = PerChannelF32(op, "saveInvStd", saveInvStd, g.C);
        if (Overlaps(dy, dx)) dyp = StageCopy(op, dy, dyp);
        DescribeBatchNorm(op, x);
        float one = 1f, betaData = accumulateDx ? 1f : 0f, betaParam = accumulateParams ? 1f : 0f;
        Dnn(Cudnn.cudnnBatchNormalizationBackward(_cudnn, BnMode, &one, &betaData, &one, &betaParam, _t0, (void*)xp, _t0, (void*)dyp, _t0, (void*)dxp,
            _t1, gp, dgp, dbp, eps, sm, si), op, x, dy, dx);
    }

    /// <summary>x and its partner share shape, layout and dtype; returns the per-channel geometry and both addresses.</summary>
    private ChannelGeometry CheckBatchNorm(string op, Tensor x, string bn, Tensor b, out nint xp, out nint bp)
    {
        xp = Ptr(op, "x", x);
        bp = Ptr(op, bn, b);
        KernelDType(op, "x", x);
        SameDType(op, "x", x, bn, b);
        OperandChecks.SameGeometry(op, "x", x, bn, b);
        return ChannelGeometry.Of(op, "x", x);
    }

    /// <summary>An fp32 per-channel vector on this device.</summary>
    private float* PerChannelF32(string op, string what, Tensor t, int channels)
    {
        float* p = F32(op, what, t);
        OperandChecks.PerChannel(op, what, t, channels);
        return p;
    }

    /// <summary>_t0 = x (also y, dy, dx: same geometry), _t1 = the derived (1, C, 1, 1) fp32 statistics descriptor.</summary>
    private void DescribeBatchNorm(string op, Tensor x)
    {
        Describe(_t0, x, op);
        Dnn(Cudnn.cudnnDeriveBNTensorDescriptor(_t1, _t0, BnMode), op, x);
    }

    private static bool Overlaps(Tensor a, Tensor b) => a.Pointer < b.Pointer + (nint)b.Bytes && b.Pointer < a.Pointer + (nint)a.Bytes;

    /// <summary>Copies <paramref name="t"/> into the workspace (stream-ordered) and returns the copy's address.</summary>
    private nint StageCopy(string op, Tensor t, nint p)
    {
        nint copy = Workspace(t.Bytes);
        try { Interop.Checks.Check(Cudart.cudaMemcpyAsync((void*)copy, (void*)p, (nuint)t.Bytes, cudaMemcpyKind.cudaMemcpyDeviceToDevice, _stream)); }
        catch (CudaException e) { throw new CudaOperationException(op, $"{t.Shape}", e); }
        return copy;
    }
}
