using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

// Convolution on cuDNN's legacy API (cudnn_cnn.h), GEMM on cublasGemmEx, bias on cudnnAddTensor /
// cudnnConvolutionBackwardBias.
//
// Descriptors: x and y are packed 4-d tensors in their own layout (cudnnSetTensor4dDescriptor with CUDNN_TENSOR_NCHW
// or CUDNN_TENSOR_NHWC); the convolution is CUDNN_CROSS_CORRELATION (deep learning's "convolution", as PyTorch) with
// fp32 compute whatever the storage type, groups through cudnnSetConvolutionGroupCount and dilation in the descriptor.
// Weights are always stored (K, C/groups, KH, KW) — PyTorch's order, the checkpoints' order, the CPU backend's order.
// A channels-last convolution needs a channels-last filter (K, KH, KW, C/groups) — cuDNN's NHWC kernels take NHWC
// filters, and PyTorch converts the weight the same way for channels_last — so the weight is transposed into the
// workspace first (and a weight gradient computed there and transposed back): a copy the size of the filter.
//
// Algorithms are chosen once per (direction, x shape, w shape, spec, dtype, layout) and cached (ConvAlgorithmCache): by cuDNN's heuristics
// (cudnnGet*Algorithm_v7) or by timing (cudnnFind*AlgorithmEx, on scratch outputs so accumulating calls lose nothing),
// keeping the first candidate that (1) ran, (2) is CUDNN_DETERMINISTIC when Deterministic is set, (3) does not use tensor
// cores on fp32 data unless AllowTf32 is set, and (4) needs at most ConvWorkspaceLimitBytes of workspace. The choice keeps
// the candidate's math type (cudnn_cnn.h: each *AlgoPerf_t carries "cudnnMathType_t mathType"), which is set on the
// convolution descriptor before its workspace is asked and before it runs, as PyTorch does; fp32 without AllowTf32
// always runs CUDNN_FMA_MATH. When cuDNN refuses the chosen algorithm at run time (a NOT_SUPPORTED, BAD_PARAM or
// EXECUTION_FAILED status: in cuDNN 9 the legacy calls run on graph engines, and a ranked candidate can still fail; or a
// sub-library that did not load, is of another release, or an engine NVRTC failed to compile), it is dropped from the
// cache and the next acceptable candidate runs, once. When that fails too, a sub-library or compilation error names the
// sub-library files that did not load and NVRTC's state (CudnnFailures.Explain). Accumulating calls pass β = 1 (cuDNN blends:
// out = α·result + β·out), others β = 0.
public sealed unsafe partial class CudaBackend
{
    private readonly ConvAlgorithmCache _convAlgos = new();

    /// <summary>Workspace offsets are rounded to this (cuDNN wants 16-byte alignment; 256 keeps every kernel happy).</summary>
    private const long ScratchAlign = 256;

    private static long AlignUp(long bytes) => (bytes + ScratchAlign - 1) / ScratchAlign * ScratchAlign;

    /// <summary>The math type of a convolution on <paramref name="dtype"/> storage under this backend's TF32 policy.</summary>
    private cudnnMathType_t ConvMath(DType dtype) => dtype != DType.Float32 ? cudnnMathType_t.CUDNN_TENSOR_OP_MATH
        : _options.AllowTf32 ? cudnnMathType_t.CUDNN_DEFAULT_MATH : cudnnMathType_t.CUDNN_FMA_MATH;

    /// <summary>
    /// The math type a candidate runs with: its own, except fp32 data without <see cref="CudaBackendOptions.AllowTf32"/>,
    /// which stays CUDNN_FMA_MATH (never tensor cores, never TF32).
    /// </summary>
    private cudnnMathType_t RunMath(DType dtype, cudnnMathType_t candidate) =>
        dtype == DType.Float32 && !_options.AllowTf32 ? cudnnMathType_t.CUDNN_FMA_MATH : candidate;

    /// <summary>
    /// Whether a convolution call's status means that cuDNN cannot run this algorithm here (worth one try with the next
    /// candidate) rather than that the call itself is wrong (<see cref="CudnnFailures.Classify"/>): the NOT_SUPPORTED,
    /// BAD_PARAM and EXECUTION_FAILED families, and a sub-library that failed to load or is of another release or an engine
    /// whose run-time compilation (NVRTC) failed, since engines of other sub-libraries or precompiled ones may still run.
    /// cuDNN 9 numbers them 3000–3999, 2000–2999, 5000–5999, 1002/1008 and 4001 (cudnn_graph.h); cuDNN 8 uses 9, 3, 8,
    /// 14 (VERSION_MISMATCH) and 11 (RUNTIME_PREREQUISITE_MISSING).
    /// </summary>
    internal static bool IsAlgorithmFailure(cudnnStatus_t status, int cudnnMajor) => CudnnFailures.IsRetryable(status, cudnnMajor);

    /// <summary>Sets _t0 = x, _t1 = y, _filter = w and _conv for one convolution.</summary>
    private void SetConvDescriptors(string op, Shape x, Shape w, Shape y, ConvSpec spec, DType dtype, Layout layout)
    {
        var key = new ConvKey(ConvDirection.Forward, x, w, spec, dtype, layout);
        var dt = DnnType(dtype);
        var format = layout == Layout.NHWC ? cudnnTensorFormat_t.CUDNN_TENSOR_NHWC : cudnnTensorFormat_t.CUDNN_TENSOR_NCHW;
        DnnConv(Cudnn.cudnnSetTensor4dDescriptor(_t0, format, dt, x.N, x.C, x.H, x.W), op, key);
        DnnConv(Cudnn.cudnnSetTensor4dDescriptor(_t1, format, dt, y.N, y.C, y.H, y.W), op, key);
        DnnConv(Cudnn.cudnnSetFilter4dDescriptor(_filter, dt, format, w.N, w.C, w.H, w.W), op, key);
        DnnConv(Cudnn.cudnnSetConvolution2dDescriptor(_conv, spec.PadH, spec.PadW, spec.StrideH, spec.StrideW, spec.DilationH, spec.DilationW,
            cudnnConvolutionMode_t.CUDNN_CROSS_CORRELATION, cudnnDataType_t.CUDNN_DATA_FLOAT), op, key);
        DnnConv(Cudnn.cudnnSetConvolutionGroupCount(_conv, spec.Groups), op, key);
        DnnConv(Cudnn.cudnnSetConvolutionMathType(_conv, ConvMath(dtype)), op, key);
    }

    // cudnnDataType_t for a dtype (the descriptors follow the storage type).
    private static cudnnDataType_t DnnType(DType t) => t switch
    {
        DType.Float32 => cudnnDataType_t.CUDNN_DATA_FLOAT,
        DType.Float16 => cudnnDataType_t.CUDNN_DATA_HALF,
        DType.BFloat16 => cudnnDataType_t.CUDNN_DATA_BFLOAT16,
        _ => cudnnDataType_t.CUDNN_DATA_INT32,
    };

    /// <summary>Checks the storage types of a convolution's three operands: one floating type for all.</summary>
    private static void ConvDTypes(string op, Tensor a, string an, Tensor b, string bn, Tensor c, string cn)
    {
        KernelDType(op, an, a);
        SameDType(op, an, a, bn, b);
        SameDType(op, an, a, cn, c);
    }

    /// <summary>Checks that an activation and its partner share a layout (cuDNN describes both with one format).</summary>
    private static void SameLayout(string op, string an, Tensor a, string bn, Tensor b)
    {
        if (a.Layout != b.Layout) ThrowHelper.Invalid(op, $"{bn} is {b.Layout} but {an} is {a.Layout}; the CUDA backend needs one layout for both (convert with Copy)");
    }

    /// <summary>An optional bias (or its gradient): the activations' dtype, one value per output channel.</summary>
    private static void ConvBias(string op, string what, Tensor? bias, Tensor like, int k)
    {
        if (bias is null) return;
        if (like.DType == DType.Float32) { OperandChecks.Bias(op, what, bias, k); return; }
        SameDType(op, "y", like, what, bias);
        if (bias.Elements != k) ThrowHelper.ShapeMismatch(op, what, Shape.Of(k), bias.Shape);
    }

    /// <inheritdoc />
    /// <exception cref="ConvWorkspaceLimitException">No acceptable algorithm fits <see cref="CudaBackendOptions.ConvWorkspaceLimitBytes"/>.</exception>
    /// <exception cref="CudaOperationException">cuDNN rejected the shapes or failed.</exception>
    public void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, ConvSpec spec)
    {
        const string op = "Conv2dForward";
        nint xp = Ptr(op, "x", x), wp = Ptr(op, "w", w), yp = Ptr(op, "y", y), bp = PtrOrNull(op, "bias", bias);
        if (MixedStorage(x, w, bias, y)) { using var h = new Widened(this); Conv2dForward(h.In(x), h.In(w), h.In(bias), h.Out(y), spec); return; }
        ConvDTypes(op, x, "x", w, "w", y, "y");
        var g = new ConvGeometry(op, x.Shape, w.Shape, y.Shape, spec);
        ConvBias(op, "bias", bias, y, g.K);
        SameLayout(op, "x", x, "y", y);
        if (g.N == 0) return;
        bool nhwc = x.Layout == Layout.NHWC;
        SetConvDescriptors(op, x.Shape, w.Shape, y.Shape, spec, x.DType, x.Layout);
        long staging = nhwc ? AlignUp(w.Bytes) : 0;
        RunConv(op, new ConvKey(ConvDirection.Forward, x.Shape, w.Shape, spec, x.DType, x.Layout), xp, wp, y.Bytes, staging, x, w, y, spec,
            (choice, scratch) =>
            {
                nint filter = nhwc ? FilterToChannelsLast(op, w, wp, scratch) : wp;
                float alpha = 1f, beta = 0f;
                return Cudnn.cudnnConvolutionForward(_cudnn, &alpha, _t0, (void*)xp, _filter, (void*)filter, _conv, (cudnnConvolutionFwdAlgo_t)choice.Algo,
                    (void*)(scratch + (nint)staging), (nuint)choice.WorkspaceBytes, &beta, _t1, (void*)yp);
            });
        if (bias is not null)
        {
            // y += bias broadcast over (N, H, W): cudnnAddTensor with the (1, K, 1, 1) bias (same memory in either format).
            Describe(_t2, bias, op);
            float one = 1f;
            Dnn(Cudnn.cudnnAddTensor(_cudnn, &one, _t2, (void*)bp, &one, _t1, (void*)yp), op, bias, y);
        }
    }

    /// <inheritdoc />
    /// <exception cref="ConvWorkspaceLimitException">No acceptable algorithm fits <see cref="CudaBackendOptions.ConvWorkspaceLimitBytes"/>.</exception>
    /// <exception cref="CudaOperationException">cuDNN rejected the shapes or failed.</exception>
    public void Conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvSpec spec, bool accumulate)
    {
        const string op = "Conv2dBackwardData";
        nint dyp = Ptr(op, "dy", dy), wp = Ptr(op, "w", w), dxp = Ptr(op, "dx", dx);
        if (MixedStorage(dy, w, dx)) { using var h = new Widened(this); Conv2dBackwardData(h.In(dy), h.In(w), h.Out(dx), spec, accumulate); return; }
        ConvDTypes(op, dy, "dy", w, "w", dx, "dx");
        var g = new ConvGeometry(op, dx.Shape, w.Shape, dy.Shape, spec);
        SameLayout(op, "dx", dx, "dy", dy);
        if (g.N == 0) return;
        bool nhwc = dx.Layout == Layout.NHWC;
        SetConvDescriptors(op, dx.Shape, w.Shape, dy.Shape, spec, dx.DType, dx.Layout);
        long staging = nhwc ? AlignUp(w.Bytes) : 0;
        RunConv(op, new ConvKey(ConvDirection.BackwardData, dx.Shape, w.Shape, spec, dx.DType, dx.Layout), dyp, wp, dx.Bytes, staging, dy, w, dx, spec,
            (choice, scratch) =>
            {
                nint filter = nhwc ? FilterToChannelsLast(op, w, wp, scratch) : wp;
                float alpha = 1f, beta = accumulate ? 1f : 0f;
                return Cudnn.cudnnConvolutionBackwardData(_cudnn, &alpha, _filter, (void*)filter, _t1, (void*)dyp, _conv, (cudnnConvolutionBwdDataAlgo_t)choice.Algo,
                    (void*)(scratch + (nint)staging), (nuint)choice.WorkspaceBytes, &beta, _t0, (void*)dxp);
            });
    }

    /// <inheritdoc />
    /// <remarks>
    /// 16-bit x and dy with an fp32 dw (the mixed-precision plan's weight gradient) compute the batch's gradient in 16-bit
    /// scratch with fp32 accumulation and widen it into dw (see CudaBackend.Precision.cs, tier 2: the batch's contribution is
    /// rounded once to 16 bits, as in PyTorch AMP).
    /// </remarks>
    /// <exception cref="ConvWorkspaceLimitException">No acceptable algorithm fits <see cref="CudaBackendOptions.ConvWorkspaceLimitBytes"/>.</exception>
    /// <exception cref="CudaOperationException">cuDNN rejected the shapes or failed.</exception>
    public void Conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias, ConvSpec spec, bool accumulate)
    {
        const string op = "Conv2dBackwardFilter";
        nint xp = Ptr(op, "x", x), dyp = Ptr(op, "dy", dy), dwp = Ptr(op, "dw", dw), dbp = PtrOrNull(op, "dbias", dbias);
        var route = StorageRoutes.ConvBackwardFilter(x.DType, dy.DType, dw.DType, dbias?.DType);
        if (route == StorageRoute.Into32)
        {
            Conv2dBackwardFilterInto32(op, x, xp, dy, dyp, dw, dwp, dbias, spec, accumulate);
            return;
        }
        if (route == StorageRoute.Widened) { using var h = new Widened(this); Conv2dBackwardFilter(h.In(x), h.In(dy), h.Out(dw), h.Out(dbias), spec, accumulate); return; }
        ConvDTypes(op, x, "x", dy, "dy", dw, "dw");
        var g = new ConvGeometry(op, x.Shape, dw.Shape, dy.Shape, spec);
        ConvBias(op, "dbias", dbias, dy, g.K);
        SameLayout(op, "x", x, "dy", dy);
        if (g.N == 0)
        {
            // No samples: the gradients are zero.
            if (!accumulate) { Fill(dw, 0f); if (dbias is not null) Fill(dbias, 0f); }
            return;
        }
        bool nhwc = x.Layout == Layout.NHWC;
        SetConvDescriptors(op, x.Shape, dw.Shape, dy.Shape, spec, x.DType, x.Layout);
        long staging = nhwc ? AlignUp(dw.Bytes) : 0;
        nint target = dwp;
        RunConv(op, new ConvKey(ConvDirection.BackwardFilter, x.Shape, dw.Shape, spec, x.DType, x.Layout), xp, dyp, dw.Bytes, staging, x, dy, dw, spec,
            (choice, scratch) =>
            {
                // Channels-last: the gradient is computed as (K, KH, KW, Cg) in the staging area; when accumulating it starts
                // from the current dw transposed there, so β = 1 adds onto it, and the result is transposed back.
                if (nhwc)
                {
                    target = scratch;
                    if (accumulate) FilterToChannelsLast(op, dw, dwp, scratch);
                }
                float alpha = 1f, beta = accumulate ? 1f : 0f;
                return Cudnn.cudnnConvolutionBackwardFilter(_cudnn, &alpha, _t0, (void*)xp, _t1, (void*)dyp, _conv, (cudnnConvolutionBwdFilterAlgo_t)choice.Algo,
                    (void*)(scratch + (nint)staging), (nuint)choice.WorkspaceBytes, &beta, _filter, (void*)target);
            });
        if (nhwc)
        {
            var s = dw.Shape;
            int dt = (int)dw.DType;
            Launched(Kernels.dt_convert((void*)target, dt, 1, (void*)dwp, dt, 0, s.N, s.C, s.H, s.W, _streamPtr), op);
        }
        if (dbias is not null)
        {
            // dbias (+)= Σ over n, h, w of dy (cudnnConvolutionBackwardBias blends with β like the rest).
            Describe(_t2, dbias, op);
            float alpha = 1f, beta = accumulate ? 1f : 0f;
            Dnn(Cudnn.cudnnConvolutionBackwardBias(_cudnn, &alpha, _t1, (void*)dyp, &beta, _t2, (void*)dbp), op, dy, dbias);
        }
    }

    /// <summary>
    /// Tier 2 of CudaBackend.Precision.cs: dw (fp32) (+)= the gradient of 16-bit x and dy. cuDNN computes it into 16-bit
    /// scratch with β = 0 (x, dy and the filter descriptor share x's type, with the CUDNN_DATA_FLOAT compute type of
    /// <see cref="SetConvDescriptors"/>; cudnn_cnn.h: "Convolution functions: All of the form "output = alpha * Op(inputs)
    /// + beta * output""), then <see cref="WidenInto"/> widens it — and for channels-last transposes it back to
    /// (K, C/groups, KH, KW) — in the same kernel, adding it to dw when accumulating. The bias gradient follows through
    /// <see cref="BiasBackward"/> (tier 2 again when dbias is fp32).
    /// </summary>
    private void Conv2dBackwardFilterInto32(string op, Tensor x, nint xp, Tensor dy, nint dyp, Tensor dw, nint dwp, Tensor? dbias, ConvSpec spec, bool accumulate)
    {
        var g = new ConvGeometry(op, x.Shape, dw.Shape, dy.Shape, spec);
        if (dbias is not null && dbias.Elements != g.K) ThrowHelper.ShapeMismatch(op, "dbias", Shape.Of(g.K), dbias.Shape);
        SameLayout(op, "x", x, "dy", dy);
        if (g.N == 0)
        {
            if (!accumulate) { Fill(dw, 0f); if (dbias is not null) Fill(dbias, 0f); }
            return;
        }
        bool nhwc = x.Layout == Layout.NHWC;
        SetConvDescriptors(op, x.Shape, dw.Shape, dy.Shape, spec, x.DType, x.Layout);
        long narrowBytes = dw.Elements * x.DType.Size();
        // Scratch: [16-bit gradient][fp32 widened copy, when accumulating][cuDNN workspace].
        long narrow = AlignUp(narrowBytes), wide = accumulate ? AlignUp(dw.Bytes) : 0;
        nint scratch = 0;
        RunConv(op, new ConvKey(ConvDirection.BackwardFilter, x.Shape, dw.Shape, spec, x.DType, x.Layout), xp, dyp, narrowBytes, narrow + wide, x, dy, dw, spec,
            (choice, s) =>
            {
                scratch = s;
                float alpha = 1f, beta = 0f;
                return Cudnn.cudnnConvolutionBackwardFilter(_cudnn, &alpha, _t0, (void*)xp, _t1, (void*)dyp, _conv, (cudnnConvolutionBwdFilterAlgo_t)choice.Algo,
                    (void*)(s + (nint)(narrow + wide)), (nuint)choice.WorkspaceBytes, &beta, _filter, (void*)s);
            });
        WidenInto(op, scratch, x.DType, dwp, dw.Elements, accumulate, scratch + (nint)narrow, nhwc, dw.Shape);
        if (dbias is not null) BiasBackward(dy, dbias, accumulate);
    }

    /// <summary>Transposes a (K, Cg, KH, KW) filter into (K, KH, KW, Cg) at <paramref name="dst"/> (dt_convert NCHW → NHWC).</summary>
    private nint FilterToChannelsLast(string op, Tensor w, nint src, nint dst)
    {
        var s = w.Shape;
        int dt = (int)w.DType;
        Launched(Kernels.dt_convert((void*)src, dt, 0, (void*)dst, dt, 1, s.N, s.C, s.H, s.W, _streamPtr), op);
        return dst;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The largest workspace of the three directions as this layout and dtype will run them: cuDNN's workspace for the
    /// algorithm chosen (or already cached) plus the scratch around it — the channels-last filter staging, and for 16-bit
    /// data the 16-bit weight gradient and its fp32 copy that a mixed plan's fp32 weight gradient goes through. Uses the
    /// algorithm already chosen for a shape when there is one, else cuDNN's heuristics (an exhaustive search needs real
    /// buffers and happens on the first real call).
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="dtype"/> is not Float32, Float16 or BFloat16.</exception>
    /// <exception cref="ConvWorkspaceLimitException">No acceptable algorithm fits <see cref="CudaBackendOptions.ConvWorkspaceLimitBytes"/>.</exception>
    /// <exception cref="CudaOperationException">cuDNN rejected the shapes or offers no acceptable algorithm.</exception>
    public long Conv2dWorkspaceBytes(Shape x, Shape w, ConvSpec spec, Layout layout, DType dtype)
    {
        const string op = "Conv2dWorkspaceBytes";
        if (dtype is not (DType.Float32 or DType.Float16 or DType.BFloat16))
            ThrowHelper.Invalid(op, $"dtype is {dtype}; expected Float32, Float16 or BFloat16");
        ThrowIfDisposed();
        Enter();
        var y = Shape.Of(x.N, w.N, spec.OutH(x.H, w.H), spec.OutW(x.W, w.W));
        var g = new ConvGeometry(op, x, w, y, spec);
        if (g.N == 0) return 0;
        SetConvDescriptors(op, x, w, y, spec, dtype, layout);
        long filter = AlignUp(w.Elements * dtype.Size());
        long most = 0;
        foreach (var dir in (ReadOnlySpan<ConvDirection>)[ConvDirection.Forward, ConvDirection.BackwardData, ConvDirection.BackwardFilter])
        {
            var key = new ConvKey(dir, x, w, spec, dtype, layout);
            if (!_convAlgos.TryGet(key, out var choice))
            {
                DnnConv(Cudnn.cudnnSetConvolutionMathType(_conv, ConvMath(dtype)), op, key);
                choice = Pick(op, key, Heuristic(key));
                // The heuristic answer is what a heuristic-mode call would choose; a timed search happens on real buffers later.
                if (_options.AlgorithmSearch == ConvAlgorithmSearch.Heuristic) _convAlgos.Store(key, choice);
            }
            long staging = dir == ConvDirection.BackwardFilter && dtype != DType.Float32 ? filter + AlignUp(w.Elements * sizeof(float))
                : layout == Layout.NHWC ? filter : 0;
            most = Math.Max(most, staging + choice.WorkspaceBytes);
        }
        return most;
    }

    // ---- algorithm choice --------------------------------------------------------------------------

    /// <summary>One ranked candidate of a search (the three perf structs share this layout: see cudnn_cnn.h).</summary>
    private readonly record struct Candidate(int Algo, cudnnStatus_t Status, cudnnDeterminism_t Determinism, cudnnMathType_t Math);

    /// <summary>
    /// The cached choice for <paramref name="key"/>, or a new one (descriptors must be set): heuristics, or a timed search
    /// on the real inputs with a scratch output of <paramref name="outBytes"/> bytes.
    /// </summary>
    private ConvChoice Choose(string op, ConvKey key, nint in0, nint in1, long outBytes)
    {
        if (_convAlgos.TryGet(key, out var cached)) return cached;
        // Rank under the policy's math type (a retry finds the descriptor at the rejected candidate's).
        DnnConv(Cudnn.cudnnSetConvolutionMathType(_conv, ConvMath(key.DType)), op, key);
        var candidates = _options.AlgorithmSearch == ConvAlgorithmSearch.Exhaustive ? Timed(op, key, in0, in1, outBytes) : Heuristic(key);
        var choice = Pick(op, key, candidates);
        _convAlgos.Store(key, choice);
        return choice;
    }

    /// <summary>
    /// Runs one convolution (descriptors set) with the algorithm chosen for <paramref name="key"/>: sets its math type,
    /// grows the workspace to <paramref name="staging"/> + its need and calls <paramref name="call"/> with the choice and
    /// the scratch (staging first). When cuDNN refuses the algorithm at run time (<see cref="IsAlgorithmFailure"/>), it is
    /// dropped from the cache and marked rejected, and the next acceptable candidate runs once, as PyTorch's
    /// cudnn_convolution does; a second failure, or no other candidate, reports the first failure. A refused call
    /// (NOT_SUPPORTED, BAD_PARAM) launched nothing; after EXECUTION_FAILED an accumulating (β = 1) output written in place
    /// may already hold part of a result, the risk PyTorch's retry takes too (channels-last weight gradients are
    /// re-seeded from dw, which the failed call did not touch).
    /// </summary>
    /// <exception cref="ConvWorkspaceLimitException">No acceptable algorithm fits the workspace limit.</exception>
    /// <exception cref="CudaOperationException">cuDNN rejected the call, or offers no acceptable algorithm.</exception>
    private void RunConv(string op, ConvKey key, nint in0, nint in1, long outBytes, long staging, Tensor a, Tensor b, Tensor c, ConvSpec spec,
        Func<ConvChoice, nint, cudnnStatus_t> call)
    {
        var choice = Choose(op, key, in0, in1, outBytes);
        for (bool retried = false; ; retried = true)
        {
            DnnConv(Cudnn.cudnnSetConvolutionMathType(_conv, choice.Math), op, key);
            var status = call(choice, Workspace(staging + choice.WorkspaceBytes));
            if (status == cudnnStatus_t.CUDNN_STATUS_SUCCESS) return;
            string what = $"cudnnConvolution{key.Direction} with algorithm {choice.Algo}, {choice.Math}";
            if (retried || !IsAlgorithmFailure(status, _cudnnMajor)) ThrowDnn(status, op, a, b, c, spec, what);
            _convAlgos.Reject(key, choice);
            try { choice = Choose(op, key, in0, in1, outBytes); }
            catch (Exception e) when (e is ConvWorkspaceLimitException or CudaOperationException)
            {
                ThrowDnn(status, op, a, b, c, spec, what + " (no other algorithm to try)");
                throw;
            }
        }
    }

    /// <summary>cuDNN's heuristic ranking for the descriptors as set (no GPU work).</summary>
    private Candidate[] Heuristic(ConvKey key)
    {
        const string op = "convolution algorithm heuristics";
        var dir = key.Direction;
        int max, got;
        switch (dir)
        {
            case ConvDirection.Forward: Check(Cudnn.cudnnGetConvolutionForwardAlgorithmMaxCount(_cudnn, out max)); break;
            case ConvDirection.BackwardData: Check(Cudnn.cudnnGetConvolutionBackwardDataAlgorithmMaxCount(_cudnn, out max)); break;
            default: Check(Cudnn.cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(_cudnn, out max)); break;
        }
        var perf = stackalloc cudnnConvolutionFwdAlgoPerf_t[Math.Max(max, 1)];
        switch (dir)
        {
            case ConvDirection.Forward:
                DnnConv(Cudnn.cudnnGetConvolutionForwardAlgorithm_v7(_cudnn, _t0, _filter, _conv, _t1, max, out got, perf), op, key);
                break;
            case ConvDirection.BackwardData:
                DnnConv(Cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(_cudnn, _filter, _t1, _conv, _t0, max, out got, (cudnnConvolutionBwdDataAlgoPerf_t*)perf), op, key);
                break;
            default:
                DnnConv(Cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(_cudnn, _t0, _t1, _conv, _filter, max, out got, (cudnnConvolutionBwdFilterAlgoPerf_t*)perf), op, key);
                break;
        }
        return Candidates(perf, got);
    }

    /// <summary>
    /// Times every algorithm (cudnnFind*AlgorithmEx) with a throw-away output and a temporary scratch of the workspace
    /// limit, clamped to 90 % of the device's free memory (a limit meant as "no limit" must not fail the allocation).
    /// The scratch is freed afterwards, so the persistent workspace only grows to the chosen algorithm's need.
    /// </summary>
    private Candidate[] Timed(string op, ConvKey key, nint in0, nint in1, long outBytes)
    {
        int max, got;
        switch (key.Direction)
        {
            case ConvDirection.Forward: Check(Cudnn.cudnnGetConvolutionForwardAlgorithmMaxCount(_cudnn, out max)); break;
            case ConvDirection.BackwardData: Check(Cudnn.cudnnGetConvolutionBackwardDataAlgorithmMaxCount(_cudnn, out max)); break;
            default: Check(Cudnn.cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(_cudnn, out max)); break;
        }
        var perf = stackalloc cudnnConvolutionFwdAlgoPerf_t[Math.Max(max, 1)];
        bool nhwc = key.Layout == Layout.NHWC;
        long filterBytes = key.W.Elements * key.DType.Size();
        long staging = nhwc ? AlignUp(filterBytes) : 0;
        Check(Cudart.cudaMemGetInfo(out nuint free, out _));
        long room = (long)Math.Min((ulong)free / 10 * 9, long.MaxValue / 2) - staging - AlignUp(outBytes);
        long limit = Math.Max(0, Math.Min(_options.ConvWorkspaceLimitBytes, room));
        nint scratch = RawAlloc(staging + limit);
        nint ws = scratch + (nint)staging;
        nint output = 0;
        try
        {
            output = RawAlloc(outBytes);
            switch (key.Direction)
            {
                case ConvDirection.Forward:
                {
                    // in0 = x, in1 = w (transposed into the staging area for channels-last).
                    nint w = nhwc ? Transposed(in1, scratch) : in1;
                    DnnConv(Cudnn.cudnnFindConvolutionForwardAlgorithmEx(_cudnn, _t0, (void*)in0, _filter, (void*)w, _conv, _t1, (void*)output,
                        max, out got, perf, (void*)ws, (nuint)limit), op, key);
                    break;
                }
                case ConvDirection.BackwardData:
                {
                    // in0 = dy, in1 = w.
                    nint w = nhwc ? Transposed(in1, scratch) : in1;
                    DnnConv(Cudnn.cudnnFindConvolutionBackwardDataAlgorithmEx(_cudnn, _filter, (void*)w, _t1, (void*)in0, _conv, _t0, (void*)output,
                        max, out got, (cudnnConvolutionBwdDataAlgoPerf_t*)perf, (void*)ws, (nuint)limit), op, key);
                    break;
                }
                default:
                    // in0 = x, in1 = dy; the output is a filter-sized scratch.
                    DnnConv(Cudnn.cudnnFindConvolutionBackwardFilterAlgorithmEx(_cudnn, _t0, (void*)in0, _t1, (void*)in1, _conv, _filter, (void*)output,
                        max, out got, (cudnnConvolutionBwdFilterAlgoPerf_t*)perf, (void*)ws, (nuint)limit), op, key);
                    break;
            }
        }
        finally
        {
            // Stream-ordered: the search's work is queued before the frees.
            if (output != 0) RawFree(output, outBytes, _poolsSupported);
            RawFree(scratch, staging + limit, _poolsSupported);
        }
        return Candidates(perf, got);

        nint Transposed(nint w, nint dst)
        {
            Launched(Kernels.dt_convert((void*)w, (int)key.DType, 0, (void*)dst, (int)key.DType, 1, key.W.N, key.W.C, key.W.H, key.W.W, _streamPtr), op);
            return dst;
        }
    }

    private static Candidate[] Candidates(cudnnConvolutionFwdAlgoPerf_t* perf, int count)
    {
        var list = new Candidate[count];
        for (int i = 0; i < count; i++) list[i] = new((int)perf[i].algo, perf[i].status, perf[i].determinism, perf[i].mathType);
        return list;
    }

    /// <summary>
    /// The first candidate (in cuDNN's ranking) that ran, meets the determinism and TF32 policy, was not rejected at run
    /// time and fits the workspace limit; its workspace is asked of cuDNN for the descriptors as set, under the math type
    /// it will run with (the perf struct's figure is advisory). Leaves the descriptor at the last candidate's math type.
    /// </summary>
    /// <exception cref="ConvWorkspaceLimitException">Every acceptable candidate needs more than the limit.</exception>
    /// <exception cref="CudaOperationException">No candidate is acceptable at all.</exception>
    private ConvChoice Pick(string op, ConvKey key, Candidate[] candidates)
    {
        long limit = _options.ConvWorkspaceLimitBytes, smallest = long.MaxValue;
        foreach (var c in candidates)
        {
            if (c.Status != cudnnStatus_t.CUDNN_STATUS_SUCCESS) continue;
            if (_options.Deterministic && c.Determinism != cudnnDeterminism_t.CUDNN_DETERMINISTIC) continue;
            if (key.DType == DType.Float32 && !_options.AllowTf32
                && c.Math is cudnnMathType_t.CUDNN_TENSOR_OP_MATH or cudnnMathType_t.CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
            var math = RunMath(key.DType, c.Math);
            if (_convAlgos.IsRejected(key, c.Algo, math)) continue;
            // The workspace under the math type the algorithm will run with (it can differ between math types).
            DnnConv(Cudnn.cudnnSetConvolutionMathType(_conv, math), op, key);
            nuint bytes;
            cudnnStatus_t st = key.Direction switch
            {
                ConvDirection.Forward => Cudnn.cudnnGetConvolutionForwardWorkspaceSize(_cudnn, _t0, _filter, _conv, _t1, (cudnnConvolutionFwdAlgo_t)c.Algo, out bytes),
                ConvDirection.BackwardData => Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(_cudnn, _filter, _t1, _conv, _t0, (cudnnConvolutionBwdDataAlgo_t)c.Algo, out bytes),
                _ => Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(_cudnn, _t0, _t1, _conv, _filter, (cudnnConvolutionBwdFilterAlgo_t)c.Algo, out bytes),
            };
            if (st != cudnnStatus_t.CUDNN_STATUS_SUCCESS) continue;
            if ((long)bytes <= limit) return new ConvChoice(c.Algo, (long)bytes, math);
            smallest = Math.Min(smallest, (long)bytes);
        }
        string shapes = $"{DirectionText(key.Direction)} x {key.X}, w {key.W}, {key.Spec}, {key.DType} {key.Layout}";
        if (smallest != long.MaxValue) throw new ConvWorkspaceLimitException(op, shapes, smallest, limit);
        throw new CudaOperationException(op, shapes, new NotSupportedException(
            $"cuDNN offers no algorithm for this convolution{(_options.Deterministic ? " that is deterministic" : "")}" +
            $"{(key.DType == DType.Float32 && !_options.AllowTf32 ? " without TF32" : "")} ({candidates.Length} candidates ranked)"));
    }

    private static string DirectionText(ConvDirection d) => d switch
    {
        ConvDirection.Forward => "forward",
        ConvDirection.BackwardData => "backward-data",
        _ => "backward-filter",
    };

    /// <summary>Checks a cuDNN status of a convolution call that has shapes but no tensors at hand (descriptors, searches);
    /// the text is built only on failure.</summary>
    private static void DnnConv(cudnnStatus_t status, string op, ConvKey key,
        [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status == cudnnStatus_t.CUDNN_STATUS_SUCCESS) return;
        ThrowDnnConv(status, op, key, call);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ThrowDnnConv(cudnnStatus_t status, string op, ConvKey key, string call)
    {
        try { Check(status, call + LoadExplanation(status)); }
        catch (CudnnException e) { throw new CudaOperationException(op, $"{DirectionText(key.Direction)} x {key.X}, w {key.W}, {key.Spec}, {key.DType} {key.Layout}", e); }
    }
}
