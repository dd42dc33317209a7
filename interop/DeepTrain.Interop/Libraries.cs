using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

/// <summary>
/// The logical names every <c>[LibraryImport]</c> in this assembly uses. They are not file names: the
/// <see cref="NativeLibraryResolver"/> maps each one to a versioned file (<c>libcudart.so.12</c>,
/// <c>libcublas.so.12</c>, <c>libcudnn.so.9</c>, ...) found on this machine.
/// </summary>
internal static class Libraries
{
    /// <summary>The CUDA runtime (<c>libcudart.so.13/.12/.11.0</c>, <c>cudart64_*.dll</c>).</summary>
    public const string Cudart = "cudart";

    /// <summary>cuBLAS (<c>libcublas.so.13/.12/.11</c>), loaded after <c>libcublasLt</c> of the same number.</summary>
    public const string Cublas = "cublas";

    /// <summary>
    /// NVRTC (<c>libnvrtc.so.13/.12/.11.2</c>), which nothing here calls: cuDNN 9 dlopens it by file name to compile some
    /// engines at run time, so the resolver pre-loads it (and its <c>libnvrtc-builtins</c>) from the chosen set before cuDNN.
    /// Its absence is not fatal; those engines then fail with a sub-library or compilation status.
    /// </summary>
    public const string Nvrtc = "nvrtc";

    /// <summary>The cuDNN dispatcher (<c>libcudnn.so.9/.8</c>); for cuDNN 9 its sub-libraries are pre-loaded beside it.</summary>
    public const string Cudnn = "cudnn";

    /// <summary>
    /// DeepTrain's own CUDA kernel library (<c>libdeeptrain_kernels.so</c>, built from <c>native/</c>), found in
    /// <c>DEEPTRAIN_KERNELS_DIR</c>, beside the application, in its <c>runtimes/&lt;rid&gt;/native/</c> (the DeepTrain package's copy),
    /// in a bundle's <c>lib/</c>, or in the source tree's
    /// <c>native/build</c>. It links cudart statically, so it loads (and answers its version) without a GPU.
    /// </summary>
    public const string Kernels = "deeptrain_kernels";

    /// <summary>
    /// Open MPI's C library (<c>libmpi.so.40</c>, Open MPI 3.0 to 5.x), found by the system loader or in
    /// <c>DEEPTRAIN_MPI_DIR</c> and the usual Open MPI prefixes; not part of the CUDA set.
    /// </summary>
    public const string Mpi = "mpi";

    /// <summary>NCCL 2 (<c>libnccl.so.2</c>), found like cuDNN in NVIDIA's pip layout (<c>nvidia/nccl/lib</c>) or by the system loader.</summary>
    public const string Nccl = "nccl";

    /// <summary>Every logical name, in the order their libraries depend on each other.</summary>
    public static IReadOnlyList<string> All { get; } = [Cudart, Cublas, Nvrtc, Cudnn, Kernels, Mpi, Nccl];

    // The resolver must be in place before the first P/Invoke of this assembly runs; a module initializer
    // is the only hook that is guaranteed to run first whichever binding is called first.
#pragma warning disable CA2255 // ModuleInitializer in a library: intentional, registering a DllImport resolver is its documented use.
    [ModuleInitializer]
    internal static void RegisterResolver() => NativeLibraryResolver.Register(typeof(Libraries).Assembly);
#pragma warning restore CA2255
}
