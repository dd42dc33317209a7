using System.Runtime.CompilerServices;
using DeepTrain.Interop;
using DeepTrain.Memory;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

/// <summary>
/// The GPU backend: convolutions, batch norm, pooling and bias on cuDNN; GEMM on cuBLAS; element-wise operations,
/// dropout, PReLU, channel copies, losses and optimizer steps on DeepTrain's kernel library (ABI v3). One partial file per
/// operation family, as <c>CpuBackend</c>.
/// <para>
/// Everything runs in order on one non-blocking stream owned by the backend, with one cuDNN and one cuBLAS handle bound to
/// it. Operations are asynchronous: only <see cref="CopyToHost{T}"/>, <see cref="CopyFromHost{T}"/>,
/// <see cref="Synchronize"/> and the label check of <see cref="SoftmaxCrossEntropy"/> wait for the GPU. A backend is
/// used from one thread at a time (its descriptors and workspace are shared between calls); any thread may be that thread.
/// </para>
/// <para>
/// Memory: <see cref="Allocate"/> returns a <see cref="CudaDeviceBuffer"/> (stream-ordered where the device supports memory
/// pools). Scratch is one grow-only workspace owned by the backend: it holds the cuDNN convolution workspace and, for
/// channels-last convolutions, the filter transposed to (K, R, S, C/groups).
/// </para>
/// <para>
/// Numerics: fp32 data computes in fp32 with TF32 off unless <see cref="CudaBackendOptions.AllowTf32"/>; fp16/bf16
/// storage goes through cuDNN with fp32 compute (the descriptors take the tensor's dtype; convolution and batch-norm
/// compute types are fp32) and through the dtype-generic kernels, which load the storage type and compute in fp32.
/// </para>
/// </summary>
public sealed unsafe partial class CudaBackend : IBackend
{
    private readonly CudaBackendOptions _options;
    private readonly CudaStream _stream;
    private readonly nint _streamPtr;
    private readonly CudnnHandle _cudnn;
    private readonly CublasHandle _cublas;
    private readonly bool _poolsSupported;
    private readonly string _name;
    private readonly int _cudnnMajor;   // 8 or 9: the numbering of cuDNN's statuses (Cudnn.MajorVersion)
    private nint _cublasWorkspace;
    private nint _workspace;
    private long _workspaceBytes;
    private long _liveBytes, _leakedBytes, _leakedBuffers;
    private bool _disposed;

    // One descriptor of each kind, re-set before every call (a descriptor is host memory; setting it is cheap and
    // allocates nothing). Four tensor descriptors cover the most any call describes at once.
    private readonly CudnnTensorDescriptor _t0, _t1, _t2, _t3;
    private readonly CudnnFilterDescriptor _filter;
    private readonly CudnnConvolutionDescriptor _conv;
    private readonly CudnnPoolingDescriptor _pool;

    // The device last selected, on this thread, in the kernel library's own CUDA runtime (it links cudart statically, so
    // its current device is apart from the shared libcudart's). Only Enter calls dt_set_device, so this cannot go stale.
    [ThreadStatic] private static int t_kernelsDevicePlusOne;

    /// <summary>cuBLAS's recommended workspace on Hopper (32 MiB; 4 MiB suffices before it).</summary>
    private const long CublasWorkspaceBytes = 32L << 20;

    /// <summary>
    /// Creates the backend on <see cref="CudaBackendOptions.DeviceIndex"/>: a stream, a cuDNN and a cuBLAS handle on it,
    /// and cuBLAS's workspace. Use <see cref="BackendFactory.TryCreate(Device)"/> to find out first whether CUDA is usable.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The device index does not exist or the workspace limit is negative.</exception>
    /// <exception cref="CudaException">A runtime call failed (the message names it).</exception>
    /// <exception cref="CudnnException">cuDNN could not create its handle.</exception>
    /// <exception cref="CublasException">cuBLAS could not create its handle.</exception>
    /// <exception cref="DllNotFoundException">cuDNN, cuBLAS or DeepTrain's kernel library cannot be loaded (the first call
    /// into each loads it; <see cref="BackendFactory.TryCreate(Device)"/> checks them first and reports a reason instead).</exception>
    /// <exception cref="EntryPointNotFoundException">The kernel library predates an export this backend calls (rebuild native/).</exception>
    public CudaBackend(CudaBackendOptions? options = null)
    {
        _options = options ?? new CudaBackendOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(_options.ConvWorkspaceLimitBytes, nameof(options) + ".ConvWorkspaceLimitBytes");
        Check(Cudart.cudaGetDeviceCount(out int count));
        if (_options.DeviceIndex < 0 || _options.DeviceIndex >= count)
            throw new ArgumentOutOfRangeException(nameof(options), _options.DeviceIndex, $"device cuda:{_options.DeviceIndex} does not exist; {count} CUDA device(s) are visible");
        Device = Device.Cuda(_options.DeviceIndex);
        try
        {
            Enter();
            Check(Cudart.cudaDeviceGetAttribute(out int pools, cudaDeviceAttr.cudaDevAttrMemoryPoolsSupported, _options.DeviceIndex));
            _poolsSupported = pools != 0;
            if (_poolsSupported)
            {
                // Keep freed memory in the device's default pool instead of returning it to the driver at every
                // synchronisation (the default threshold is 0): a training step then re-uses its memory without new mappings.
                Check(Cudart.cudaDeviceGetDefaultMemPool(out IntPtr pool, _options.DeviceIndex));
                ulong keep = ulong.MaxValue;
                Check(Cudart.cudaMemPoolSetAttribute(pool, cudaMemPoolAttr.cudaMemPoolAttrReleaseThreshold, &keep));
            }
            Check(Cudart.cudaDeviceGetAttribute(out int major, cudaDeviceAttr.cudaDevAttrComputeCapabilityMajor, _options.DeviceIndex));
            Check(Cudart.cudaDeviceGetAttribute(out int minor, cudaDeviceAttr.cudaDevAttrComputeCapabilityMinor, _options.DeviceIndex));
            ComputeCapability = 10 * major + minor;
            Check(Cudart.cudaMemGetInfo(out _, out nuint total));
            _cudnnMajor = Cudnn.MajorVersion(Cudnn.cudnnGetVersion());
            _name = $"cuda:{_options.DeviceIndex} (sm_{major}{minor}, {(ulong)total >> 30} GiB, cuDNN {Cudnn.cudnnGetVersion()}"
                + $"{(_options.Deterministic ? ", deterministic" : "")}{(_options.AllowTf32 ? ", TF32" : "")}, {_options.AlgorithmSearch} conv search)";

            Check(Cudart.cudaStreamCreateWithFlags(out _stream, Cudart.cudaStreamNonBlocking));
            _streamPtr = _stream.DangerousGetHandle();
            Check(Cudnn.cudnnCreate(out _cudnn));
            Check(Cudnn.cudnnSetStream(_cudnn, _stream));
            Check(Cublas.cublasCreate_v2(out _cublas));
            Check(Cublas.cublasSetStream_v2(_cublas, _stream));
            // cublasSetStream resets the workspace to cuBLAS's own, so ours is set after it (and is what graph capture needs).
            _cublasWorkspace = RawAlloc(CublasWorkspaceBytes);
            Check(Cublas.cublasSetWorkspace_v2(_cublas, (void*)_cublasWorkspace, (nuint)CublasWorkspaceBytes));
            // TF32 is chosen per GEMM through the compute type; the handle's mode stays the default (no TF32 for 32F compute).
            Check(Cublas.cublasSetMathMode(_cublas, cublasMath_t.CUBLAS_DEFAULT_MATH));

            Check(Cudnn.cudnnCreateTensorDescriptor(out _t0));
            Check(Cudnn.cudnnCreateTensorDescriptor(out _t1));
            Check(Cudnn.cudnnCreateTensorDescriptor(out _t2));
            Check(Cudnn.cudnnCreateTensorDescriptor(out _t3));
            Check(Cudnn.cudnnCreateFilterDescriptor(out _filter));
            Check(Cudnn.cudnnCreateConvolutionDescriptor(out _conv));
            Check(Cudnn.cudnnCreatePoolingDescriptor(out _pool));
        }
        catch
        {
            // A step failed part-way: release what was made (Dispose tolerates the missing rest), then report the failure.
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public Device Device { get; }

    /// <inheritdoc />
    public string Description => _name;

    /// <summary>The device's compute capability as 10·major + minor (90 for an H100).</summary>
    public int ComputeCapability { get; }

    /// <summary>The options this backend was created with.</summary>
    public CudaBackendOptions Options => _options;

    /// <inheritdoc />
    public long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>Buffers of this backend that were finalized without being disposed (their device memory is lost until the process ends).</summary>
    public long LeakedBuffers => Interlocked.Read(ref _leakedBuffers);

    /// <summary>Bytes of the buffers counted by <see cref="LeakedBuffers"/>.</summary>
    public long LeakedBytes => Interlocked.Read(ref _leakedBytes);

    /// <summary>Bytes of the backend's own scratch (the grow-only workspace and cuBLAS's workspace), not counted in <see cref="LiveBytes"/>.</summary>
    public long ScratchBytes => _workspaceBytes + CublasWorkspaceBytes;

    /// <inheritdoc />
    /// <remarks>
    /// <c>cudaMemGetInfo</c>'s free bytes plus what the default memory pool holds idle (<see cref="DeviceMemoryFigure"/>),
    /// read now: <see cref="Modeling.Model.Compile"/> asks before it allocates a plan's arena, after the parameters,
    /// gradients and optimizer state already took theirs. Test seam: <see cref="MemoryFigureOverride"/>.
    /// </remarks>
    /// <exception cref="CudaException">The runtime call fails.</exception>
    public long? AvailableMemoryBytes => ReadMemoryFigure().Available;

    /// <summary>Tests only: replaces the device's figures (the GPU check injects a small free figure to see a plan refused).</summary>
    internal Func<DeviceMemoryFigure>? MemoryFigureOverride { get; set; }

    internal DeviceMemoryFigure ReadMemoryFigure()
    {
        if (MemoryFigureOverride is { } injected) return injected();
        Enter();
        Check(Cudart.cudaMemGetInfo(out nuint free, out nuint total));
        ulong reserved = 0, used = 0;
        if (_poolsSupported)
        {
            Check(Cudart.cudaDeviceGetDefaultMemPool(out IntPtr pool, _options.DeviceIndex));
            Check(Cudart.cudaMemPoolGetAttribute(pool, cudaMemPoolAttr.cudaMemPoolAttrReservedMemCurrent, &reserved));
            Check(Cudart.cudaMemPoolGetAttribute(pool, cudaMemPoolAttr.cudaMemPoolAttrUsedMemCurrent, &used));
        }
        return new DeviceMemoryFigure(free, total, reserved, used);
    }

    /// <summary>The stream every operation of this backend is queued on.</summary>
    public CudaStream Stream => _stream;

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative.</exception>
    /// <exception cref="CudaException">The device is out of memory (cudaErrorMemoryAllocation) or another runtime error.</exception>
    public DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ThrowIfDisposed();
        Enter();
        nint p = RawAlloc(bytes);
        Check(Cudart.cudaMemsetAsync((void*)p, 0, (nuint)Math.Max(bytes, 1), _stream));
        Interlocked.Add(ref _liveBytes, bytes);
        return new CudaDeviceBuffer(this, p, bytes, _poolsSupported);
    }

    /// <summary>Device memory of at least one byte, stream-ordered where supported; counted in <see cref="MemoryTracker"/>.</summary>
    private nint RawAlloc(long bytes)
    {
        void* p;
        nuint size = (nuint)Math.Max(bytes, 1);
        if (_poolsSupported) Check(Cudart.cudaMallocAsync(&p, size, _stream));
        else Check(Cudart.cudaMalloc(&p, size));
        MemoryTracker.DeviceAllocated(bytes);
        return (nint)p;
    }

    private void RawFree(nint p, long bytes, bool streamOrdered)
    {
        // A buffer may be disposed on any thread: make the device current there first.
        Enter();
        if (!_disposed && streamOrdered) Check(Cudart.cudaFreeAsync((void*)p, _stream));
        // After Dispose the stream is gone, but Dispose synchronised it before setting _disposed, so no queued work can
        // still read pool memory (cudaFree "will not perform any implicit synchronization when the pointer was allocated
        // with cudaMallocAsync", cuda_runtime_api.h). Memory from cudaMalloc (no pools) is freed here while the backend
        // lives: cudaFree of such memory waits for the device in practice, which the header does not state.
        else Check(Cudart.cudaFree((void*)p));
        MemoryTracker.DeviceFreed(bytes);
    }

    /// <summary>Frees a buffer made by <see cref="Allocate"/> (called by its Dispose).</summary>
    internal void Free(nint p, long bytes, bool streamOrdered)
    {
        RawFree(p, bytes, streamOrdered);
        Interlocked.Add(ref _liveBytes, -bytes);
    }

    /// <summary>Records a buffer that was finalized without being disposed.</summary>
    internal void CountLeak(long bytes)
    {
        Interlocked.Increment(ref _leakedBuffers);
        Interlocked.Add(ref _leakedBytes, bytes);
        MemoryTracker.LeakFound();
    }

    /// <inheritdoc />
    /// <remarks>
    /// <c>cudaMemcpyAsync</c> from the caller's (pageable) memory, then a stream synchronisation, so the span may be reused
    /// as soon as this returns. A pinned staging buffer makes the copy truly asynchronous (<see cref="CudaStaging"/>, which
    /// the inference contexts use); the trainer's per-step upload is small next to a ResNet step, so it does not use one.
    /// </remarks>
    public void CopyFromHost<T>(ReadOnlySpan<T> src, Tensor dst) where T : unmanaged
    {
        const string op = "CopyFromHost";
        nint d = Ptr(op, "dst", dst);
        CheckHostSpan(op, dst, src.Length, sizeof(T), typeof(T));
        fixed (T* s = src)
        {
            Check(Cudart.cudaMemcpyAsync((void*)d, s, (nuint)dst.Bytes, cudaMemcpyKind.cudaMemcpyHostToDevice, _stream));
            Check(Cudart.cudaStreamSynchronize(_stream));
        }
    }

    /// <inheritdoc />
    /// <remarks>Waits for every queued operation (the copy is ordered after them on the stream).</remarks>
    public void CopyToHost<T>(Tensor src, Span<T> dst) where T : unmanaged
    {
        const string op = "CopyToHost";
        nint s = Ptr(op, "src", src);
        CheckHostSpan(op, src, dst.Length, sizeof(T), typeof(T));
        fixed (T* d = dst)
        {
            Check(Cudart.cudaMemcpyAsync(d, (void*)s, (nuint)src.Bytes, cudaMemcpyKind.cudaMemcpyDeviceToHost, _stream));
            Check(Cudart.cudaStreamSynchronize(_stream));
        }
        CheckDeferredLabels();
    }

    /// <summary>
    /// Pinned host memory of at least one byte, page-locked for every context (<c>cudaHostAllocPortable</c>), made while this
    /// backend's device is current. For <see cref="CudaStaging"/>, which owns it and counts it in <see cref="MemoryTracker.HostBytes"/>.
    /// </summary>
    /// <exception cref="CudaException">The host cannot page-lock that much (cudaErrorMemoryAllocation) or another runtime error.</exception>
    internal CudaHostMemory AllocatePinned(long bytes)
    {
        ThrowIfDisposed();
        Enter();
        Check(Cudart.cudaHostAlloc(out var memory, (nuint)Math.Max(bytes, 1), Cudart.cudaHostAllocPortable));
        return memory;
    }

    /// <summary>
    /// Queues a copy of <paramref name="dst"/>'s bytes from pinned host memory at <paramref name="src"/> on the stream and
    /// returns at once (truly asynchronous, unlike <see cref="CopyFromHost{T}"/>): the caller keeps <paramref name="src"/>
    /// unchanged until a later <see cref="Synchronize"/>.
    /// </summary>
    internal void CopyFromPinnedAsync(nint src, Tensor dst)
    {
        nint d = Ptr("CopyFromPinnedAsync", "dst", dst);
        Check(Cudart.cudaMemcpyAsync((void*)d, (void*)src, (nuint)dst.Bytes, cudaMemcpyKind.cudaMemcpyHostToDevice, _stream));
    }

    /// <summary>
    /// Queues a copy of <paramref name="src"/>'s bytes into pinned host memory at <paramref name="dst"/> on the stream, after
    /// the work already queued, and returns at once: the bytes are there after the next <see cref="Synchronize"/>.
    /// </summary>
    internal void CopyToPinnedAsync(Tensor src, nint dst)
    {
        nint s = Ptr("CopyToPinnedAsync", "src", src);
        Check(Cudart.cudaMemcpyAsync((void*)dst, (void*)s, (nuint)src.Bytes, cudaMemcpyKind.cudaMemcpyDeviceToHost, _stream));
    }

    private static void CheckHostSpan(string op, Tensor t, int length, int elementSize, Type type)
    {
        if (elementSize != t.DType.Size()) ThrowHelper.Invalid(op, $"the tensor holds {t.DType}, not {type.Name}");
        if (length != t.Elements) ThrowHelper.Invalid(op, $"{length} host values for a tensor of {t.Shape}");
    }

    /// <inheritdoc />
    public void Synchronize()
    {
        ThrowIfDisposed();
        Enter();
        Check(Cudart.cudaStreamSynchronize(_stream));
        CheckDeferredLabels();
    }

    /// <summary>
    /// Waits for the stream, destroys the handles, frees the workspaces and destroys the stream. Buffers still alive stay
    /// valid memory until their owners dispose them (then freed with <c>cudaFree</c>). Also releases what a constructor
    /// that failed part-way had made (every handle and workspace may be missing then).
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        bool haveStream = _stream is { IsInvalid: false };
        if (haveStream)
        {
            Enter();
            // Errors here are reported by the next call on this device; disposing must not throw over them.
            Cudart.cudaStreamSynchronize(_stream);
        }
        // The library handles first: cuBLAS's holds the workspace freed below (cublasSetWorkspace).
        _t0?.Dispose(); _t1?.Dispose(); _t2?.Dispose(); _t3?.Dispose();
        _filter?.Dispose(); _conv?.Dispose(); _pool?.Dispose();
        _cudnn?.Dispose();
        _cublas?.Dispose();
        // Stream-ordered frees (the stream is alive; _disposed is still false), then one synchronisation: the invariant
        // RawFree relies on once _disposed is set is that nothing queued on the stream is left.
        if (_workspace != 0) RawFree(_workspace, _workspaceBytes, _poolsSupported);
        _workspace = 0;
        _workspaceBytes = 0;
        if (_cublasWorkspace != 0) RawFree(_cublasWorkspace, CublasWorkspaceBytes, _poolsSupported);
        _cublasWorkspace = 0;
        if (_flags != 0) RawFree(_flags, sizeof(int), _poolsSupported);
        _flags = 0;
        if (haveStream) Cudart.cudaStreamSynchronize(_stream);
        _disposed = true;
        _stream?.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>
    /// Makes this backend's device current on the calling thread, in both CUDA runtimes of the process: the shared
    /// libcudart (cuDNN, cuBLAS and this class) and the kernel library's static one (its launches run in the context its
    /// own current device selects, and the stream must belong to that context). The shared runtime is asked every time
    /// (cudaGetDevice: no synchronisation), so a cudaSetDevice made on this thread by other code is noticed; the kernel
    /// library's device changes only here, so a per-thread record suffices for it.
    /// </summary>
    private void Enter()
    {
        int device = _options.DeviceIndex;
        Check(Cudart.cudaGetDevice(out int current));
        if (current != device) Check(Cudart.cudaSetDevice(device));
        if (t_kernelsDevicePlusOne != device + 1)
        {
            Check((cudaError_t)Kernels.dt_set_device(device), "dt_set_device");
            t_kernelsDevicePlusOne = device + 1;
        }
    }

    /// <summary>
    /// The device address of an operand, after checking it lives on this backend's device (and that the backend is alive).
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is in host memory or on another GPU.</exception>
    private nint Ptr(string op, string what, Tensor t)
    {
        if (t.Device != Device)
            throw new ArgumentException($"{op}: {what} is on {t.Device}, but this backend computes on {Device}; copy it there first (CopyFromHost, or allocate it with this backend)", what);
        ThrowIfDisposed();
        Enter();
        return t.Pointer;
    }

    /// <summary><see cref="Ptr"/> for an optional operand: 0 when absent.</summary>
    private nint PtrOrNull(string op, string what, Tensor? t) => t is null ? 0 : Ptr(op, what, t);

    /// <summary><see cref="Ptr"/> and an fp32 check, for the operations whose kernels are fp32 only.</summary>
    private float* F32(string op, string what, Tensor t)
    {
        nint p = Ptr(op, what, t);
        ThrowHelper.CheckFloat32(op, what, t);
        return (float*)p;
    }

    /// <summary>The kernel library's storage code (DT_F32 0, DT_F16 1, DT_BF16 2 = the managed DType order).</summary>
    private static int KernelDType(string op, string what, Tensor t)
    {
        if (t.DType is not (DType.Float32 or DType.Float16 or DType.BFloat16))
            ThrowHelper.Invalid(op, $"{what} is {t.DType}; expected Float32, Float16 or BFloat16");
        return (int)t.DType;
    }

    /// <summary>Throws unless both operands have the same storage type.</summary>
    private static void SameDType(string op, string an, Tensor a, string bn, Tensor b)
    {
        if (a.DType != b.DType) ThrowHelper.Invalid(op, $"{bn} is {b.DType} but {an} is {a.DType}; convert with Copy first");
    }

    /// <summary>Checks the cudaError_t of a kernel launch; the exception names the operation.</summary>
    private static void Launched(int status, string op, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != 0) ThrowLaunch(status, op, call);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLaunch(int status, string op, string call)
    {
        try { Check((cudaError_t)status, call); }
        catch (CudaException e) { throw new CudaOperationException(op, "", e); }
    }

    /// <summary>
    /// Checks a cuDNN status; on failure throws <see cref="CudaOperationException"/> naming the operation and the operands'
    /// shapes, layouts and dtypes, with the <see cref="CudnnException"/> inside. Builds no string on success.
    /// </summary>
    private static void Dnn(cudnnStatus_t status, string op, Tensor? a, Tensor? b = null, Tensor? c = null, ConvSpec? spec = null,
        [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS) ThrowDnn(status, op, a, b, c, spec, call);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowDnn(cudnnStatus_t status, string op, Tensor? a, Tensor? b, Tensor? c, ConvSpec? spec, string call)
    {
        string shapes = string.Join(", ", new[] { a, b, c }.Where(t => t is not null).Select(t => $"{t!.Shape} {t.Layout} {t.DType}"));
        if (spec is ConvSpec s) shapes += $", {s}";
        try { Check(status, call + LoadExplanation(status)); }
        catch (CudnnException e) { throw new CudaOperationException(op, shapes, e); }
    }

    /// <summary>
    /// For a sub-library or compilation status, " (...)" naming what the resolver loaded (<see cref="CudnnFailures.Explain"/>):
    /// cuDNN's own message says a sub-library failed, not which file or whether NVRTC was there. Empty otherwise.
    /// </summary>
    private static string LoadExplanation(cudnnStatus_t status)
    {
        int major = 9;
        try { major = Cudnn.MajorVersion(Cudnn.cudnnGetVersion()); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        if (CudnnFailures.Classify(status, major) is not (CudnnFailures.FailureKind.SubLibrary or CudnnFailures.FailureKind.Compilation)) return "";
        return CudnnFailures.Explain(status, major, NativeLibraryResolver.CudnnLoadState()) is string why ? $" ({why})" : "";
    }

    /// <summary>
    /// The backend's scratch: at least <paramref name="bytes"/> of device memory, valid until the next call that asks for
    /// scratch. Grows (never shrinks) by freeing and reallocating in stream order, so work already queued keeps its memory.
    /// </summary>
    private nint Workspace(long bytes)
    {
        if (bytes <= _workspaceBytes) return _workspace;
        if (_workspace != 0) RawFree(_workspace, _workspaceBytes, _poolsSupported);
        _workspace = 0;
        _workspaceBytes = 0;
        long grown = Math.Max(bytes, 1L << 20);
        _workspace = RawAlloc(grown);
        _workspaceBytes = grown;
        return _workspace;
    }

    // ---- descriptors ----------------------------------------------------------------------------

    /// <summary>
    /// Describes <paramref name="t"/> as a packed 4-d tensor (N, C, H, W) in its layout; rank 2 (N, C) reads as (N, C, 1, 1),
    /// rank 1 (C) as (1, C, 1, 1) — the per-channel vectors of bias and batch norm; rank 3 and above as (N, C, rest, 1).
    /// </summary>
    private static void Describe(CudnnTensorDescriptor d, Tensor t, string op)
    {
        var s = t.Shape;
        int n, c, h, w;
        switch (s.Rank)
        {
            case 4: (n, c, h, w) = (s.N, s.C, s.H, s.W); break;
            case 2: (n, c, h, w) = (s.N, s.C, 1, 1); break;
            case 1: (n, c, h, w) = (1, s[0], 1, 1); break;
            case 3: (n, c, h, w) = (s[0], s[1], s[2], 1); break;
            default:
                // (N, C, rest…) as (N, C, product of the rest, 1): channel stays dimension 1.
                long rest = t.Elements / Math.Max((long)s[0] * s[1], 1);
                (n, c, h, w) = (s[0], s[1], checked((int)rest), 1);
                break;
        }
        var format = s.Rank == 4 && t.Layout == Layout.NHWC ? cudnnTensorFormat_t.CUDNN_TENSOR_NHWC : cudnnTensorFormat_t.CUDNN_TENSOR_NCHW;
        Dnn(Cudnn.cudnnSetTensor4dDescriptor(d, format, DnnType(t.DType), n, c, h, w), op, t);
    }
}
