using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

// The dense family on cuBLAS: the matrix product of Linear layers, the bias add and its gradient; the CPU twins are in
// CpuBackend.Dense.cs.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc />
    /// <remarks>
    /// cuBLAS is column-major, and a row-major (r, c) matrix is the column-major (c, r) matrix of its transpose, so
    /// c = op(a)·op(b) (row-major, M×N) is computed as cᵀ = op(b)ᵀ·op(a)ᵀ (column-major, N×M): cublasGemmEx with the
    /// operands swapped, m = N, n = M, and each leading dimension the row length of the stored matrix. Compute type
    /// CUBLAS_COMPUTE_32F (CUBLAS_COMPUTE_32F_FAST_TF32 for fp32 when TF32 is allowed); α and β are host floats.
    /// </remarks>
    /// <exception cref="CudaOperationException">cuBLAS failed.</exception>
    public void Gemm(bool transA, bool transB, float alpha, Tensor a, Tensor b, float beta, Tensor c)
    {
        const string op = "Gemm";
        nint ap = Ptr(op, "a", a), bp = Ptr(op, "b", b), cp = Ptr(op, "c", c);
        // cublasGemmEx under CUBLAS_COMPUTE_32F takes A and B of one type with C of that type, or 16-bit A/B with an fp32 C
        // (CUDA_R_16F/CUDA_R_16BF inputs, CUDA_R_32F output); any other mix runs widened (CudaBackend.Precision.cs, tier 3).
        if (StorageRoutes.Gemm(a.DType, b.DType, c.DType) == StorageRoute.Widened) { using var h = new Widened(this); Gemm(transA, transB, alpha, h.In(a), h.In(b), beta, h.Out(c)); return; }
        KernelDType(op, "a", a);
        SameDType(op, "a", a, "b", b);
        if (c.DType != DType.Float32) SameDType(op, "a", a, "c", c);
        var (m, n, k) = OperandChecks.Gemm(op, transA, transB, a, b, c);
        if (m == 0 || n == 0) return;
        int lda = Math.Max(1, transA ? m : k), ldb = Math.Max(1, transB ? k : n), ldc = n;
        var type = BlasType(a.DType);
        var cType = BlasType(c.DType);
        var compute = a.DType == DType.Float32 && _options.AllowTf32 ? cublasComputeType_t.CUBLAS_COMPUTE_32F_FAST_TF32 : cublasComputeType_t.CUBLAS_COMPUTE_32F;
        var status = Cublas.cublasGemmEx(_cublas,
            transB ? cublasOperation_t.CUBLAS_OP_T : cublasOperation_t.CUBLAS_OP_N,
            transA ? cublasOperation_t.CUBLAS_OP_T : cublasOperation_t.CUBLAS_OP_N,
            n, m, k, &alpha, (void*)bp, type, ldb, (void*)ap, type, lda, &beta, (void*)cp, cType, ldc, compute, cublasGemmAlgo_t.CUBLAS_GEMM_DEFAULT);
        if (status != cublasStatus_t.CUBLAS_STATUS_SUCCESS)
        {
            try { Check(status); }
            catch (CublasException e) { throw new CudaOperationException(op, $"a {a.Shape} {a.DType}, b {b.Shape} {b.DType}, c {c.Shape} {c.DType}", e); }
        }
    }

    /// <summary>cudaDataType_t of a storage type (library_types.h: CUDA_R_32F 0, CUDA_R_16F 2, CUDA_R_16BF 14).</summary>
    private static cudaDataType BlasType(DType t) => t switch
    {
        DType.Float16 => cudaDataType.CUDA_R_16F,
        DType.BFloat16 => cudaDataType.CUDA_R_16BF,
        _ => cudaDataType.CUDA_R_32F,
    };

    /// <inheritdoc />
    /// <exception cref="CudaOperationException">cuDNN failed.</exception>
    public void AddBias(Tensor y, Tensor bias)
    {
        const string op = "AddBias";
        nint yp = Ptr(op, "y", y), bp = Ptr(op, "bias", bias);
        if (MixedStorage(y, bias)) { using var h = new Widened(this); AddBias(h.Out(y), h.In(bias)); return; }
        KernelDType(op, "y", y);
        SameDType(op, "y", y, "bias", bias);
        var g = ChannelGeometry.Of(op, "y", y);
        OperandChecks.PerChannel(op, "bias", bias, g.C);
        if (y.Elements == 0) return;
        Describe(_t0, y, op);
        Describe(_t1, bias, op);
        float one = 1f;
        Dnn(Cudnn.cudnnAddTensor(_cudnn, &one, _t1, (void*)bp, &one, _t0, (void*)yp), op, bias, y);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A 16-bit dy with an fp32 dbias sums in fp32 inside cuDNN into 16-bit scratch and widens that into dbias
    /// (CudaBackend.Precision.cs, tier 2); other mixes run widened.
    /// </remarks>
    /// <exception cref="CudaOperationException">cuDNN failed.</exception>
    public void BiasBackward(Tensor dy, Tensor dbias, bool accumulate)
    {
        const string op = "BiasBackward";
        nint dyp = Ptr(op, "dy", dy), dbp = Ptr(op, "dbias", dbias);
        var route = StorageRoutes.BiasBackward(dy.DType, dbias.DType);
        if (route == StorageRoute.Into32) { BiasBackwardInto32(op, dy, dyp, dbias, dbp, accumulate); return; }
        if (route == StorageRoute.Widened) { using var h = new Widened(this); BiasBackward(h.In(dy), h.Out(dbias), accumulate); return; }
        KernelDType(op, "dy", dy);
        SameDType(op, "dy", dy, "dbias", dbias);
        var g = ChannelGeometry.Of(op, "dy", dy);
        OperandChecks.PerChannel(op, "dbias", dbias, g.C);
        if (dy.Elements == 0)
        {
            if (!accumulate) Fill(dbias, 0f);
            return;
        }
        Describe(_t0, dy, op);
        Describe(_t1, dbias, op);
        float alpha = 1f, beta = accumulate ? 1f : 0f;
        Dnn(Cudnn.cudnnConvolutionBackwardBias(_cudnn, &alpha, _t0, (void*)dyp, &beta, _t1, (void*)dbp), op, dy, dbias);
    }

    /// <summary>Tier 2 of CudaBackend.Precision.cs for the bias: dbias (fp32) (+)= Σ over n, h, w of a 16-bit dy.</summary>
    private void BiasBackwardInto32(string op, Tensor dy, nint dyp, Tensor dbias, nint dbp, bool accumulate)
    {
        var g = ChannelGeometry.Of(op, "dy", dy);
        OperandChecks.PerChannel(op, "dbias", dbias, g.C);
        if (dy.Elements == 0)
        {
            if (!accumulate) Fill(dbias, 0f);
            return;
        }
        long narrow = AlignUp((long)g.C * dy.DType.Size()), wide = accumulate ? AlignUp(dbias.Bytes) : 0;
        nint scratch = Workspace(narrow + wide);
        Describe(_t0, dy, op);
        // The (1, C, 1, 1) result in dy's type: cuDNN's bias gradient takes one data type for dy and db.
        Dnn(Cudnn.cudnnSetTensor4dDescriptor(_t1, cudnnTensorFormat_t.CUDNN_TENSOR_NCHW, DnnType(dy.DType), 1, g.C, 1, 1), op, dy, dbias);
        float alpha = 1f, beta = 0f;
        Dnn(Cudnn.cudnnConvolutionBackwardBias(_cudnn, &alpha, _t0, (void*)dyp, &beta, _t1, (void*)scratch), op, dy, dbias);
        WidenInto(op, scratch, dy.DType, dbp, g.C, accumulate, scratch + (nint)narrow, false, default);
    }
}
