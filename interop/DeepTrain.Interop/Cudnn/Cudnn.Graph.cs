using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

// cudnn_graph.h (cuDNN 9.6.0): handle, version, status, and the enums the legacy API shares with the graph API.
// cuDNN 8 declared the same in cudnn_ops_infer.h with the same signatures, except that cudnnGetLastErrorString is
// 9-only and the status numbers differ (see cudnnStatus_t).
#pragma warning disable CA1707

/// <summary>
/// cuDNN status, with cuDNN 9's numbers (grouped by thousands: 1xxx uncategorised, 2xxx bad parameter,
/// 3xxx not supported, 4xxx internal, 5xxx execution). cuDNN 8 numbers the same names 0–14 (BAD_PARAM = 3):
/// use <see cref="Cudnn.StatusName(cudnnStatus_t)"/>, which maps by the loaded major version. The deprecated aliases of
/// cudnn_graph.h that repeat another member's value (ALLOC_FAILED = 4003, ARCH_MISMATCH = 3007, MAPPING_ERROR = 4006,
/// RUNTIME_PREREQUISITE_MISSING = 3008, VERSION_MISMATCH = 1002) are left out so each value has one name.
/// </summary>
public enum cudnnStatus_t
{
    CUDNN_STATUS_SUCCESS = 0,
    CUDNN_STATUS_NOT_INITIALIZED = 1001,
    CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH = 1002,
    CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH = 1003,
    CUDNN_STATUS_DEPRECATED = 1004,
    CUDNN_STATUS_LICENSE_ERROR = 1005,
    CUDNN_STATUS_RUNTIME_IN_PROGRESS = 1006,
    CUDNN_STATUS_RUNTIME_FP_OVERFLOW = 1007,
    CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED = 1008,
    CUDNN_STATUS_BAD_PARAM = 2000,
    CUDNN_STATUS_INVALID_VALUE = 2001,
    CUDNN_STATUS_BAD_PARAM_NULL_POINTER = 2002,
    CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER = 2003,
    CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED = 2004,
    CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND = 2005,
    CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT = 2006,
    CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH = 2007,
    CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH = 2008,
    CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES = 2009,
    CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE = 2010,
    CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH = 2011,
    CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE = 2012,
    CUDNN_STATUS_NOT_SUPPORTED = 3000,
    CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN = 3001,
    CUDNN_STATUS_NOT_SUPPORTED_SHAPE = 3002,
    CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE = 3003,
    CUDNN_STATUS_NOT_SUPPORTED_LAYOUT = 3004,
    CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER = 3005,
    CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART = 3006,
    CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH = 3007,
    CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING = 3008,
    CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE = 3009,
    CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT = 3010,
    CUDNN_STATUS_NOT_SUPPORTED_PADDING = 3011,
    CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM = 3012,
    CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API = 3013,
    CUDNN_STATUS_INTERNAL_ERROR = 4000,
    CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED = 4001,
    CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE = 4002,
    CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED = 4003,
    CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED = 4004,
    CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM = 4005,
    CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED = 4006,
    CUDNN_STATUS_EXECUTION_FAILED = 5000,
    CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER = 5001,
    CUDNN_STATUS_EXECUTION_FAILED_CUBLAS = 5002,
    CUDNN_STATUS_EXECUTION_FAILED_CUDART = 5003,
    CUDNN_STATUS_EXECUTION_FAILED_CURAND = 5004,
}

/// <summary>Element type of a tensor or filter (<c>cudnnDataType_t</c>).</summary>
internal enum cudnnDataType_t
{
    CUDNN_DATA_FLOAT = 0,
    CUDNN_DATA_DOUBLE = 1,
    CUDNN_DATA_HALF = 2,
    CUDNN_DATA_INT8 = 3,
    CUDNN_DATA_INT32 = 4,
    CUDNN_DATA_UINT8 = 6,
    CUDNN_DATA_BFLOAT16 = 9,
    CUDNN_DATA_INT64 = 10,
    CUDNN_DATA_BOOLEAN = 11,
}

/// <summary>Whether tensor cores may be used (<c>cudnnMathType_t</c>).</summary>
internal enum cudnnMathType_t
{
    CUDNN_DEFAULT_MATH = 0,
    CUDNN_TENSOR_OP_MATH = 1,
    CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2,
    CUDNN_FMA_MATH = 3,
}

/// <summary>NaN handling of max-pooling and ReLU (<c>cudnnNanPropagation_t</c>).</summary>
internal enum cudnnNanPropagation_t
{
    CUDNN_NOT_PROPAGATE_NAN = 0,
    CUDNN_PROPAGATE_NAN = 1,
}

/// <summary>Memory layout of a 4-d tensor or filter (<c>cudnnTensorFormat_t</c>).</summary>
internal enum cudnnTensorFormat_t
{
    CUDNN_TENSOR_NCHW = 0,
    CUDNN_TENSOR_NHWC = 1,
    CUDNN_TENSOR_NCHW_VECT_C = 2,
}

/// <summary>Activation function (<c>cudnnActivationMode_t</c>).</summary>
internal enum cudnnActivationMode_t
{
    CUDNN_ACTIVATION_SIGMOID = 0,
    CUDNN_ACTIVATION_RELU = 1,
    CUDNN_ACTIVATION_TANH = 2,
    CUDNN_ACTIVATION_CLIPPED_RELU = 3,
    CUDNN_ACTIVATION_ELU = 4,
    CUDNN_ACTIVATION_IDENTITY = 5,
    CUDNN_ACTIVATION_SWISH = 6,
}

/// <summary>Convolution or cross-correlation (<c>cudnnConvolutionMode_t</c>); deep-learning "convolution" is the latter.</summary>
internal enum cudnnConvolutionMode_t
{
    CUDNN_CONVOLUTION = 0,
    CUDNN_CROSS_CORRELATION = 1,
}

/// <summary>cuDNN's legacy API (cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h), bound by C name. Section: handle, version, errors.</summary>
internal static unsafe partial class Cudnn
{
    /// <summary>Creates a handle on the current device (loads the sub-libraries it needs).</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnCreate(out CudnnHandle handle);

    /// <summary>Destroys a handle; only <see cref="CudnnHandle"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudnn)] internal static partial cudnnStatus_t cudnnDestroy(IntPtr handle);

    /// <summary>Runs this handle's work on <paramref name="streamId"/>.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnSetStream(CudnnHandle handle, CudaStream streamId);

    /// <summary>The library version: 90600 for 9.6.0 (major·10000 + minor·100 + patch) but 8901 for 8.9.1 (major·1000 + ...).</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial nuint cudnnGetVersion();

    /// <summary>The CUDA runtime version cuDNN was built with (cudnn_graph.h: "Returns CUDA Runtime version statically
    /// linked against cudnn"), 1000·major + 10·minor, e.g. 12060.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial nuint cudnnGetCudartVersion();

    /// <summary>Description of <paramref name="status"/>, a static C string.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial byte* cudnnGetErrorString(cudnnStatus_t status);

    /// <summary>The last error's detailed message on this thread (cuDNN 9 only; absent in 8).</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial void cudnnGetLastErrorString(byte* message, nuint max_size);

    /// <summary>The major version of a <see cref="cudnnGetVersion"/> value: v ≥ 90000 ? v / 10000 : v / 1000.</summary>
    /// <param name="version">What <see cref="cudnnGetVersion"/> returned.</param>
    /// <returns>8, 9, ...</returns>
    public static int MajorVersion(nuint version) => version >= 90000 ? (int)(version / 10000) : (int)(version / 1000);

    // cuDNN 8's numbering (cudnn_ops_infer.h, 8.9.1), index = value.
    private static readonly string[] StatusNames8 =
    [
        "CUDNN_STATUS_SUCCESS", "CUDNN_STATUS_NOT_INITIALIZED", "CUDNN_STATUS_ALLOC_FAILED", "CUDNN_STATUS_BAD_PARAM",
        "CUDNN_STATUS_INTERNAL_ERROR", "CUDNN_STATUS_INVALID_VALUE", "CUDNN_STATUS_ARCH_MISMATCH", "CUDNN_STATUS_MAPPING_ERROR",
        "CUDNN_STATUS_EXECUTION_FAILED", "CUDNN_STATUS_NOT_SUPPORTED", "CUDNN_STATUS_LICENSE_ERROR",
        "CUDNN_STATUS_RUNTIME_PREREQUISITE_MISSING", "CUDNN_STATUS_RUNTIME_IN_PROGRESS", "CUDNN_STATUS_RUNTIME_FP_OVERFLOW",
        "CUDNN_STATUS_VERSION_MISMATCH",
    ];

    /// <summary>The name of <paramref name="status"/> in the numbering of the cuDNN major version that is loaded
    /// (9's when none is); the number itself when the value has no name.</summary>
    /// <param name="status">A status returned by the loaded library.</param>
    /// <returns>The C name.</returns>
    public static string StatusName(cudnnStatus_t status)
    {
        int major = 9;
        if (NativeLibraryResolver.LoadedFrom(Libraries.Cudnn) is not null)
        {
            try { major = MajorVersion(cudnnGetVersion()); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        }
        return StatusName(status, major);
    }

    /// <summary>The name of <paramref name="status"/> in the numbering of cuDNN <paramref name="major"/>.</summary>
    /// <param name="status">A status value.</param>
    /// <param name="major">8 or 9 (anything above 8 uses 9's numbering).</param>
    /// <returns>The C name, or the number when it has none.</returns>
    public static string StatusName(cudnnStatus_t status, int major)
    {
        int v = (int)status;
        if (major <= 8) return v >= 0 && v < StatusNames8.Length ? StatusNames8[v] : v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Enum.IsDefined(status) ? status.ToString() : v.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>cuDNN's own text for <paramref name="status"/>, followed by the detailed last-error message where
    /// cuDNN 9 has one; a fixed text when cuDNN cannot be loaded.</summary>
    /// <param name="status">A status value.</param>
    /// <returns>The message, never null.</returns>
    public static string ErrorString(cudnnStatus_t status)
    {
        if (NativeLibraryResolver.LoadedFrom(Libraries.Cudnn) is null && !NativeLibraryResolver.TryLoad(Libraries.Cudnn, out _))
            return "(cuDNN could not be loaded to describe this status)";
        string text;
        try { text = Marshal.PtrToStringUTF8((IntPtr)cudnnGetErrorString(status)) ?? ""; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return "(cuDNN could not be loaded to describe this status)"; }
        try
        {
            byte* buffer = stackalloc byte[1024];
            buffer[0] = 0;
            cudnnGetLastErrorString(buffer, 1024);
            string last = Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "";
            if (last.Length > 0) text += " — " + last;
        }
        catch (EntryPointNotFoundException) { /* cuDNN 8 */ }
        return text;
    }
}
#pragma warning restore CA1707
