using DeepTrain.Interop;

namespace DeepTrain.Backends.Cuda;

/// <summary>
/// A GPU library refused or failed an operation: the message names the operation and its operands (shape, layout,
/// dtype); <see cref="Exception.InnerException"/> is the library's typed exception (<see cref="CudnnException"/>,
/// <see cref="CudaException"/>, <see cref="CublasException"/>) with its status.
/// </summary>
public sealed class CudaOperationException : DeepTrainException
{
    /// <summary>Wraps a library exception.</summary>
    /// <param name="operation">The backend operation, e.g. "Conv2dForward".</param>
    /// <param name="operands">The operands as "shape layout dtype" items, or empty.</param>
    /// <param name="inner">The library's exception.</param>
    public CudaOperationException(string operation, string operands, Exception inner)
        : base($"{operation}: {(operands.Length > 0 ? $"the GPU library rejected {operands}: " : "")}{inner.Message}", inner)
        => (Operation, Operands) = (operation, operands);

    /// <summary>The backend operation that failed.</summary>
    public string Operation { get; }

    /// <summary>The operands' shapes, layouts and dtypes, as in the message.</summary>
    public string Operands { get; }
}
