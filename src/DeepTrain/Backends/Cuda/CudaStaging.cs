using DeepTrain.Interop;
using DeepTrain.Memory;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cuda;

/// <summary>
/// Pinned (page-locked) host staging for one <see cref="CudaBackend"/>'s round trips of fp32 batches: an input region and an
/// output region in one <c>cudaHostAlloc</c> allocation, made once. A round trip is
/// <code>
/// staging.Stage(input, plan.Input);     // span → pinned input, then cudaMemcpyAsync H2D on the backend's stream
/// plan.Forward();                       // queued on the same stream
/// staging.Fetch(plan.Output, output);   // cudaMemcpyAsync D2H → pinned output, one stream synchronisation, pinned → span
/// </code>
/// so the host waits once per round trip and allocates nothing. From pageable memory (<see cref="CudaBackend.CopyFromHost{T}"/>)
/// the driver copies through a staging buffer of its own and the host waits for each copy.
/// <para>
/// Used by one thread at a time, like its backend. Lifetime: dispose only when the backend's stream holds no copy from or to
/// this memory — after a <see cref="Fetch"/> returned, or after disposing the backend (which waits for its stream); a run that
/// threw between <see cref="Stage"/> and <see cref="Fetch"/> may have left one queued.
/// </para>
/// </summary>
internal sealed unsafe class CudaStaging : IDisposable
{
    /// <summary>Where the output region starts: a multiple of this (the CPU's cache line and beyond, as <c>cudaMalloc</c>'s alignment).</summary>
    public const long Alignment = 256;

    private readonly CudaBackend _backend;
    private readonly CudaHostMemory _memory;
    private readonly float* _input, _output;

    /// <summary>Pins <see cref="BytesFor"/>(<paramref name="inputBytes"/>, <paramref name="outputBytes"/>) of host memory for <paramref name="backend"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="CudaException">The host cannot page-lock that much, or another runtime error.</exception>
    public CudaStaging(CudaBackend backend, long inputBytes, long outputBytes)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentOutOfRangeException.ThrowIfNegative(inputBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(outputBytes);
        _backend = backend;
        (InputBytes, OutputBytes, Bytes) = (inputBytes, outputBytes, BytesFor(inputBytes, outputBytes));
        _memory = backend.AllocatePinned(Bytes);
        MemoryTracker.HostAllocated(Bytes);
        nint p = _memory.DangerousGetHandle();
        _input = (float*)p;
        _output = (float*)(p + OutputOffset(inputBytes));
    }

    /// <summary>Bytes of the input region.</summary>
    public long InputBytes { get; }
    /// <summary>Bytes of the output region.</summary>
    public long OutputBytes { get; }
    /// <summary>Pinned bytes held: both regions, the output's start aligned.</summary>
    public long Bytes { get; }

    /// <summary>Where the output region starts, after an input region of <paramref name="inputBytes"/>.</summary>
    public static long OutputOffset(long inputBytes) => (inputBytes + Alignment - 1) / Alignment * Alignment;

    /// <summary>The pinned bytes a staging of these regions holds (at least one byte, as the allocation).</summary>
    public static long BytesFor(long inputBytes, long outputBytes) => Math.Max(OutputOffset(inputBytes) + outputBytes, 1);

    /// <summary>
    /// Copies <paramref name="source"/> into the pinned input region and queues its copy into <paramref name="destination"/>
    /// (fp32, as many elements as <paramref name="source"/>) on the backend's stream; returns without waiting for the device.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is not fp32, its element count differs from the span's, or it is larger than the input region.</exception>
    public void Stage(ReadOnlySpan<float> source, Tensor destination)
    {
        CheckRegion("CudaStaging.Stage", destination, source.Length, InputBytes, "input");
        source.CopyTo(new Span<float>(_input, source.Length));
        _backend.CopyFromPinnedAsync((nint)_input, destination);
    }

    /// <summary>
    /// Queues the copy of <paramref name="source"/> (fp32) into the pinned output region after the work already queued, waits
    /// for the backend's stream (<see cref="CudaBackend.Synchronize"/>: once, for everything queued since the last wait) and
    /// copies the values into <paramref name="destination"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is not fp32, its element count differs from the span's, or it is larger than the output region.</exception>
    /// <exception cref="CudaException">The device reports an error from the work queued before (the message names the call).</exception>
    public void Fetch(Tensor source, Span<float> destination)
    {
        CheckRegion("CudaStaging.Fetch", source, destination.Length, OutputBytes, "output");
        _backend.CopyToPinnedAsync(source, (nint)_output);
        _backend.Synchronize();
        new ReadOnlySpan<float>(_output, destination.Length).CopyTo(destination);
    }

    private static void CheckRegion(string op, Tensor t, int length, long regionBytes, string region)
    {
        if (t.DType != DType.Float32) ThrowHelper.Invalid(op, $"the tensor holds {t.DType}; staging copies Float32");
        if (length != t.Elements) ThrowHelper.Invalid(op, $"{length} host values for a tensor of {t.Shape}");
        if (t.Bytes > regionBytes) ThrowHelper.Invalid(op, $"a tensor of {t.Shape} ({t.Bytes} bytes) does not fit the {region} region of {regionBytes} bytes");
    }

    /// <summary>Frees the pinned memory (<c>cudaFreeHost</c>); see the class remarks for when that is safe.</summary>
    public void Dispose()
    {
        if (_memory.IsClosed) return;
        _memory.Dispose();
        MemoryTracker.HostFreed(Bytes);
    }
}
