namespace DeepTrain;

/// <summary>
/// The root of every failure DeepTrain reports as its own: a native library's status (CUDA, cuBLAS, cuDNN, the kernel
/// library, MPI, NCCL), a model that does not fit together, a bad data set or checkpoint, a plan that does not fit in
/// memory, a diverged run. Catch it to tell DeepTrain's failures from bugs; each subtype carries what it names as
/// properties. Problems with an argument a caller passed stay <see cref="ArgumentException"/>s, and plain I/O failures
/// (a full disk, a missing file) stay <see cref="IOException"/>s, as .NET's own libraries report them.
/// </summary>
public abstract class DeepTrainException : Exception
{
    /// <summary>Builds the exception with its message.</summary>
    protected DeepTrainException(string message) : base(message) { }

    /// <summary>Builds the exception with its message and the failure that caused it.</summary>
    protected DeepTrainException(string message, Exception? inner) : base(message, inner) { }
}
