using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

#pragma warning disable CA1707, CA1069 // C names kept; ncclDataType_t has C aliases with equal values (ncclFloat = ncclFloat32)

// From nccl.h (NVIDIA/nccl src/nccl.h.in, commit 5d3ab08b69754cb863ab1bf6e3fb6f7612bb725b). NcclHeaderTests compares every
// member here with the real nccl.h wherever one is installed (the GPU machine's pip wheel: the device check's conformance stage).

/// <summary>The status every NCCL call returns.</summary>
public enum ncclResult_t
{
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    /// <summary>Returned only by non-blocking communicators (ncclCommInitRankConfig with blocking = 0), not made here.</summary>
    ncclInProgress = 7,
    ncclNumResults = 8,
}

/// <summary>The built-in reductions. Values from <c>ncclNumOps</c> up are dynamic operators (ncclRedOpCreatePreMulSum).</summary>
internal enum ncclRedOp_t
{
    ncclSum = 0,
    ncclProd = 1,
    ncclMax = 2,
    ncclMin = 3,
    /// <summary>The mean over ranks (NCCL 2.10+): a gradient average in one call.</summary>
    ncclAvg = 4,
    ncclNumOps = 5,
    /// <summary><c>0x7fffffff &gt;&gt; (32 - 8 * sizeof(ncclRedOp_dummy_t))</c> with a 4-byte enum.</summary>
    ncclMaxRedOp = 0x7fffffff,
}

/// <summary>Element types. <c>ncclBfloat16</c> exists when the CUDA headers define bf16 (CUDA 11+), and then
/// <c>ncclNumTypes</c> is 10; every NCCL build for CUDA 11+ has it.</summary>
internal enum ncclDataType_t
{
    ncclInt8 = 0, ncclChar = 0,
    ncclUint8 = 1,
    ncclInt32 = 2, ncclInt = 2,
    ncclUint32 = 3,
    ncclInt64 = 4,
    ncclUint64 = 5,
    ncclFloat16 = 6, ncclHalf = 6,
    ncclFloat32 = 7, ncclFloat = 7,
    ncclFloat64 = 8, ncclDouble = 8,
    ncclBfloat16 = 9,
    ncclNumTypes = 10,
}

/// <summary>
/// <c>ncclUniqueId</c>: <c>typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;</c>, 128 opaque bytes
/// that rank 0 makes with <c>ncclGetUniqueId</c> and sends to every rank (over MPI) before <c>ncclCommInitRank</c>.
/// Passed by value.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ncclUniqueId
{
    /// <summary>The id's bytes.</summary>
    public fixed byte @internal[Nccl.NCCL_UNIQUE_ID_BYTES];

    /// <summary>A copy of the bytes (to broadcast them).</summary>
    /// <returns>128 bytes.</returns>
    public readonly byte[] ToArray()
    {
        var bytes = new byte[Nccl.NCCL_UNIQUE_ID_BYTES];
        fixed (byte* p = @internal) new ReadOnlySpan<byte>(p, bytes.Length).CopyTo(bytes);
        return bytes;
    }

    /// <summary>The id whose bytes are <paramref name="bytes"/> (as broadcast from rank 0).</summary>
    /// <param name="bytes">Exactly <see cref="Nccl.NCCL_UNIQUE_ID_BYTES"/> bytes.</param>
    /// <returns>The id.</returns>
    /// <exception cref="ArgumentException">The length is not 128.</exception>
    public static ncclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Nccl.NCCL_UNIQUE_ID_BYTES)
            throw new ArgumentException($"an ncclUniqueId is {Nccl.NCCL_UNIQUE_ID_BYTES} bytes, got {bytes.Length}", nameof(bytes));
        var id = new ncclUniqueId();
        bytes.CopyTo(new Span<byte>(id.@internal, Nccl.NCCL_UNIQUE_ID_BYTES));
        return id;
    }
}

/// <summary>
/// An <c>ncclComm_t</c>, created by <see cref="Nccl.ncclCommInitRank"/>. Disposing destroys it (<c>ncclCommDestroy</c>,
/// which waits for its pending work); after <see cref="MarkForAbort"/> disposing aborts it instead (<c>ncclCommAbort</c>:
/// pending operations are cancelled — the way out after an asynchronous error or a dead peer, where destroy could hang).
/// </summary>
public sealed class NcclCommHandle() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    private volatile bool _abort;

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Makes the release call <c>ncclCommAbort</c> rather than <c>ncclCommDestroy</c>; then dispose.</summary>
    public void MarkForAbort() => _abort = true;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() =>
        (_abort ? Nccl.ncclCommAbort(handle) : Nccl.ncclCommDestroy(handle)) == ncclResult_t.ncclSuccess;
}

#pragma warning restore CA1707, CA1069
