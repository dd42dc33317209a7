using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

// Section: memory. Device memory is deliberately not a SafeHandle: the engine's arenas and caching pool own it
// and free it explicitly; a finalizer freeing device memory could run on any thread at any time.
#pragma warning disable CA1707
internal static unsafe partial class Cudart
{
    /// <summary>Allocates <paramref name="size"/> bytes of device memory (synchronising).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMalloc(void** devPtr, nuint size);

    /// <summary>Frees memory from <see cref="cudaMalloc"/> (synchronising).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaFree(void* devPtr);

    /// <summary>Stream-ordered allocation from the device's current memory pool.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMallocAsync(void** devPtr, nuint size, CudaStream hStream);

    /// <summary>Stream-ordered free.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaFreeAsync(void* devPtr, CudaStream hStream);

    /// <summary>The device's default memory pool (<c>cudaMemPool_t</c>; owned by the driver, never destroyed).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaDeviceGetDefaultMemPool(out IntPtr memPool, int device);

    /// <summary>Sets one pool attribute; <paramref name="value"/> points to an <c>int</c> or a <c>ulong</c> (see <see cref="cudaMemPoolAttr"/>).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMemPoolSetAttribute(IntPtr memPool, cudaMemPoolAttr attr, void* value);

    /// <summary>Reads one pool attribute; <paramref name="value"/> points to an <c>int</c> or a <c>ulong</c> (see <see cref="cudaMemPoolAttr"/>).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMemPoolGetAttribute(IntPtr memPool, cudaMemPoolAttr attr, void* value);

    /// <summary>Releases pool memory back to the OS until at most <paramref name="minBytesToKeep"/> stay reserved.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMemPoolTrimTo(IntPtr memPool, nuint minBytesToKeep);

    /// <summary>Synchronous copy.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMemcpy(void* dst, void* src, nuint count, cudaMemcpyKind kind);

    /// <summary>Copy ordered on <paramref name="stream"/>; asynchronous only with pinned host memory.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMemcpyAsync(void* dst, void* src, nuint count, cudaMemcpyKind kind, CudaStream stream);

    /// <summary>Sets <paramref name="count"/> bytes to the low byte of <paramref name="value"/>.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMemset(void* devPtr, int value, nuint count);

    /// <summary>Stream-ordered memset.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMemsetAsync(void* devPtr, int value, nuint count, CudaStream stream);

    /// <summary>Allocates pinned (page-locked) host memory, owned by the returned handle.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMallocHost(out CudaHostMemory ptr, nuint size);

    /// <summary>
    /// Allocates pinned (page-locked) host memory with <paramref name="flags"/> (<see cref="cudaHostAllocDefault"/>,
    /// <see cref="cudaHostAllocPortable"/>, ...), owned by the returned handle. Copies between it and the device with
    /// <see cref="cudaMemcpyAsync"/> are asynchronous to the host; the allocation itself is slow (it page-locks), so it is
    /// made once and kept.
    /// </summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaHostAlloc(out CudaHostMemory pHost, nuint size, uint flags);

    /// <summary>Frees memory from <see cref="cudaMallocHost"/> or <see cref="cudaHostAlloc"/>; only <see cref="CudaHostMemory"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudart)] internal static partial cudaError_t cudaFreeHost(IntPtr ptr);

    /// <summary>Pins an existing host range (flags: <see cref="cudaHostRegisterDefault"/>, ...).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaHostRegister(void* ptr, nuint size, uint flags);

    /// <summary>Unpins a range pinned by <see cref="cudaHostRegister"/>.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaHostUnregister(void* ptr);
}
#pragma warning restore CA1707
